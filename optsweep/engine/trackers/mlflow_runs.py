"""``tracker=mlflow``: each job that runs is one MLflow run (see ``optsweep.engine.trackers``).

Runs go to one MLflow experiment per experiment (``rosenbrock``, or ``tracker.experiment``),
named by the job's overrides and tagged with the sweep directory, so the UI can filter or group
a sweep's runs (``tags.sweep``) and compare settings (``tags.choice.settings``). The default
store is a SQLite file inside the project, ``mlruns/mlflow.db`` (git-ignored), whatever the
working directory; ``tracker.uri=...`` or ``MLFLOW_TRACKING_URI`` points elsewhere (a server).
"""

import os
import socket
from functools import cached_property
from typing import Any

from optsweep.engine.files import process_running
from optsweep.engine.paths import project_path
from optsweep.engine.trackers import TrackedJob, TrackerCallback

DEFAULT_STORE = "mlruns"
# MLflow's own waits for a server (120 s per request, 7 retries with backoff: minutes per
# call) bounded, unless the environment sets them: seconds, then the tracker gives up.
BOUNDED_WAITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
# Which process logs a run: a later sweep marks KILLED the runs a dead process left RUNNING.
_HOST, _PID = "logged_by.host", "logged_by.pid"


def _process_gone(host: str | None, pid: str | None) -> bool:
    """Whether the process ``pid`` on ``host`` (this machine only) no longer exists."""
    if host != socket.gethostname() or not (pid or "").isdigit():
        return False
    return not process_running(int(pid or 0))


def default_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the project's own SQLite store."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{project_path(DEFAULT_STORE)}/mlflow.db"
    )


class MLflowTracker(TrackerCallback):
    kind = "mlflow"
    module = "mlflow"

    def __init__(self, uri: str | None = None, experiment: str | None = None) -> None:
        super().__init__()
        self.uri, self.experiment_name = uri or default_uri(), experiment

    @cached_property
    def client(self) -> Any:
        from mlflow.tracking import MlflowClient  # imported only when a job is tracked

        if self.uri.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(self.uri.removeprefix("sqlite:///")), exist_ok=True)
        for variable, value in BOUNDED_WAITS.items():
            os.environ.setdefault(variable, value)
        return MlflowClient(tracking_uri=self.uri)

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """Create the store's tables once, in the sweeping process (workers that each found a
        new SQLite store would race to create them), and mark KILLED the runs a killed process
        left RUNNING (killed between creating a run and ending it). A store that cannot be
        reached or written is said once; the sweep goes on without logging."""
        super().on_multirun_start(config, **kwargs)
        try:
            self._tidy()
        except Exception as error:
            self.give_up(f"opening {self.uri}", error)

    def _tidy(self) -> None:
        for experiment in self.client.search_experiments():
            for run in self.client.search_runs(
                [experiment.experiment_id], "attributes.status = 'RUNNING'"
            ):
                if _process_gone(run.data.tags.get(_HOST), run.data.tags.get(_PID)):
                    self.client.set_terminated(run.info.run_id, status="KILLED")

    def _experiment_id(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        try:
            artifacts = None
            if self.uri.startswith("sqlite:///"):
                artifacts = os.path.join(
                    os.path.dirname(self.uri.removeprefix("sqlite:///")), "artifacts"
                )
            # The UI's classic runs table, not its GenAI overview.
            kind = {"mlflow.experimentKind": "custom_model_development"}
            return self.client.create_experiment(name, artifact_location=artifacts, tags=kind)
        except MlflowException:  # created meanwhile by another worker
            return self.client.get_experiment_by_name(name).experiment_id

    def log(self, job: TrackedJob) -> None:
        from mlflow.entities import Metric, Param, RunTag

        experiment_id = self._experiment_id(self.experiment_name or job.experiment)
        started = int((job.started or job.ended) * 1000)
        tags = {**job.tags, _HOST: socket.gethostname(), _PID: str(os.getpid())}
        run = self.client.create_run(
            experiment_id, start_time=started, run_name=job.name, tags=tags
        )
        ended = int(job.ended * 1000)
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(key, value, ended, 0) for key, value in job.metrics.items()],
            params=[Param(key, value[:6000]) for key, value in job.params.items()],
            tags=[RunTag("mlflow.note.content", job.tags["error"])]
            if job.failed and "error" in job.tags
            else [],
        )
        self.client.set_terminated(
            run.info.run_id, status="FAILED" if job.failed else "FINISHED", end_time=ended
        )
