"""Helpers shared by the benchmark scripts: synthetic catalogues, percentiles, results files."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from recsys.config import Item2VecConfig
from recsys.item2vec import ItemVectors

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def dataset_arguments(doc: str, datasets: tuple[str, ...]) -> argparse.Namespace:
    """The options of a benchmark that writes a section of docs/quality.md: --datasets, --out, --set, -k.

    Also moves into the project (the configs' relative paths and the MLflow
    store are its) and writes the synthetic data when it is asked for and absent.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(datasets), choices=datasets)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "quality.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    os.chdir(ROOT)
    if "synthetic" in args.datasets and not (ROOT / "data" / "playlists.txt").exists():
        from recsys.data.synthetic import write_synthetic

        write_synthetic(ROOT / "data")
    return args


def commit() -> str:
    """The short hash of the checked-out commit, for the header of a results section ("unknown" outside git)."""
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                            capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def clustered_catalogue(n_items: int, dim: int = 64, *, seed: int = 0) -> ItemVectors:
    """Random item vectors in clusters of about 500 items (like trained embeddings, unlike pure noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n_items // 500, 2), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n_items)]
    vectors += 0.7 * rng.normal(size=(n_items, dim)).astype(np.float32)
    counts = rng.zipf(1.5, n_items).clip(max=10**6)
    return ItemVectors(
        item_ids=tuple(f"i{i}" for i in range(n_items)),
        vectors=vectors,
        counts=counts.astype(np.int64),
        config=Item2VecConfig(vector_size=dim),
    )


def percentiles_ms(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    values = np.asarray(seconds) * 1e3
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max())}


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` (plus the machine) to ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": {"python": platform.python_version(), "cpu_count": _cpus()}, **results}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_section(path: Path, name: str, text: str) -> Path:
    """Write ``text`` as the section ``name`` of the Markdown file at ``path``, between
    ``<!-- name:begin -->`` and ``<!-- name:end -->``, keeping every other section.

    The section replaces its previous version in place, or is appended when
    the file has none (the file is created when missing), so that several
    benchmarks each keep their own part of one document (docs/quality.md).
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{text.rstrip()}\n{end}\n"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _match: section, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + section if current else section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
    return path
