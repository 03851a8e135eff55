"""What a hyperparameter search has done, kept on disk as it goes, so it can be audited,
plotted and resumed, whatever its optimizer (nevergrad or Optuna).

A search directory holds:
- ``trace.csv``: one row per evaluation in order: value (or the failure), parameters, result file;
- ``progress.yaml``: evaluations done of the budget, failures, the best *evaluated* point and,
  for nevergrad, its current *recommendation* (a model's guess, possibly never evaluated), for
  Optuna where its study is (``study``);
- nevergrad's ``optimizer.state``: the pickled optimizer, to resume without repeating finished
  evaluations (a file this project wrote: it is only read back from the same directory). An
  Optuna search keeps its state in its study's storage instead (``study.db`` by default);
- ``<search>-tuned.yaml`` once the search succeeded: the best evaluated point as a settings file.
Each file is rewritten atomically after every batch of evaluations.
"""

import csv
import hashlib
import io
import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from optsweep.engine.files import write_atomically

TRACE, PROGRESS, STATE = "trace.csv", "progress.yaml", "optimizer.state"


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

    @property
    def id(self) -> str:
        return self.identity or search_id(self.definition)

    def resume(self):
        """The saved optimizer if this directory holds the same search, else None (the old
        files are then replaced as the new search goes)."""
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
        return pickle.loads((self.directory / STATE).read_bytes())

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
        recommendation: dict | None = None,
        study: dict | None = None,
    ) -> None:
        """Write trace, progress and, given a nevergrad ``optimizer``, its state (each
        atomically). ``recommendation``: nevergrad's; ``study``: an Optuna search's name and
        storage, said in the progress file."""
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
        if optimizer is not None:
            write_atomically(self.directory / STATE, pickle.dumps(optimizer))
        best = self.best(maximize)
        progress: dict = {
            "search_id": self.id,
            "definition": self.definition,
            "evaluations": len(self.evaluations),
            "budget": self.definition["budget"],
            "failures": sum(not e.ok for e in self.evaluations),
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


def tuned_settings(
    search: str, settings: str, best: Evaluation, definition: dict, objective: str = "value"
) -> str:
    """A settings file (experiment/settings/) that applies ``settings`` plus the best point
    (the search-space keys only). Values keep full precision, so with the search's variables
    (``maxfun``: the header lists them) the file reproduces the best value; the header names
    the ``objective`` and whether the search maximized it."""
    tuned: dict = {}
    for key, value in sorted(best.params.items()):
        node = tuned
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    variables = "".join(f"{k} {v}, " for k, v in definition.get("variables", {}).items())
    header = (
        "# @package _global_\n"
        f"# Written by `python task.py -cp experiment search={search} -m`: settings {settings}\n"
        f"# with the best evaluated point of the search, "
        f"{'maximizing' if definition.get('maximize') else 'minimizing'} {objective}: "
        f"{best.value!r}\n"
        f"# (evaluation {best.number} of {definition['budget']}, {definition['optimizer']}, "
        f"seed {definition['seed']}, {variables}code {definition['code']}).\n"
        f"# Copy it to experiment/settings/ to compare it: settings={search}-tuned.\n"
    )
    body = yaml.safe_dump({"defaults": [settings], **tuned}, sort_keys=False)
    return header + body
