"""Rendering the report: the Jinja2 templates, the number filters, the run's plots embedded as data URIs."""

from __future__ import annotations

import base64
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import mlflow

__all__ = ["Figure", "PLOTS_DIR", "REPORT_ARTIFACT", "SWEEP_FIGURES", "TRAINING_FIGURES", "config_sections", "count", "embedded_figures", "num", "render", "run_plots", "seconds", "signed", "user_tags"]

REPORT_ARTIFACT = "report.html"
"""Artifact path of the report within its run."""

PLOTS_DIR = "plots"

TRAINING_FIGURES = {
    "metric_at_k.png": ("HR@k and NDCG@k", "Every method on the same test cases; higher is better."),
    "loss.png": ("Training loss per epoch", "gensim's summed skip-gram loss; it should fall and flatten."),
    "coverage_popularity.png": (
        "Coverage and popularity bias",
        "Right: more of the catalogue gets recommended; low: the recommendations reach into the long tail "
        "(the percentile of 50 is an item of median popularity).",
    ),
    "sequence_lengths.png": ("Sequence lengths", "Items per training sequence."),
    "item_popularity.png": ("Item popularity", "Occurrences of each item by popularity rank, log-log."),
}

SWEEP_FIGURES = {
    "heatmap_window_vector_size.png": ("Validation metric by window and vector_size", "Best trial of the first rung per cell."),
    "metric_vs_ns_exponent.png": ("Validation metric against ns_exponent", "Every first-rung trial; the line joins the best per value."),
    "item_map.png": ("Item vectors of the retrained best model", "PCA of the item vectors, coloured by a metadata field."),
}

@dataclass(frozen=True)
class Figure:
    """An image embedded in the report."""

    title: str
    caption: str
    src: str
    """``data:image/png;base64,...``."""
    name: str = ""
    """The file name under ``plots/``."""


# ------------------------------------------------------------------ rendering
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("recsys", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(num=num, count=count, signed=signed, seconds=seconds)
    return environment


def render(template: str, **context: Any) -> str:
    """Render one of the report templates (``training_report.html.j2``, ``sweep_report.html.j2``)."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return _environment().get_template(template).render(generated=generated, **context)


def num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def signed(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}"


def count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def seconds(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ------------------------------------------------------------ run contents
def run_plots(run_id: str) -> dict[str, bytes]:
    """The PNGs a run logged under ``plots/``, by file name."""
    client = mlflow.MlflowClient()
    if not any(a.path.endswith(".png") for a in client.list_artifacts(run_id, PLOTS_DIR)):
        return {}
    with tempfile.TemporaryDirectory() as staging:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PLOTS_DIR, dst_path=staging))
        return {path.name: path.read_bytes() for path in sorted(local.glob("*.png"))}


def embedded_figures(pngs: Mapping[str, bytes], known: Mapping[str, tuple[str, str]]) -> tuple[dict[str, Figure], list[Figure]]:
    """The known plots by name, and every other plot of the run (so new plots show up too)."""
    named = {name: Figure(*known[name], _data_uri(png), name) for name, png in pngs.items() if name in known}
    others = [
        Figure(name.removesuffix(".png").replace("_", " "), f"plots/{name}", _data_uri(png), name)
        for name, png in pngs.items()
        if name not in known and name not in TRAINING_FIGURES and name not in SWEEP_FIGURES
    ]
    return named, others


def config_sections(params: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The run's params grouped like the config: bare names are item2vec's, dotted ones by section."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(params):
        section, dot, key = name.partition(".")
        if not dot:
            section, key = "item2vec", name
        sections.setdefault(section, []).append((key, params[name]))
    order = sorted(sections, key=lambda s: (s != "item2vec", s))
    return [(section, sections[section]) for section in order]


def user_tags(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in tags.items() if not k.startswith("mlflow."))
