"""Where an Optuna search's study lives, and its name.

The storage is a real one, so that ``optuna-dashboard`` or Optuna's own API opens the study:
- ``storage: null`` (the default): the SQLite file ``study.db`` in the search's directory;
- ``storage: journal``: the journal file ``study.journal`` there (``journal:PATH``: at PATH,
  relative to the search's directory), for file systems where SQLite's locking is unsafe;
- an RDB URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``): that database.

The study's name is ``<search>-<definition id>``: a changed definition (sampler, its options,
seed, batch size, space, the config and code the evaluations run on) starts a new study in the
same storage, and the old one stays there untouched under its own name.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQLITE_FILE, JOURNAL_FILE = "study.db", "study.journal"
# What a worker of an asynchronous search imports to open a study (~0.5 s), while the
# sweeping process starts the search (``optsweep.engine.search.pool_workers.warm_up``).
STORAGE_MODULES = ("optuna", "optuna.storages._rdb.models", "alembic.command", "alembic.script")


@dataclass(frozen=True)
class StudyPlace:
    """A study's storage: how Optuna's API names it (``url``: an RDB URL or a journal file's
    path, secrets hidden) and how to open it."""

    kind: str  # "rdb" or "journal"
    location: str  # the URL or the journal file's path, as given to Optuna
    url: str  # what to show: location with any password hidden

    def open(self, checked: bool = False) -> Any:
        """The Optuna storage object (imports optuna; connects or creates the file).
        ``checked``: the sweeping process has opened it already, creating its tables and
        checking their schema's version (a worker skips both: ~0.1 s)."""
        import optuna
        from optuna.storages.journal import JournalFileBackend

        if self.kind == "journal":
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(self.location))
        if self.location.startswith("sqlite:///"):
            Path(self.location.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.RDBStorage(
            self.location, skip_compatibility_check=checked, skip_table_creation=checked
        )
        if not checked and storage.engine.dialect.name == "sqlite":
            write_ahead_log(storage.engine)
        return storage

    def for_people(self) -> dict[str, str]:
        """What progress.yaml says: how to open the study with Optuna or optuna-dashboard."""
        return {"storage": self.url, "kind": self.kind}


def write_ahead_log(engine: Any) -> None:
    """Put a SQLite study in WAL mode (it stays in the file): a commit then appends to the
    write-ahead log and syncs it once, where the default rollback journal creates, syncs and
    deletes a journal file for each (~7 commits a trial: a 200-trial TPE search took ~25%
    less time in this process, more with workers writing at once, whose readers no longer
    wait for a writer). As durable (synchronous=FULL); ``study.db-wal`` and ``study.db-shm``
    appear beside the file while it is open. A database SQLite cannot put in WAL mode (in
    memory) keeps its own."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def place_of(storage: str | None, directory: Path) -> StudyPlace | None:
    """The storage a definition's ``storage`` names (see the module docstring), for the search
    whose directory is ``directory``; None if it names none of those forms."""
    if storage is None:
        url = f"sqlite:///{(directory / SQLITE_FILE).absolute()}"
        return StudyPlace("rdb", url, url)
    if storage == "journal" or storage.startswith("journal:"):
        given = storage.removeprefix("journal").removeprefix(":") or JOURNAL_FILE
        path = str((directory / Path(given).expanduser()).absolute())  # absolute PATH: as is
        return StudyPlace("journal", path, path)
    if "://" in storage:
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(storage).render_as_string(hide_password=True)
        except Exception:
            return None
        return StudyPlace("rdb", storage, shown)
    return None


def storage_forms(directory: Path) -> str:
    """The forms ``storage`` takes, for a refusal."""
    return (
        f"null (SQLite: {directory / SQLITE_FILE}), journal ({directory / JOURNAL_FILE}), "
        "journal:PATH, or an RDB URL such as sqlite:///PATH or postgresql://..."
    )


def study_name(prefix: str | None, identity: str) -> str:
    """The study of a search definition whose id is ``identity``: ``tnc-1a2b3c4d5e6f7a8b``."""
    return f"{prefix or 'search'}-{identity}"
