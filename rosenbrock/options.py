"""Which options each scipy ``minimize`` method accepts, read from scipy itself.

scipy only emits an ``OptimizeWarning`` for an unknown option and then runs with its defaults,
so a typo such as ``maxfunn`` silently produces wrong results. Everything here raises instead.
"""

import difflib
import hashlib
import importlib.util
import inspect
import json
import math
import re
from functools import cache
from importlib.metadata import version
from pathlib import Path

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.files import write_atomically

# The unconstrained, Hessian-free methods this project compares, by scipy's (lower-case) name,
# mapped to the function of scipy.optimize._minimize that implements each. scipy keeps these
# private, but their signatures are the documented option lists (``scipy.optimize.show_options``
# prints the same names).
SOLVERS = {
    "nelder-mead": "_minimize_neldermead",
    "powell": "_minimize_powell",
    "cg": "_minimize_cg",
    "bfgs": "_minimize_bfgs",
    "l-bfgs-b": "_minimize_lbfgsb",
    "tnc": "_minimize_tnc",
    "cobyla": "_minimize_cobyla",
    "cobyqa": "_minimize_cobyqa",
    "slsqp": "_minimize_slsqp",
}

# Where the option table read from scipy is kept between runs (see ``option_table``).
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"

# Parameters of those functions that ``minimize`` fills itself: not solver options.
_NOT_OPTIONS = {
    "fun",
    "func",
    "x0",
    "args",
    "jac",
    "hess",
    "hessp",
    "bounds",
    "constraints",
    "callback",
    "workers",
}

# Values of the top-level ``jac`` key: scipy's finite-difference schemes, or the exact gradient.
JAC_CHOICES = (None, "2-point", "3-point", "cs", "exact")


class InvalidMethodConfig(InvalidJobConfig):
    """A method name, option or ``jac`` choice that scipy would ignore or reject."""


def _known(method) -> str:
    if str(method).lower() not in SOLVERS:
        known = ", ".join(sorted(SOLVERS))
        raise InvalidMethodConfig(f"unknown method.name {method!r}; this project supports: {known}")
    return str(method).lower()


# Options that count something a run may do: a value below 1 is no budget at all (scipy
# would return the start point, or run on with its own default). TNC's maxCGit is left out:
# scipy gives 0 and negative values a meaning.
COUNTS = {
    "maxfun": "evaluations of the objective",
    "maxfev": "evaluations of the objective",
    "maxiter": "iterations",
    "maxcor": "stored corrections",
    "maxls": "line-search steps",
}

# Documented scalar types we enforce, and what a config value must be for each.
_SCALAR_TYPES = {
    "int": "an integer",
    "float": "a number",
    "number": "a number",
    "bool": "true or false",
}


def _read_from_scipy() -> dict[str, dict]:
    """{method: {"accepted": option names, "types": documented scalar types, "gradient":
    whether it takes a ``jac``}}, read from scipy's signatures and documentation."""
    from scipy.optimize import _minimize, show_options

    table = {}
    for method, name in SOLVERS.items():
        parameters = inspect.signature(getattr(_minimize, name)).parameters
        types: dict[str, str] = {}
        doc = show_options("minimize", method, disp=False)
        # "maxfun : int", "maxiter, maxfev : int", "disp : None or int"
        for names, text in re.findall(r"^\s*(\w+(?:, \w+)*) : ([^\n]+)$", doc, re.MULTILINE):
            kind = re.sub(r",\s*(optional|default.*)$", "", text.strip()).removeprefix("None or ")
            if kind in _SCALAR_TYPES:
                for option in names.split(", "):
                    types.setdefault(option, kind)
        table[method] = {
            "accepted": [
                p.name
                for p in parameters.values()
                if p.name not in _NOT_OPTIONS and p.kind is not inspect.Parameter.VAR_KEYWORD
            ],
            "types": types,
            "gradient": "jac" in parameters,
        }
    return table


def _cache_file() -> Path:
    """The table's cache file for the installed scipy and this module's code: a new scipy,
    another environment or an edit here reads scipy again."""
    key = hashlib.sha256(
        "\0".join(
            [
                version("scipy"),
                str(getattr(importlib.util.find_spec("scipy"), "origin", None)),
                Path(__file__).read_text(),
            ]
        ).encode()
    ).hexdigest()[:16]
    return CACHE_DIR / f"scipy-options-{key}.json"


def _is_option_table(table) -> bool:
    return (
        isinstance(table, dict)
        and set(table) == set(SOLVERS)
        and all(
            isinstance(entry, dict)
            and isinstance(entry.get("accepted"), list)
            and isinstance(entry.get("types"), dict)
            and isinstance(entry.get("gradient"), bool)
            for entry in table.values()
        )
    )


@cache
def option_table() -> dict[str, dict]:
    """``_read_from_scipy()``, kept in ``.cache/`` so that checking a sweep whose jobs are all
    up to date need not import scipy.optimize (a quarter of a second). An unreadable cache is
    read from scipy again and rewritten; a cache that cannot be written is not an error."""
    path = _cache_file()
    try:
        table = json.loads(path.read_text())
        if _is_option_table(table):
            return table
    except (OSError, ValueError):
        pass
    table = _read_from_scipy()
    try:
        write_atomically(path, json.dumps(table, indent=1, sort_keys=True).encode())
    except OSError:
        pass
    return table


def accepted_options(method: str) -> tuple[str, ...]:
    """The option names that ``minimize(method=method, options=...)`` understands."""
    return tuple(option_table()[_known(method)]["accepted"])


def documented_types(method: str) -> dict[str, str]:
    """{option: "int" | "float" | "number" | "bool"} for the options scipy documents as one
    plain scalar type ("maxfun : int", "maxiter, maxfev : int", "disp : None or int")."""
    return option_table()[_known(method)]["types"]


def _has_type(value, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "bool"
    if kind == "int":
        return isinstance(value, int)
    if kind in ("float", "number"):
        return isinstance(value, (int, float))
    return False


def uses_gradient(method: str) -> bool:
    """Whether the method takes a ``jac`` (gradient-free methods would ignore one)."""
    return option_table()[_known(method)]["gradient"]


def check_method(method: str, options: dict, jac) -> None:
    """Raise ``InvalidMethodConfig`` naming the key if scipy would ignore or reject it."""
    accepted = accepted_options(method)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidMethodConfig(
            f"method {method!r} has no option {', '.join(map(repr, unknown))} "
            f"(in method.options); {hint}it accepts: {', '.join(accepted)}"
        )
    types = documented_types(method)
    for key, value in options.items():
        kind = types.get(key)
        if kind is not None and not _has_type(value, kind):
            raise InvalidMethodConfig(
                f"method.options.{key}={value!r} must be {_SCALAR_TYPES[kind]} "
                f"(scipy documents '{key} : {kind}' for {method})"
            )
        if isinstance(value, float) and math.isnan(value):
            raise InvalidMethodConfig(
                f"method.options.{key}=nan is not a value: give a number, or null for scipy's "
                "default"
            )
        if key in COUNTS and value < 1:
            raise InvalidMethodConfig(
                f"method.options.{key}={value!r} must be an integer >= 1 ({COUNTS[key]}); "
                "a budget of 0 or less gives no meaningful result"
            )
    if jac not in JAC_CHOICES:
        raise InvalidMethodConfig(f"jac={jac!r} is not one of {', '.join(map(str, JAC_CHOICES))}")
    if jac is not None and not uses_gradient(method):
        raise InvalidMethodConfig(
            f"jac={jac!r} is set but method {method!r} does not use gradients; "
            "scipy would ignore it: remove jac for this method"
        )
