"""An asynchronous Optuna search on SLURM (``asynchronous: true`` with ``launcher=slurm``):
the sweeping process asks a trial as soon as one is told, ``num_workers`` trials in flight
on the search's SLURM workers, which evaluate them (``OnSlurmWorkers.submit_checked``).

On the pool the workers ask and tell their own trials (``optuna_workers``); SLURM's
workers never open the study, so no SQLite file is shared over the network file system and
the study is written by this process alone, as in a batched search. What changes from the
batched search is that no trial waits for the slowest of a batch: trials of uneven cost
(training runs on a cluster) keep every worker busy.

What is reproducible is what the pool's asynchronous search gives: with one trial in flight
each trial is asked after the last was told, by the sampler made for its number (the
batched search's trials); with several, a trial's parameters depend on which others had
been told when it was asked. ``trace.csv`` lists the trials by number. Ctrl-C or SIGTERM
cancels the workers; the trials in flight stay RUNNING and the rerun evaluates them first.
"""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from typing import Any

from optsweep.engine.limits import deferred_stops
from optsweep.engine.search.errors import SearchFailed
from optsweep.engine.search.optuna_definition import OptunaDefinition
from optsweep.engine.search.optuna_trials import reopened, tell, trial_overrides
from optsweep.engine.search.outcome import raise_if_too_many_failed
from optsweep.engine.search.state import SearchState


class TrialsInFlight:
    """``definition.batch`` trials of ``study`` in flight on ``workers`` until the budget is
    handed out (module docstring); ``ask()``: a new trial, drawn by the sampler made for its
    number."""

    def __init__(
        self,
        workers: Any,
        study: Any,
        state: SearchState,
        definition: OptunaDefinition,
        space: dict,
        fixed: tuple[str, ...],
        ask: Callable[[], Any],
    ):
        self.workers, self.study, self.state = workers, study, state
        self.definition, self.space, self.fixed, self.ask = definition, space, fixed, ask

    def run(self, left_running: list, first_index: int, save: Callable[[], None]) -> int:
        """Evaluate the budget's remaining trials, those a stopped run left RUNNING
        (``left_running``, frozen) first; ``save()`` writes the search's files as trials end.
        Returns the next job index."""
        d, state = self.definition, self.state
        in_flight: dict[Future, Any] = {}
        reopen = list(left_running)
        index, failing = first_index, None
        try:
            while True:
                while (
                    failing is None
                    and len(in_flight) < d.batch
                    and len(state.evaluations) + len(in_flight) < d.n_trials
                ):
                    if reopen:
                        trial = reopened(self.study, reopen.pop(0), self.space, d)
                    else:
                        trial = self.ask()
                    overrides = trial_overrides(trial, self.space, self.fixed)
                    in_flight[self.workers.submit_checked(overrides, index)] = trial
                    index += 1
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                with deferred_stops():  # told and saved whole: the files say what it holds
                    for future in done:
                        self._told(in_flight.pop(future), future.result())
                    save()
                if failing is None:
                    failing = self._failing()
        except BaseException:  # Ctrl-C, SIGTERM, an error: the workers stop
            in_flight.clear()
            self.workers.stop()
            raise
        if failing is not None:
            raise failing
        return index

    def _told(self, trial: Any, evaluation: Any) -> None:
        """``trial`` told its evaluation (numbered by the trial, with its parameters)."""
        params = {k: trial.params[k] for k in self.space}
        evaluation = replace(evaluation, number=trial.number, params=params)
        tell(self.study, trial, evaluation, self.definition)
        self.state.evaluations = sorted(
            [*self.state.evaluations, evaluation], key=lambda e: e.number
        )

    def _failing(self) -> SearchFailed | None:
        """The search's failure once past its tolerated rate (raised when the trials in
        flight are told), else None."""
        d = self.definition
        try:
            raise_if_too_many_failed(self.state, d.n_trials, d.max_failure_rate)
        except SearchFailed as error:
            return error
        return None
