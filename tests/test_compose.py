"""The fast composition path gives the same configs as stock Hydra, on every settings file."""

from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

import task as _example_task  # noqa: F401  (registers the example: its configs get the engine's)
from optsweep.engine.compose import FastComposer, split_task_config

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = sorted(p.stem for p in (ROOT / "experiment" / "settings").glob("*.yaml"))
VALUE_OVERRIDES = [
    pytest.param(["maxfun=10"], id="budget"),
    pytest.param(["maxfun=70", "seed=3", "x0=null"], id="seed+random-start"),
    pytest.param(["maxfun=20", "x0=[0.5,1.5]", "jac=3-point"], id="lists+jac"),
    pytest.param(["maxfun=30", "+extra=1"], id="add-key"),
    pytest.param(["maxfun=30", "~jac"], id="delete-key"),
    pytest.param(["maxfun=30", "output.overwrite=true"], id="output"),
]


@pytest.fixture(scope="module")
def composer():
    with initialize_config_dir(config_dir=str(ROOT / "experiment")):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("task", overrides=[], run_mode=RunMode.MULTIRUN)
        yield FastComposer(loader, master)


def stock_parts(composer, overrides, index):
    return split_task_config(composer.stock(overrides, index))


@pytest.mark.parametrize("values", VALUE_OVERRIDES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_fast_composition_equals_stock(composer, setting, values):
    overrides = [f"settings={setting}", *values]
    for index in (0, 1):  # the second job reuses the template in place
        job = composer.compose(overrides, index)
        task, hydra = stock_parts(composer, overrides, index)
        assert OmegaConf.to_container(job.task, resolve=False) == OmegaConf.to_container(
            task, resolve=False
        )
        assert OmegaConf.to_container(job.task, resolve=True) == OmegaConf.to_container(
            task, resolve=True
        )
        for key in (
            "overrides.task",
            "runtime.choices",
            "job.config_name",
            "job.num",
            "job.id",
            "job.override_dirname",
            "sweep.subdir",
        ):
            assert OmegaConf.select(job.hydra, key) == OmegaConf.select(hydra, key), key


def test_in_place_reuse_does_not_leak_values_between_jobs(composer):
    first = OmegaConf.to_container(
        composer.compose(["settings=tnc", "maxfun=10"], 0).task, resolve=True
    )
    composer.compose(["settings=tnc", "maxfun=99"], 1)
    again = OmegaConf.to_container(
        composer.compose(["settings=tnc", "maxfun=10"], 2).task, resolve=True
    )
    assert first == again and first["method"]["options"]["maxfun"] == 10


def test_overrides_it_cannot_classify_fall_back_to_stock(composer):
    before = composer.fallbacks
    job = composer.compose(["settings=tnc", "maxfun=10", "hydra.job.name=other"], 0)
    assert composer.fallbacks == before + 1
    assert job.hydra.job.name == "other" and job.task.method.options.maxfun == 10
