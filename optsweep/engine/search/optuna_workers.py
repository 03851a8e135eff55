"""An asynchronous Optuna search (``asynchronous: true`` with ``launcher=local``): the pool's
workers ask for, evaluate and tell its trials themselves, the study's storage their
coordination.

In the batched search the sweeping process asks a batch of ``num_workers`` trials, the
workers evaluate it, and the sweeping process tells it before asking again: with cheap
objectives the sampler's work (``ask`` and ``tell``, ~50 ms a trial for a TPE study of 200
trials in SQLite, more than the evaluation of a TNC run) is done in one process while the
workers wait. Here each of the ``num_workers`` trials in flight is one task on the pool: the
worker that takes it opens the study (once per process), asks for a trial with the sampler
made for the trial's number, checks and runs the evaluation as a sweep's job, tells the study
and returns the evaluation. The sweeping process keeps ``num_workers`` tasks in flight until
the budget is handed out, writes the search's files as trials end and applies its failure
policy (past the tolerated rate, the trials in flight are told, then the search fails).

What is reproducible: with one trial in flight (``num_workers: 1``) each trial is asked after
the last was told, by the sampler made for its number: the batched search's trials. With
several, a trial's parameters depend on which others had been told when it was asked, which
timing decides: the same seed gives other trials from one run to the next. Each evaluation
stays reproducible from its recorded config, and ``trace.csv`` lists the trials by number
(the order they were asked in).

A worker that dies (``kill -9``, OOM) breaks loky's pool with every trial in flight: those
left RUNNING are evaluated again once, on a new pool, with the parameters they hold; a trial
in flight at a second death is told FAIL, naming it. Ctrl-C or SIGTERM stops the workers;
their trials stay RUNNING and the rerun evaluates them, as after any stop.
"""

import logging
import signal
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from optsweep.engine import internals
from optsweep.engine.search.errors import SearchFailed
from optsweep.engine.search.evaluations import evaluation_of
from optsweep.engine.search.optuna_definition import OptunaDefinition
from optsweep.engine.search.optuna_storage import StudyPlace
from optsweep.engine.search.optuna_trials import (
    ERROR,
    RESUMED_NOTE,
    WORKER_DIED_NOTE,
    evaluations_of,
    reopened,
    tell,
    trial_overrides,
)
from optsweep.engine.search.outcome import raise_if_too_many_failed
from optsweep.engine.search.pool_workers import DIED_TWICE, WorkerEvaluations, worker_evaluations
from optsweep.engine.search.state import SearchState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyWork:
    """What a worker needs to ask, evaluate and tell the search's trials."""

    place: StudyPlace
    study_name: str
    definition: OptunaDefinition
    space: dict  # {key: Optuna distribution}
    fixed: tuple[str, ...]  # the overrides every evaluation gets


# -- in a pool worker --------------------------------------------------------------------------


# Per worker process: the search it serves (its token), its evaluations and its study.
_WORKER: dict[str, Any] = {}


def _worker(token: str, context: bytes, work: StudyWork) -> tuple[WorkerEvaluations, Any]:
    if _WORKER.get("token") != token:
        import optuna

        _WORKER.clear()
        optuna.logging.disable_default_handler()  # its lines go to the worker's log
        optuna.logging.enable_propagation()
        storage = work.place.open(checked=True)
        _WORKER.update(
            token=token,
            evaluations=worker_evaluations(token, context),
            study=optuna.load_study(study_name=work.study_name, storage=storage),
        )
    return _WORKER["evaluations"], _WORKER["study"]


def run_trial(
    token: str, context: bytes, work: StudyWork, number: int, index: int, resumed: str | None
):
    """In a pool worker: trial ``number`` (``resumed``: one left RUNNING, with the parameters
    it holds, the note its user attribute ``resumed`` gets; None: a new trial, drawn by the
    sampler made for ``number``, its expected number), evaluated as the search's job
    ``index``, then told. Its ``Evaluation``."""
    evaluations, study = _worker(token, context, work)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops the trial
    try:
        if resumed is not None:
            (frozen,) = [t for t in study.get_trials(deepcopy=False) if t.number == number]
            trial = reopened(study, frozen, work.space, work.definition, resumed)
        else:
            study.sampler = work.definition.sampler_for(number)
            trial = study.ask(fixed_distributions=work.space)
        params = {k: trial.params[k] for k in work.space}
        overrides = trial_overrides(trial, work.space, work.fixed)
        ((ret, path),) = evaluations.evaluate([overrides], index)
        evaluation = evaluation_of(trial.number, params, ret, path)
        tell(study, trial, evaluation, work.definition)
        return evaluation
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- in the sweeping process -------------------------------------------------------------------


class AsynchronousTrials:
    """The sweeping process's side (module docstring): ``num_workers`` trials in flight on
    ``pool`` (``OnPoolWorkers``) until the budget is handed out."""

    def __init__(self, pool: Any, work: StudyWork, study: Any, state: SearchState):
        self.pool, self.work, self.study, self.state = pool, work, study, state
        self.in_flight: dict[Future, int] = {}  # task -> its trial's (expected) number
        self.deaths: Counter = Counter()  # trial number -> deaths of the pool it was in flight in

    def run(
        self, left_running: list[int], next_number: int, first_index: int, save: Callable
    ) -> int:
        """Evaluate the budget's remaining trials, those a stopped run left RUNNING
        (``left_running``, their numbers) first; ``save()`` writes the search's files as
        trials end. Returns the next job index."""
        d = self.work.definition
        reopen = list(left_running)
        index, failing = first_index, None
        try:
            while True:
                while (
                    failing is None
                    and len(self.in_flight) < d.batch
                    and len(self.state.evaluations) + len(self.in_flight) < d.n_trials
                ):
                    if reopen:
                        number = reopen.pop(0)
                        note = WORKER_DIED_NOTE if self.deaths[number] else RESUMED_NOTE
                    else:
                        number, note, next_number = next_number, None, next_number + 1
                    self.in_flight[self.pool.submit_trial(self.work, number, index, note)] = number
                    index += 1
                if not self.in_flight:
                    break
                done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
                if self._recorded_a_death(done):
                    reopen = self._after_a_death()
                    next_number = max(next_number, len(self.study.get_trials(deepcopy=False)))
                save()
                if failing is None:
                    try:
                        raise_if_too_many_failed(self.state, d.n_trials, d.max_failure_rate)
                    except SearchFailed as error:
                        failing = error  # raised once the trials in flight are told
        except BaseException:  # Ctrl-C, SIGTERM, an error: the workers stop
            self.in_flight.clear()
            self.pool.stop(joined=True)
            self._read_back()  # what the workers told before they were killed
            save()  # the trace then says it too (flushed as the search stops)
            raise
        if failing is not None:
            raise failing
        return index

    def _recorded_a_death(self, done: set[Future]) -> bool:
        """Record the evaluations of the tasks ``done``; whether a worker died (loky then
        fails every task in flight: they are waited for here)."""
        from concurrent.futures.process import BrokenProcessPool

        died = False
        for future in done:
            del self.in_flight[future]
            try:
                evaluation = future.result()  # a worker's error (not its evaluation's) raises
            except BrokenProcessPool:
                died = True
                continue
            self.state.evaluations = sorted(
                [*self.state.evaluations, evaluation], key=lambda e: e.number
            )
        if died:
            wait(list(self.in_flight))
            self.in_flight.clear()
            self.pool.broken()
        return died

    def _after_a_death(self) -> list[int]:
        """After the pool broke: the evaluations as the study holds them (a worker may have
        told its trial and died before returning it) and the trials left RUNNING, each to
        evaluate again once; one left RUNNING by a second death is told FAIL, naming it."""
        from optuna.trial import TrialState

        again, twice = [], []
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.deaths[trial.number] += 1
            if self.deaths[trial.number] == 1:
                again.append(trial.number)
                continue
            twice.append(trial.number)
            failed = internals.reopened_trial(self.study, trial)
            failed.set_user_attr(ERROR, f"ChunkDied: {DIED_TWICE}")
            self.study.tell(failed, state=TrialState.FAIL)
        self._read_back()
        if again:
            log.warning(
                "a joblib worker died; evaluating trials %s again on a new pool",
                ", ".join(map(str, again)),
            )
        if twice:
            log.warning(
                "a joblib worker died again; trials %s failed: %s",
                ", ".join(map(str, twice)),
                DIED_TWICE,
            )
        if not again and not twice:  # it died between two trials
            log.warning("a joblib worker died; no trial was left running: going on on a new pool")
        return again

    def _read_back(self) -> None:
        """The search's evaluations as the study holds them (what the workers told)."""
        trials = self.study.get_trials(deepcopy=False)
        self.state.evaluations = evaluations_of(trials, self.work.space)
