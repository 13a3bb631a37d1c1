"""The ranking stage at work: a query's candidates, their signals, and their order under fitted weights.

A :class:`Ranker` is bound to one catalogue (its input and output vectors,
its :class:`~recsys.ranking.Evidence`, and a search over the output
vectors). For a batch of contexts (sessions, or one-item sessions for item
queries) it takes the candidates, the vectors' top ``n`` together with the
items observed after the last item, computes their signals
(:func:`~recsys.ranking.context_signals`) and orders them by a
:class:`Blend` of them. With :data:`VECTORS_ONLY` the order is the plain
nearest-neighbour order; with ``source="popularity"`` the candidates come
from plays instead of vectors (the "evidence only" ranking of the quality
tables). :func:`fit_blend` fits a blend's weights on observed next items.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from recsys.ranking._evidence import Evidence
from recsys.index import ExactIndex
from recsys.ranking._logit import fit_logit
from recsys.ranking._signals import SESSION_DECAY, SIGNALS, context_signals, padded_rows, recency_weights

__all__ = ["Blend", "Ranker", "Search", "CandidateSource", "VECTORS_ONLY", "fit_blend"]

Search = Callable[..., tuple[np.ndarray, np.ndarray]]
"""``search(queries, n, *, exclude_rows=None, mask=None) -> (rows, scores)`` over the output vectors
(the signature of :meth:`recsys.index.ExactIndex.search`)."""
CandidateSource = Literal["vectors", "popularity"]
"""Where a query's candidates come from besides its observed successors."""

_BATCH = 2048
"""Contexts ranked per batch: faiss's search of their candidates takes about 1.6 times as long in
batches of 256 (43,000 items, 100 candidates each: 4.8-7.0 s against 2.9-4.2 s in batches of 4,096)."""


@dataclass(frozen=True)
class Blend:
    """Weights of the signals (:data:`~recsys.ranking.SIGNALS` order): a candidate scores ``signals @ weights``.

    Attributes
    ----------
    weights
        One weight per signal.
    n_cases
        Observed next items the weights were fitted on (0: not fitted).
    log_likelihood
        Mean log-likelihood of those next items under the weights.
    log_likelihood_vectors
        The same under the vector signal alone (its scale fitted).
    """

    weights: tuple[float, ...]
    n_cases: int = 0
    log_likelihood: float = float("nan")
    log_likelihood_vectors: float = float("nan")

    def __post_init__(self) -> None:
        if len(self.weights) != len(SIGNALS):
            raise ValueError(f"a blend has {len(SIGNALS)} weights ({', '.join(SIGNALS)}), got {len(self.weights)}")

    @property
    def array(self) -> np.ndarray:
        """The weights as a float64 array."""
        return np.asarray(self.weights, dtype=np.float64)

    @property
    def by_signal(self) -> dict[str, float]:
        """``{signal: weight}``."""
        return dict(zip(SIGNALS, self.weights))

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (NaN as None)."""
        return {"weights": self.by_signal, "n_cases": self.n_cases,
                "log_likelihood": _finite(self.log_likelihood),
                "log_likelihood_vectors": _finite(self.log_likelihood_vectors)}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "Blend":
        """Read what :meth:`to_json` wrote."""
        weights = payload["weights"]
        return cls(tuple(float(weights[s]) for s in SIGNALS), int(payload["n_cases"]),
                   _nan(payload.get("log_likelihood")), _nan(payload.get("log_likelihood_vectors")))


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


VECTORS_ONLY = Blend((1.0,) + (0.0,) * (len(SIGNALS) - 1))
"""The plain nearest-neighbour ranking: the vector signal alone."""


def _unique_per_row(candidates: np.ndarray) -> np.ndarray:
    """Each row's rows once (repeats become -1), sorted."""
    ordered = np.sort(candidates, axis=1)
    repeat = np.zeros(ordered.shape, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    ordered[repeat] = -1
    return ordered


class Ranker:
    """The ranking stage over one catalogue.

    Parameters
    ----------
    evidence
        Successor counts and plays of the catalogue's rows.
    inputs, outputs
        Input and output vectors of the catalogue (None: no vectors, for
        rankings from evidence alone).
    search
        Top-``n`` search of query vectors against ``outputs`` (default:
        exact inner-product search, :class:`~recsys.index.ExactIndex`).
    candidates
        How many of the vectors' (or plays') best items each query ranks,
        besides its observed successors; a query for more items ranks that many.
    """

    def __init__(
        self,
        evidence: Evidence,
        *,
        inputs: np.ndarray | None,
        outputs: np.ndarray | None,
        search: Search | None = None,
        candidates: int = 100,
    ) -> None:
        self.evidence = evidence
        self.inputs = inputs
        self.outputs = outputs
        self.candidates = candidates
        if search is None and outputs is not None:
            search = ExactIndex(outputs, normalize=False).search
        self._search = search
        self._popular = np.argsort(-evidence.plays, kind="stable")

    def __len__(self) -> int:
        return len(self.evidence)

    def searching(self, search: Search) -> "Ranker":
        """This ranker (the same evidence, vectors and candidates) with another top-``n`` search."""
        twin = copy.copy(self)
        twin._search = search
        return twin

    def profiles(self, sessions: Sequence[np.ndarray]) -> np.ndarray | None:
        """Each context's query vector: the recency-weighted mean of its items' input vectors."""
        if self.inputs is None:
            return None
        if all(len(s) == 1 for s in sessions):
            return self.inputs[np.fromiter((s[0] for s in sessions), dtype=np.int64, count=len(sessions))]
        return np.asarray(recency_weights(sessions, len(self), decay=SESSION_DECAY) @ self.inputs, dtype=np.float32)

    def candidate_rows(
        self, sessions: Sequence[np.ndarray], profiles: np.ndarray | None, n: int, *,
        mask: np.ndarray | None = None, source: CandidateSource = "vectors",
    ) -> np.ndarray:
        """``(n_contexts, width)`` candidate rows (-1: padding): the source's top ``n`` and the last item's
        observed successors, never an item of the context nor one ``mask`` rules out."""
        last = np.fromiter((s[-1] for s in sessions), dtype=np.int64, count=len(sessions))
        longest = max(len(s) for s in sessions)
        if source == "vectors" and profiles is not None and self._search is not None:
            best = self._search(profiles, n + longest - 1, exclude_rows=last, mask=mask)[0]
        else:
            order = self._popular if mask is None else self._popular[mask[self._popular]]
            best = np.broadcast_to(order[: n + longest], (len(sessions), min(len(order), n + longest)))
        followers = padded_rows(self.evidence.successors, last)
        if mask is not None and followers.size:
            followers = np.where(mask[np.maximum(followers, 0)], followers, -1)
        candidates = _unique_per_row(np.concatenate([best, followers], axis=1).astype(np.int64))
        context = np.full((len(sessions), longest), -2, dtype=np.int64)
        for i, session in enumerate(sessions):
            context[i, : len(session)] = session
        seen = (candidates[:, :, None] == context[:, None, :]).any(axis=2)
        return np.where(seen, -1, candidates)

    def signals(self, sessions: Sequence[np.ndarray], candidates: np.ndarray,
                profiles: np.ndarray | None = None) -> np.ndarray:
        """Every signal of every candidate (see :func:`~recsys.ranking.context_signals`)."""
        if profiles is None:
            profiles = self.profiles(sessions)
        return context_signals(sessions, candidates, self.evidence, profiles=profiles, outputs=self.outputs)

    def scored(
        self,
        sessions: Sequence[np.ndarray],
        blend: Blend,
        n: int,
        *,
        mask: np.ndarray | None = None,
        source: CandidateSource = "vectors",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every candidate of a batch of contexts and its score under ``blend``.

        Returns
        -------
        candidates, scores
            ``(len(sessions), width)`` int64 rows (-1: padding) and float64
            scores (``-inf`` at padding), in no particular order.
        """
        profiles = self.profiles(sessions) if source == "vectors" else None
        candidates = self.candidate_rows(sessions, profiles, n, mask=mask, source=source)
        values = self.signals(sessions, candidates, profiles) @ blend.array
        return candidates, np.where(candidates >= 0, values, -np.inf)

    def rank(
        self,
        sessions: Sequence[np.ndarray],
        blend: Blend,
        k: int,
        *,
        mask: np.ndarray | None = None,
        source: CandidateSource = "vectors",
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best candidates of each context under ``blend``.

        Parameters
        ----------
        sessions
            Catalogue rows of each context, oldest first, each non-empty.
        blend
            The weights.
        k
            Items per context; :attr:`candidates` or ``k`` of the source's
            best items are ranked, whichever is more.
        mask
            Boolean ``(n_items,)``: False rows are never returned.
        source
            ``"vectors"`` or ``"popularity"`` (see :data:`CandidateSource`).

        Returns
        -------
        rows, scores
            int64 and float32 arrays of shape ``(len(sessions), min(k, n_items))``,
            best first, padded with -1 and ``-inf``.
        """
        width = min(k, len(self))
        rows = np.full((len(sessions), width), -1, dtype=np.int64)
        scores = np.full((len(sessions), width), -np.inf, dtype=np.float32)
        for start in range(0, len(sessions), _BATCH):
            batch = sessions[start : start + _BATCH]
            candidates, values = self.scored(batch, blend, max(self.candidates, k), mask=mask, source=source)
            order = np.argsort(-values, axis=1, kind="stable")[:, :width]
            found = np.take_along_axis(candidates, order, axis=1)
            best = np.take_along_axis(values, order, axis=1)
            found[np.isneginf(best)] = -1
            rows[start : start + len(batch), : found.shape[1]] = found
            scores[start : start + len(batch), : found.shape[1]] = best
        return rows, scores


def fit_blend(
    ranker: Ranker,
    sessions: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    source: CandidateSource = "vectors",
    max_cases: int = 3000,
    seed: int = 0,
) -> Blend:
    """Fit a blend's weights by the likelihood of what actually came next.

    Parameters
    ----------
    ranker
        The ranking stage over the catalogue the cases were observed in
        (vectors and evidence that never saw them).
    sessions
        Each case's context, catalogue rows oldest first.
    targets
        The catalogue row of what came next in each case.
    source
        ``"vectors"``: every signal; ``"popularity"``: candidates from plays
        and the vector signal left out (the ranking from evidence alone).
    max_cases
        Cases fitted on at most (a seeded sample).
    seed
        Seed of the sample.

    Returns
    -------
    Blend
        Fitted on the cases whose next item is among their candidates;
        :data:`VECTORS_ONLY` (or the successor count alone, without vectors)
        when fewer than 20 are.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(targets), size=min(len(targets), max_cases), replace=False))
    chosen = [sessions[i] for i in pick]
    wanted = np.asarray(targets)[pick]
    blocks, allowed, target = [], [], []
    for start in range(0, len(chosen), _BATCH):
        batch = chosen[start : start + _BATCH]
        profiles = ranker.profiles(batch) if source == "vectors" else None
        candidates = ranker.candidate_rows(batch, profiles, ranker.candidates, source=source)
        hit = candidates == wanted[start : start + len(batch), None]
        keep = hit.any(axis=1)
        if not keep.any():
            continue
        signals = ranker.signals([batch[i] for i in np.flatnonzero(keep)], candidates[keep], profiles[keep]
                                 if profiles is not None else None)
        blocks.append(signals)
        allowed.append(candidates[keep] >= 0)
        target.append(np.argmax(hit[keep], axis=1))
    start_weights = VECTORS_ONLY.array if source == "vectors" else np.eye(len(SIGNALS))[1]
    n_cases = sum(len(t) for t in target)
    if n_cases < 20:
        return Blend(tuple(start_weights))
    width = max(b.shape[1] for b in blocks)
    signals = np.concatenate([np.pad(b, ((0, 0), (0, width - b.shape[1]), (0, 0))) for b in blocks])
    allowed_all = np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in allowed])
    target_all = np.concatenate(target)
    vector_only = np.zeros(len(SIGNALS), dtype=bool)
    vector_only[0] = True
    if source == "vectors":
        plain, plain_ll = fit_logit(signals, allowed_all, target_all, start=start_weights, fixed=~vector_only)
        weights, ll = fit_logit(signals, allowed_all, target_all, start=plain)
    else:
        plain_ll = float("nan")
        weights, ll = fit_logit(signals, allowed_all, target_all, start=start_weights, fixed=vector_only)
    return Blend(tuple(float(w) for w in weights), n_cases, ll, plain_ll)

