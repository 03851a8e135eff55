"""An asynchronous nevergrad search (``optim.asynchronous: true`` with ``launcher=local`` or
``launcher=slurm``): ``num_workers`` evaluations in flight on the pool or on the search's
SLURM workers, the next point asked as each one is told.

In the batched search the sweeping process asks for a batch of ``num_workers`` points,
checks them, waits for the slowest, tells nevergrad all of them and only then asks again:
the workers wait for the optimizer and for each other. Here each evaluation is one task of the
pool, checked and run as a sweep's job on the worker that takes it (on SLURM: checked here
and put in the search's queue, ``OnSlurmWorkers.submit_checked``); as one comes back, the
sweeping process tells nevergrad its value and asks for the next point at once (nevergrad's
own asynchronous pattern: asking while other points are pending), so the optimizer's work
overlaps the evaluations and no worker waits for another.

What is reproducible: with one worker each point is asked after the last was told: the
batched search's evaluations. With several, which evaluations had been told when a point is
asked depends on which finished first, which timing decides: the same seed gives other
points from one run to the next. Each evaluation stays reproducible from its recorded config,
and ``trace.csv`` lists the evaluations in the order they were told (they finished).

Resuming: the optimizer state is saved with the candidates in flight (asked, not told). On
resume the trace's evaluations beyond that state are told again in their order, each
followed by the ask that followed it, with no evaluation; the candidates then in flight are
evaluated first (a result saved before the stop is found current). If the restored optimizer
asks for other points (it should not), it is restored again and those evaluations are
checked as new ones, as in the batched search.

A worker that dies (``kill -9``, OOM) breaks loky's pool with every evaluation in flight:
they run again once on a new pool (found current if saved); one in flight at a second death
fails, naming it. Past ``max_failure_rate`` no new point is asked, the evaluations in flight
are told, then the search fails. Ctrl-C or SIGTERM stops the workers.
"""

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from typing import Any

from optsweep.engine.limits import deferred_stops
from optsweep.engine.search.errors import SearchFailed
from optsweep.engine.search.outcome import raise_if_too_many_failed
from optsweep.engine.search.pool_workers import DIED_TWICE, not_sent
from optsweep.engine.search.state import Evaluation, SearchState

log = logging.getLogger(__name__)


@dataclass
class Flight:
    """A candidate in flight: the search's job ``index``, sent to a worker (again, after
    ``deaths`` of its pool)."""

    candidate: Any
    index: int
    deaths: int = 0
    unsent: bool = False  # its last task was refused by a pool that had already broken


class AsynchronousCandidates:
    """``num_workers`` candidates of ``optimizer`` in flight on a pool (``OnPoolWorkers``)
    until the budget is evaluated (module docstring).

    ``point(candidate)``: its search-space values, as the trace records them;
    ``overrides(candidate)``: the overrides it is evaluated with; ``loss(evaluation)``: what
    nevergrad is told of it; ``save(optimizer, asked, final)``: the search's files, with the
    candidates asked and not told."""

    def __init__(
        self,
        optimizer: Any,
        state: SearchState,
        optim: Any,
        *,
        point: Callable[[Any], dict],
        overrides: Callable[[Any], tuple[str, ...]],
        loss: Callable[[Any], float],
        save: Callable[[Any, list, bool], None],
    ):
        self.optimizer, self.state, self.optim = optimizer, state, optim
        self.point, self.overrides, self.loss, self.save = point, overrides, loss, save
        self.asked: list = []  # candidates asked for and not told, in the order asked

    def _refill(self) -> list:
        """Ask for candidates until ``num_workers`` are pending or the whole budget is asked
        for; the new ones."""
        new = []
        while (
            len(self.asked) < self.optim.num_workers
            and len(self.state.evaluations) + len(self.asked) < self.optim.budget
        ):
            new.append(self.optimizer.ask())
            self.asked.append(new[-1])
        return new

    def _told(self, candidate: Any, evaluation: Any, ask: bool = True) -> list:
        """``evaluation`` of ``candidate`` recorded and told; the candidates asked after it
        (``ask``: the search is not failing)."""
        self.asked.remove(candidate)
        self.state.evaluations.append(evaluation)
        self.optimizer.tell(candidate, self.loss(evaluation))
        return self._refill() if ask else []

    def told_again(self, same_point: Callable[[dict, dict], bool]) -> Any:
        """The resumed optimizer, told the trace's evaluations beyond its saved state, each
        followed by the asks that followed it in the run that evaluated it; restored again
        (those evaluations cut off, to be checked as new ones) if it asks for other points.
        Returns the optimizer; ``asked`` then holds the candidates to evaluate first."""
        state = self.state
        self.asked = list(state.asked)
        rows = state.evaluations[state.told :]
        del state.evaluations[state.told :]
        self._refill()
        for row in rows:
            pending = [c for c in self.asked if same_point(self.point(c), row.params)]
            if not pending:
                log.warning(
                    "the restored optimizer asked for other points than evaluation %d of the "
                    "trace: it and those after it are checked again",
                    row.number,
                )
                self.optimizer = state.restored()
                self.asked = list(state.asked)
                self._refill()
                return self.optimizer
            self._told(pending[0], row)
        return self.optimizer

    def run(self, pool: Any, first_index: int) -> int:
        """Evaluate the budget's remaining candidates, ``asked`` first; returns the next job
        index. A stop (or any error) stops the workers and is raised again."""
        in_flight: dict[Future, Flight] = {}
        index, failing = first_index, None

        def send(candidates: list) -> None:
            nonlocal index
            for candidate in candidates:
                flight = Flight(candidate, index)
                in_flight[pool.submit_checked(self.overrides(candidate), index)] = flight
                index += 1

        try:
            self._refill()
            send(list(self.asked))
            while in_flight:
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                returned, died = self._collected(done, in_flight)
                if died:  # loky fails every task in flight: wait for them, then a new pool
                    wait(list(in_flight))
                    more, also_died = self._collected(set(in_flight), in_flight)
                    returned, died = returned + more, died + also_died
                    pool.broken()
                with deferred_stops():  # told and saved whole
                    for flight, evaluation in returned:
                        send(self._recorded(flight, evaluation, failing is None))
                        failing = failing or self._failing()
                    again = [f for f in died if f.deaths == 0 or f.unsent]
                    for flight in died:
                        flight.deaths += not flight.unsent
                        flight.unsent = False
                        if flight.deaths <= 1:  # (0: refused by a pool already broken)
                            overrides = self.overrides(flight.candidate)
                            in_flight[pool.submit_checked(overrides, flight.index)] = flight
                            continue
                        failed = Evaluation(flight.index, {}, None, f"ChunkDied: {DIED_TWICE}")
                        send(self._recorded(flight, failed, failing is None))
                        failing = failing or self._failing()
                    if again:
                        log.warning(
                            "a joblib worker died; evaluating %d again on a new pool", len(again)
                        )
                    final = len(self.state.evaluations) >= self.optim.budget
                    self.save(self.optimizer, self.asked, final)
        except BaseException:  # Ctrl-C, SIGTERM, an error: the workers stop
            in_flight.clear()
            pool.stop(joined=True)
            raise
        if failing is not None:
            raise failing
        return index

    def _collected(
        self, done: set[Future], in_flight: dict[Future, Flight]
    ) -> tuple[list[tuple[Flight, Evaluation]], list[Flight]]:
        """The evaluations of the tasks ``done``, in the order they were sent, and the
        flights a worker's death took with it (each task taken out of ``in_flight``). An
        error of the worker's, not of the evaluation's (Hydra's, at a bad override), is
        raised."""
        from concurrent.futures.process import BrokenProcessPool

        returned, died = [], []
        for future in sorted(done, key=lambda f: in_flight[f].index):
            flight = in_flight.pop(future)
            try:
                returned.append((flight, future.result()))
            except BrokenProcessPool as error:
                flight.unsent = not_sent(error)  # no worker ran it: no death of its own
                died.append(flight)
        return returned, died

    def _recorded(self, flight: Flight, evaluation: Evaluation, ask: bool) -> list:
        """The evaluation of ``flight`` recorded (numbered in the trace's order, with its
        point) and told; the candidates asked after it."""
        number = len(self.state.evaluations)
        evaluation = replace(evaluation, number=number, params=self.point(flight.candidate))
        return self._told(flight.candidate, evaluation, ask)

    def _failing(self) -> SearchFailed | None:
        """The search's failure once past its tolerated rate (raised when the evaluations in
        flight are told), else None."""
        try:
            raise_if_too_many_failed(self.state, self.optim.budget, self.optim.max_failure_rate)
        except SearchFailed as error:
            return error
        return None
