"""The toy experiment: two linear classifiers on a seeded, synthetic two-class problem.

Replace it with your own code: ``run(config)`` receives one job's config (a plain dict: the
keys of config/task.yaml and of the chosen config/model/*.yaml) and returns a dict of scalars.
task.py says which entry is the objective and whether it is maximized. Everything random
is drawn from ``config["seed"]``, so a job's result can be computed again exactly.
"""

import numpy as np


def make_data(data: dict, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two Gaussian classes (labels -1 and +1) in ``data["dim"]`` dimensions, their means
    ``data["separation"]`` standard deviations apart along a random direction, features on
    scales from 1 to ``data["scale"]``, a share ``data["label_noise"]`` of labels flipped.
    Returns the training inputs and labels, then the test inputs and labels."""
    rng = np.random.default_rng(seed)
    n_train, n = data["n_train"], data["n_train"] + data["n_test"]
    labels = rng.choice([-1.0, 1.0], size=n)
    direction = rng.normal(size=data["dim"])
    direction /= np.linalg.norm(direction)
    inputs = rng.normal(size=(n, data["dim"])) + 0.5 * data["separation"] * np.outer(
        labels, direction
    )
    inputs *= np.geomspace(1.0, data["scale"], data["dim"])  # an ill-conditioned problem
    flipped = rng.random(n) < data["label_noise"]
    labels[flipped] = -labels[flipped]
    return inputs[:n_train], labels[:n_train], inputs[n_train:], labels[n_train:]


def _with_bias(inputs: np.ndarray) -> np.ndarray:
    return np.hstack([inputs, np.ones((len(inputs), 1))])


def logistic(inputs: np.ndarray, labels: np.ndarray, model: dict) -> np.ndarray:
    """Logistic regression: ``max_iter`` full-batch gradient steps of size ``learning_rate`` on
    the mean logistic loss plus ``l2 / 2 * |w|^2``, from w = 0."""
    x = _with_bias(inputs)
    w = np.zeros(x.shape[1])
    for _ in range(model["max_iter"]):
        margins = labels * (x @ w)
        weights = 0.5 * (1.0 - np.tanh(0.5 * margins))  # sigmoid(-margin), without overflow
        gradient = -(x.T @ (labels * weights)) / len(x) + model["l2"] * w
        w -= model["learning_rate"] * gradient
    return w


def svm(inputs: np.ndarray, labels: np.ndarray, model: dict) -> np.ndarray:
    """A linear support vector machine: ``epochs`` full-batch Pegasos steps (sub-gradient
    steps of size 1 / (lambda t)) on the mean hinge loss plus ``lam / 2 * |w|^2``, from w = 0."""
    x = _with_bias(inputs)
    w = np.zeros(x.shape[1])
    for step in range(1, model["epochs"] + 1):
        violated = labels * (x @ w) < 1.0
        gradient = model["lam"] * w - (x[violated].T @ labels[violated]) / len(x)
        w -= gradient / (model["lam"] * step)
    return w


MODELS = {"logistic": logistic, "svm": svm}


def accuracy(w: np.ndarray, inputs: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``labels`` that the sign of the linear model ``w`` predicts."""
    return float(np.mean(np.where(_with_bias(inputs) @ w >= 0.0, 1.0, -1.0) == labels))


def run(config: dict) -> dict:
    """Train the chosen model on a fresh sample of the toy problem and test it."""
    x_train, y_train, x_test, y_test = make_data(config["data"], config["seed"])
    w = MODELS[config["model"]["name"]](x_train, y_train, config["model"])
    return {
        "accuracy": accuracy(w, x_test, y_test),
        "train_accuracy": accuracy(w, x_train, y_train),
    }
