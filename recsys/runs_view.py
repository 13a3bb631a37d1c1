"""The item2vec view of an experiment's runs table, saved in the experiment for the MLflow UI.

MLflow (3.15 and later) saves a view of the runs table (columns, their
order, sort, filters, charts) as an experiment tag
``mlflow.sharedViewState.<id>`` holding a JSON envelope
``{"name", "createdAt", "updatedAt", "state"}``; its runs page lists it
under *Views* and opens it from the address
``.../runs?viewStateShareKey=<id>``. This is what the UI's own
*Views > Save as new view* writes; MLflow has no Python API for views, so
the tag is written through the public experiment-tag API, with the state
as plain JSON (the UI reads plain or deflated state alike).

The view shows what a person compares item2vec runs by: ``context``,
``window``, ``vector_size``, ``epochs``, ``relation``, the headline
``hr_at_10``, ``ndcg_at_10``, ``coverage_at_10``, the best baseline's
``baselines/best_hr_at_10`` and ``train_seconds``, sorted by the
headline metric, best first. The experiment's description
(:func:`experiment_description`) says what its runs are and where to look.
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow

__all__ = ["experiment_description", "VIEW_ID", "VIEW_NAME", "VIEW_TAG", "VIEW_PARAMS", "view_metrics", "view_state", "save_runs_view",
           "view_address"]

VIEW_ID = "recsys-item2vec"
"""The view's id: the tag's suffix and the ``viewStateShareKey`` of its address."""

VIEW_NAME = "item2vec: window, dimension, quality"
"""The view's name in the UI's *Views* menu."""

VIEW_TAG = f"mlflow.sharedViewState.{VIEW_ID}"
"""The experiment tag MLflow's runs page reads a saved view from."""

VIEW_PARAMS = ("context", "window", "vector_size", "epochs", "relation")
"""The item2vec options shown, in order."""

BEST_BASELINE_PREFIX = "baselines/best_"
"""Prefix of the best baseline's headline metrics (``baselines/best_hr_at_10``)."""


def view_metrics(k: int = 10) -> tuple[str, ...]:
    """The metrics shown at headline cut-off ``k``, the sort key first."""
    return (f"hr_at_{k}", f"ndcg_at_{k}", f"coverage_at_{k}", f"{BEST_BASELINE_PREFIX}hr_at_{k}", "train_seconds")


def _column(kind: str, name: str) -> str:
    """MLflow's canonical column key (``params.`window```)."""
    return f"{kind}.`{name}`"


def view_state(k: int = 10) -> dict[str, Any]:
    """The runs page state of the view: columns, their order, the sort by ``hr_at_k`` (best first).

    The keys are those the MLflow UI keeps per experiment (its search facets
    ``orderByKey``/``orderByAsc`` and its UI state ``selectedColumns``,
    ``columnOrder``, ``columnWidths`` in pixels...); keys it does not know are ignored by it.
    """
    columns = [_column("params", p) for p in VIEW_PARAMS] + [_column("metrics", m) for m in view_metrics(k)]
    widths = {_column("params", p): 60 + 6 * len(p) for p in VIEW_PARAMS}  # the header readable, no more
    widths.update({_column("metrics", m): max(110, 40 + 7 * len(m)) for m in view_metrics(k)})  # 0.5294540...
    return {
        "orderByKey": _column("metrics", f"hr_at_{k}"),
        "orderByAsc": False,
        "searchFilter": "",
        "lifecycleFilter": "Active",
        "selectedColumns": [_column("attributes", "Dataset"), *columns],
        "columnOrder": columns,
        "columnWidths": widths,
        "runsHiddenMode": "SHOW_ALL",
        "useGroupedValuesInCharts": False,
        "hideEmptyCharts": True,
    }


def save_runs_view(experiment_id: str, *, k: int = 10, client: mlflow.MlflowClient | None = None) -> str:
    """Save the item2vec view in experiment ``experiment_id`` unless the experiment has it already.

    A view already there is kept as it is: a person may have changed it in
    the UI (*Views > Update view*), and that is theirs.

    Parameters
    ----------
    experiment_id
        The experiment.
    k
        The headline cut-off (``evaluation.headline_k``).
    client
        MLflow client (default: one on the current tracking URI; a client on a
        server's address writes through its REST API).

    Returns
    -------
    str
        The view's id (:data:`VIEW_ID`).
    """
    client = client or mlflow.MlflowClient()
    if VIEW_TAG in client.get_experiment(experiment_id).tags:
        return VIEW_ID
    now = int(time.time() * 1000)
    state = json.dumps(view_state(k), separators=(",", ":"))
    envelope = {"name": VIEW_NAME, "createdAt": now, "updatedAt": now, "state": state}
    client.set_experiment_tag(experiment_id, VIEW_TAG, json.dumps(envelope, separators=(",", ":")))
    return VIEW_ID


def view_address(url: str, experiment_id: str) -> str:
    """The address of the view of ``experiment_id``'s runs in the MLflow UI at ``url`` (model-training view)."""
    return f"{url}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={VIEW_ID}"


def experiment_description(name: str) -> str:
    """What the runs of experiment ``name`` are, as Markdown for the MLflow UI's experiment description."""
    return (
        f"**recsys item2vec runs on the `{name}` dataset.** A training run learns item vectors "
        "(gensim skip-gram with negative sampling) on the training sequences, evaluates them on held-out "
        "sequences against the baselines, logs the model and a report: open a run, then "
        "*Artifacts > report.html* for the quality table with intervals, the curves and example "
        "recommendations. Headline metrics are bare (`hr_at_10`, `ndcg_at_10`, `mrr_at_10`, "
        "`coverage_at_10`, `train_seconds`); the rest are in chart sections: one per method "
        "(`item2vec-next/`, `popular/`, ...), `data/`, `training/`, `stages/`. A sweep is a parent run "
        "(tag `sweep`) with one nested run per trial (validation metrics) and the retrained best "
        "configuration (tag `sweep_role=best`); `recsys evaluate` logs one run per method (tag `method`). "
        f"*Views > {VIEW_NAME}* shows every run's window, dimension and quality, best first; "
        "`recsys compare` puts them side by side in one page."
    )
