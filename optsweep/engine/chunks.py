"""A sweep's jobs in chunks, each chunk run by the in-process path in one worker process.

Jobs here take milliseconds; a process costs about a second (Python, Hydra, scipy) and a
composition from scratch a tenth of one. So a launcher that runs jobs elsewhere gets chunks,
not jobs: each chunk runs in one joblib worker (or SLURM array task) with ``InProcessRun``,
exactly as the default in-process sweep runs its jobs (templates, checked plans, callbacks,
one log per chunk in ``<sweep dir>/chunks/``), and writes the same result files. Jobs keep
their number in the sweep. Jobs are dealt to chunks in turn (job ``i`` to chunk ``i % n``), so
that each chunk gets a share of every setting and the chunks take about as long.
"""

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from hydra.types import HydraContext
from omegaconf import DictConfig

from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask
from optsweep.engine.files import remove_abandoned_lock
from optsweep.engine.orphans import exit_with_parent
from optsweep.engine.plan import JobPlan
from optsweep.engine.progress import finished_jobs
from optsweep.engine.runner import InProcessRun

log = logging.getLogger(__name__)

Job = tuple[int, tuple[str, ...]]  # (number in the sweep, overrides)
CHUNKS_PER_WORKER = 1  # one chunk per worker: each pays its start-up once


@dataclass(frozen=True)
class Chunk:
    """Jobs run one after the other in one process, with the plans the sweep's checks made."""

    number: int
    jobs: tuple[Job, ...]
    plans: dict[tuple, JobPlan]


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one sweep needs, the same for all (sent once per chunk)."""

    hydra_context: HydraContext
    master: DictConfig  # the sweep's own config, from which jobs are composed
    task: ExperimentTask
    sweep_dir: str
    singleton_state: dict  # Hydra's global state (ConfigStore, plugins), as its launchers send
    # The templates the sweep's checks composed (``FastComposer.templates``): a worker reuses
    # them instead of composing each setting again with stock Hydra (~0.2 s each here).
    templates: dict = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # one per sweep


def chunk_context(
    hydra_context: HydraContext, master: DictConfig, task: ExperimentTask, composer: FastComposer
) -> ChunkContext:
    """The context of the sweep (or search) of ``master``, with the templates ``composer``
    composed so far and Hydra's global state as it is now."""
    return ChunkContext(
        hydra_context,
        master,
        task,
        str(master.hydra.sweep.dir),
        Singleton.get_state(),
        templates=dict(composer.templates),
    )


@dataclass(frozen=True)
class ChunkResult:
    returns: list[JobReturn]
    log_file: Path | None


def chunk_count(jobs: int, workers: int, chunk_size: int | None = None) -> int:
    """How many chunks ``jobs`` jobs make: ``chunk_size`` jobs each if set, else
    ``CHUNKS_PER_WORKER`` per worker (never more chunks than jobs)."""
    if jobs == 0:
        return 0
    if chunk_size is not None:
        return math.ceil(jobs / max(1, chunk_size))
    return min(jobs, max(1, workers) * CHUNKS_PER_WORKER)


def make_chunks(todo: Sequence[Job], plans: dict[tuple, JobPlan], count: int) -> list[Chunk]:
    """``todo`` dealt into ``count`` chunks in turn, each in the order of the sweep."""
    chunks = []
    for number in range(count):
        jobs = tuple(todo[number::count])
        if jobs:
            chunks.append(Chunk(number, jobs, {job: plans[job] for _, job in jobs if job in plans}))
    return chunks


def warm_up_modules(task: ExperimentTask) -> tuple[str, ...]:
    """What a pool's worker imports before its first job: the engine's chunks, the
    experiment's ``code`` modules (its files are imported by the task's own module)."""
    code = (entry for entry in task.experiment.code if not entry.endswith(".py"))
    return ("optsweep.engine.chunks", *code)


def import_modules(modules: Sequence[str], imports: Sequence[str] = ()) -> list[str]:
    """Import ``modules`` in this (worker) process: a pool's workers warm up with it while the
    sweep is still being checked, so a chunk no longer waits for the imports. Then the
    experiment's ``imports``: returns what importing each that failed raised."""
    import importlib

    exit_with_parent()
    for module in modules:
        importlib.import_module(module)
    failed = []
    for module in imports:
        try:
            importlib.import_module(module)
        except Exception as error:
            failed.append(f"{module!r} ({type(error).__name__}: {error})")
    return failed


def say_failed_imports(task: ExperimentTask, failed: Sequence[str]) -> None:
    """Warn, once per module, of the experiment's ``imports`` that a worker could not
    import: its jobs import what they need themselves, so only the warm-up lost them."""
    for what in dict.fromkeys(failed):
        log.warning(
            "Experiment %r: imports %s could not be imported in a pool worker; fix "
            "Experiment.imports in %s (the jobs import what they use themselves)",
            task.experiment.name,
            what,
            ", ".join(task.experiment.task_files) or "the task's module",
        )


# Per worker process, the composer of the sweep it last ran a chunk of: a worker that gets
# several chunks of one sweep composes each setting's template once (keyed by the sweep's
# token, so a reused worker never mixes two sweeps).
_COMPOSERS: dict[str, FastComposer] = {}


def run_chunk(context: ChunkContext, chunk: Chunk) -> ChunkResult:
    """Run one chunk in this (worker) process: what a pool worker or array task calls."""
    log_dir = Path(context.sweep_dir) / "chunks" / str(chunk.number)
    return run_jobs(context, chunk.jobs, chunk.plans, log_dir)


def run_jobs(
    context: ChunkContext, jobs: Sequence[Job], plans: dict[tuple, JobPlan], log_dir: Path
) -> ChunkResult:
    """Run ``jobs`` in this (worker) process by the in-process path, logging to ``log_dir``;
    ``plans``: the checked plans the sweep made (a job without one is checked here)."""
    run = InProcessRun(
        composer_of(context), context.task, context.hydra_context, context.sweep_dir, str(log_dir)
    )
    returns = run.run(jobs, plans)
    return ChunkResult(returns, run.log_file)


# Per worker process, the run of the search it serves: its logging stays configured from one
# evaluation to the next (configuring it costs a few milliseconds, an evaluation as little).
_SEARCH_RUN: dict[tuple[str, Path], InProcessRun] = {}


def run_evaluation(
    context: ChunkContext, job: Job, plan: JobPlan | None, log_dir: Path
) -> JobReturn:
    """Run one evaluation of a search in this (worker) process, as ``run_jobs`` would."""
    key = (context.token, log_dir)
    run = _SEARCH_RUN.get(key)
    if run is None:
        _SEARCH_RUN.clear()
        run = InProcessRun(
            composer_of(context),
            context.task,
            context.hydra_context,
            context.sweep_dir,
            str(log_dir),
        )
        run.keep_logging = True
        _SEARCH_RUN[key] = run
    (ret,) = run.run([job], {job[1]: plan} if plan is not None else {})
    return ret


def composer_of(context: ChunkContext) -> FastComposer:
    """This process's composer of the sweep of ``context`` (set up at its first jobs here)."""
    exit_with_parent()  # a worker never outlives its sweep (kill -9 of the sweeping process)
    composer = _COMPOSERS.get(context.token)
    if composer is None:  # the first jobs of this sweep in this process
        setup_globals()
        Singleton.set_state(context.singleton_state)
        _COMPOSERS.clear()
        composer = _COMPOSERS[context.token] = FastComposer(
            context.hydra_context.config_loader, context.master
        )
        composer.templates.update(context.templates)
    return composer


class ChunkDied(RuntimeError):
    """The process running a chunk of jobs ended before the job did."""


def returns_of_a_dead_chunk(
    jobs: Sequence[Job],
    sweep_dir: str,
    died: ChunkDied,
    name: str | None = None,
    plans: dict[tuple, JobPlan] | None = None,
) -> list[JobReturn]:
    """The returns of a chunk whose process died (a killed pool worker, a cancelled array
    task): the jobs it finished as they ended (their progress markers say), the others failed
    with ``died``, naming the process. The lock file a job in progress left is removed."""
    ended = finished_jobs(sweep_dir)
    returns = []
    for number, overrides in jobs:
        ret = JobReturn(overrides=list(overrides), task_name=name)
        if number in ended:
            ret.status = ended[number]
            failed = ret.status is JobStatus.FAILED
            ret.return_value = RuntimeError("failed (see the chunk's log)") if failed else None
        else:
            ret.return_value, ret.status = died, JobStatus.FAILED
            plan = (plans or {}).get(tuple(overrides))
            if plan is not None:
                remove_abandoned_lock(plan.path)
        returns.append(ret)
    return returns
