"""What no optimizer can search, in a search's parameters: checked for nevergrad and Optuna
before anything is evaluated (nevergrad would search a log interval from 0 as NaN)."""

from typing import Any


def unsearchable(override: Any) -> str | None:
    """Why the parsed ``override`` is no search dimension, if it is not one (None: it is a
    range, a choice or a constant)."""
    from hydra.core.override_parser.types import Glob, IntervalSweep

    if isinstance(override.value(), Glob):
        return "glob(...) selects config keys; search a choice(...) instead"
    value = override.value() if override.is_sweep_override() else None
    if isinstance(value, IntervalSweep) and value.start is not None and value.end is not None:
        if not value.start < value.end:
            return f"interval({value.start}, {value.end}): the lower bound must be below the upper"
        if "log" in value.tags and value.start <= 0:
            return f"tag(log, interval({value.start}, ...)): a log interval starts above 0"
    return None
