"""Baseline for bench/sweep_bench.py: Python's and Hydra's own start.

    python bench/hydra_start.py -m hydra.sweep.dir=DIR

A Hydra app with no config and a task that does nothing, run as a multirun of one job by
Hydra's own launcher: what any Hydra command costs before it does anything (the up-to-date
rerun's goal is measured beyond it).
"""

import hydra


@hydra.main(config_path=None, config_name=None)
def main(config) -> None:
    pass


if __name__ == "__main__":
    main()
