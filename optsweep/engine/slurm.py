"""What the sweep needs to know of a SLURM cluster, asked of the cluster itself."""

import getpass
import math
import re
import subprocess

# Slurm's default MaxArraySize: array task indices run from 0 to MaxArraySize - 1.
DEFAULT_MAX_ARRAY_SIZE = 1001
# The least time (s) between SLURM's warning signal and a task's time limit, and what a task
# needs beyond its jobs (starting Python, importing the engine and the experiment).
MIN_SIGNAL_DELAY_S = 10
TASK_STARTUP_S = 120
# The thread pools of numpy's and scipy's math libraries size themselves to the node's cores,
# not to the task's CPUs: tasks sharing a node then oversubscribe it (two 1-CPU tasks on a
# 2-core node ran the sweep's solvers 2x slower each). joblib caps its workers the same way.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class SlurmUnreachable(RuntimeError):
    """SLURM's commands failed or are missing."""


def _run(*command: str, timeout: float = 30) -> str:
    """The output of ``command``; ``SlurmUnreachable`` naming it and why if it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SlurmUnreachable(f"{' '.join(command)}: {error}") from None
    if done.returncode != 0:
        raise SlurmUnreachable(f"{' '.join(command)}: {done.stderr.strip()}")
    return done.stdout


def _ask(*command: str) -> str | None:
    """The output of ``command``, or None if it fails (the caller then assumes a default)."""
    try:
        return _run(*command)
    except SlurmUnreachable:
        return None


def max_array_size() -> int:
    """The cluster's ``MaxArraySize`` (``scontrol show config``), or Slurm's default if the
    cluster does not say."""
    config = _ask("scontrol", "show", "config") or ""
    found = re.search(r"^MaxArraySize\s*=\s*(\d+)", config, re.MULTILINE)
    return int(found[1]) if found else DEFAULT_MAX_ARRAY_SIZE


def cluster_cpus(partition: str | None) -> int | None:
    """CPUs of the partition (``sinfo``: the default partition if None), or None."""
    command = ["sinfo", "-h", "-o", "%C"] + (["-p", partition] if partition else [])
    answer = _ask(*command)
    totals = [int(line.split("/")[-1]) for line in (answer or "").split() if "/" in line]
    return sum(totals) or None


def time_limits(
    timeout_min: int, signal_delay_s: int, job_timeout: float | None, jobs_per_task: int
) -> tuple[int, int]:
    """(timeout_min, signal_delay_s) for an array task: with a ``job_timeout``, long enough
    for every job of the task to use it all; and a warning signal that comes after the task
    started, not before (SLURM signals ``signal_delay_s`` before the limit)."""
    if job_timeout:
        timeout_min = math.ceil((jobs_per_task * job_timeout + TASK_STARTUP_S) / 60)
    signal_delay_s = max(MIN_SIGNAL_DELAY_S, min(signal_delay_s, timeout_min * 60 // 4))
    return timeout_min, signal_delay_s


def thread_limits(setup: list[str] | None) -> list[str]:
    """``hydra.launcher.setup`` (shell lines run before a task) plus, for each of
    ``THREAD_VARIABLES`` it does not mention, a line capping it at the task's CPUs (a value
    the submitting shell exported is kept)."""
    lines = list(setup or [])
    for variable in THREAD_VARIABLES:
        if not any(variable in line for line in lines):
            lines.append(f"export {variable}=${{{variable}:-${{SLURM_CPUS_PER_TASK:-1}}}}")
    return lines


def queued_tasks() -> set[str]:
    """Ids of this user's jobs that SLURM still holds (queued, running or completing), array
    tasks one by one (``123_4``). ``SlurmUnreachable`` if ``squeue`` fails."""
    command = ("squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i")
    return set(_run(*command, timeout=60).split())


def cancel(job_id: str, pending_only: bool = False) -> None:
    """Cancel SLURM job ``job_id`` (every task of an array: one ``scancel``; only those not
    started yet if ``pending_only``); a failure is not raised (the job may have ended)."""
    _ask("scancel", *(["--state=PENDING"] if pending_only else []), job_id)
