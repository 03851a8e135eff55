"""The error an experiment raises for a job config it refuses (kept apart so that every engine
module can name it without importing the experiment interface)."""


class InvalidJobConfig(ValueError):
    """A job config an experiment refuses; the message names the key and what is accepted."""
