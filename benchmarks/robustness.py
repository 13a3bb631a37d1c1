"""The robustness benchmark: every method at its defaults on every regime of data.

    python benchmarks/robustness.py [--regimes replay sparse-sessions ...] [--out docs/quality.md]

For each regime of ``benchmarks/_regimes.py`` (built from the shipped
generators and, when present, ``../shared/data``), trains item2vec exactly
as ``recsys train`` does with no options (data-adaptive defaults and the
automatic selection on a validation split carved from the training part,
one worker so that runs repeat) and every baseline at its defaults, then
scores all of them on the same held-out next-item cases: HR@10 and NDCG@10
with bootstrap 95% intervals, coverage@10, and the collapse guard's verdict.
Writes its section of a Markdown report (``docs/quality.md``, between
``<!-- robustness:begin -->`` and ``<!-- robustness:end -->``) and
``benchmarks/results/robustness.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _regimes  # noqa: E402
from _common import commit, write_results, write_section  # noqa: E402

from recsys.config import Item2VecConfig, SelectionConfig  # noqa: E402
from recsys.evaluation.baselines import make_baseline  # noqa: E402
from recsys.evaluation.cases import build_cases  # noqa: E402
from recsys.evaluation.methods import Item2VecMethod  # noqa: E402
from recsys.evaluation.protocol import MethodResult, evaluate_methods, item_popularity  # noqa: E402
from recsys.item2vec import train  # noqa: E402
from recsys.selection import check_collapse, choose_config  # noqa: E402

BASELINES = ("popular", "cooccurrence", "transitions", "sr", "cosine", "bm25", "als", "bpr")
K = 10
PREVIOUS_DEFAULTS = Item2VecConfig(context="symmetric", epochs=20, alpha=0.025, sample=1e-3, relation="next", workers=1)
"""item2vec's defaults before the data-adaptive ones, for comparison (not a baseline: it is not in "best baseline")."""


def _cell(metrics: dict[str, float], name: str) -> str:
    value = metrics[f"{name}_at_{K}"]
    low, high = metrics.get(f"{name}_at_{K}_ci_low"), metrics.get(f"{name}_at_{K}_ci_high")
    return f"{value:.4f} [{low:.4f}, {high:.4f}]" if low is not None else f"{value:.4f}"


class _Renamed(Item2VecMethod):
    """item2vec vectors evaluated under another name (the previous defaults' row)."""

    def __init__(self, method: Item2VecMethod, name: str) -> None:
        self.__dict__.update(method.__dict__)
        self._label = name

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._label


def run_regime(name: str, *, resamples: int) -> dict[str, object]:
    """Train and score every method on one regime."""
    regime = _regimes.build(name)
    cases = build_cases(regime.test, "next_item")
    started = time.perf_counter()
    selection = choose_config(regime.train, Item2VecConfig(workers=1), SelectionConfig(), k=K)
    vectors = train(regime.train, selection.config)
    item2vec_seconds = time.perf_counter() - started
    methods = [Item2VecMethod.from_vectors(vectors)]
    fit_seconds = {"item2vec": item2vec_seconds}
    started = time.perf_counter()
    previous = _Renamed(Item2VecMethod.from_vectors(train(regime.train, PREVIOUS_DEFAULTS)), "previous-defaults")
    fit_seconds["previous"] = time.perf_counter() - started
    methods.append(previous)
    for baseline in BASELINES:
        started = time.perf_counter()
        methods.append(make_baseline(baseline).fit(regime.train))
        fit_seconds[baseline] = time.perf_counter() - started
    results: list[MethodResult] = evaluate_methods(
        methods, cases, ks=(K,), popularity=item_popularity(regime.train), bootstrap_resamples=resamples,
    )
    popular_hr = next(r for r in results if r.method == "popular").metrics[f"hr_at_{K}"]
    rows = []
    for method, result in zip(methods, results):
        check = check_collapse(result.metrics, k=K, n_items=len(method.item_ids_),
                               n_queries=result.n_pairs - result.n_unknown, popular_hit_rate=popular_hr)
        rows.append({"method": result.method, "metrics": result.metrics, "collapse": list(check.reasons),
                     "fit_seconds": fit_seconds.get(result.method.split("-")[0], 0.0)})
    chosen = selection.config
    return {
        "regime": name, "kind": regime.kind, "train_sequences": regime.train.height,
        "test_cases": len(cases), "items": len(vectors), "stats": selection.stats.as_dict(),
        "chosen": selection.chosen.name if selection.chosen else selection.note,
        "config": {k: getattr(chosen, k) for k in ("context", "relation", "epochs", "alpha", "sample")},
        "candidates": [{"name": c.name, "alpha": c.config.alpha, "scores": c.scores,
                        "collapse": list(c.collapse.reasons)} for c in selection.candidates],
        "selection_seconds": selection.seconds, "rows": rows,
    }


def _markdown(reports: list[dict[str, object]], command: str, minutes: float) -> str:
    lines = [
        "## Robustness: every method at its defaults, regime by regime",
        "",
        f"Measured by `{command}` ({datetime.now(timezone.utc):%Y-%m-%d}, commit `{commit()}`, "
        f"{os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}; {minutes:.0f} minutes).",
        "item2vec runs as `recsys train` does with no options: data-adaptive defaults and the automatic",
        "selection on a validation split of the training part (one worker); `previous-defaults` is item2vec",
        "with the defaults before them (symmetric, 20 epochs, alpha 0.025, sample 1e-3). Next-item cases on held-out",
        "sequences; brackets are bootstrap 95% intervals; `cov` is coverage@10; `collapse` the collapse",
        "guard's verdict on the test lists.",
        "",
        "### Summary",
        "",
        "| regime | kind | item2vec HR@10 / NDCG@10 | previous defaults | best baseline HR@10 / NDCG@10 "
        "| item2vec - best (HR, NDCG) | chosen |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        rows = report["rows"]
        mine = rows[0]["metrics"]
        before = rows[1]["metrics"]
        baselines = rows[2:]
        best_hr = max(baselines, key=lambda r: r["metrics"][f"hr_at_{K}"])
        best_ndcg = max(baselines, key=lambda r: r["metrics"][f"ndcg_at_{K}"])
        config = report["config"]
        lines.append(
            f"| {report['regime']} | {report['kind']} | {mine[f'hr_at_{K}']:.4f} / {mine[f'ndcg_at_{K}']:.4f} "
            f"| {before[f'hr_at_{K}']:.4f} / {before[f'ndcg_at_{K}']:.4f} "
            f"| {best_hr['method']} {best_hr['metrics'][f'hr_at_{K}']:.4f} / {best_ndcg['method']} "
            f"{best_ndcg['metrics'][f'ndcg_at_{K}']:.4f} "
            f"| {mine[f'hr_at_{K}'] - best_hr['metrics'][f'hr_at_{K}']:+.4f}, "
            f"{mine[f'ndcg_at_{K}'] - best_ndcg['metrics'][f'ndcg_at_{K}']:+.4f} "
            f"| {report['chosen']} ({config['context']}, {config['relation']}, {config['epochs']} epochs, "
            f"alpha {config['alpha']:g}) |"
        )
    for report in reports:
        stats = report["stats"]
        lines += [
            "", f"### {report['regime']}: {report['kind']}", "",
            f"{report['train_sequences']:,} training sequences, {report['items']:,} items, "
            f"{report['test_cases']:,} test cases; {stats['occurrences_per_item']:.1f} occurrences and "
            f"{stats['pairs_per_item']:.0f} context pairs per item, successor share {stats['successor_share']:.2f}. "
            f"Selection ({report['selection_seconds']:.0f} s): "
            + "; ".join(f"{c['name']} (alpha {c['alpha']:g}) "
                        + ", ".join(f"{r} {v:.4f}" for r, v in c["scores"].items())
                        + (" collapsed" if c["collapse"] else "") for c in report["candidates"])
            + f" (validation NDCG@{K}).",
            "",
            f"| method | HR@{K} | NDCG@{K} | cov@{K} | collapse | fit s |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["rows"]:
            metrics = row["metrics"]
            lines.append(f"| {row['method']} | {_cell(metrics, 'hr')} | {_cell(metrics, 'ndcg')} "
                         f"| {metrics[f'coverage_at_{K}']:.3f} | {'; '.join(row['collapse']) or 'no'} "
                         f"| {row['fit_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", default=list(_regimes.REGIMES), choices=list(_regimes.REGIMES))
    parser.add_argument("--out", type=Path, default=_regimes.ROOT / "docs" / "quality.md",
                        help="Markdown file whose robustness section is (re)written")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    reports = []
    for name in args.regimes:
        if not _regimes.available(name):
            print(f"skipping {name}: its data in ../shared/data is absent", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        reports.append(run_regime(name, resamples=args.resamples))
        print(f"   item2vec {reports[-1]['rows'][0]['metrics'][f'ndcg_at_{K}']:.4f} NDCG, chosen "
              f"{reports[-1]['chosen']}", file=sys.stderr, flush=True)
    command = "python benchmarks/robustness.py" + (
        f" --regimes {' '.join(args.regimes)}" if args.regimes != list(_regimes.REGIMES) else "")
    write_section(args.out, "robustness", _markdown(reports, command, (time.perf_counter() - started) / 60))
    write_results("robustness", {"regimes": reports})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
