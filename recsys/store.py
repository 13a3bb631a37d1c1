"""The MLflow tracking and registry store as ``recsys`` uses it, hardened.

- :func:`check_store` makes sure the store can be used before any work is
  done: it creates a local SQLite store (under a lock, so that two first
  runs do not both build its tables) or reaches a tracking server;
  :class:`StoreOpening` does the same with the slow part in the background.
- :func:`store_errors` turns a failure of the store (cannot be created or
  written, locked, unreachable, not a database) into a one-line
  :class:`~recsys.errors.TrackingStoreError` naming the URI and the fix.
  Only failures raised inside MLflow (or the database and HTTP libraries it
  drives) are translated, so a bug elsewhere keeps its traceback.
- :func:`tracked_run` is :func:`mlflow.start_run` with both, with MLflow's
  chatter silenced, and with Ctrl-C ending the run ``KILLED`` and removing
  any model version it registered (:class:`~recsys.errors.RunInterrupted`).
- :func:`store_lock` serialises a read-compare-write across processes and
  machines (creating a SQLite store, creating an experiment, moving the
  champion alias): an advisory lock on PostgreSQL, a file lock beside SQLite.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import mlflow

from recsys.errors import RunInterrupted, TrackingStoreError, first_line
from recsys.quiet import quiet_mlflow

__all__ = [
    "StoreOpening",
    "check_store",
    "describe_failure",
    "end_interrupted",
    "killed_on_interrupt",
    "sqlite_path",
    "store_errors",
    "store_lock",
    "tracked_run",
]

_STORE_MODULES = ("mlflow", "sqlalchemy", "alembic", "requests", "urllib3", "sqlite3")
"""Modules whose exceptions, raised while talking to the store, are the store's failures."""
_PROBE_SECONDS = 5.0
_DATABASES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
_LOCK_NAME_SUFFIX = ".recsys.lock"
_SQLITE_HEADER = b"SQLite format 3\x00"
_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_DEFAULT_FIX = ("check that MLFLOW_TRACKING_URI (or tracking.tracking_uri) points at a working, writable store, "
                "for example sqlite:///mlruns/mlflow.db")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for other stores."""
    match = re.match(r"sqlite:///([^?]+)", uri)
    return Path(match.group(1)) if match else None


# ------------------------------------------------------------------ errors
def _raised_in_store(error: BaseException) -> bool:
    """Whether ``error`` is a failure of the store: raised by MLflow or a library it drives."""
    from mlflow.exceptions import MlflowException

    if isinstance(error, MlflowException):
        return True
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - MLflow's SQL stores need it
        SQLAlchemyError = ()  # type: ignore[assignment,misc]
    if isinstance(error, SQLAlchemyError):
        return True
    if not isinstance(error, (OSError, ImportError)):  # requests' errors are OSErrors too
        return False
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_STORE_MODULES):
            return True
        tb = tb.tb_next
    return False


def _store_message(error: BaseException) -> str:
    """The first line of a store failure, without the database driver's prefix, at most 200 characters."""
    line = re.sub(r"^\((?:sqlite3|psycopg2?|pymysql)\.\w+\)\s*", "", first_line(error))
    return line if len(line) <= 200 else line[:197] + "..."


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_failure(error: BaseException, uri: str) -> TrackingStoreError:
    """The :class:`TrackingStoreError` for a failure of the store at ``uri``."""
    text = " ".join(str(e) for e in _chain(error)).lower()
    database = sqlite_path(uri)
    elsewhere = "point MLFLOW_TRACKING_URI at a writable location, for example sqlite:///mlruns/mlflow.db"
    if "database is locked" in text or "database table is locked" in text:
        return TrackingStoreError(
            uri, "the SQLite database is locked by another process",
            "retry when the other process is done; for many concurrent writers run an MLflow server "
            "(mlflow server) or use PostgreSQL")
    if "file is not a database" in text or "disk image is malformed" in text:
        return TrackingStoreError(
            uri, f"{database or 'the file'} is not an MLflow SQLite database (corrupt, or another kind of file)",
            "move the file away (a new store is then created) or " + elsewhere)
    if "readonly database" in text or "read-only file system" in text:
        return TrackingStoreError(uri, "the store cannot be written (read-only)",
                                  f"make {database.parent if database else 'it'} writable or " + elsewhere)
    if "no space left" in text:
        return TrackingStoreError(uri, "the disk is full", "free disk space or " + elsewhere)
    if any(s in text for s in ("connection refused", "failed to establish", "max retries exceeded",
                               "name or service not known", "timed out", "connectionerror")):
        if not uri.startswith(("http://", "https://")):
            return TrackingStoreError(uri, "cannot reach the database server",
                                      f"start it, check the URI, or {elsewhere}")
        return TrackingStoreError(
            uri, "cannot reach the tracking server",
            "start it (recsys ui, or mlflow server) or point MLFLOW_TRACKING_URI at a running one")
    missing = next((e for e in _chain(error) if isinstance(e, ImportError)), None)
    if missing is not None:
        return TrackingStoreError(uri, f"the database driver is not installed ({missing})",
                                  f"install the driver this URI names (pip install ...) or {elsewhere}")
    os_error = next((e for e in _chain(error) if isinstance(e, OSError) and e.filename), None)
    if os_error is not None:
        what = os_error.strerror or type(os_error).__name__
        return TrackingStoreError(uri, f"cannot create or write {os_error.filename} ({what})",
                                  f"make that location writable or {elsewhere}")
    if "unable to open database file" in text:
        return TrackingStoreError(uri, f"cannot create or open the database file {database or ''}".rstrip(),
                                  f"check that {database.parent if database else 'its directory'} is a writable "
                                  f"directory, or {elsewhere}")
    return TrackingStoreError(uri, _store_message(error), _DEFAULT_FIX)


@contextlib.contextmanager
def store_errors(uri: str | None = None) -> Iterator[None]:
    """Translate failures of the store raised in the block into :class:`TrackingStoreError`.

    Parameters
    ----------
    uri
        The store's tracking URI (default: MLflow's current one).
    """
    try:
        yield
    except TrackingStoreError:
        raise
    except Exception as error:
        if not _raised_in_store(error):
            raise
        raise describe_failure(error, uri or mlflow.get_tracking_uri()) from error


# ------------------------------------------------------------------- locks
@contextlib.contextmanager
def store_lock(uri: str | None = None, name: str = "store") -> Iterator[None]:
    """Hold the exclusive lock ``name`` in the store at ``uri`` across processes and machines.

    On PostgreSQL, an advisory lock held by one connection (released when
    it closes, so a crashed process never leaves it behind); on a local
    SQLite store, an ``flock`` on a file beside the database
    (``mlflow.db.recsys.lock``, one for every name). A tracking server
    (``http://``) offers no lock: the block runs unlocked.

    Parameters
    ----------
    uri
        The tracking URI (default: the current one).
    name
        What is locked, e.g. ``"champion:item2vec"`` (PostgreSQL keeps one lock per name).
    """
    uri = uri or mlflow.get_tracking_uri()
    if _POSTGRES.match(uri):
        with _advisory_lock(uri, name):
            yield
        return
    database = sqlite_path(uri)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        fcntl = None  # type: ignore[assignment]
    if database is None or fcntl is None:
        yield
        return
    try:
        handle = _lock_file(database)
    except OSError as error:
        raise describe_failure(error, uri) from error
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_file(database: Path) -> BinaryIO:
    """The lock file beside a SQLite database (``mlflow.db.recsys.lock``), opened; its folder created."""
    database.parent.mkdir(parents=True, exist_ok=True)
    return open(database.with_name(database.name + _LOCK_NAME_SUFFIX), "a+b")


@contextlib.contextmanager
def _advisory_lock(uri: str, name: str) -> Iterator[None]:
    """``pg_advisory_lock`` on a key derived from ``name``, held by a connection of its own."""
    import hashlib

    import sqlalchemy
    from sqlalchemy.pool import NullPool

    key = {"key": int.from_bytes(hashlib.sha256(f"recsys:{name}".encode()).digest()[:8], "big", signed=True)}
    engine = sqlalchemy.create_engine(re.sub(r"^postgres://", "postgresql://", uri), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()


# ------------------------------------------------------------------- check
def check_store(uri: str) -> None:
    """Make sure the store at ``uri`` can be used, before any work is done.

    A SQLite store is created (tables and all) if it does not exist yet,
    under :func:`store_lock`; a tracking server must answer within a few
    seconds (MLflow itself would retry for minutes). Other stores are asked
    for one experiment.

    Raises
    ------
    TrackingStoreError
        If the store cannot be created, read or reached.
    """
    _check_quickly(uri)
    _open(uri)


class StoreOpening:
    """:func:`check_store` with its slow part (creating a new store's tables, about 2 s; opening an
    existing one, about 1 s) in a background thread, so that it overlaps the work before the first
    logging.

    What usually goes wrong fails at once, when the object is made: a
    tracking or database server that does not answer, a SQLite path that is a
    directory, a folder that cannot be created or written, a file that is
    not a SQLite database. The rest fails when :meth:`wait` is called. Use
    it as a context manager: leaving the block waits for the thread, so a
    store is never left half-created.

    Parameters
    ----------
    uri
        The tracking URI.

    Raises
    ------
    TrackingStoreError
        From the quick checks.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._error: BaseException | None = None
        _check_quickly(uri)
        self._thread = threading.Thread(target=self._open, name="recsys-store", daemon=False)
        self._thread.start()

    def _open(self) -> None:
        try:
            _open(self.uri)
        except BaseException as error:  # raised again in the caller's thread by wait()
            self._error = error

    def wait(self) -> str:
        """Wait until the store is open and return its URI.

        Raises
        ------
        TrackingStoreError
            If the store cannot be created, read or reached.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.uri

    def __enter__(self) -> StoreOpening:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join()


def _check_quickly(uri: str) -> None:
    """The checks of :func:`check_store` that take no time: a tracking server or a database server
    answers; a SQLite path is not a directory, its folder can be created and written, an existing
    file is a SQLite database."""
    if uri.startswith(("http://", "https://")):
        _probe_server(uri)
        return
    database = sqlite_path(uri)
    if database is None:
        if urlsplit(uri).scheme.split("+")[0] in _DATABASES:
            with quiet_mlflow(), store_errors(uri):
                _probe_database(uri)
        return
    if database.is_dir():
        raise TrackingStoreError(uri, f"{database} is a directory, not a database file",
                                 "point MLFLOW_TRACKING_URI at a file, for example sqlite:///mlruns/mlflow.db")
    try:
        with _lock_file(database):
            pass
        header = b""
        if database.is_file():
            with open(database, "rb") as file:
                header = file.read(len(_SQLITE_HEADER))
    except OSError as error:
        raise describe_failure(error, uri) from error
    if header and header != _SQLITE_HEADER[:len(header)]:
        raise describe_failure(ValueError("file is not a database"), uri)


def _open(uri: str) -> None:
    """The slow part of :func:`check_store`: create or open the store and read from it."""
    if uri.startswith(("http://", "https://")):
        return
    with quiet_mlflow(), store_errors(uri), store_lock(uri):
        if sqlite_path(uri) is not None:  # a database server was probed by the quick checks
            _probe_database(uri)
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)


def _probe_database(uri: str) -> None:
    """Connect to a database store once (MLflow retries a failing connection for about 100 s)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            sqlalchemy.inspect(connection).get_table_names()
    finally:
        engine.dispose()


def _probe_server(uri: str) -> None:
    """Fail fast when no tracking server answers at ``uri`` (any HTTP answer will do)."""
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=_PROBE_SECONDS)
    except requests.RequestException as error:
        raise describe_failure(error, uri) from None


# -------------------------------------------------------------------- runs
@contextlib.contextmanager
def tracked_run(**kwargs: Any) -> Iterator[mlflow.ActiveRun]:
    """:func:`mlflow.start_run` hardened: use it as ``with tracked_run(experiment_id=...) as run``.

    - a failure of the store inside the block becomes :class:`TrackingStoreError`
      (the run is marked ``FAILED`` if the store still can be written);
    - Ctrl-C ends the run ``KILLED``, deletes the model versions it registered
      that hold no alias, and raises :class:`RunInterrupted`;
    - MLflow's own output is silenced (:func:`recsys.quiet.quiet_mlflow`).

    Parameters
    ----------
    **kwargs
        Passed to :func:`mlflow.start_run`.
    """
    uri = mlflow.get_tracking_uri()
    with quiet_mlflow(), store_errors(uri):
        run = mlflow.start_run(**kwargs)
        try:
            with killed_on_interrupt(run.info.run_id):
                yield run
        except RunInterrupted:
            raise
        except BaseException:
            with contextlib.suppress(Exception):
                mlflow.end_run("FAILED")
            raise
        mlflow.end_run("FINISHED")


@contextlib.contextmanager
def killed_on_interrupt(run_id: str) -> Iterator[None]:
    """On Ctrl-C in the block, :func:`end_interrupted` ``run_id`` and raise :class:`RunInterrupted`."""
    try:
        yield
    except KeyboardInterrupt:
        end_interrupted(run_id)
        raise RunInterrupted(run_id) from None


def end_interrupted(run_id: str) -> None:
    """Mark ``run_id`` ``KILLED`` and delete the model versions it registered that hold no alias.

    A version that already holds an alias (the run was interrupted after it
    became the champion) is kept: removing it would leave no champion. Best
    effort: a store that fails now leaves the run as it is.
    """
    client = mlflow.MlflowClient()
    with contextlib.suppress(Exception):
        for version in client.search_model_versions(f"run_id='{run_id}'"):
            if not version.aliases:
                client.delete_model_version(version.name, version.version)
    with contextlib.suppress(Exception):
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run("KILLED")
        else:
            client.set_terminated(run_id, "KILLED")
