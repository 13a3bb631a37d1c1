"""What the REST server refuses: oversized bodies, reloads without the admin token,
and a non-loopback address without a token.

- :class:`BodySizeLimit` answers ``413`` (JSON ``{"detail": ...}``) to a
  ``POST`` whose body exceeds :data:`MAX_BODY_BYTES`, whether it announces
  its length or streams it in chunks, before the body is parsed.
- :func:`admin_token_check` makes ``POST /reload`` answer ``401`` unless the
  request carries ``Authorization: Bearer <token>``.
- :func:`check_exposure` refuses to serve on anything but loopback without a
  token: once someone can reach the port, an open reload is a
  denial-of-service handle (each reload reads and prepares the whole model).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recsys.errors import ConfigError

__all__ = [
    "ADMIN_TOKEN_ENV",
    "MAX_BODY_BYTES",
    "BodySizeLimit",
    "admin_token_check",
    "check_exposure",
    "is_loopback",
]

MAX_BODY_BYTES = 1 << 20
"""Largest request body the server reads (1 MiB); larger ``POST`` bodies answer 413."""
ADMIN_TOKEN_ENV = "RECSYS_ADMIN_TOKEN"
"""Environment variable holding the admin token (the CLI's ``--admin-token``)."""


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only.

    ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``) are;
    everything else, host names included, is treated as reachable from outside.
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, admin_token: str | None) -> None:
    """Refuse a non-loopback ``host`` without an admin token.

    Raises
    ------
    ConfigError
        Naming the host and how to pass a token.
    """
    if not is_loopback(host) and not admin_token:
        raise ConfigError(
            f"--host {host} makes the server reachable from other machines, where POST /reload must need a "
            f"token: pass --admin-token (or set {ADMIN_TOKEN_ENV}) to a long random string, for example the "
            "output of: python -c 'import secrets; print(secrets.token_urlsafe())'"
        )


def admin_token_check(token: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that lets a request through only with ``Authorization: Bearer <token>``.

    Declares the bearer scheme in the OpenAPI description; answers 401 (with
    ``WWW-Authenticate: Bearer``) to a missing or wrong token, compared in
    constant time.
    """
    if not token:
        raise ConfigError("the admin token must not be empty")
    expected = token.encode()
    scheme = HTTPBearer(auto_error=False, description=f"The admin token (--admin-token or {ADMIN_TOKEN_ENV}).")

    async def check(credentials: HTTPAuthorizationCredentials | None = Security(scheme)) -> None:
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(
                401, "this endpoint needs the admin token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


class _TooLarge(HTTPException):
    """Raised while the body is read; FastAPI passes an HTTPException through its body parsing."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large(max_bytes), headers={"Connection": "close"})


def _too_large(max_bytes: int) -> str:
    return f"request body over {max_bytes:,} bytes; send fewer or shorter items per request"


class BodySizeLimit:
    """ASGI middleware: answer 413 to a ``POST`` body over ``max_bytes``.

    A ``Content-Length`` over the limit is refused before anything is read;
    a chunked body is counted as it arrives and refused as soon as it
    passes the limit.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": _too_large(self.max_bytes)})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body.encode()})
