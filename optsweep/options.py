"""Which options each scipy ``minimize`` method accepts, read from scipy itself.

scipy only emits an ``OptimizeWarning`` for an unknown option and then runs with its defaults,
so a typo such as ``maxfunn`` silently produces wrong results. Everything here raises instead.
"""

import difflib
import inspect
import re
from functools import cache

from scipy.optimize import _minimize, show_options

# The unconstrained, Hessian-free methods this project compares, by scipy's (lower-case) name,
# mapped to the function that implements each. scipy keeps these private, but their signatures
# are the documented option lists (``scipy.optimize.show_options`` prints the same names).
SOLVERS = {
    "nelder-mead": _minimize._minimize_neldermead,
    "powell": _minimize._minimize_powell,
    "cg": _minimize._minimize_cg,
    "bfgs": _minimize._minimize_bfgs,
    "l-bfgs-b": _minimize._minimize_lbfgsb,
    "tnc": _minimize._minimize_tnc,
    "cobyla": _minimize._minimize_cobyla,
    "cobyqa": _minimize._minimize_cobyqa,
    "slsqp": _minimize._minimize_slsqp,
}

# Parameters of those functions that ``minimize`` fills itself: not solver options.
_NOT_OPTIONS = {"fun", "func", "x0", "args", "jac", "hess", "hessp", "bounds", "constraints",
                "callback", "workers"}

# Values of the top-level ``jac`` key: scipy's finite-difference schemes, or the exact gradient.
JAC_CHOICES = (None, "2-point", "3-point", "cs", "exact")


class InvalidMethodConfig(ValueError):
    """A method name, option or ``jac`` choice that scipy would ignore or reject."""


def _solver(method: str):
    try:
        return SOLVERS[method.lower()]
    except KeyError:
        known = ", ".join(sorted(SOLVERS))
        raise InvalidMethodConfig(
            f"unknown method.name {method!r}; this project supports: {known}"
        ) from None


@cache
def accepted_options(method: str) -> tuple[str, ...]:
    """The option names that ``minimize(method=method, options=...)`` understands."""
    parameters = inspect.signature(_solver(method)).parameters.values()
    return tuple(
        p.name for p in parameters
        if p.name not in _NOT_OPTIONS and p.kind is not inspect.Parameter.VAR_KEYWORD
    )


# Documented scalar types we enforce, and what a config value must be for each.
_SCALAR_TYPES = {"int": "an integer", "float": "a number", "number": "a number", "bool": "true or false"}


@cache
def documented_types(method: str) -> dict[str, str]:
    """{option: "int" | "float" | "number" | "bool"} for the options scipy documents as one
    plain scalar type ("maxfun : int", "maxiter, maxfev : int", "disp : None or int")."""
    _solver(method)  # unknown methods fail here, with the list of known ones
    doc = show_options("minimize", method, disp=False)
    types = {}
    for names, text in re.findall(r"^\s*(\w+(?:, \w+)*) : ([^\n]+)$", doc, re.MULTILINE):
        kind = re.sub(r",\s*(optional|default.*)$", "", text.strip()).removeprefix("None or ")
        if kind in _SCALAR_TYPES:
            for name in names.split(", "):
                types.setdefault(name, kind)
    return types


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
    return "jac" in inspect.signature(_solver(method)).parameters


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
    if jac not in JAC_CHOICES:
        raise InvalidMethodConfig(
            f"jac={jac!r} is not one of {', '.join(map(str, JAC_CHOICES))}"
        )
    if jac is not None and not uses_gradient(method):
        raise InvalidMethodConfig(
            f"jac={jac!r} is set but method {method!r} does not use gradients; "
            "scipy would ignore it: remove jac for this method"
        )
