"""One evaluation of a search made from the job that ran it, whatever the optimizer."""

import math

from hydra.core.utils import JobReturn, JobStatus

from optsweep.engine import internals
from optsweep.engine.search.state import Evaluation


def evaluation_of(number: int, params: dict, ret: JobReturn, path: str | None) -> Evaluation:
    """Evaluation ``number`` at ``params``: the job's value, or its error as ``Type: message``
    (a value that is not finite, NaN or inf, is a failure too, whatever the optimizer); with
    the job's result file ``path`` if it is an experiment's job."""
    if ret.status is JobStatus.COMPLETED:
        value = float(ret.return_value)
        if not math.isfinite(value):
            return Evaluation(
                number, params, None, f"the task returned {value!r}: not a finite value", path
            )
        return Evaluation(number, params, value, path=path)
    error = internals.job_error(ret)
    return Evaluation(number, params, None, f"{type(error).__name__}: {error}", path)
