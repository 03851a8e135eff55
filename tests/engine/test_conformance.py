# mypy: disable-error-code="index,attr-defined"
# (Hydra types SweepTaskFunction.returns loosely; the upstream tests index it as it is.)
"""Hydra's shared sweeper suites and hydra-experiment-sweeper's own tests, run as that project
runs them (its tests/test_experiment_sweeper_plugin.py, MIT licence), with
``hydra/sweeper=checked_experiment``: on a plain Hydra app, our sweeper behaves as the one it
extends. The one deliberate difference: a failed job makes the sweep raise ``SweepFailed`` (a
summary, non-zero exit) once the other jobs ran, instead of handing back its ``JobReturn``;
``test_failure_preserves_task_traceback`` below checks that instead of the shared version.
"""

import traceback
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.test_utils.test_utils import TSweepRunner
from omegaconf import DictConfig

from hydra_plugins.optsweep_sweeper.checked_experiment_sweeper import CheckedExperimentSweeper
from optsweep.engine.sweep import SweepFailed

SWEEPER = "hydra/sweeper=checked_experiment"
# Import every plugin (and store its configs) now, before any test's hydra_restore_singletons
# snapshot: a snapshot taken before the first import would drop those configs on restore.
Plugins.instance()


@pytest.fixture(autouse=True)
def a_plain_process(monkeypatch):
    """These are plain Hydra apps: as in a process where no experiment's task module was
    imported (another test module may have imported one into this test process, which would
    give their configs the engine's own)."""
    monkeypatch.setattr("optsweep.engine.paths._registered", None)


def test_discovery() -> None:
    plugin_names = [x.__name__ for x in Plugins.instance().discover(Sweeper)]
    assert CheckedExperimentSweeper.__name__ in plugin_names


def test_cmd_line_overrides_launch_jobs(hydra_sweep_runner: TSweepRunner) -> None:
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        config_path="configs",
        config_name="compose.yaml",
        task_function=None,
        overrides=[SWEEPER, "hydra/launcher=basic", "foo=1,2"],
    )
    with sweep:
        assert sweep.returns is not None
        job_ret = sweep.returns[0]
        assert len(job_ret) == 2
        assert job_ret[0].overrides == ["foo=1"]
        assert job_ret[0].cfg == {"foo": 1, "bar": 100}
        assert job_ret[1].overrides == ["foo=2"]
        assert job_ret[1].cfg == {"foo": 2, "bar": 100}


def test_configured_overrides_launch_jobs(hydra_sweep_runner: TSweepRunner) -> None:
    sweep = hydra_sweep_runner(
        calling_file=__file__,
        calling_module=None,
        config_path="conformance_configs",
        config_name="overrides.yaml",
        task_function=None,
        overrides=None,
    )
    with sweep:
        job_ret = sweep.returns[0]
        all_cfgs = {frozenset(j.cfg.items()) for j in job_ret}
        expected_cfgs = [
            {"foo": "a", "bar": 1},
            {"foo": 3, "bar": 1},
            {"foo": True, "bar": 1},
            {"foo": "a", "bar": True},
            {"foo": 3, "bar": True},
            {"foo": True, "bar": True},
        ]
        assert all_cfgs == {frozenset(cfg.items()) for cfg in expected_cfgs}


def test_cmd_line_overrides_overwrite_configured_overrides(
    hydra_sweep_runner: TSweepRunner,
) -> None:
    sweep = hydra_sweep_runner(
        calling_file=__file__,
        calling_module=None,
        config_path="conformance_configs",
        config_name="overrides.yaml",
        task_function=None,
        overrides=["foo=False"],
    )
    with sweep:
        job_ret = sweep.returns[0]
        assert len(job_ret) == 2
        all_cfgs = {frozenset(j.cfg.items()) for j in job_ret}
        expected_cfgs = [{"foo": False, "bar": 1}, {"foo": False, "bar": True}]
        assert all_cfgs == {frozenset(cfg.items()) for cfg in expected_cfgs}


def test_accepts_ranges_in_config(hydra_sweep_runner: TSweepRunner) -> None:
    sweep = hydra_sweep_runner(
        calling_file=__file__,
        calling_module=None,
        config_path="conformance_configs",
        config_name="ranges.yaml",
        task_function=None,
        overrides=None,
    )
    with sweep:
        job_ret = sweep.returns[0]
        assert len(job_ret) == 3
        all_cfgs = {frozenset(j.cfg.items()) for j in job_ret}
        expected_cfgs = [{"foo": 1.5}, {"foo": 2.0}, {"foo": 2.5}]
        assert all_cfgs == {frozenset(cfg.items()) for cfg in expected_cfgs}


def _failure_keeps_the_task_traceback(hydra_sweep_runner, launcher_name, overrides, tmpdir):
    """The sweep raises SweepFailed, naming the job and its error; the task's exception, with
    its traceback and cause, is the summary's cause, wherever the job ran."""

    def task_func(_: DictConfig) -> None:
        try:
            raise ValueError("launcher cause")
        except ValueError as cause:
            raise RuntimeError("launcher failure") from cause

    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        task_function=task_func,
        config_path="configs",
        config_name="compose.yaml",
        overrides=["hydra/launcher=" + launcher_name, *overrides],
        temp_dir=tmpdir,
    )
    with pytest.raises(SweepFailed) as raised:
        with sweep:
            pass
    summary = str(raised.value)
    assert "1 jobs: 0 skipped (up to date), 0 ran, 1 failed" in summary
    assert "RuntimeError: launcher failure" in summary
    failure = raised.value.__cause__
    assert isinstance(failure, RuntimeError) and str(failure) == "launcher failure"
    frames = traceback.extract_tb(failure.__traceback__)
    assert any(frame.name == "task_func" for frame in frames)
    formatted = "".join(traceback.TracebackException.from_exception(failure).format())
    assert "ValueError: launcher cause" in formatted
    assert "The above exception was the direct cause" in formatted


def test_a_failure_in_a_joblib_worker_keeps_the_task_traceback(
    hydra_restore_singletons, hydra_sweep_runner: TSweepRunner, tmpdir: Path
) -> None:
    """As on the basic launcher (hydra-joblib-launcher's own failure test): the exception
    raised in the worker, with its traceback and cause, not a bare RuntimeError."""
    _failure_keeps_the_task_traceback(
        hydra_sweep_runner, "joblib", [SWEEPER, "hydra.launcher.n_jobs=2"], tmpdir
    )


@pytest.mark.parametrize(("launcher_name", "overrides"), [("basic", [SWEEPER])])
class TestCheckedExperimentSweeper(LauncherTestSuite):
    def test_failure_preserves_task_traceback(
        self,
        hydra_sweep_runner: TSweepRunner,
        launcher_name: str,
        overrides: list[str],
        tmpdir: Path,
    ) -> None:
        """Deliberately different (see the module docstring): SweepFailed, whose cause is the
        task's exception."""
        _failure_keeps_the_task_traceback(hydra_sweep_runner, launcher_name, overrides, tmpdir)


@pytest.mark.parametrize(
    ("launcher_name", "overrides"),
    # Batches of at most 2 jobs, which is what the tests in BatchedSweeperTestSuite expect.
    [("basic", [SWEEPER, "hydra.sweeper.max_batch_size=2"])],
)
class TestCheckedExperimentSweeperWithBatching(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({}, ["-m", SWEEPER, "hydra/launcher=basic"])],
)
class TestCheckedExperimentSweeperIntegration(IntegrationTestSuite):
    pass
