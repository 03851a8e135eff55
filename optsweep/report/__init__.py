"""Figures, tables, exports and comparisons of any experiment's results (no Experiment needed)."""
