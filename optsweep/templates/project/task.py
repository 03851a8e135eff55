"""{{name}}: the Hydra entry point. A job's config in, a dict of scalars out.

    python task.py model=logistic model.max_iter=50    # one job (the plain tree, config/)
    python task.py -cp experiment -m                   # the whole sweep (experiment/)

``@EXPERIMENT.task`` makes ``main`` a task function of the optsweep engine: it checks each
job's config (every key must be one that config/ defines), skips a job whose stored result
is current, and saves each result in results/ with its config and provenance.
"""

import hydra
from optsweep import Experiment, InvalidJobConfig

import toy


def check(config: dict) -> None:
    """The experiment's own checks of a job's values, run on every job of a sweep before any
    job runs: raise InvalidJobConfig naming the key and what it must be."""
    model = config.get("model")
    if model is None:
        raise InvalidJobConfig("no model chosen: add model=logistic or model=svm (config/model/)")
    for key in ("max_iter", "epochs"):
        steps = model.get(key)
        if key in model and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise InvalidJobConfig(f"model.{key}={steps!r} must be a positive integer")


EXPERIMENT = Experiment(
    name="{{name}}",
    # The entry of the returned dict that a search optimizes, and in which direction.
    objective="accuracy",
    direction="maximize",
    # The code that computes results besides this file: editing it makes results stale.
    code=("toy.py",),
    check=check,
    # Packages whose versions results depend on (a new version makes results stale).
    packages=("numpy",),
)


# version_base is left out on purpose: Hydra 1.4 warns whenever it is passed, and without it
# applies its current defaults (no change of working directory).
@hydra.main(config_path="config", config_name="task")
@EXPERIMENT.task
def main(config: dict) -> dict:
    return toy.run(config)


if __name__ == "__main__":
    main()
