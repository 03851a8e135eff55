"""The quadratic experiment's task (see quadratic.py).

python tests/quadratic/task.py scale=unit steps=3     # one job
python tests/quadratic/task.py -cp experiment -m      # its sweep
"""

import sys
from pathlib import Path

import hydra
from quadratic import QUADRATIC, descend

from optsweep.engine.trust import refuse_untrusted_callbacks, trusted_callbacks

HERE = Path(__file__).resolve().parent
TRUSTED = trusted_callbacks(HERE / "config", HERE / "experiment")


@hydra.main(config_path="config", config_name="task", execution_whitelist=TRUSTED)
@QUADRATIC.task
def main(config: dict) -> dict:
    return descend(config)


if __name__ == "__main__":
    refuse_untrusted_callbacks(sys.argv[1:], TRUSTED)
    main()
