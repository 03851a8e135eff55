"""Figures and tables refuse results whose config files have changed since they were
computed (a setting's value edited), as they refuse results of edited code; a comment, or the
sweep's own lists, change no result and are no reason."""

import textwrap

import pytest

from conftest import run_in

TASK = """
import hydra

from optsweep import Experiment

RATES = Experiment(name="rates", objective="loss")


@hydra.main(config_path="config", config_name="task")
@RATES.task
def main(config: dict):
    return {"loss": config["scale"] * config["rate"] / config["budget"]}


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "rates"
    (root / "config").mkdir(parents=True)
    (root / "config" / "task.yaml").write_text("budget: 1\nrate: 1.0\nscale: 1.0\n")
    settings = root / "experiment" / "settings"
    settings.mkdir(parents=True)
    (root / "experiment" / "task.yaml").write_text(
        textwrap.dedent(
            """
            defaults:
              - /config/task@_global_
              - settings: ~
              - override hydra/sweeper: checked_experiment
              - _self_
            hydra:
              searchpath:
                - file://${project_path:}
              sweeper:
                overrides:
                  settings: glob(*)
                  budget: 1,2
            """
        )
    )
    for name, rate in (("slow", 0.1), ("fast", 0.2)):
        (settings / f"{name}.yaml").write_text(f"# @package _global_\nrate: {rate}\n")
    (root / "task.py").write_text(TASK)
    return root


run = run_in


def figure(root, tmp_path, *extra):
    return run(
        root,
        "-m",
        "optsweep.cli",
        "plot",
        root / "results",
        "x=budget",
        "y=loss",
        "--out",
        tmp_path / "out",
        *extra,
    )


def test_a_setting_edited_since_makes_its_results_stale_to_figures(project, tmp_path):
    status, output = run(project, project / "task.py", "-cp", "experiment", "-m")
    assert status == 0 and "4 jobs: 0 skipped (up to date), 4 ran, 0 failed" in output, output
    assert figure(project, tmp_path)[0] == 0
    # A comment, and another sweep list: the same jobs, the same results.
    slow = project / "experiment" / "settings" / "slow.yaml"
    slow.write_text("# @package _global_\n# the slow rate\nrate: 0.1\n")
    sweep = project / "experiment" / "task.yaml"
    sweep.write_text(sweep.read_text().replace("budget: 1,2", "budget: 1,2,3"))
    status, output = figure(project, tmp_path)
    assert status == 0, output
    # A value the jobs read: their results are stale.
    slow.write_text("# @package _global_\nrate: 0.3\n")
    status, output = figure(project, tmp_path)
    assert status == 1, output
    assert (
        "are stale: their config has changed since (experiment/settings/slow.yaml (edited))"
        in output
    )
    assert "allow_stale=true" in output and "Traceback" not in output
    status, output = run(
        project, "-m", "optsweep.cli", "export", project / "results", "--out", tmp_path / "r.csv"
    )
    assert status == 0 and "their config has changed since (experiment/settings/slow.yaml" in output
    status, output = figure(project, tmp_path, "allow_stale=true")
    assert status == 0 and "drawn anyway (allow_stale=true)" in output, output
    # The sweep reruns them (and budget 3): the figure is current again.
    status, output = run(project, project / "task.py", "-cp", "experiment", "-m")
    assert status == 0 and "6 jobs: 2 skipped (up to date), 4 ran, 0 failed" in output, output
    status, output = figure(project, tmp_path)
    assert status == 0 and "stale" not in output, output
    # The plain tree's config, which the experiment tree includes: a value the jobs set
    # themselves (the swept budget) is no change, one they read is.
    task = project / "config" / "task.yaml"
    task.write_text("budget: 9\nrate: 1.0\nscale: 1.0\n")
    assert figure(project, tmp_path)[0] == 0
    task.write_text("budget: 9\nrate: 1.0\nscale: 2.0\n")
    status, output = figure(project, tmp_path)
    assert status == 1 and "(config/task.yaml (edited))" in output, output
