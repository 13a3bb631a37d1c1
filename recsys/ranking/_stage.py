"""The fitted ranking stage of a model: its weights and evidence, saved beside the vectors.

:class:`Ranking` holds what a model needs to rank "next" beyond its
vectors: the successor :class:`~recsys.ranking.Evidence` of the training
sequences and the fitted :class:`~recsys.ranking.Blend` of each kind of
query (an item, a session), with the "evidence only" blends the quality
tables report and which ranking each kind of query uses by default (the
blend, or the vectors alone where the blend did not help on validation).
It is saved as ``ranking.json`` plus the evidence's ``.npy`` arrays and a
manifest (no pickle), and :meth:`Ranking.ranker` binds it to a catalogue.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import polars as pl

from recsys._atomic import staged_directory
from recsys.errors import ModelLoadError
from recsys.manifest import verify_manifest, write_manifest
from recsys.ranking._evidence import EVIDENCE_FILES, Evidence
from recsys.ranking._ranker import Blend, Ranker, Search

__all__ = ["Rank", "RANKS", "QueryKind", "Ranking"]

Rank = Literal["ranker", "vectors"]
"""How "next" is ordered: ``ranker``, the fitted blend of the vectors with the
observed evidence; ``vectors``, the plain nearest-neighbour order of the vectors."""
RANKS: tuple[str, ...] = get_args(Rank)
QueryKind = Literal["item", "session"]
"""Item queries and session queries have blends of their own."""

_FORMAT_VERSION = 1
_FILES = ("ranking.json", *EVIDENCE_FILES)


@dataclass(frozen=True, eq=False)
class Ranking:
    """A model's ranking stage.

    Attributes
    ----------
    evidence
        Successor counts and plays of the trained catalogue.
    blends
        The fitted blend of each query kind (``item``, ``session``).
    evidence_blends
        The same fitted without the vector signal, candidates from plays
        ("evidence only", reported beside the blend).
    defaults
        The ranking each query kind uses when none is asked for.
    candidates
        The vectors' best items each query ranks (besides its observed successors).
    validation
        Validation scores that chose :attr:`defaults` (logged with the run).
    """

    evidence: Evidence
    blends: Mapping[str, Blend]
    evidence_blends: Mapping[str, Blend]
    defaults: Mapping[str, Rank] = field(default_factory=lambda: {"item": "ranker", "session": "ranker"})
    candidates: int = 100
    validation: Mapping[str, float] = field(default_factory=dict)

    def default(self, kind: QueryKind) -> Rank:
        """The ranking ``kind`` queries use when none is asked for."""
        return self.defaults.get(kind, "ranker")

    def ranker(self, *, inputs: np.ndarray | None, outputs: np.ndarray | None, search: Search | None = None,
               n_items: int | None = None) -> Ranker:
        """The stage bound to a catalogue: these vectors (rows as the trained catalogue, then
        ``n_items - len(evidence)`` items never seen in training, which get the median plays)."""
        evidence = self.evidence
        extra = 0 if n_items is None else n_items - len(evidence)
        if extra > 0:
            typical = float(np.median(evidence.plays)) if len(evidence) else 0.0
            evidence = evidence.extended(extra, plays=typical)
        return Ranker(evidence, inputs=inputs, outputs=outputs, search=search, candidates=self.candidates)

    def updated(self, sequences: pl.DataFrame, *, item_ids: Sequence[str], catalogue: Sequence[str]) -> "Ranking":
        """The stage of an updated model: the same fitted weights and choices, the evidence moved to
        ``catalogue`` with the counts of the new ``sequences`` added (:meth:`Evidence.updated`)."""
        return dataclasses.replace(self, evidence=self.evidence.updated(sequences, item_ids=item_ids,
                                                                        catalogue=catalogue))

    # ------------------------------------------------------------ persistence
    def _header(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "candidates": self.candidates,
            "defaults": dict(self.defaults),
            "blends": {kind: blend.to_json() for kind, blend in self.blends.items()},
            "evidence_blends": {kind: blend.to_json() for kind, blend in self.evidence_blends.items()},
            "validation": {name: float(value) for name, value in self.validation.items()},
        }

    @property
    def digest(self) -> str:
        """A content digest of the weights and evidence: what a table ranked by this stage is keyed by."""
        value = self.__dict__.get("_digest")
        if value is None:
            digest = hashlib.sha256(json.dumps(self._header(), sort_keys=True).encode())
            s = self.evidence.successors
            for array in (s.indptr, s.indices, s.data, self.evidence.totals, self.evidence.plays):
                digest.update(np.ascontiguousarray(array).tobytes())
            value = digest.hexdigest()
            object.__setattr__(self, "_digest", value)
        return value

    def save(self, directory: str | Path) -> Path:
        """Write the stage to ``directory`` (replaced atomically; no pickle)."""
        target = Path(directory)
        with staged_directory(target) as staging:
            self.evidence.write(staging)
            (staging / "ranking.json").write_text(json.dumps(self._header(), indent=2) + "\n", encoding="utf-8")
            write_manifest(staging, _FILES, digest=self.digest)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "Ranking":
        """Read what :meth:`save` wrote, checking every file against its manifest.

        Raises
        ------
        ModelLoadError
            If a file is missing, edited or inconsistent.
        """
        source = Path(directory)
        verify_manifest(source, guarded=_FILES)
        try:
            header = json.loads((source / "ranking.json").read_text(encoding="utf-8"))
            if header.get("format_version") != _FORMAT_VERSION:
                raise ValueError(f"format version {header.get('format_version')!r}, expected {_FORMAT_VERSION}")
            blends = {kind: Blend.from_json(b) for kind, b in header["blends"].items()}
            evidence_blends = {kind: Blend.from_json(b) for kind, b in header["evidence_blends"].items()}
            defaults = {kind: value for kind, value in header["defaults"].items() if value in RANKS}
            candidates = int(header["candidates"])
            validation = {name: float(value) for name, value in header.get("validation", {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"{source / 'ranking.json'}: unreadable ranking stage ({error}); "
                                 "restore the file or log the model again") from None
        return cls(Evidence.load(source), blends, evidence_blends, defaults, candidates, validation)
