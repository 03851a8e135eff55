"""Every config of both trees composes with Hydra's compose API and means what it says."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import task  # noqa: F401  (the example's task: its project's configs get the engine's)
from rosenbrock import options
from rosenbrock.options import accepted_options, check_method
from rosenbrock.solve import given_options

ROOT = Path(__file__).resolve().parent.parent
METHOD_FILES = sorted(p.stem for p in (ROOT / "config" / "method").glob("*.yaml"))
SETTINGS_FILES = sorted(p.stem for p in (ROOT / "experiment" / "settings").glob("*.yaml"))
# The option through which each compared method receives the sweep's budget `maxfun`.
BUDGET_OPTION = {"nelder-mead": "maxfev", "tnc": "maxfun", "lbfgsb": "maxfun"}


def compose_tree(tree: str, overrides: list[str], with_hydra: bool = False):
    with initialize_config_dir(config_dir=str(ROOT / tree)):
        return compose(config_name="task", overrides=overrides, return_hydra_config=with_hydra)


def test_trees_have_the_required_files():
    assert {"nelder-mead", "powell", "cg", "bfgs", "lbfgsb", "tnc", "cobyla", "slsqp"} <= set(
        METHOD_FILES
    )
    assert {"nelder-mead", "tnc", "lbfgsb"} <= set(SETTINGS_FILES)


@pytest.mark.parametrize("method", METHOD_FILES)
def test_method_file_lists_exactly_scipys_options_at_default(method):
    cfg = compose_tree("config", [f"method={method}"])
    options = OmegaConf.to_container(cfg.method.options)
    assert tuple(options) == accepted_options(cfg.method.name)
    assert given_options(options) == {}, "defaults are left to scipy"


@pytest.mark.parametrize("setting", SETTINGS_FILES)
def test_settings_file_maps_maxfun_onto_its_methods_budget_option(setting):
    cfg = compose_tree("experiment", [f"settings={setting}", "maxfun=37"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    options = given_options(resolved["method"]["options"])
    check_method(resolved["method"]["name"], options, resolved["jac"])
    budget = [key for key, value in options.items() if value == 37]
    assert budget == [BUDGET_OPTION.get(setting, budget[0] if budget else None)], options
    assert resolved["x0"] == [-0.5, -0.5]


def test_settings_specific_choices():
    lbfgsb = compose_tree("experiment", ["settings=lbfgsb", "maxfun=10"])
    assert lbfgsb.jac == "2-point" and lbfgsb.method.options.eps == 1e-3
    tnc = compose_tree("experiment", ["settings=tnc", "maxfun=10"])
    assert tnc.jac is None and tnc.method.options.eta == 0.5
    nelder_mead = compose_tree("experiment", ["settings=nelder-mead", "maxfun=10"])
    assert nelder_mead.jac is None


def test_experiment_tree_inherits_the_plain_tree():
    plain = compose_tree("config", ["method=tnc"])
    experiment = compose_tree("experiment", ["settings=tnc", "maxfun=10"])
    for key in ("seed", "x0_random", "output"):
        assert experiment[key] == plain[key]
    assert plain.x0 is None and experiment.x0 == [-0.5, -0.5]


def test_sweep_definition_covers_every_settings_file_and_budget():
    cfg = compose_tree("experiment", ["settings=tnc", "maxfun=10"], with_hydra=True)
    overrides = cfg.hydra.sweeper.overrides
    assert overrides.settings == "glob(*)"
    assert overrides.maxfun == "range(10, 151, 10)"
    assert cfg.hydra.sweeper._target_.endswith("CheckedExperimentSweeper")


def test_option_table_cache_holds_scipys_own_table_and_survives_corruption(tmp_path, monkeypatch):
    monkeypatch.setattr(options, "CACHE_DIR", tmp_path)
    options.option_table.cache_clear()
    try:
        table = options.option_table()
        assert table == options._read_from_scipy()
        assert table["tnc"]["types"]["maxfun"] == "int" and table["tnc"]["gradient"]
        assert not table["nelder-mead"]["gradient"]
        (cache_file,) = tmp_path.glob("scipy-options-*.json")
        assert json.loads(cache_file.read_text()) == table
        for damage in ("{not json", '{"tnc": {}}'):
            cache_file.write_text(damage)
            options.option_table.cache_clear()
            assert options.option_table() == table
            assert json.loads(cache_file.read_text()) == table
    finally:
        options.option_table.cache_clear()
