"""A user's Hydra callback, as one would hook in a tracker: it appends each event to a file."""

import os
from pathlib import Path

from hydra.experimental.callback import Callback


class EventLog(Callback):
    """Appends ``<event> <job number> <overrides> [<status>]`` to ``<sweep dir>/events.log``."""

    def _write(self, config, line: str) -> None:
        path = Path(config.hydra.sweep.dir) / "events.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(handle, (line + "\n").encode())
        finally:
            os.close(handle)

    def on_job_start(self, config, **kwargs) -> None:
        self._write(config, f"start {config.hydra.job.num} {' '.join(config.hydra.overrides.task)}")

    def on_job_end(self, config, job_return, **kwargs) -> None:
        overrides = " ".join(config.hydra.overrides.task)
        steps = job_return.cfg.steps if job_return.cfg is not None else "?"
        self._write(
            config, f"end {config.hydra.job.num} {overrides} {job_return.status.name} steps={steps}"
        )
