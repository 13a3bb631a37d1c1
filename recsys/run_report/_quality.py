"""The quality table of a report: every method at the headline k, the paired differences, the verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.evaluation.metrics import bootstrap_difference
from recsys.evaluation.protocol import MethodResult
from recsys.run_report._render import num, signed

__all__ = ["QualityRow", "best_of", "quality_rows", "verdict"]

@dataclass(frozen=True)
class QualityRow:
    """One method's line of the quality table at the headline k."""

    method: str
    values: dict[str, float]
    """``hr``, ``ndcg``, ``mrr``, ``precision``, ``coverage``, ``popularity`` and
    ``hr_low``/``hr_high``... when the run has intervals."""
    delta_hr: tuple[float, float, float] | None
    """HR@k minus the primary method's, with its paired 95% interval (None for the primary)."""
    n_unknown: int
    n_pairs: int
    seconds: float
    primary: bool


# ------------------------------------------------------------------ quality
def quality_rows(
    results: Sequence[MethodResult], k: int, *, n_resamples: int = 1000, seed: int = 0
) -> list[QualityRow]:
    """The quality table at cut-off ``k``: the first result is the primary method.

    ``delta_hr`` is each method's HR@k minus the primary's with a paired
    bootstrap interval over the same cases (when the results carry ranks).
    """
    primary = results[0]
    rows = []
    for result in results:
        m = result.metrics
        values = {family: m.get(f"{family}_at_{k}", float("nan"))
                  for family in ("hr", "ndcg", "mrr", "precision", "coverage", "popularity")}
        for family in ("hr", "ndcg", "mrr"):
            for side in ("low", "high"):
                if f"{family}_at_{k}_ci_{side}" in m:
                    values[f"{family}_{side}"] = m[f"{family}_at_{k}_ci_{side}"]
        delta = None
        if result is not primary and result.ranks.size and result.ranks.size == primary.ranks.size and n_resamples:
            delta = bootstrap_difference(result.ranks, primary.ranks, k, metric="hr", n_resamples=n_resamples, seed=seed)
        rows.append(QualityRow(method=result.method, values=values, delta_hr=delta, n_unknown=result.n_unknown,
                               n_pairs=result.n_pairs, seconds=result.seconds, primary=result is primary))
    return rows


def best_of(rows: Sequence[QualityRow]) -> dict[str, str]:
    """The method with the highest value of each column (lowest for popularity bias is not 'best': left out)."""
    best = {}
    for column in ("hr", "ndcg", "mrr", "precision", "coverage"):
        finite = [r for r in rows if not math.isnan(r.values[column])]
        if finite:
            best[column] = max(finite, key=lambda r: r.values[column]).method
    return best


def _is_baseline(method: str) -> bool:
    return not method.startswith("item2vec")


def verdict(rows: Sequence[QualityRow], k: int) -> str:
    """One sentence: the primary method against the best baseline on HR@k."""
    primary = rows[0]
    baselines = [r for r in rows if _is_baseline(r.method) and not math.isnan(r.values["hr"])]
    if not baselines:
        return f"{primary.method}: HR@{k} {num(primary.values['hr'])} (no baseline evaluated)."
    best = max(baselines, key=lambda r: r.values["hr"])
    text = (f"{primary.method} HR@{k} {num(primary.values['hr'])} against the best baseline, "
            f"{best.method}, {num(best.values['hr'])}")
    if best.delta_hr is None:
        return text + "."
    diff, low, high = (-value for value in best.delta_hr)  # primary minus baseline
    low, high = min(low, high), max(low, high)
    if low > 0:
        verdict = "better"
    elif high < 0:
        verdict = "worse"
    else:
        verdict = "not distinguishable (the interval holds 0)"
    return text + f": {signed(diff)} [{signed(low)}, {signed(high)}], {verdict}."
