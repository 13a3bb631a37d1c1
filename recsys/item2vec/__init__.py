"""item2vec: skip-gram with negative sampling on item sequences, and the vectors it learns.

- :func:`train` trains exactly the configuration it is given, every option
  set: the symmetric context with gensim's Word2Vec, the forward context
  with a compiled forward-window kernel;
- :func:`continue_training` continues a trained model on new sequences
  (both contexts), new items appended;
- :class:`ItemVectors` is the product: ids, input and output vectors,
  counts and config, saved without pickle so that loading a model file
  cannot run code.

The data-adaptive defaults (options left None) are resolved above this
package, by :func:`recsys.train` and the automatic selection
(:mod:`recsys.selection`).
"""

from recsys.item2vec._continue import continue_training, occurrences
from recsys.item2vec._forward import (
    compile_kernels,
    distance_weights,
    initial_vectors,
    keep_probabilities,
    negative_table,
    train_forward,
)
from recsys.item2vec._gensim import CORPUS_FILE_MIN_WORDS, corpus_mode, effective_workers, usable_cores
from recsys.item2vec._train import ADAPTIVE_OPTIONS, train, unresolved_options
from recsys.item2vec._vectors import EpochReport, ItemVectors

__all__ = [
    "ADAPTIVE_OPTIONS",
    "CORPUS_FILE_MIN_WORDS",
    "EpochReport",
    "ItemVectors",
    "compile_kernels",
    "continue_training",
    "corpus_mode",
    "distance_weights",
    "effective_workers",
    "initial_vectors",
    "keep_probabilities",
    "negative_table",
    "occurrences",
    "train",
    "train_forward",
    "unresolved_options",
    "usable_cores",
]
