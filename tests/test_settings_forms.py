"""Both settings-file forms run: the tutorial's ``- /method: powell`` and ``- override /method:
powell``, on every path (a plain run, a sweep on every launcher, a search file), and a
file Hydra already accepts is read as written."""

import pickle
import shutil

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import task  # noqa: F401  (the example's task: its project's configs get the engine's)
from conftest import ROOT, run_task
from optsweep.engine.group_choices import declared_groups, with_overrides

TUTORIAL_FORM = """\
# @package _global_
defaults:
  - /method: powell

method:
  options:
    maxfev: ${maxfun}
"""
OVERRIDE_FORM = TUTORIAL_FORM.replace("- /method:", "- override /method:")


@pytest.fixture
def tree(tmp_path):
    """A copy of the experiment tree with a fourth setting in each form."""
    copy = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", copy)
    (copy / "settings" / "powell.yaml").write_text(TUTORIAL_FORM)
    (copy / "settings" / "powell_override.yaml").write_text(OVERRIDE_FORM)
    return copy


def composed(tree, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(tree)):
        config = compose(config_name="task", overrides=list(overrides))
    plain = OmegaConf.to_container(config, resolve=True)
    assert isinstance(plain, dict)
    return plain


def test_both_forms_compose_the_same_job(tree):
    tutorial = composed(tree, "settings=powell", "maxfun=30")
    override = composed(tree, "settings=powell_override", "maxfun=30")
    assert tutorial == override
    assert tutorial["method"]["name"] == "Powell"
    assert tutorial["method"]["options"]["maxfev"] == 30


def test_a_command_line_choice_still_wins_over_the_tutorial_form(tree):
    config = composed(tree, "settings=powell", "method=nelder-mead", "maxfun=30")
    assert config["method"]["name"] == "Nelder-Mead"


def test_sweep_over_both_forms_runs_every_job_on_every_launcher(slurm_cluster, tree, tmp_path):
    results = {}
    for launcher in ("in-process", "local", "slurm"):
        workdir = tmp_path / launcher
        workdir.mkdir()
        arguments = ["-cp", str(tree), "settings=powell,powell_override", "maxfun=20,40", "-m"]
        if launcher != "in-process":
            arguments.append(f"launcher={launcher}")
        completed = run_task(*arguments, workdir=workdir)
        assert "4 ran, 0 failed" in completed.output
        for setting in ("powell", "powell_override"):
            for budget in (20, 40):
                path = workdir / "results" / f"settings={setting}" / f"maxfun={budget}.pkl"
                with path.open("rb") as file:
                    saved = pickle.load(file)
                assert saved["config"]["method"]["name"] == "Powell"
                assert saved["result"]["nfev"] <= budget + 2  # Powell may finish its line search
                results[launcher, setting, budget] = saved["result"]["fun"]
    # Same numbers whichever form and launcher.
    for budget in (20, 40):
        values = {v for (_, _, b), v in results.items() if b == budget}
        assert len(values) == 1, results


def test_plain_run_takes_the_tutorial_form(tree, tmp_path):
    completed = run_task("-cp", str(tree), "settings=powell", "maxfun=20", workdir=tmp_path)
    assert "Powell: f=" in completed.output
    assert (tmp_path / "results" / "settings=powell" / "maxfun=20.pkl").is_file()


def test_search_file_may_choose_its_setting_without_override(tree):
    search = tree / "search" / "tnc.yaml"
    search.write_text(search.read_text().replace("- override /settings: tnc", "- /settings: tnc"))
    config = composed(tree, "search=tnc")
    assert config["method"]["name"] == "TNC" and config["maxfun"] == 100


def test_a_group_the_tree_does_not_choose_is_still_added(tree):
    """A bare choice of a group no config of the tree chooses is Hydra's append, as written."""
    (tree / "noise").mkdir()
    (tree / "noise" / "small.yaml").write_text("# @package _global_\nnoise_level: 0.01\n")
    (tree / "settings" / "noisy.yaml").write_text(
        TUTORIAL_FORM.replace("  - /method: powell\n", "  - /method: powell\n  - /noise: small\n")
    )
    config = composed(tree, "settings=noisy", "maxfun=10")
    assert config["noise_level"] == 0.01 and config["method"]["name"] == "Powell"


def test_declared_groups_of_both_trees():
    assert declared_groups(ROOT / "experiment") == {
        "method",
        "settings",
        "search",
        "launcher",
        "hydra/sweeper",
    }
    assert declared_groups(ROOT / "config") == {"method"}  # tracker: the engine's own config


def test_with_overrides_rewrites_only_bare_choices_of_declared_groups():
    defaults = yaml.safe_load(
        """
        - /method: powell
        - /noise: small
        - _self_
        - override /launcher: local
        - optional /method: tnc
        """
    )
    assert with_overrides(defaults, frozenset({"method", "launcher"})) == [
        {"/noise": "small"},
        "_self_",
        {"optional /method": "tnc"},
        {"override /method": "powell"},
        {"override /launcher": "local"},
    ]
    assert with_overrides(defaults, frozenset({"other"})) is None
    assert with_overrides([{"override /method": "tnc"}], frozenset({"method"})) is None
