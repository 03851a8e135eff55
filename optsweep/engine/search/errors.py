"""The two ways a search ends early, whatever its optimizer (nevergrad or Optuna)."""

from hydra.errors import CompactHydraException


class SearchFailed(CompactHydraException):
    """Too many evaluations of a search failed, or all of them did."""


class SearchRefused(CompactHydraException):
    """The search cannot run as defined; nothing was evaluated."""
