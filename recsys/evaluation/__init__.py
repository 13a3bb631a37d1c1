"""Evaluation: protocols, metrics, item2vec and the baselines in one harness, the quality report."""

from recsys.evaluation.baselines import BASELINES, make_baseline
from recsys.evaluation.cases import PROTOCOLS, EvaluationCases, build_cases, train_validation_split
from recsys.evaluation.methods import EmbeddingMethod, Item2VecMethod, Method
from recsys.evaluation.protocol import MethodResult, evaluate_method, evaluate_methods, item_popularity

__all__ = [
    "BASELINES",
    "PROTOCOLS",
    "EmbeddingMethod",
    "EvaluationCases",
    "Item2VecMethod",
    "Method",
    "MethodResult",
    "build_cases",
    "evaluate_method",
    "evaluate_methods",
    "item_popularity",
    "make_baseline",
    "train_validation_split",
]
