"""How the item2vec defaults were chosen: one option at a time, both relations, validation split only.

    python benchmarks/relation_defaults.py yes [rsc15 ml-100k]

For each dataset config in pipelines/configs, trains on the training
sequences minus a validation tenth (the test split is never touched) and
prints validation HR@10 / NDCG@10 of the "similar" and "next" relations for
the previous defaults (``ns_exponent=0.75``) and for single-option changes.
Needs ../shared/data; skips datasets whose files are absent.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from recsys import train
from recsys.config import Item2VecConfig, load_pipeline_config
from recsys.data.load import load_training_data
from recsys.data.split import next_item_pairs
from recsys.evaluation.cases import train_validation_split
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import evaluate_method

ROOT = Path(__file__).resolve().parents[1]
BASE = {"ns_exponent": 0.75, "workers": 1}
"""The defaults before this measurement."""
VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "sg=0": {"sg": 0},
    "window=10": {"window": 10},
    "ns_exponent=-0.5": {"ns_exponent": -0.5},
    "ns_exponent=0.0": {"ns_exponent": 0.0},
    "ns_exponent=0.25": {"ns_exponent": 0.25},
    "ns_exponent=0.5": {"ns_exponent": 0.5},
    "negative=20": {"negative": 20},
    "sample=0": {"sample": 0.0},
    "epochs=10": {"epochs": 10},
    "epochs=40": {"epochs": 40},
}


def main(datasets: list[str]) -> None:
    warnings.simplefilter("ignore")
    for name in datasets:
        config = load_pipeline_config(ROOT / "pipelines" / "configs" / f"{name}.toml")
        if not config.data.path.exists():
            print(f"{name}: {config.data.path} is absent, skipped")
            continue
        train_sequences = load_training_data(config).train
        fit, validation = train_validation_split(train_sequences, validation_fraction=0.1, seed=42)
        pairs = next_item_pairs(validation).select("query_id", "target_id")
        for label, options in VARIANTS.items():
            started = time.perf_counter()
            vectors = train(fit, Item2VecConfig(**{**BASE, **options}))
            cells = []
            for relation in ("similar", "next"):
                metrics = evaluate_method(Item2VecMethod.from_vectors(vectors, relation=relation), pairs,
                                          ks=(10,)).metrics
                cells.append(f"{relation} {metrics['hr_at_10']:.4f}/{metrics['ndcg_at_10']:.4f}")
            print(f"{name:8s} {label:18s} {time.perf_counter() - started:5.0f} s  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["yes", "rsc15", "ml-100k"])
