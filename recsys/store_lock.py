"""A lock held in the tracking store itself, for read-compare-write steps shared by a team.

Moving the ``champion`` alias reads the current champion's metric, compares
and writes the alias. Two runs finishing at once (two sweeps on two
machines against one PostgreSQL store) must not interleave those steps, or
the worse model may end up champion. :func:`store_lock` serialises them
where the store can: a PostgreSQL advisory lock (held by one connection,
released when it closes, so a crashed process never leaves it behind) or an
exclusive ``flock`` on a file beside a SQLite store. An MLflow server
(``http://``) offers no lock; a team that promotes through one should let
one job at a time register models.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["store_lock"]

_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_SQLITE = re.compile(r"^sqlite:///(.+)$")


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, the same for every process that names the same lock."""
    return int.from_bytes(hashlib.sha256(f"recsys:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_lock(tracking_uri: str, name: str) -> Iterator[None]:
    """Hold the lock ``name`` in the store at ``tracking_uri`` for the duration of the block.

    Parameters
    ----------
    tracking_uri
        The MLflow tracking URI (``postgresql://...``, ``sqlite:///...``;
        other stores are not locked).
    name
        What is locked, e.g. ``"champion:item2vec"``.
    """
    if _POSTGRES.match(tracking_uri):
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        uri = re.sub(r"^postgres://", "postgresql://", tracking_uri)
        engine = sqlalchemy.create_engine(uri, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                key = {"key": _advisory_key(name)}
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), key)
                try:
                    yield
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
        finally:
            engine.dispose()
        return
    match = _SQLITE.match(tracking_uri)
    if match is None:
        yield
        return
    database = Path(match.group(1))
    lock_path = database.with_name(f"{database.name}.{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
