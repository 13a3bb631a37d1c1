"""The robustness benchmark: every method at its defaults on every regime of data, under two protocols.

    python benchmarks/robustness.py [--regimes replay sparse-sessions ...] [--out docs/quality.md]

For each regime of ``benchmarks/_regimes.py`` (built from the shipped
generators and, when present, ``../shared/data``), trains item2vec exactly
as ``recsys train`` does with no options (data-adaptive defaults, the
automatic selection and the ranking stage fitted on a validation split
carved from the training part, one worker so that runs repeat) and every
baseline at its defaults, then scores all of them on the same held-out
cases of two protocols: next item (the current item predicts the next)
and session (the session so far, its last 20 items, predicts the next item
not already in it). item2vec has three rows: its default ranking
(``item2vec``), the vectors alone (``item2vec-vectors``) and the ranking
stage without the vector signal (``item2vec-evidence``). HR@10 and NDCG@10
with bootstrap 95% intervals, paired intervals of the difference to the
best baseline, coverage@10, and the collapse guard's verdict. Writes its
section of a Markdown report (``docs/quality.md``, between
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

from recsys.config import Item2VecConfig, RankingConfig, SelectionConfig  # noqa: E402
from recsys.evaluation.baselines import make_baseline  # noqa: E402
from recsys.evaluation.cases import build_cases  # noqa: E402
from recsys.evaluation.methods import Item2VecMethod, Method, RankedMethod  # noqa: E402
from recsys.evaluation.metrics import bootstrap_difference  # noqa: E402
from recsys.evaluation.protocol import MethodResult, evaluate_methods, item_popularity  # noqa: E402
from recsys.item2vec import train  # noqa: E402
from recsys.selection import check_collapse, choose_config, fit_ranking_stage, why_no_ranking  # noqa: E402

BASELINES = ("popular", "cooccurrence", "transitions", "sr", "vsknn", "cosine", "bm25", "als", "bpr")
PROTOCOLS = ("next_item", "session")
K = 10


def _cell(metrics: dict[str, float], name: str) -> str:
    value = metrics[f"{name}_at_{K}"]
    low, high = metrics.get(f"{name}_at_{K}_ci_low"), metrics.get(f"{name}_at_{K}_ci_high")
    return f"{value:.4f} [{low:.4f}, {high:.4f}]" if low is not None else f"{value:.4f}"


class _Named(Method):
    """A fitted method evaluated under another name (the vectors alone are reported as ``item2vec-vectors``)."""

    def __init__(self, method: Method, name: str) -> None:
        self.method = method
        self.name = name
        self.item_ids_ = method.item_ids_

    def fit(self, train_sequences):  # type: ignore[no-untyped-def]
        raise NotImplementedError("already fitted")

    def score(self, query_rows):  # type: ignore[no-untyped-def]
        return self.method.score(query_rows)

    def score_sessions(self, sessions):  # type: ignore[no-untyped-def]
        return self.method.score_sessions(sessions)


def _item2vec(regime: _regimes.Regime) -> tuple[list[Method], dict[str, object]]:
    """item2vec as ``recsys train`` trains it with no options: its three rows, and how it was configured."""
    started = time.perf_counter()
    selection = choose_config(regime.train, Item2VecConfig(workers=1), SelectionConfig(), k=K)
    vectors = train(regime.train, selection.config)
    plain = Item2VecMethod.from_vectors(vectors)
    reason = why_no_ranking(RankingConfig(), regime.train, vectors)
    if reason is not None:
        return [_Named(plain, "item2vec"), _Named(plain, "item2vec-vectors")], {
            "selection": selection, "ranking": f"none: {reason}", "seconds": time.perf_counter() - started}
    fitted = fit_ranking_stage(regime.train, selection, RankingConfig(), SelectionConfig(), k=K)
    ranking = fitted.ranking(regime.train, vectors)
    methods = [RankedMethod(vectors, ranking, variant="default"), _Named(plain, "item2vec-vectors"),
               RankedMethod(vectors, ranking, variant="evidence")]
    return methods, {"selection": selection, "ranking": fitted.summary(), "seconds": time.perf_counter() - started,
                     "weights": {kind: blend.by_signal for kind, blend in ranking.blends.items()},
                     "defaults": dict(ranking.defaults)}


def _protocol_rows(methods: list[Method], results: list[MethodResult], popular_hr: float,
                   fit_seconds: dict[str, float], resamples: int, *, own: int) -> list[dict[str, object]]:
    """One row per method: metrics, the collapse guard, fit time, and for item2vec's ``own`` rows the
    paired difference to the best baseline (by HR@10 and by NDCG@10)."""
    baselines = results[own:]
    best = {m: max(baselines, key=lambda r: r.metrics[f"{m}_at_{K}"]) for m in ("hr", "ndcg")}
    rows = []
    for method, result in zip(methods, results):
        check = check_collapse(result.metrics, k=K, n_items=len(method.item_ids_),
                               n_queries=result.n_pairs - result.n_unknown, popular_hit_rate=popular_hr)
        row: dict[str, object] = {"method": result.method, "metrics": result.metrics,
                                  "collapse": list(check.reasons),
                                  "fit_seconds": fit_seconds.get(result.method, 0.0)}
        if result not in baselines:
            row["vs_best"] = {m: {"baseline": best[m].method, "difference": bootstrap_difference(
                result.ranks, best[m].ranks, K, metric=m, n_resamples=resamples)} for m in best}
        rows.append(row)
    return rows


def run_regime(name: str, *, resamples: int) -> dict[str, object]:
    """Train and score every method on one regime, under both protocols."""
    regime = _regimes.build(name)
    methods, item2vec = _item2vec(regime)
    own = len(methods)
    fit_seconds = {"item2vec": float(item2vec["seconds"])}  # type: ignore[arg-type]
    for baseline in BASELINES:
        started = time.perf_counter()
        methods.append(make_baseline(baseline).fit(regime.train))
        fit_seconds[baseline] = time.perf_counter() - started
    popularity = item_popularity(regime.train)
    protocols = {}
    for protocol in PROTOCOLS:
        cases = build_cases(regime.test, protocol)
        results = evaluate_methods(methods, cases, ks=(K,), popularity=popularity, bootstrap_resamples=resamples)
        popular_hr = next(r for r in results if r.method == "popular").metrics[f"hr_at_{K}"]
        protocols[protocol] = {"cases": len(cases), "digest": results[0].cases_digest,
                               "rows": _protocol_rows(methods, results, popular_hr, fit_seconds, resamples, own=own)}
    selection = item2vec["selection"]
    chosen = selection.config  # type: ignore[attr-defined]
    return {
        "regime": name, "kind": regime.kind, "train_sequences": regime.train.height,
        "items": len(methods[0].item_ids_), "stats": selection.stats.as_dict(),  # type: ignore[attr-defined]
        "chosen": selection.chosen.name if selection.chosen else selection.note,  # type: ignore[attr-defined]
        "config": {k: getattr(chosen, k) for k in ("context", "relation", "epochs", "alpha", "sample")},
        "candidates": [{"name": c.name, "alpha": c.config.alpha, "scores": c.scores,
                        "collapse": list(c.collapse.reasons)} for c in selection.candidates],  # type: ignore[attr-defined]
        "selection_seconds": selection.seconds,  # type: ignore[attr-defined]
        "ranking": item2vec["ranking"], "weights": item2vec.get("weights"), "defaults": item2vec.get("defaults"),
        "own": own, "protocols": protocols,
    }


def _pair(metrics: dict[str, float]) -> str:
    return f"{metrics[f'hr_at_{K}']:.4f} / {metrics[f'ndcg_at_{K}']:.4f}"


def _difference(row: dict[str, object], metric: str) -> str:
    value, low, high = row["vs_best"][metric]["difference"]  # type: ignore[index]
    return f"{value:+.4f} [{low:+.4f}, {high:+.4f}]"


def _summary(reports: list[dict[str, object]], protocol: str) -> list[str]:
    title = {"next_item": "next item (the current item predicts the next)",
             "session": "session (the session so far, its last 20 items, predicts the next item not in it)"}[protocol]
    lines = [
        f"### Summary, {title}", "",
        f"| regime | item2vec HR@{K} / NDCG@{K} | vectors only | evidence only | best baseline (HR / NDCG) "
        f"| item2vec - best HR@{K} | item2vec - best NDCG@{K} |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        rows = report["protocols"][protocol]["rows"]  # type: ignore[index]
        mine, vectors = rows[0], rows[1]
        evidence = _pair(rows[2]["metrics"]) if report["own"] == 3 else "—"
        best = mine["vs_best"]
        baseline = {m: next(r for r in rows if r["method"] == best[m]["baseline"]) for m in ("hr", "ndcg")}
        lines.append(
            f"| {report['regime']} | {_pair(mine['metrics'])} | {_pair(vectors['metrics'])} | {evidence} "
            f"| {best['hr']['baseline']} {baseline['hr']['metrics'][f'hr_at_{K}']:.4f} / "
            f"{best['ndcg']['baseline']} {baseline['ndcg']['metrics'][f'ndcg_at_{K}']:.4f} "
            f"| {_difference(mine, 'hr')} | {_difference(mine, 'ndcg')} |"
        )
    return lines


def _markdown(reports: list[dict[str, object]], command: str, minutes: float) -> str:
    lines = [
        "## Robustness: every method at its defaults, regime by regime, under two protocols",
        "",
        f"Measured by `{command}` ({datetime.now(timezone.utc):%Y-%m-%d}, commit `{commit()}`, "
        f"{os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}; {minutes:.0f} minutes).",
        "item2vec runs as `recsys train` does with no options: data-adaptive defaults, the automatic",
        "selection and the ranking stage fitted on a validation split of the training part (one worker).",
        "Its three rows: `item2vec`, the model's default ranking (the ranking stage's blend of the vectors",
        "with the observed evidence, unless validation chose the vectors alone); `item2vec-vectors`, the",
        "plain nearest-neighbour ranking of the vectors (the model before the ranking stage);",
        "`item2vec-evidence`, the same stage fitted without the vector signal, candidates from plays.",
        "Held-out sequences; brackets are bootstrap 95% intervals (paired, for differences); `cov` is",
        "coverage@10; `collapse` the collapse guard's verdict on the test lists.",
        "",
        *_summary(reports, "next_item"),
        "",
        *_summary(reports, "session"),
    ]
    for report in reports:
        stats = report["stats"]
        config = report["config"]
        protocols = report["protocols"]
        lines += [
            "", f"### {report['regime']}: {report['kind']}", "",
            f"{report['train_sequences']:,} training sequences, {report['items']:,} items; "
            f"{protocols['next_item']['cases']:,} next-item and {protocols['session']['cases']:,} session cases; "
            f"{stats['occurrences_per_item']:.1f} occurrences and "
            f"{stats['pairs_per_item']:.0f} context pairs per item, successor share {stats['successor_share']:.2f}. "
            f"Selection ({report['selection_seconds']:.0f} s): "
            + "; ".join(f"{c['name']} (alpha {c['alpha']:g}) "
                        + ", ".join(f"{r} {v:.4f}" for r, v in c["scores"].items())
                        + (" collapsed" if c["collapse"] else "") for c in report["candidates"])
            + f" (validation HR+NDCG@{K}); chose {report['chosen']} ({config['context']}, {config['relation']}, "
            f"{config['epochs']} epochs, alpha {config['alpha']:g}). Ranking stage: {report['ranking']}.",
            "",
            f"| method | next item HR@{K} | NDCG@{K} | session HR@{K} | NDCG@{K} | cov@{K} | collapse | fit s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for item_row, session_row in zip(protocols["next_item"]["rows"], protocols["session"]["rows"]):
            first, second = item_row["metrics"], session_row["metrics"]
            lines.append(f"| {item_row['method']} | {_cell(first, 'hr')} | {_cell(first, 'ndcg')} "
                         f"| {_cell(second, 'hr')} | {_cell(second, 'ndcg')} "
                         f"| {first[f'coverage_at_{K}']:.3f} | {'; '.join(item_row['collapse']) or 'no'} "
                         f"| {item_row['fit_seconds']:.1f} |")
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
        for protocol, result in reports[-1]["protocols"].items():
            mine = result["rows"][0]
            print(f"   {protocol}: item2vec {_pair(mine['metrics'])}, vs best HR {_difference(mine, 'hr')}, "
                  f"NDCG {_difference(mine, 'ndcg')}", file=sys.stderr, flush=True)
    command = "python benchmarks/robustness.py" + (
        f" --regimes {' '.join(args.regimes)}" if args.regimes != list(_regimes.REGIMES) else "")
    write_section(args.out, "robustness", _markdown(reports, command, (time.perf_counter() - started) / 60))
    write_results("robustness", {"regimes": reports})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
