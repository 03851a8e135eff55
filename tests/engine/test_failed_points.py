"""A figure or table of a sweep whose jobs failed is refused, naming them: a point where every
setting failed would otherwise vanish from it without a word. The failure records go when
the jobs succeed."""

from conftest import run_in, small_project

TASK = """
import hydra

from optsweep import Experiment

DIVERGING = Experiment(name="diverging", objective="loss")


@hydra.main(config_path="config", config_name="task")
@DIVERGING.task
def main(config: dict):
    if config["budget"] >= LIMIT and (config["rate"] > 0.15 or ALL):
        raise RuntimeError(f"diverged at budget {config['budget']}")
    return {"loss": 1.0 / config["budget"] + config["rate"]}


if __name__ == "__main__":
    main()
"""


def project(tmp_path, limit):
    settings = {
        f"config/settings/{name}.yaml": f"# @package _global_\nrate: {rate}\n"
        for name, rate in (("slow", 0.1), ("fast", 0.2))
    }
    config = "budget: 1\n"
    root = small_project(tmp_path / "diverging", task(limit), config, settings)
    task_yaml = root / "config" / "task.yaml"  # settings: a group of the plain tree
    task_yaml.write_text(
        task_yaml.read_text().replace("defaults:\n", "defaults:\n  - settings: slow\n")
    )
    return root


def task(limit, every_setting=True):
    """The task: jobs at budget ``limit`` and above fail (of the fast setting only, unless
    ``every_setting``)."""
    return TASK.replace("LIMIT", str(limit)).replace("ALL", str(every_setting))


run = run_in


def optsweep(root, *arguments):
    return run_in(root, "-m", "optsweep.cli", *arguments)


def test_a_point_whose_jobs_all_failed_is_not_left_out_silently(tmp_path):
    root = project(tmp_path, limit=3)
    sweep = (root / "task.py", "settings=slow,fast", "budget=1,2,3", "-m")
    status, output = run(root, *sweep)
    assert status == 1 and "6 jobs: 0 skipped (up to date), 4 ran, 2 failed" in output, output
    results = root / "results"
    status, output = run(root, *sweep[:-1], "hydra.sweeper.dry_run=true", "-m")
    assert (
        "run (failed last time: RuntimeError: diverged at budget 3) [settings=fast budget=3]"
        in output
    ), output
    figure = ("plot", results, "x=budget", "y=loss", "--out", tmp_path / "out")
    status, output = optsweep(root, *figure)
    assert status == 1, output
    assert "2 job(s) of this sweep failed in their last run and have no result" in output
    assert "[budget=3 settings=fast] RuntimeError: diverged at budget 3" in output
    assert "allow_failed=true" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()
    status, output = optsweep(root, "table", results, "x=budget", "y=[loss]", "--out", tmp_path)
    assert status == 1 and "2 job(s) of this sweep failed" in output
    # An export has every row, and says which jobs have none.
    status, output = optsweep(root, "export", results, "--out", tmp_path / "rows.csv")
    assert status == 0 and "2 job(s) failed in their last run and have no row" in output, output
    # A figure of the points that did not fail is fine; so is one made anyway.
    status, output = optsweep(root, *figure, "x_values=[1,2]")
    assert status == 0, output
    status, output = optsweep(root, *figure, "allow_failed=true")
    assert status == 0 and "made without them (allow_failed=true)" in output, output
    # Once the jobs succeed, their records are gone, and the figure has every point.
    (root / "task.py").write_text(task(4))
    status, output = run(root, *sweep)
    assert status == 0, output
    assert not list(results.rglob(".*.failed")) and not list(results.rglob("*.stale"))
    status, output = optsweep(root, *figure)
    assert status == 0 and "failed" not in output, output


def test_allow_failed_draws_the_sweep_without_a_failed_job(tmp_path):
    """One setting failed at a point the other has: allow_failed=true draws that line without
    it, where the refusal of an incomplete grid would contradict its warning."""
    root = project(tmp_path, limit=3)
    (root / "task.py").write_text(task(3, every_setting=False))
    status, output = run(root, root / "task.py", "settings=slow,fast", "budget=1,2,3", "-m")
    assert status == 1 and "6 jobs: 0 skipped (up to date), 5 ran, 1 failed" in output, output
    figure = ("plot", root / "results", "x=budget", "y=loss", "--out", tmp_path / "out")
    status, output = optsweep(root, *figure)
    assert status == 1 and "1 job(s) of this sweep failed" in output, output
    status, output = optsweep(root, *figure, "allow_failed=true")
    assert status == 0, output
    assert "made without them (allow_failed=true)" in output
    assert (tmp_path / "out" / "loss-budget.pdf").is_file()
