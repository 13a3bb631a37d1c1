"""Choosing item2vec's configuration for the data at hand.

A stage between the split and the final training that returns the resolved
:class:`~recsys.config.Item2VecConfig`:

- :func:`corpus_stats` measures the training sequences (size, sparsity, sequentiality);
- :func:`resolve_defaults` fills the options the user left unset from those
  statistics (context, epochs, learning rate, down-sampling, relation), and
  :func:`train_adaptive` (:func:`recsys.train`) trains with them;
- :func:`choose_config` trains a few candidates on a validation split and
  keeps the best one that passes the collapse guard (:func:`check_collapse`);
- :func:`fit_ranking` fits the ranking stage (:mod:`recsys.ranking`) on the
  same validation split and chooses, per kind of query, between its blend
  and the vectors alone.
"""

from recsys.selection._collapse import CollapseCheck, check_collapse
from recsys.selection._defaults import resolve_defaults, training_amount
from recsys.selection._ranking import RankingFit, fit_ranking, fit_ranking_stage, why_no_ranking
from recsys.selection._select import (
    MIN_BUDGET,
    MIN_SEQUENCES,
    Candidate,
    Selection,
    SelectionParts,
    choose_config,
    selection_parts,
    selection_score,
    training_cost,
    validation_split,
)
from recsys.selection._stats import CorpusStats, corpus_stats
from recsys.selection._train import resolved_config, train_adaptive

__all__ = [
    "MIN_BUDGET",
    "MIN_SEQUENCES",
    "Candidate",
    "CollapseCheck",
    "CorpusStats",
    "Selection",
    "SelectionParts",
    "check_collapse",
    "choose_config",
    "corpus_stats",
    "fit_ranking",
    "fit_ranking_stage",
    "RankingFit",
    "resolve_defaults",
    "resolved_config",
    "selection_parts",
    "selection_score",
    "training_amount",
    "train_adaptive",
    "training_cost",
    "validation_split",
    "why_no_ranking",
]
