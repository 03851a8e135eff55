"""Every config of both trees composes (Hydra's compose API: fast, no job runs), and each
settings file maps the shared sweep variable onto its own model's option."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import task  # decorating the task registers the project: its configs get the engine's

PROJECT = Path(task.__file__).resolve().parent


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (PROJECT / group).glob("*.yaml"))


MODELS = options("config/model")
SETTINGS = options("experiment/settings")
SEARCHES = options("experiment/search")
LAUNCHERS = options("experiment/launcher")
# The option of its model onto which each settings file maps the sweep's budget.
BUDGET_OPTION = {"logistic": "max_iter", "svm": "epochs"}


def composed(tree: str, overrides: list[str], with_hydra: bool = False) -> dict:
    """The composed config, resolved; with ``with_hydra`` also Hydra's node, unresolved (its
    run-time values, such as the job's number, exist only in a run)."""
    with initialize_config_dir(config_dir=str(PROJECT / tree)):
        config = compose("task", overrides=overrides, return_hydra_config=with_hydra)
    resolved = {
        str(key): OmegaConf.to_container(config[key], resolve=key != "hydra")
        if OmegaConf.is_config(config[key])
        else config[key]
        for key in config
    }
    return resolved


@pytest.mark.parametrize("model", MODELS)
def test_every_model_composes_in_the_plain_tree(model):
    config = composed("config", [f"model={model}"])
    assert config["model"]["name"] == model
    assert str(config["output"]["dir"]) == str(PROJECT / "results"), "the engine's output"
    task.EXPERIMENT.recorded({k: v for k, v in config.items() if k != "output"})  # check()


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_maps_the_budget_onto_its_models_option(setting):
    config = composed("experiment", [f"settings={setting}", "budget=37"])
    model = config["model"]
    assert [key for key, value in model.items() if value == 37] == [BUDGET_OPTION[setting]]
    assert config["data"] == composed("config", [f"model={model['name']}"])["data"]


def test_every_setting_has_its_budget_option():
    assert sorted(BUDGET_OPTION) == SETTINGS


@pytest.mark.parametrize("search", SEARCHES)
def test_every_search_composes(search):
    config = composed("experiment", [f"search={search}"], with_hydra=True)
    sweeper = config["hydra"]["sweeper"]
    assert sweeper["search"]["params"], "a search space"
    for key in sweeper["search"]["params"]:
        assert OmegaConf.select(OmegaConf.create(config), key) is not None, f"{key}: not a key"


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_launcher_composes(launcher):
    config = composed(
        "experiment", [f"launcher={launcher}", f"settings={SETTINGS[0]}", "budget=1"], True
    )
    assert config["hydra"]["launcher"]["_target_"]


def test_the_sweep_covers_every_setting_budget_and_seed():
    config = composed("experiment", [f"settings={SETTINGS[0]}", "budget=1"], with_hydra=True)
    overrides = config["hydra"]["sweeper"]["overrides"]
    assert set(overrides) == {"settings", "budget", "seed"}
    assert overrides["settings"] == "glob(*)"
