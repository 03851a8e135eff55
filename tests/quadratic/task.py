"""The quadratic experiment's task (see quadratic.py).

python tests/quadratic/task.py scale=unit steps=3     # one job
python tests/quadratic/task.py -cp experiment -m      # its sweep
"""

import hydra
from quadratic import QUADRATIC, descend


@hydra.main(config_path="config", config_name="task")
@QUADRATIC.task
def main(config: dict) -> dict:
    return descend(config)


if __name__ == "__main__":
    main()
