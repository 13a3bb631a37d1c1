"""What choosing on a sample costs in quality: the default selection against candidates on all the data, per regime.

    python benchmarks/selection_budget.py [--regimes replay dense-histories ...] [--against-budget 3]

On every regime of the robustness benchmark (``_regimes.py``; those whose
shared files are absent are skipped), item2vec is trained the way ``recsys
train`` does with no options (the automatic selection, the final training,
the ranking stage) twice: with the default selection (candidates on a
sample costing at most ``selection.budget`` = 0.1 final trainings, at least
``MIN_BUDGET`` pair updates) and with ``selection.budget`` = 3 (the previous
default: the sample is then the whole validation training part). Both
answer the test cases of both protocols; the table gives HR@10 / NDCG@10 of
each, the paired bootstrap difference (default minus full, 95% interval) and
the selection's seconds. Writes ``benchmarks/results/selection_budget.json``.
"""

from __future__ import annotations

import argparse
import time

import _regimes
from _common import write_results

from recsys.config import Item2VecConfig, RankingConfig, SelectionConfig
from recsys.evaluation.cases import build_cases
from recsys.evaluation.methods import RankedMethod
from recsys.evaluation.metrics import bootstrap_difference
from recsys.evaluation.protocol import evaluate_methods
from recsys.item2vec import train
from recsys.selection import choose_config, fit_ranking_stage

PROTOCOLS = ("next_item", "session")


def _trained(regime: _regimes.Regime, selection: SelectionConfig) -> tuple[RankedMethod, str, float]:
    """The no-options model under ``selection``: its method, the chosen candidate and the selection's seconds."""
    started = time.perf_counter()
    chosen = choose_config(regime.train, Item2VecConfig(workers=1), selection, k=10)
    seconds = time.perf_counter() - started
    vectors = train(regime.train, chosen.config)
    fitted = fit_ranking_stage(regime.train, chosen, RankingConfig(), selection, k=10)
    method = RankedMethod(fitted.answering(vectors), fitted.ranking(regime.train, vectors), variant="default")
    return method, chosen.chosen.name if chosen.chosen else chosen.note, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", default=list(_regimes.REGIMES), choices=list(_regimes.REGIMES))
    parser.add_argument("--against-budget", type=float, default=3.0)
    args = parser.parse_args()
    rows = []
    print("| regime | protocol | default HR / NDCG | full HR / NDCG | d NDCG [95%] | chosen (default, full) "
          "| selection s (default, full) |\n|---|---|---|---|---|---|---|", flush=True)
    for name in args.regimes:
        if not _regimes.available(name):
            continue
        regime = _regimes.build(name)
        default, default_choice, default_seconds = _trained(regime, SelectionConfig())
        full, full_choice, full_seconds = _trained(regime, SelectionConfig(budget=args.against_budget))
        for protocol in PROTOCOLS:
            ours, theirs = evaluate_methods([default, full], build_cases(regime.test, protocol), ks=(10,))
            diff = bootstrap_difference(ours.ranks, theirs.ranks, 10, metric="ndcg", n_resamples=500)
            row = {"regime": name, "protocol": protocol, "default": ours.metrics, "full": theirs.metrics,
                   "ndcg_difference": diff, "chosen": [default_choice, full_choice],
                   "selection_seconds": [default_seconds, full_seconds]}
            rows.append(row)
            print(f"| {name} | {protocol} | {ours.metrics['hr_at_10']:.4f} / {ours.metrics['ndcg_at_10']:.4f} "
                  f"| {theirs.metrics['hr_at_10']:.4f} / {theirs.metrics['ndcg_at_10']:.4f} "
                  f"| {diff[0]:+.4f} [{diff[1]:+.4f}, {diff[2]:+.4f}] | {default_choice}, {full_choice} "
                  f"| {default_seconds:.1f}, {full_seconds:.1f} |", flush=True)
    write_results("selection_budget", {"against_budget": args.against_budget, "rows": rows})


if __name__ == "__main__":
    main()
