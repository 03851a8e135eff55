"""A user's Hydra callback, as one would hook in a tracker: it appends each event to a file."""

import os
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.types import RunMode


class EventLog(Callback):
    """Appends ``<event> <job number> <overrides> [<status>]`` to ``<sweep dir>/events.log``
    for each job of a multirun."""

    def _write(self, config, line: str) -> None:
        path = Path(config.hydra.sweep.dir) / "events.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(handle, (line + "\n").encode())
        finally:
            os.close(handle)

    def on_job_start(self, config, **kwargs) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        where = Path(config.hydra.runtime.output_dir).name
        variable = os.environ.get("QUADRATIC_TEST_VARIABLE", "-")
        self._write(
            config,
            f"start {config.hydra.job.num} {' '.join(config.hydra.overrides.task)} dir={where} "
            f"env={variable}",
        )

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        overrides = " ".join(config.hydra.overrides.task)
        steps = job_return.cfg.steps if job_return.cfg is not None else "?"
        self._write(
            config, f"end {config.hydra.job.num} {overrides} {job_return.status.name} steps={steps}"
        )
