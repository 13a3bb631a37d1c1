"""Loopback helpers for tests that start servers: a free port, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(
    url: str,
    process: subprocess.Popen,
    *,
    timeout: float = 120,
    check: Callable[[dict[str, Any]], bool] = lambda state: True,
    what: str = "came up",
) -> dict[str, Any]:
    """Poll ``url`` (a JSON health endpoint) until it answers 200 with a state ``check`` accepts.

    Raises
    ------
    AssertionError
        If ``process`` exits first (with its output when it was piped) or
        ``timeout`` seconds pass; the message says the server never ``what``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the server exited ({process.returncode}) and never {what}: {output}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200 and check(response.json()):
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server never {what} within {timeout:.0f} s")
