"""What a hyperparameter search has done, kept on disk as it goes, so it can be audited,
plotted and resumed, whatever its optimizer (nevergrad or Optuna).

A search directory holds:
- ``trace.csv``: one row per evaluation in order: value (or the failure), parameters, result file;
- ``progress.yaml``: evaluations done of the budget, failures, the best *evaluated* point and,
  for nevergrad, its current *recommendation* (a model's guess, possibly never evaluated), for
  Optuna where its study is (``study``);
- nevergrad's ``optimizer.state``: the pickled optimizer and how many evaluations it was told,
  to resume without repeating finished evaluations (a file this project wrote: it is only
  read back from the same directory). An Optuna search keeps its state in its study's
  storage instead (``study.db`` by default);
- ``<search>-tuned.yaml`` once the search succeeded: the best evaluated point as a settings file.
Each file is rewritten atomically, at a batch's end, at most every ``SAVE_INTERVAL``
seconds, and when the search ends or stops (``flush``: the trace and progress; the optimizer
state only at a batch's end, when the optimizer has been told everything it asked; an
asynchronous search's as evaluations come back, with the candidates it has in flight). Each
write costs time in proportion to what the search has done (the trace rewritten whole;
pickling NGOpt: ~15 ms after 200 evaluations, 0.6 MB), so writing them after every batch
made a long search's bookkeeping grow with the square of its budget. The trace is always
written before the state, so it holds at least what the state was told: its evaluations
beyond the saved state are told again on resume (``told``), with no evaluation (the restored
optimizer asks for the same points again, in the same batches). Evaluations done since the
trace's last write (a ``kill -9``) are asked for again on resume and found current: their
result files were saved as each finished.
"""

import csv
import hashlib
import io
import json
import logging
import math
import os
import pickle
import shlex
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from optsweep.engine.files import write_atomically

log = logging.getLogger(__name__)

TRACE, PROGRESS, STATE = "trace.csv", "progress.yaml", "optimizer.state"
PREVIOUS = "previous"  # other searches' files, set aside by ``SearchState.take_directory``
LIBRARIES = ("nevergrad", "optuna")  # what ``SearchState.library`` names
# Seconds between two writes of a search's files while it goes (see the module docstring);
# $OPTSWEEP_SAVE_INTERVAL sets another (the tests: a state that lags its trace for certain).
SAVE_INTERVAL_VARIABLE = "OPTSWEEP_SAVE_INTERVAL"
SAVE_INTERVAL = 1.0


@dataclass
class Evaluation:
    """One evaluated point: its parameters and either its objective value or its error."""

    number: int
    params: dict
    value: float | None
    error: str | None = None
    path: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def search_id(definition: dict) -> str:
    """A hash of what defines a search (optimizer, budget, seed, space, code version)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


@dataclass
class SearchState:
    """The on-disk record of one search in ``directory`` (see the module docstring)."""

    directory: Path
    definition: dict
    evaluations: list[Evaluation] = field(default_factory=list)
    # What identifies the search, if not the whole definition (an Optuna study goes on under
    # a larger budget: its identity leaves the budget out).
    identity: str | None = None
    # How many of ``evaluations`` the saved (or resumed) optimizer state was told.
    told: int = 0
    # The candidates that state had asked for and not been told (an asynchronous search's
    # evaluations in flight), pickled with the optimizer; [] for a batched search's.
    asked: list = field(default_factory=list)
    saved_at: float | None = field(default=None, repr=False)
    # What the next write of the trace and progress says, if they lag the evaluations.
    pending: dict | None = field(default=None, repr=False)
    # Where the evaluations log (the sweep directory: workers' logs in its workers/).
    logs: str | None = None
    # The optimizer's library (nevergrad, optuna): its version and the engine's, said in the
    # progress file and the tuned settings file (its evaluations' results record the task's).
    library: str | None = None

    @property
    def versions(self) -> dict:
        from optsweep.engine.provenance import package_versions

        return package_versions((self.library,) if self.library else ())

    @property
    def id(self) -> str:
        return self.identity or search_id(self.definition)

    def resume(self):
        """The saved optimizer if this directory holds the same search, else None (another
        search's files were set aside first: ``take_directory``)."""
        progress = self.directory / PROGRESS
        if not progress.exists():
            return None
        saved = yaml.safe_load(progress.read_text())
        if saved.get("search_id") != self.id or not (self.directory / STATE).exists():
            return None
        with open(self.directory / TRACE, newline="") as file:
            for row in csv.DictReader(file):
                params = json.loads(row["params"])
                value = float(row["value"]) if row["value"] else None
                self.evaluations.append(
                    Evaluation(
                        int(row["evaluation"]),
                        params,
                        value,
                        row["error"] or None,
                        row["path"] or None,
                    )
                )
        try:
            saved_state = pickle.loads((self.directory / STATE).read_bytes())
        except Exception as error:  # nevergrad's own replay of a threaded optimizer can fail
            log.warning(
                "the saved optimizer state in %s cannot be restored (%s: %s): the search "
                "starts again from its first evaluation; the results saved for its points "
                "are found current, not computed again",
                self.directory,
                type(error).__name__,
                error,
            )
            self.evaluations.clear()
            return None
        if isinstance(saved_state, dict) and "optimizer" in saved_state:
            self.told = saved_state["told"]
            self.asked = list(saved_state.get("asked", ()))
            if self.told > len(self.evaluations):  # a trace older than its state: not ours
                self.evaluations.clear()
                return None
            return saved_state["optimizer"]
        self.told = len(self.evaluations)  # written after every batch, by earlier versions
        return saved_state

    def saved_count(self) -> int:
        """How many evaluations this search's progress file says it has done (in this
        directory, or set aside in ``previous/`` by another search: ``take_directory``; 0 if
        neither holds it), read without changing anything."""
        for directory in (self.directory, self.directory / PREVIOUS / self.id):
            saved = _saved_id_and_count(directory / PROGRESS)
            if saved[0] == self.id:
                return saved[1]
        return 0

    def take_directory(self) -> None:
        """Make the directory this search's before it writes there. Another search's files
        (another definition: a changed seed, budget or search file) are moved to
        ``previous/<its id>/``, so that none is lost, and this search's own, if an earlier
        run set them aside so, come back: it resumes. Result files stay where they are: each
        is current for its point, whichever search asked for it."""
        other, done = _saved_id_and_count(self.directory / PROGRESS)
        if other is not None and other != self.id:
            aside = self.directory / PREVIOUS / other
            _move(self._files(self.directory), aside)
            log.warning(
                "%s held another search (another definition, %d evaluations): its trace, "
                "progress and state were moved to %s",
                self.directory,
                done,
                aside,
            )
        mine = self.directory / PREVIOUS / self.id
        if mine.is_dir():
            _move(self._files(mine), self.directory)
            if not any(mine.iterdir()):
                mine.rmdir()
            log.warning("this search's files, set aside by another, were restored from %s", mine)

    @staticmethod
    def _files(directory: Path) -> list[Path]:
        named = [directory / name for name in (TRACE, PROGRESS, STATE)]
        return [p for p in named if p.exists()] + sorted(directory.glob("*-tuned.yaml"))

    def restored(self):
        """The saved optimizer read again (and ``asked``, its candidates then in flight), the
        evaluations cut back to those it was told."""
        self.evaluations.clear()
        optimizer = self.resume()
        del self.evaluations[self.told :]
        return optimizer

    def _due(self) -> bool:
        interval = float(os.environ.get(SAVE_INTERVAL_VARIABLE, SAVE_INTERVAL))
        return self.saved_at is None or time.monotonic() - self.saved_at >= interval

    def best(self, maximize: bool) -> Evaluation | None:
        done = [(e.value, e) for e in self.evaluations if e.value is not None and e.ok]
        done = [(value, e) for value, e in done if math.isfinite(value)]
        if not done:
            return None
        return (max if maximize else min)(done, key=lambda pair: pair[0])[1]

    def save(
        self,
        maximize: bool,
        *,
        optimizer=None,
        asked: list | None = None,
        recommendation: dict | None = None,
        study: dict | None = None,
        final: bool = False,
    ) -> None:
        """At a batch's end: write trace, progress and, given a nevergrad ``optimizer`` told
        every evaluation, its state (each atomically), if ``final`` or ``SAVE_INTERVAL``
        seconds after the last write; else only remember what to write (``flush``).
        ``asked``: the candidates it asked for and was not told yet (an asynchronous
        search's in flight), saved with it. ``recommendation``: nevergrad's; ``study``: an
        Optuna search's name and storage, said in the progress file."""
        self.pending = {"maximize": maximize, "recommendation": recommendation, "study": study}
        if not (final or self._due()):
            return
        self.flush()  # the trace before the state: it holds what the state was told
        if optimizer is not None:
            told = len(self.evaluations)
            saved_state = {"told": told, "optimizer": optimizer, "asked": list(asked or ())}
            write_atomically(self.directory / STATE, pickle.dumps(saved_state))
            self.told, self.asked = told, list(asked or ())

    def flush(self) -> None:
        """Write the trace and progress if they lag the evaluations (the search ends or
        stops). The optimizer state is left as last saved: it may have asked since."""
        if self.pending is None:
            return
        self._write_trace()
        self._write_progress(**self.pending)
        self.pending, self.saved_at = None, time.monotonic()

    def _write_trace(self) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["evaluation", "value", "error", "params", "path"])
        for e in self.evaluations:
            writer.writerow(
                [
                    e.number,
                    "" if e.value is None else repr(e.value),
                    e.error or "",
                    json.dumps(e.params, sort_keys=True),
                    e.path or "",
                ]
            )
        write_atomically(self.directory / TRACE, buffer.getvalue().encode())

    def _write_progress(
        self, maximize: bool, recommendation: dict | None, study: dict | None
    ) -> None:
        best = self.best(maximize)
        progress: dict = {
            "search_id": self.id,
            "definition": self.definition,
            "evaluations": len(self.evaluations),
            "budget": self.definition["budget"],
            "failures": sum(not e.ok for e in self.evaluations),
            "versions": self.versions,
            "best_evaluated": None
            if best is None
            else {
                "evaluation": best.number,
                "value": best.value,
                "params": best.params,
                "path": best.path,
            },
        }
        if recommendation is not None:
            progress["recommendation"] = {
                "params": recommendation,
                "note": "nevergrad's guess of the optimum; may be unevaluated",
            }
        if study is not None:
            progress["study"] = study
        write_atomically(
            self.directory / PROGRESS, yaml.safe_dump(progress, sort_keys=False).encode()
        )


def _saved_id_and_count(progress: Path) -> tuple[str | None, int]:
    """(search id, evaluations) of a progress file; (None, 0) if there is none to read."""
    try:
        saved = yaml.safe_load(progress.read_text())
    except (OSError, yaml.YAMLError):
        return None, 0
    if not isinstance(saved, dict) or saved.get("search_id") is None:
        return None, 0
    return str(saved["search_id"]), int(saved.get("evaluations", 0))


def _move(paths: list[Path], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path in paths:
        os.replace(path, directory / path.name)


def seed_said(seed) -> str:
    """The seed as a search's messages say it: a null seed draws other points every run."""
    return "none (random: another run evaluates other points)" if seed is None else str(seed)


# Overrides that say where files go, on this machine only: left out of the command a file
# written for the repository names.
_LOCATION_KEYS = ("output.dir", "hydra.sweep.dir", "hydra.sweep.subdir", "hydra.run.dir")


def search_command(search: str, argv: list[str] | None = None) -> str:
    """The command that ran the search, as a tuned settings file names it: ``python <task
    file> -cp experiment search=<name>``, the other overrides of this process's command line
    (``sys.argv``: the budget, the launcher, a sweep variable), then ``-m``; not those that
    say where files go (``output.dir``, ``hydra.sweep.dir``: this machine's folders)."""
    given = sys.argv[1:] if argv is None else argv
    script = Path(sys.argv[0]).name if argv is None and sys.argv[0].endswith(".py") else "task.py"
    overrides = [
        word
        for word in given
        if "=" in word
        and not word.startswith("-")
        and word != f"search={search}"
        and word.split("=", 1)[0].lstrip("+~") not in _LOCATION_KEYS
    ]
    return shlex.join(["python", script, "-cp", "experiment", f"search={search}", *overrides, "-m"])


def tuned_settings(
    search: str,
    settings: str,
    best: Evaluation,
    definition: dict,
    objective: str = "value",
    versions: dict | None = None,
    fixed: dict | None = None,
) -> str:
    """A settings file (experiment/settings/) that applies ``settings`` plus the best point
    (the search-space keys only). Values keep full precision, so with the search's variables
    (``maxfun``: the header lists them) the file reproduces the best value; the header names
    the ``objective``, whether the search maximized it, and the optimizer's library and
    version (``versions``: ``SearchState.versions``). ``fixed``: the task keys the search
    fixed besides its setting (``context.fixed_keys``), set in the file too, and named."""
    tuned: dict = {}
    swept = definition.get("variables", {})
    # A sweep variable the search tuned (budget: the settings map it onto their options) is
    # the sweep's to set, for every setting: in this file it would be overridden by every
    # sweep's value, silently. The header gives the value found instead.
    tuned_variables = {k: v for k, v in best.params.items() if k in swept}
    params = {k: v for k, v in best.params.items() if k not in swept}
    for key, value in [*sorted((fixed or {}).items()), *sorted(params.items())]:
        node = tuned
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    variables = ", ".join(f"{k} {v}" for k, v in swept.items() if k not in tuned_variables)
    variables = f"; sweep variables: {variables}" if variables else ""
    library = next((f" of {k} {v}" for k, v in (versions or {}).items() if k in LIBRARIES), "")
    header = (
        "# @package _global_\n"
        f"# Written by `{search_command(search)}`: settings {settings}\n"
        f"# with the best evaluated point of the search, "
        f"{'maximizing' if definition.get('maximize') else 'minimizing'} {objective}: "
        f"{best.value!r}\n"
        f"# (evaluation {best.number} of {definition['budget']}, {definition['optimizer']}"
        f"{library}, seed {seed_said(definition['seed'])}{variables}; code {definition['code']}).\n"
        f"# Copy it to experiment/settings/ to compare it: settings={search}-tuned.\n"
    )
    if fixed:
        header += (
            f"# It also sets what the search fixed besides settings {settings}: "
            f"{', '.join(f'{k}={v!r}' for k, v in sorted(fixed.items()))}.\n"
        )
    if tuned_variables:
        found = " ".join(f"{k}={v!r}" for k, v in sorted(tuned_variables.items()))
        said = (
            f"The search also tuned the sweep variable(s) {', '.join(sorted(tuned_variables))},"
            " which a sweep sets for every setting: left out of this file, where the sweep's"
            f" values would override them. The best was at {found}: run it with that override."
        )
        header += "".join(f"# {line}\n" for line in textwrap.wrap(said, 95))
    body = yaml.safe_dump({"defaults": [settings], **tuned}, sort_keys=False)
    return header + body
