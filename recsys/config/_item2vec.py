"""item2vec's hyperparameters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recsys.config._base import Relation, _Config

__all__ = ["Item2VecConfig"]


class Item2VecConfig(_Config):
    """Hyperparameters of item2vec (gensim Word2Vec on item sequences).

    The defaults are chosen for recommendation, not for natural language:
    sequences of items are short, their vocabulary is flat-ish (Zipf but with
    no stop words) and every item matters, so skip-gram, several epochs and
    ``min_count=1`` are the starting point (Barkan & Koenigstein 2016;
    Caselles-Dupré et al., RecSys 2018).
    """

    vector_size: int = Field(64, gt=0, le=4096)
    """Dimension of the item vectors. 64 is plenty for catalogues up to ~10^6
    items; larger sizes cost memory (2 x items x dim x 4 bytes while training)."""

    window: int = Field(5, gt=0)
    """Maximum distance between a query item and a context item in a sequence.
    Ignored (set to the longest sequence) when ``whole_sequence`` is true."""

    negative: int = Field(10, gt=0, le=100)
    """Negative samples per positive pair. Item catalogues are larger and
    flatter than a text vocabulary; 10 rather than gensim's 5 sharpens ranks."""

    ns_exponent: float = Field(0.25, ge=-2.0, le=2.0)
    """Exponent of the negative-sampling distribution (popularity^exponent).
    0.75 is word2vec's choice for words; items want flatter negatives
    (Caselles-Dupré et al., RecSys 2018). Measured on the validation splits
    (HR@10, "next" relation, other options default): 0.25 against 0.75 gave
    yes 0.0959 vs 0.0709, ml-100k 0.1181 vs 0.0942, rsc15 0.4281 vs 0.4235;
    -0.5 helped yes and ml-100k more but cost rsc15 14%."""

    sample: float | None = Field(None, ge=0.0, lt=1.0)
    """Down-sampling threshold for very popular items (0 disables): an item
    whose share of all plays is f is kept with probability about sqrt(sample/f).
    None (the default) adapts to the corpus (:mod:`recsys.selection`): 0 under
    1,000,000 training items, where down-sampling was never better on the
    validation splits of the real datasets and regimes (rsc15 HR@10 0.4364
    with 0 against 0.4235 with 1e-3, ml-100k 0.1027 against 0.0942, yes
    0.0701 against 0.0709) and made short sparse sessions collapse; 1e-3
    from there on, where it saves time on the most popular items. On a small
    catalogue every item is "popular": with 1e-4, two 20-item clusters kept
    ~6% of their plays and 10 epochs no longer separated them."""

    epochs: int | None = Field(None, gt=0, le=1000)
    """Passes over the corpus. None (the default) adapts to the corpus
    (:mod:`recsys.selection`): 20 for large or dense corpora, more (up to
    100) for small sparse ones, whose items are seen a handful of times each
    and need many passes to move away from their random start."""

    min_count: int = Field(1, gt=0)
    """Minimum item frequency to get a vector. 1, because pruning of rare items
    belongs to data preparation (``DataConfig.min_item_count``), where it is
    visible and logged."""

    sg: Literal[0, 1] = 1
    """1 for skip-gram, 0 for CBOW. Skip-gram gives better vectors for rare
    items, which are most items of a catalogue."""

    alpha: float | None = Field(None, gt=0.0, le=1.0)
    """Initial learning rate (it decays linearly to ``min_alpha``). None (the
    default) adapts to the corpus (:mod:`recsys.selection`): word2vec's 0.025
    on dense corpora, higher where the items are seen rarely or the context
    is ``forward`` (fewer pairs per item), so that sparse data is trained
    enough without hundreds of epochs."""

    min_alpha: float = Field(0.0001, ge=0.0, le=1.0)
    """Learning rate at the end of training (linear decay)."""

    shrink_windows: bool = True
    """Sample the effective window uniformly from 1..window for each item, as
    word2vec does. Ignored (false) when ``whole_sequence`` is true."""

    context: Literal["symmetric", "forward"] | None = None
    """Which neighbours an item learns to predict. ``symmetric``: the items
    up to ``window`` before and after it (gensim's skip-gram); ``forward``:
    only the ``window`` items after it, the one at distance ``d`` weighted
    ``1 / d**2`` (:mod:`recsys.item2vec`), so that "next" tells what comes
    after an item from what comes before it. None (the default): chosen on
    validation by the automatic selection, or without it ``forward`` when
    the corpus is strongly sequential (:mod:`recsys.selection`)."""

    whole_sequence: bool = False
    """item2vec mode: every pair of items in a sequence is a context pair
    (window = longest sequence, no window shrinking), as for sets of items
    where order carries no meaning."""

    relation: Relation | None = None
    """The relation the trained model recommends with when none is asked for.
    None (the default): "next" (query input vector against output vectors),
    unless the automatic selection finds "similar" (cosine of input vectors)
    better on validation. "next" beat "similar" on every real dataset's
    validation split, HR@10 with the previous defaults: yes 0.0709 vs
    0.0163, ml-100k 0.0942 vs 0.0324, rsc15 0.4235 vs 0.3219. "similar"
    remains the relation for substitutes ("more like this")."""

    seed: int = Field(42, ge=0)
    """Random seed. Training is deterministic with ``workers=1`` and a fixed
    seed (gensim 4 seeds the initial vectors from it alone, so
    ``PYTHONHASHSEED`` does not matter)."""

    workers: int | None = Field(None, gt=0, le=256)
    """Training threads; None (the default) uses every usable core. Several
    workers are faster but not deterministic, and the per-epoch loss is then
    not computed (gensim's shared counter loses updates, gensim issue 2743):
    set 1 for reproducible runs and a loss curve (the shipped
    ``default.toml`` does)."""

    corpus: Literal["auto", "memory", "file"] = "auto"
    """How gensim reads the training sequences: ``memory`` as Python lists,
    ``file`` from a line file written once (gensim's ``corpus_file`` mode: no
    Python thread feeds the workers, so it scales with cores); ``auto`` uses
    ``file`` with several workers from ``recsys.item2vec.CORPUS_FILE_MIN_WORDS``
    training items on (1,000,000, measured in docs/scaling.md)."""

    @model_validator(mode="after")
    def _check_alphas(self) -> "Item2VecConfig":
        if self.alpha is not None and self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.alpha})")
        return self
