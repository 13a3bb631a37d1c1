"""The ``recsys`` command line: thin commands over the library.

Every expected failure (bad input, bad option, unknown item) prints one line
starting with ``error:`` to stderr and exits with status 2. The commands
live in rooms by what they work on: data (:mod:`._data`), training and
measuring (:mod:`._train`), a trained model (:mod:`._models`), the
dashboard (:mod:`._dashboard`); each registers itself on :func:`main`.
"""

from recsys.cli import _dashboard, _data, _models, _train
from recsys.cli._base import main

__all__ = ["main"]

_COMMAND_MODULES = (_data, _train, _models, _dashboard)
"""Imported for their commands, which they add to :func:`main`."""
