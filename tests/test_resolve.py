"""Resolving the jobs of a family from what they share gives OmegaConf's full resolution."""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import II

import task  # noqa: F401  (the example's task: its project's configs get the engine's)
from optsweep.engine.compose import FastComposer
from optsweep.engine.resolve import FamilyResolver, resolve_in_full
from optsweep.engine.store import _canonical

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = sorted(p.stem for p in (ROOT / "experiment" / "settings").glob("*.yaml"))


def composer_for(config_dir: Path) -> FastComposer:
    with initialize_config_dir(config_dir=str(config_dir)):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("task", overrides=[], run_mode=RunMode.MULTIRUN)
    return FastComposer(loader, master)


def resolve_like_check_sweep(composer, jobs):
    """For each job, (family resolution or None, full resolution), in sweep order, as
    ``preflight.check_sweep`` does: the Hydra node filled in only when the family asks."""
    resolver, outcomes = FamilyResolver(), []
    for index, overrides in enumerate(jobs):
        job = composer.compose(overrides, index, describe=False)
        family = resolver.known(job.family)
        by_family = None
        if family is not None:
            if family.needs_hydra_node:
                job.describe()
            by_family = family.resolve(job.task)
        job.describe()
        full = resolve_in_full(job.task)
        resolver.learn(job.family, job.task, job.changed, full)
        outcomes.append((by_family, full))
    return resolver, outcomes


@pytest.fixture(scope="module")
def experiment():
    return composer_for(ROOT / "experiment")


GRIDS = {
    "budget": lambda s: [[f"settings={s}", f"maxfun={m}"] for m in (10, 20, 150)],
    "budget x seed": lambda s: [
        [f"settings={s}", f"maxfun={m}", f"seed={seed}", "x0=null"]
        for m in (10, 30)
        for seed in (0, 7)
    ],
    "start lists": lambda s: [
        [f"settings={s}", "maxfun=20", f"x0=[{a},{b}]"] for a, b in ((0.5, 1), (-1.5, 2.25))
    ],
    "nested key": lambda s: [
        [f"settings={s}", "maxfun=40", f"x0_random.high={h}", "x0=null"] for h in (1.0, 3.5)
    ],
    "output": lambda s: [
        [f"settings={s}", f"maxfun={m}", f"output.overwrite={o}"]
        for m, o in ((10, "true"), (20, "false"))
    ],
}


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("setting", SETTINGS)
def test_family_resolution_equals_full_resolution(experiment, setting, grid):
    _, outcomes = resolve_like_check_sweep(experiment, GRIDS[grid](setting))
    assert outcomes[0][0] is None  # the first job of a family is resolved in full
    for by_family, full in outcomes[1:]:
        assert by_family == full


def test_budget_reaches_each_method_through_an_alias(experiment):
    resolver, outcomes = resolve_like_check_sweep(
        experiment, [["settings=tnc", f"maxfun={m}"] for m in (10, 20)]
    )
    (family,) = resolver.families.values()
    assert family.changed == (("maxfun",),)
    assert (("method", "options", "maxfun"), ("maxfun",)) in family.aliases
    assert family.reresolved == () and not family.needs_hydra_node
    assert outcomes[1][0]["method"]["options"]["maxfun"] == 20


AWKWARD_TASK = """\
defaults:
  - part: one
  - _self_
a: 1
b: ${a}
c: "${a}-${b}"
d: ${d_src}
d_src: {x: "${a}", y: 2}
rel: ${.a}
num: ${hydra:job.num}
overrides: ${hydra:overrides.task}
dir: ${project_path:results}
nested_call: ${project_path:sub${a}}
escaped: \\${a}
mixed: ["${a}", 1, "${k.l}"]
k: {l: 3, m: [1, 2]}
o: ${k}
p: ${oc.select:a,0}
q: ${k.m}
r: ${k.m.1}
chain: ${b}
far: ${chain}
fixed: ${k.l}
s: x
s_ref: ${s}
"""
AWKWARD_PART = """\
# @package _global_
from_part: ${a}
part_fixed: ${d_src.y}
"""


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    tree = tmp_path_factory.mktemp("awkward")
    (tree / "part").mkdir()
    (tree / "task.yaml").write_text(AWKWARD_TASK)
    (tree / "part" / "one.yaml").write_text(AWKWARD_PART)
    (tree / "part" / "two.yaml").write_text(AWKWARD_PART.replace("${a}", "${k.l}"))
    return composer_for(tree)


AWKWARD_GRIDS = {
    "a": [[f"a={a}"] for a in (1, 2, 3)],
    "a in part two": [["part=two", f"a={a}"] for a in (4, 5)],
    "nested": [[f"k.l={v}", "part=two"] for v in (7, 8)],
    "list": [[f"k.m=[{v},{v}]"] for v in (1, 2)],
    "list element": [[f"k.m.1={v}"] for v in (5, 6)],
    "two keys": [[f"a={a}", f"k.l={a * 10}"] for a in (1, 2, 3)],
    "string values": [[f"a={a}"] for a in ("x", "y")],
    "escaped ???": [["s=y"], ["s=\\???"], ["s=z"]],
}


@pytest.mark.parametrize("grid", AWKWARD_GRIDS)
def test_awkward_interpolations_resolve_as_omegaconf_does(awkward, grid):
    resolver, outcomes = resolve_like_check_sweep(awkward, AWKWARD_GRIDS[grid])
    assert all(family is not None for family in resolver.families.values())
    for by_family, full in outcomes[1:]:
        assert by_family == full
        assert _canonical(by_family) == _canonical(full)  # types too (fingerprints use them)
    (family, *_) = resolver.families.values()
    assert family.needs_hydra_node  # ${hydra:...} and the relative ${.a} are per job


def test_constant_interpolations_are_not_resolved_again(awkward):
    resolver, _ = resolve_like_check_sweep(awkward, AWKWARD_GRIDS["a"])
    (family,) = resolver.families.values()
    again = {path[0] for path in family.reresolved} | {path[0] for path, _ in family.aliases}
    assert {"b", "c", "d", "mixed", "chain", "far", "from_part", "nested_call"} <= again
    assert not again & {"dir", "fixed", "escaped", "q", "part_fixed", "k", "o"}


@dataclass
class TupleSchema:
    a: int = 1
    u: tuple[Any, ...] = (II("a"), 3)


def test_configs_it_does_not_walk_are_resolved_in_full(tmp_path):
    """Overridden keys inside one another (whose paths vary by job) and tuples (typed
    ``TupleConfig`` nodes) get no family, so every job is resolved in full."""
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "task.yaml").write_text("k: {m: [1, 2]}\n")
    resolver, outcomes = resolve_like_check_sweep(
        composer_for(tmp_path / "nested"), [["k.m.1=9", "k.m=null"], ["k.m.1=9", "k.m=[5]"]]
    )
    assert [(family, full["k"]) for family, full in outcomes] == [
        (None, {"m": None}),
        (None, {"m": [5]}),
    ]
    ConfigStore.instance().store(name="optsweep_test_tuple_schema", node=TupleSchema)
    (tmp_path / "task.yaml").write_text("defaults:\n  - optsweep_test_tuple_schema\n  - _self_\n")
    resolver, outcomes = resolve_like_check_sweep(composer_for(tmp_path), [["a=1"], ["a=2"]])
    assert list(resolver.families.values()) == [None]
    assert [by_family for by_family, _ in outcomes] == [None, None]
    assert outcomes[1][1]["u"] == (2, 3)


def test_values_holding_interpolations_get_no_family(awkward):
    job = awkward.compose(["a=${k.l}"], 0)
    assert job.family is None


def test_sweep_with_per_job_output_names_writes_where_the_dry_run_said(tmp_path):
    """End to end: file names from a swept key and from the job's Hydra node, set in settings
    files, come out of the family checks as the jobs themselves write them."""
    from conftest import run_task

    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    tnc = tree / "settings" / "tnc.yaml"
    for path, name in (
        (tnc, "${method.name}-${maxfun}"),
        (tree / "settings" / "nelder-mead.yaml", "nm-${hydra:job.num}"),
    ):
        path.write_text(path.read_text() + f"output:\n  file: ${{output.dir}}/{name}.pkl\n")
    sweep = ("-cp", str(tree), "settings=tnc,nelder-mead", "maxfun=10,20", "seed=0,1", "-m")
    refused = run_task(*sweep, "hydra.sweeper.dry_run=true", workdir=tmp_path, check=False)
    assert (
        refused.returncode != 0
        and "2 jobs would write the same result file" in refused.output
        and "TNC-20.pkl" in refused.output
    )  # the seed is missing from the name
    tnc.write_text(tnc.read_text().replace("${maxfun}.pkl", "${maxfun}-${seed}.pkl"))
    dry = run_task(*sweep, "hydra.sweeper.dry_run=true", workdir=tmp_path).output
    planned = sorted(line.split(" -> ")[1] for line in dry.splitlines() if " -> " in line)
    results = tmp_path / "results"
    assert len(planned) == 8 and str(results / "nm-7.pkl") in planned, dry
    run_task(*sweep, workdir=tmp_path)
    assert sorted(map(str, results.glob("*.pkl"))) == planned
    again = run_task(*sweep, workdir=tmp_path).output
    assert "8 jobs: 8 skipped (up to date), 0 ran, 0 failed" in again
