"""A pool worker never outlives the sweep that started it.

``kill -9`` of a sweeping process gives its joblib (loky) workers no chance to be told: they
are reparented to init and would compute the rest of their chunk, then idle. Each worker
watches its parent instead (``exit_with_parent``, started by the first chunk or warm-up it
runs) and exits within a second of the parent's death. A job it was computing saves nothing
(results are written atomically), so the next run computes it again; a result it was
already writing is finished first. Its lock file is removed (the lock goes with the
process), so no temporary or lock file of the worker's is left beside the results.
"""

import os
import threading
import time

from optsweep.engine.files import exit_now

# How often a worker looks whether its parent is still there, in seconds.
POLL = 0.5
# The exit status of a worker whose sweep died (EX_SOFTWARE).
ORPHANED = 70

_watched: int | None = None


def exit_with_parent() -> None:
    """In a worker process: exit as soon as the process that started it is gone (once per
    process; nothing to watch in a process whose parent is already init)."""
    global _watched
    parent = os.getppid()
    if _watched == parent or parent == 1:
        return
    _watched = parent

    def watch() -> None:
        while True:
            time.sleep(POLL)
            if os.getppid() != parent:
                exit_now(ORPHANED)

    threading.Thread(target=watch, name="optsweep-exit-with-parent", daemon=True).start()
