"""Figures, tables and exports of the example experiment's results (the scripts are in plots/)."""
