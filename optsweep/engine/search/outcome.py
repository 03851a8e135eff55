"""How a search says how it ended, whatever its optimizer: the failures, the best evaluated
point on the console and in ``optimization_results.yaml``, the tuned settings file."""

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from optsweep.engine.files import remove_abandoned_locks, write_atomically
from optsweep.engine.limits import signal_of, stop_signals
from optsweep.engine.search.errors import SearchFailed
from optsweep.engine.search.state import Evaluation, SearchState, tuned_settings

log = logging.getLogger(__name__)

# Failed evaluations listed in a message; the others are counted.
LISTED_FAILURES = 10


def failures_text(failed: list[Evaluation], headline: str, logs: str | None = None) -> str:
    """``headline``, a line for each failed evaluation (its number, parameters, error) and
    where the evaluations logged (``logs``: the sweep directory), with their tracebacks."""
    lines = [f"  #{e.number} {e.params}: {e.error}" for e in failed if not e.ok]
    where = [] if logs is None else [f"  the evaluations' logs (with tracebacks): {logs}"]
    return "\n".join([headline] + lines[:LISTED_FAILURES] + where)


@contextmanager
def stopping_says_so(state: SearchState, budget: int, evaluations: Any) -> Iterator[None]:
    """Around a search's loop: its ``evaluations``' workers stop when it ends, however it
    ends, and its trace and progress are written (``SearchState.flush``). Ctrl-C or SIGTERM
    (which raises ``Terminated`` meanwhile) stops the evaluations in flight and says in a
    line what was kept; the search exits 130 or 143."""
    started = time.time()
    try:
        with stop_signals():
            yield
    except KeyboardInterrupt as stop:
        evaluations.stop()  # the workers are killed and gone when it returns
        remove_abandoned_locks(state.directory)  # the killed workers' (the search's is held)
        name, code = signal_of(stop)
        saved = _saved_in_flight(state, started)
        in_flight = (
            f"the evaluations in flight were stopped; {saved} of them had finished and saved "
            f"{'its result, which' if saved == 1 else 'their results, which'} the rerun reuses"
            if saved
            else "the evaluations in flight were stopped and are not recorded"
        )
        print(
            f"search stopped by {name}: {len(state.evaluations)} of {budget} evaluations "
            f"recorded in {state.directory}; {in_flight}. Run the same command again to "
            "continue the search.",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(code) from None
    finally:
        try:
            state.flush()  # each file atomically: a second Ctrl-C leaves the last whole one
        finally:
            evaluations.close()


def _saved_in_flight(state: SearchState, since: float) -> int:
    """How many results of evaluations not recorded in the trace were saved in the search's
    directory since ``since`` (a stopped batch's evaluations that had finished)."""
    recorded = {Path(e.path).name for e in state.evaluations if e.path}
    return sum(
        1
        for path in state.directory.glob("*.pkl")
        if path.name not in recorded and path.stat().st_mtime >= since
    )


def raise_if_too_many_failed(
    state: SearchState, budget: int, max_failure_rate: float, resumed: bool = False
) -> None:
    """``SearchFailed`` once more than ``max_failure_rate`` of ``budget`` evaluations failed
    (``resumed``: by the runs before this one, which then evaluates nothing)."""
    failed = [e for e in state.evaluations if not e.ok]
    misnamed = [e for e in failed if (e.error or "").startswith("ObjectiveNotReturned:")]
    if misnamed and not any(e.ok for e in state.evaluations):
        # No evaluation returned the declared objective: misnamed, most likely; every later
        # one would compute in vain (a grid sweep stops at its first such job likewise).
        raise SearchFailed(
            failures_text(
                misnamed[:1],
                "no evaluation returned the objective the experiment declares: the search "
                "stops (fix Experiment(objective=...); the message names the closest key)",
                state.logs,
            )
        )
    if len(failed) > max_failure_rate * budget:
        again = (
            "; this run evaluated nothing more: fix the failures (the search's files are then "
            "a fresh start if its definition changed), or raise max_failure_rate to go on"
            if resumed
            else ""
        )
        raise SearchFailed(
            failures_text(
                failed,
                f"{len(failed)} of {len(state.evaluations)} evaluations failed: more than "
                f"max_failure_rate={max_failure_rate} of the budget {budget}{again}",
                state.logs,
            )
        )


def best_or_fail(state: SearchState, maximize: bool, max_failure_rate: float) -> Evaluation:
    """The best evaluated point of a finished search; ``SearchFailed`` if none succeeded.
    Tolerated failures are said, never silent."""
    best = state.best(maximize)
    if best is None:
        raise SearchFailed(
            failures_text(
                state.evaluations,
                f"all {len(state.evaluations)} evaluations failed; no best point",
                state.logs,
            )
        )
    failed = [e for e in state.evaluations if not e.ok]
    if failed:
        log.warning(
            "%s",
            failures_text(
                failed,
                f"{len(failed)} of {len(state.evaluations)} evaluations failed (tolerated: "
                f"max_failure_rate={max_failure_rate} of the budget); they count as the worst "
                "value:",
                state.logs,
            ),
        )
    return best


def report_best(
    state: SearchState,
    best: Evaluation,
    *,
    optimizer: str,
    sweep_dir: str,
    maximize: bool,
    objective: str,
    search_name: str | None,
    tunes_settings: str | None,
    fixed: dict | None = None,
) -> None:
    """``optimization_results.yaml`` in the sweep dir (``optimizer``: nevergrad, optuna), the
    tuned settings file in the search's directory if it tunes a setting, and the best line."""
    write_atomically(
        Path(sweep_dir) / "optimization_results.yaml",
        OmegaConf.to_yaml(
            OmegaConf.create(
                {
                    "name": optimizer,
                    "best_evaluated_params": best.params,
                    "best_evaluated_result": best.value,
                }
            )
        ).encode(),
    )
    if search_name and tunes_settings:
        tuned = state.directory / f"{search_name}-tuned.yaml"
        write_atomically(
            tuned,
            tuned_settings(
                search_name,
                tunes_settings,
                best,
                state.definition,
                objective,
                state.versions,
                fixed,
            ).encode(),
        )
        log.info("Tuned settings: %s (copy to experiment/settings/ to compare)", tuned)
    log.info(
        "Best evaluated (%s %s): %r at evaluation %d: %s",
        "maximizing" if maximize else "minimizing",
        objective,
        best.value,
        best.number,
        " ".join(f"{k}={v}" for k, v in best.params.items()),
    )


def print_dry_run(name: str | None, what: str, done: int, budget: int, directory) -> None:
    """What a search would do, for ``hydra.sweeper.dry_run=true``: nothing is run."""
    left = max(0, budget - done)
    print(
        f"dry run: search={name} ({what}): {done} of {budget} evaluations done in {directory}; "
        f"it would evaluate {left} more; nothing was run"
    )
