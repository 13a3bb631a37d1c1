"""Work started beside the caller: in a daemon thread, its result waited for later.

A run pinned to one training thread leaves the other cores idle; the
selection trains its contexts side by side and the pipeline fits the
ranking stage beside the final training with :func:`start_beside`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

__all__ = ["start_beside"]

T = TypeVar("T")


def start_beside(work: Callable[[], T], *, name: str) -> Callable[[], T]:
    """Start ``work`` in a daemon thread named ``name``; return what waits for its result.

    The waiter returns what ``work`` returned, or raises what it raised.
    The thread is a daemon, as gensim's own workers are, so that Ctrl-C in
    the caller's thread ends the program at once, not after ``work``.
    """
    result: Future[T] = Future()

    def run() -> None:
        try:
            result.set_result(work())
        except BaseException as error:  # raised again by the waiter, in the caller's thread
            result.set_exception(error)

    threading.Thread(target=run, daemon=True, name=name).start()
    return result.result
