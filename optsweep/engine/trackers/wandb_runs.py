"""``tracker=wandb``: each job that runs is one Weights & Biases run (see
``optsweep.engine.trackers``), grouped by sweep.

Offline by default: runs are written under the project's ``wandb/`` directory and nothing leaves
the machine; ``wandb sync wandb/offline-run-*`` uploads them later. ``tracker.mode=online``
uploads as jobs end (after ``wandb login``).
"""

import os

from optsweep.engine.paths import project_path
from optsweep.engine.trackers import TrackedJob, TrackerCallback


class WandbTracker(TrackerCallback):
    kind = "wandb"
    module = "wandb"

    def __init__(
        self, project: str | None = None, mode: str = "offline", directory: str | None = None
    ) -> None:
        super().__init__()
        self.project, self.mode = project, mode
        self.directory = directory or project_path()

    def log(self, job: TrackedJob) -> None:
        import wandb  # imported only when a job is tracked

        os.makedirs(self.directory, exist_ok=True)
        run = wandb.init(
            project=self.project or job.experiment,
            group=job.sweep,
            job_type=job.tags.get("choice.settings") or job.tags.get("choice.method"),
            name=job.name,
            config=job.params,
            tags=[
                f"{key}={value}"[:64]
                for key, value in job.tags.items()
                if key.startswith("choice.")
            ],
            notes=job.tags.get("error"),
            mode=self.mode,  # type: ignore[arg-type]  # checked by wandb, named in its error
            dir=self.directory,
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        try:
            run.summary.update({**job.metrics, **{f"tag.{k}": v for k, v in job.tags.items()}})
        finally:
            run.finish(exit_code=1 if job.failed else 0)
