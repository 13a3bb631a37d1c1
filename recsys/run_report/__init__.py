"""The run report: ``report.html``, one self-contained page per training run or sweep.

It answers the two questions a person opens a recommender run for: how good
is the model against the baselines (the quality table with 95% intervals,
HR/NDCG@k curves, coverage and popularity bias) and what does it recommend
(example items with their titles and artists, under both relations), with
the data and the configuration behind it. It is rendered from what the run
already produced (its results, its params and tags, the PNGs under
``plots/``) through the Jinja2 templates in ``recsys/templates``
(autoescaped), with every image embedded as a data URI, and logged as the
artifact ``report.html``, which MLflow's artifact viewer shows.

A sweep's parent run gets its own page: the trials table, the sweep plots
and the champion decision with both numbers. ``recsys compare`` renders a
third page from the same templates: many runs side by side
(:mod:`recsys.run_report._comparison`).
"""

from recsys.run_report._comparison import (
    COMPARISON_ARTIFACT,
    COMPARISON_EXPERIMENT,
    ComparedRun,
    Comparison,
    build_comparison,
    compared_runs,
    log_comparison,
)
from recsys.run_report._examples import EXAMPLE_K, Example, example_items, examples
from recsys.run_report._quality import QualityRow, quality_rows
from recsys.run_report._render import REPORT_ARTIFACT, Figure, render
from recsys.run_report._sweep import log_sweep_report
from recsys.run_report._training import headline_description, log_training_report

__all__ = [
    "COMPARISON_ARTIFACT",
    "COMPARISON_EXPERIMENT",
    "ComparedRun",
    "Comparison",
    "EXAMPLE_K",
    "Example",
    "Figure",
    "build_comparison",
    "compared_runs",
    "QualityRow",
    "REPORT_ARTIFACT",
    "example_items",
    "examples",
    "headline_description",
    "log_comparison",
    "log_sweep_report",
    "log_training_report",
    "quality_rows",
    "render",
]
