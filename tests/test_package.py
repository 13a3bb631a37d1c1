"""The package root: its public names, imported on first use."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import recsys

HEAVY = ("gensim", "mlflow", "sklearn", "faiss", "polars")


def _modules_loaded_by(code: str) -> set[str]:
    """Which of :data:`HEAVY` a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_import_and_help_load_none_of_the_heavy_libraries() -> None:
    assert _modules_loaded_by("import recsys") == set()
    assert _modules_loaded_by(
        "from click.testing import CliRunner\nfrom recsys.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0"
    ) == set()
    # the control: a public name that needs them loads them
    assert "gensim" in _modules_loaded_by("from recsys import train")


@pytest.mark.parametrize("name", recsys.__all__)
def test_every_public_name_is_the_object_of_its_module(name: str) -> None:
    module, attribute = recsys._EXPORTS[name]
    assert getattr(recsys, name) is getattr(importlib.import_module(module), attribute)
    assert name in dir(recsys)


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import() -> None:
    with pytest.raises(AttributeError, match="no attribute 'recommend_everything'"):
        recsys.recommend_everything  # noqa: B018
    from recsys import tracking

    assert tracking.__name__ == "recsys.tracking"
