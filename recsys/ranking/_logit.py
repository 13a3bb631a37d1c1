"""The conditional logit: weights of a few signals fitted by the likelihood of what was chosen.

Each case offers a set of candidates, each described by a few signals
(a vector score, counts, popularity...); the candidate actually chosen (the
item that came next) should score highest. With scores ``signals @ w``, the
probability of a candidate is the softmax over its case's candidates, and
:func:`fit_logit` finds the ``w`` that maximises the mean log-probability of
the chosen ones (McFadden's conditional logit), by L-BFGS on standardised
signals with a small ridge penalty. Every fitted ranking of the project
(:class:`~recsys.ranking.Blend` for warm queries and sessions, the cold-query
ranking of :mod:`recsys.coldstart.ranker`) is fitted here.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

__all__ = ["fit_logit", "log_likelihood"]

L2 = 1e-3
"""Ridge penalty on the standardised weights, so that a constant or separating signal cannot run away."""


def _standardised(signals: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signals divided by their spread over the allowed candidates, and that spread (1 where it is 0)."""
    scale = signals[allowed].std(axis=0) if allowed.any() else np.ones(signals.shape[-1])
    scale = np.where(scale > 0, scale, 1.0)
    return signals / scale, scale


def _loss(weights: np.ndarray, standard: np.ndarray, allowed: np.ndarray, target: np.ndarray,
          l2: float) -> tuple[float, np.ndarray]:
    """Negative mean log-likelihood (plus the ridge) and its gradient."""
    logits = np.where(allowed, standard @ weights, -np.inf)
    log_p = log_softmax(logits, axis=1)
    p = np.exp(log_p)  # 0 where a candidate is not allowed
    rows = np.arange(len(target))
    expected = np.einsum("nc,ncs->ns", p, standard)
    gradient = -(standard[rows, target] - expected).mean(axis=0) + 2 * l2 * weights
    return float(-log_p[rows, target].mean() + l2 * weights @ weights), gradient


def fit_logit(
    signals: np.ndarray,
    allowed: np.ndarray,
    target: np.ndarray,
    *,
    start: np.ndarray,
    fixed: np.ndarray | None = None,
    l2: float = L2,
) -> tuple[np.ndarray, float]:
    """Weights that maximise the likelihood of the chosen candidates.

    Parameters
    ----------
    signals
        ``(n_cases, n_candidates, n_signals)`` float64.
    allowed
        ``(n_cases, n_candidates)`` bool: which candidates each case offers
        (padding and excluded items are False).
    target
        ``(n_cases,)`` the column of each case's chosen candidate (allowed).
    start
        ``(n_signals,)`` starting weights, on the raw scale of the signals.
    fixed
        ``(n_signals,)`` bool: signals whose weight stays at ``start`` (for
        example 0, to fit a ranking without one of them).
    l2
        Ridge penalty on the standardised weights.

    Returns
    -------
    weights, log_likelihood
        Raw-scale weights (``signals @ weights`` scores a candidate) and the
        mean log-likelihood of the chosen candidates under them.
    """
    standard, scale = _standardised(signals, allowed)
    fixed = np.zeros(signals.shape[-1], dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    begin = np.asarray(start, dtype=np.float64) * scale
    bounds = [(value, value) if hold else (None, None) for value, hold in zip(begin, fixed)]
    found = minimize(_loss, begin, args=(standard, allowed, target, l2), jac=True, method="L-BFGS-B",
                     bounds=bounds).x
    return found / scale, log_likelihood(signals, allowed, target, found / scale)


def log_likelihood(signals: np.ndarray, allowed: np.ndarray, target: np.ndarray, weights: np.ndarray) -> float:
    """Mean log-probability of the chosen candidates under raw-scale ``weights`` (no penalty)."""
    if not len(target):
        return float("nan")
    logits = np.where(allowed, signals @ np.asarray(weights, dtype=np.float64), -np.inf)
    return float(log_softmax(logits, axis=1)[np.arange(len(target)), target].mean())
