"""Prepared search structures stored beside the model, so that a replica starts in seconds.

:meth:`recsys.Recommender.prepare` builds, per relation, a neighbour table
(up to 100,000 items) or an HNSW graph (beyond): 10 s at 100,000 items, 2-4
minutes at 1,000,000. A :class:`SearchStore` keeps what was built in the
``search/`` folder of the item-vectors directory, one folder per structure,
and hands it to every later load of the same model instead of building it
again::

    item_vectors/                   items.parquet, vectors.npy, context_vectors.npy, config.json
      search/
        similar-table/              entry.json, rows.npy, scores.npy      (numpy, loaded memory-mapped)
        next-ranked-table/          the same, in the ranking stage's order (keyed by its digest)
        next-hnsw/                  entry.json (with the recall report), graph.faiss (faiss's own format)

No pickle is involved. Each ``entry.json`` records the digest of the model
files it was built from (:func:`model_digest`), the build settings and the
size of every file; a structure whose model digest, settings or files do
not match is never used: it is rebuilt (and stored again) with a warning
that says why. Structures are written to a staging folder and renamed into
place, so a reader never sees half of one.

Models logged with :func:`recsys.registry.log_model` and registered carry
their structures from the start: registration builds them into the logged
artifacts, so every replica that downloads the model finds them. A model
with cold items (``recsys add-items``) carries none: its catalogue is not
the trained one, so a recommender builds its structures in memory.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np

from recsys._atomic import staged_directory
from recsys.manifest import MANIFEST
from recsys.errors import StoredStructureWarning
from recsys.index import AnnReport, ExactIndex, HNSWIndex
from recsys.neighbours import NeighbourTable

__all__ = ["SEARCH_DIR", "SearchStore", "StructureKind", "model_digest"]

SEARCH_DIR = "search"
"""Name of the folder, inside the item-vectors directory, that holds the stored structures."""
_FORMAT_VERSION = 1
_MODEL_FILES = ("items.parquet", "vectors.npy", "context_vectors.npy", "config.json")
_BLOCK = 1 << 22

StructureKind = Literal["table", "hnsw"]
"""``table``: a :class:`~recsys.neighbours.NeighbourTable`; ``hnsw``: a faiss HNSW graph."""


def model_digest(vectors_dir: str | Path) -> str:
    """The content digest of a saved model: the one place that says which model a stored structure belongs to.

    For a model saved with a manifest (:meth:`recsys.item2vec.ItemVectors.save`
    writes ``manifest.json``, and :meth:`~recsys.item2vec.ItemVectors.load`
    checks every file against it), the model's own digest recorded there
    (:attr:`~recsys.item2vec.ItemVectors.digest`): reading it costs nothing.
    For an older model without one, SHA-256 over its vector files in a fixed
    order (``items.parquet``, ``vectors.npy``, ``context_vectors.npy``,
    ``config.json``), each prefixed by its name and size; about 1 s per GB.

    Returns
    -------
    str
        64 hex digits.
    """
    import hashlib

    directory = Path(vectors_dir)
    manifest = directory / MANIFEST
    if manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("digest")
        except (OSError, ValueError):
            recorded = None
        if isinstance(recorded, str):
            return recorded
    digest = hashlib.sha256()
    for name in _MODEL_FILES:
        path = directory / name
        if not path.is_file():
            continue
        digest.update(f"{name}:{path.stat().st_size}\n".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
    return digest.hexdigest()


def _table_key(relation: str, depth: int, ranking: str | None) -> tuple[str, dict[str, Any]]:
    """The folder name and settings of a table: ``next-table``, or ``next-ranked-table`` keyed by the stage."""
    if ranking is None:
        return f"{relation}-table", {"depth": depth}
    return f"{relation}-ranked-table", {"depth": depth, "ranking": ranking}


class SearchStore:
    """The stored search structures of the model saved in ``vectors_dir``.

    Parameters
    ----------
    vectors_dir
        An :meth:`~recsys.item2vec.ItemVectors.save` directory; structures
        live in its ``search/`` folder.
    digest
        The model's digest, if already known (default: computed from the
        files on first use, by :func:`model_digest`).
    """

    def __init__(self, vectors_dir: str | Path, *, digest: str | None = None) -> None:
        self.vectors_dir = Path(vectors_dir)
        self.directory = self.vectors_dir / SEARCH_DIR
        self._digest = digest
        self._unwritable = False

    @property
    def digest(self) -> str:
        """The digest of the model files (computed once)."""
        if self._digest is None:
            self._digest = model_digest(self.vectors_dir)
        return self._digest

    # ------------------------------------------------------------------ reading
    def _entry(self, name: str, settings: Mapping[str, Any]) -> tuple[Path, dict[str, Any]] | None:
        """The folder and entry of a stored structure that fits this model and ``settings``, else None."""
        folder = self.directory / name
        try:
            entry = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, json.JSONDecodeError) as error:
            return self._refuse(folder, f"its entry.json is unreadable ({error})")
        if entry.get("format_version") != _FORMAT_VERSION or entry.get("settings") != dict(settings):
            return None  # built by another version or with other settings: simply not this structure
        if entry.get("model_digest") != self.digest:
            return self._refuse(
                folder,
                f"it was built for model digest {str(entry.get('model_digest'))[:16]}..., but the model files "
                f"now digest to {self.digest[:16]}... (were they changed?)",
            )
        for file, size in entry.get("files", {}).items():
            path = folder / file
            if not path.is_file() or path.stat().st_size != size:
                return self._refuse(folder, f"{file} is missing or not the size recorded ({size:,} bytes)")
        return folder, entry

    @staticmethod
    def _refuse(folder: Path, reason: str) -> None:
        warnings.warn(f"not using the stored search structure {folder}: {reason}; rebuilding it",
                      StoredStructureWarning, stacklevel=4)
        return None

    def load_table(self, relation: str, *, depth: int, ranking: str | None = None) -> NeighbourTable | None:
        """The stored neighbour table of ``relation`` (memory-mapped, read-only), or None.

        ``ranking``: the digest of the ranking stage whose order the table
        holds (:attr:`recsys.ranking.Ranking.digest`); None for the vectors' own order.
        """
        name, settings = _table_key(relation, depth, ranking)
        found = self._entry(name, settings)
        if found is None:
            return None
        folder, _ = found
        rows = np.load(folder / "rows.npy", mmap_mode="r", allow_pickle=False)
        scores = np.load(folder / "scores.npy", mmap_mode="r", allow_pickle=False)
        return NeighbourTable(rows, scores)

    def load_hnsw(self, relation: str, exact: ExactIndex, *, settings: Mapping[str, Any]) -> tuple[HNSWIndex, AnnReport] | None:
        """The stored HNSW graph of ``relation`` over ``exact``'s vectors and its report, or None."""
        import faiss

        found = self._entry(f"{relation}-hnsw", settings)
        if found is None:
            return None
        folder, entry = found
        try:  # the graph's vectors memory-mapped: no copy at start, one page cache for every replica here
            graph = faiss.read_index(str(folder / "graph.faiss"), getattr(faiss, "IO_FLAG_MMAP_IFC", 0))
        except RuntimeError as error:
            return self._refuse(folder, f"faiss cannot read graph.faiss ({str(error).splitlines()[0]})")
        if graph.ntotal != len(exact) or graph.d != exact.vectors.shape[1]:
            return self._refuse(folder, f"the graph holds {graph.ntotal:,} vectors of dimension {graph.d}")
        report = AnnReport(**entry["report"])
        index = HNSWIndex(exact, graph)
        index.ef_search = report.ef_search
        return index, report

    # ------------------------------------------------------------------ writing
    def _write(self, name: str, settings: Mapping[str, Any], write: Callable[[Path], None],
               extra: Mapping[str, Any] | None = None) -> bool:
        """Write a structure's files with ``write(folder)``, then its entry; rename the folder into place.

        Returns False (with one warning per store) when the model directory is not writable.
        """
        if self._unwritable:
            return False
        try:
            with staged_directory(self.directory / name) as staging:
                write(staging)
                files = {p.name: p.stat().st_size for p in sorted(staging.iterdir())}
                entry = {"format_version": _FORMAT_VERSION, "model_digest": self.digest, "settings": dict(settings),
                         "files": files, "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         **(extra or {})}
                (staging / "entry.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
            return True
        except OSError as error:
            self._unwritable = True
            warnings.warn(f"cannot store search structures in {self.directory} ({error.strerror or error}); "
                          "they will be built again at the next start", StoredStructureWarning, stacklevel=4)
            return False

    def save_table(self, relation: str, table: NeighbourTable, *, depth: int | None = None,
                   ranking: str | None = None) -> bool:
        """Store ``relation``'s neighbour table (in the order of the ranking stage with digest
        ``ranking``, if given); whether it was written.

        ``depth`` is the depth it was asked for (default: the table's own;
        a small catalogue's table is shallower than asked, and must be
        found again by the depth :meth:`load_table` is asked for)."""

        def write(folder: Path) -> None:
            np.save(folder / "rows.npy", np.ascontiguousarray(table.rows))
            np.save(folder / "scores.npy", np.ascontiguousarray(table.scores))

        return self._write(*_table_key(relation, table.depth if depth is None else depth, ranking), write)

    def save_hnsw(self, relation: str, index: HNSWIndex, report: AnnReport, *, settings: Mapping[str, Any]) -> bool:
        """Store ``relation``'s HNSW graph (faiss's own format) and its report; whether it was written."""
        import faiss

        return self._write(f"{relation}-hnsw", settings, lambda folder: faiss.write_index(
            index.graph, str(folder / "graph.faiss")), extra={"report": asdict(report)})
