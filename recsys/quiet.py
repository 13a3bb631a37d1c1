"""Keep MLflow's chatter off the user's terminal, in the library as in the CLI.

While ``recsys`` calls into MLflow (creating a store, logging and
registering a model, downloading one), MLflow would print its own artifact
download progress bars, registry notices ("Created version '3' of model
..."), informational logs and warnings about its internals. None of it is
the user's business: :func:`quiet_mlflow` silences it for the duration of
the call. ``recsys``'s own progress bars are not affected.

Set ``RECSYS_VERBOSE=1`` (the CLI's ``recsys --verbose``) to see everything.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["VERBOSE_ENV", "is_verbose", "quiet_mlflow"]

VERBOSE_ENV = "RECSYS_VERBOSE"
"""Environment variable that turns the silencing off (``1``, ``true``, ``yes`` or ``on``)."""

_PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_lock = threading.Lock()
_depth = 0
_saved: dict[str, object] = {}


def is_verbose() -> bool:
    """Whether ``RECSYS_VERBOSE`` asks to see MLflow's own output."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's progress bars, event logs and warnings inside the block.

    Nested and concurrent blocks (a server reloading in a worker thread) are
    counted: the first to enter silences, the last to leave restores. A user
    who set ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` keeps their setting.
    Does nothing when :func:`is_verbose`.
    """
    if is_verbose():
        yield
        return
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _depth
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _saved["stream"] = MLFLOW_LOGGING_STREAM.enabled
        _saved["progress"] = os.environ.get(_PROGRESS_ENV)
        if _saved["progress"] is None:
            os.environ[_PROGRESS_ENV] = "false"
        MLFLOW_LOGGING_STREAM.enabled = False  # MLflow's logger handler and its eprint() both write here
        catcher = warnings.catch_warnings()
        catcher.__enter__()
        _saved["warnings"] = catcher
        for category in (UserWarning, FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=r"(mlflow|sqlalchemy|alembic)(\.|$)")


def _leave() -> None:
    global _depth
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        _saved.pop("warnings").__exit__(None, None, None)  # type: ignore[attr-defined]
        MLFLOW_LOGGING_STREAM.enabled = bool(_saved.pop("stream"))
        if _saved.pop("progress") is None:
            os.environ.pop(_PROGRESS_ENV, None)
