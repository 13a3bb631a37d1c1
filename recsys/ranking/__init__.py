"""The ranking stage: between the vectors' search and the answer.

The vectors generalise (they find plausible items nobody observed after the
query); counts remember (the item that actually followed the query forty
times). For a query item or session, the candidates are the vectors' best
items together with the items observed after it, and their order is a
fitted blend of signals (:data:`SIGNALS`: the vector score, the
distance-decayed counts of what followed, their share, what followed the
session's earlier items, co-occurrence the other way round, popularity).
The weights are fitted by the likelihood of what actually came next
(:func:`fit_logit`, the conditional logit that also ranks cold queries).

- :class:`Evidence`: successor counts and plays, from training sequences;
- :class:`Blend`, :func:`fit_blend`: weights of the signals, and their fit;
- :class:`Ranker`: candidates, signals and order over one catalogue;
- :class:`Ranking`: a model's fitted stage, saved beside its vectors.
"""

from recsys.ranking._evidence import Evidence, log_plays
from recsys.ranking._logit import fit_logit, log_likelihood
from recsys.ranking._ranker import VECTORS_ONLY, Blend, CandidateSource, Ranker, Search, fit_blend
from recsys.ranking._signals import EVIDENCE_SIGNALS, SESSION_DECAY, SIGNALS, context_signals, recency_weights
from recsys.ranking._stage import RANKS, QueryKind, Rank, Ranking

__all__ = [
    "Blend",
    "CandidateSource",
    "EVIDENCE_SIGNALS",
    "Evidence",
    "QueryKind",
    "RANKS",
    "Rank",
    "Ranker",
    "Ranking",
    "SESSION_DECAY",
    "SIGNALS",
    "Search",
    "VECTORS_ONLY",
    "context_signals",
    "fit_blend",
    "fit_logit",
    "log_likelihood",
    "log_plays",
    "recency_weights",
]
