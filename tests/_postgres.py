"""A throwaway PostgreSQL server for the tests: its own data directory, a free port on loopback.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the
``postgres`` user (``nobody`` if there is none) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _net import free_port


def postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


@dataclass
class PostgresServer:
    """A running server; :meth:`stop` ends it and removes its files."""

    bin_dir: Path
    root: Path
    port: int
    user: str | None
    """The unprivileged user the server runs as (None: the current user)."""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def uri(self, database: str = "mlflow") -> str:
        return f"postgresql://recsys@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        done = self._run(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "recsys", "--auth=trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", options,
                         "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-2000:]} {log[-2000:]}")

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.uri("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bin_dir: Path) -> PostgresServer:
    """Start a fresh server in a new temporary directory (owned by the server's user)."""
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
    root = Path(tempfile.mkdtemp(prefix="recsys-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin_dir=bin_dir, root=root, port=free_port(), user=user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
