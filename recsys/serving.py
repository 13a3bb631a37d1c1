"""The REST API: recommendations as JSON over HTTP (FastAPI served by uvicorn).

Endpoints: ``GET /similar/{item_id}?k=10&relation=next``, ``POST /similar``
(a batch), ``POST /session`` (a sequence), ``GET /health``, ``POST /reload``, and the
OpenAPI description at ``/openapi.json`` (browsable at ``/docs``).

Every status an endpoint can answer is in the OpenAPI description. Requests
are bounded (:data:`MAX_K`, :data:`MAX_BATCH`, :data:`MAX_RESULTS`,
:data:`MAX_ID_LENGTH`: 422 beyond; bodies over
:data:`recsys.guard.MAX_BODY_BYTES`: 413); a malformed body answers 422 like
any other invalid input. With an admin token, ``POST /reload`` answers 401
without it (see :mod:`recsys.guard`).

The model is loaded and prepared (:meth:`recsys.Recommender.prepare`) once,
before the first request. ``POST /reload`` or the signal ``SIGHUP`` load the
model now behind the same location (for ``models:/item2vec@champion``, the
version the alias points at now), prepare it, and only then swap it in: a
request holds the model it started with, so none is dropped or answered
half by one model and half by the other.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.config import Relation
from recsys.ranking import Rank
from recsys.errors import ConfigError, RecsysError, UnknownItemError
from recsys.guard import MAX_BODY_BYTES, BodySizeLimit, admin_token_check, check_exposure
from recsys.recommender import IndexKind, OnUnknown, Recommendations, Recommender, SearchMode

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "Health",
    "ModelHolder",
    "Neighbour",
    "SessionRequest",
    "SessionResponse",
    "SimilarResponse",
    "create_app",
    "serve",
]

MAX_K = 1000
"""Largest ``k`` the API accepts."""
MAX_BATCH = 10_000
"""Largest number of items in one list of a request (``item_ids``, ``items``, ``exclude``, ``include_only``)."""
MAX_RESULTS = 100_000
"""Largest number of recommendations one ``POST /similar`` may ask for (``len(item_ids) * k``)."""
MAX_ID_LENGTH = 1_000
"""Longest item id a request may name, in characters."""

_log = logging.getLogger(__name__)

K = Annotated[int, Field(ge=1, le=MAX_K, description="Number of recommendations.")]
ItemId = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)]
_RELATION_HELP = (
    "'similar': substitutes (cosine of input vectors); 'next': what comes after or goes with the item "
    "(raw dot product of input and output vectors); null: the model's default."
)
_RANK_HELP = (
    "How 'next' is ordered: 'ranker', the fitted blend of the vector score with what followed the item in "
    "training; 'vectors', plain nearest neighbours; null: the model's default."
)


# ------------------------------------------------------------------ schemas
class Neighbour(BaseModel):
    """One recommended item."""

    item_id: str
    score: float = Field(
        description="Cosine similarity ('similar'), dot product ('next'), or the popularity share when the answer fell back."
    )
    cold: bool = Field(description="True if the item's vector came from its metadata (added with recsys add-items).")


class SimilarResponse(BaseModel):
    """The items most similar to one item, best first."""

    item_id: str
    fallback: bool = Field(description="True if the item is unknown and popular items are returned instead.")
    recommendations: list[Neighbour]


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: K = 10
    exclude: list[ItemId] | None = Field(None, max_length=MAX_BATCH, description="Items never to recommend.")
    include_only: list[ItemId] | None = Field(
        None, max_length=MAX_BATCH, description="If given, recommend only these items."
    )
    on_unknown: OnUnknown = Field("error", description="'error': 404 for an unknown item; 'popular': fall back.")
    relation: Relation | None = Field(None, description=_RELATION_HELP)
    rank: Rank | None = Field(None, description=_RANK_HELP)

    def filters(self) -> dict[str, Any]:
        """``exclude``, ``include_only``, ``on_unknown``, ``relation`` and ``rank`` as keyword arguments of the
        recommend methods."""
        return self.model_dump(include={"exclude", "include_only", "on_unknown", "relation", "rank"})


class BatchRequest(_Filters):
    """Several query items, answered in one call."""

    item_ids: list[ItemId] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"At most {MAX_BATCH:,} items, and at most {MAX_RESULTS:,} recommendations in all "
        "(items x k); 422 beyond.",
    )

    def check_size(self) -> None:
        """Refuse more than :data:`MAX_RESULTS` recommendations in one answer (:class:`ConfigError`: 422)."""
        if len(self.item_ids) * self.k > MAX_RESULTS:
            raise ConfigError(
                f"{len(self.item_ids):,} items x k={self.k} asks for more than {MAX_RESULTS:,} recommendations; "
                "split the request or lower k"
            )


class BatchResponse(BaseModel):
    """One :class:`SimilarResponse` per query item, in request order."""

    results: list[SimilarResponse]


class SessionRequest(_Filters):
    """A session (or playlist), oldest item first."""

    items: list[ItemId] = Field(min_length=1, max_length=MAX_BATCH)
    recency_decay: float | None = Field(
        None, gt=0, le=1, description="Item a steps before the last weighs recency_decay**a; null: equal weights."
    )


class SessionResponse(BaseModel):
    """Recommendations for a session; its own items are never recommended."""

    items: list[str]
    fallback: bool
    recommendations: list[Neighbour]


class Health(BaseModel):
    """What is being served."""

    status: Literal["ok"] = "ok"
    model: str = Field(description="The model location, as given at start.")
    n_items: int
    n_cold: int = Field(description="Items whose vectors came from their metadata (recsys add-items).")
    search_mode: SearchMode
    loaded_at: datetime
    reloads: int = Field(description="Successful reloads since start.")


class _Error(BaseModel):
    detail: str


# -------------------------------------------------------------------- model
@dataclass(frozen=True)
class _Served:
    recommender: Recommender
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class ModelHolder:
    """The model being served; :meth:`reload` swaps in a fresh one atomically.

    Parameters
    ----------
    uri
        Model location (directory, run id, ``runs:/`` or ``models:/`` URI).
    index
        Search strategy of the :class:`Recommender`.
    """

    def __init__(self, uri: str, *, index: IndexKind = "auto") -> None:
        self.uri = uri
        self.index: IndexKind = index
        self.reloads = 0
        self._served: _Served | None = None
        self._reload_lock = asyncio.Lock()

    def load(self) -> Recommender:
        """Load and prepare the model now behind :attr:`uri` (blocking)."""
        return Recommender.load(self.uri, index=self.index).prepare()

    def set(self, recommender: Recommender) -> None:
        """Serve ``recommender`` from now on."""
        self._served = _Served(recommender)

    @property
    def recommender(self) -> Recommender:
        """The model answering new requests."""
        if self._served is None:
            raise RuntimeError("no model loaded yet")
        return self._served.recommender

    def health(self) -> Health:
        """The :class:`Health` of what is served now."""
        served = self._served
        if served is None:
            raise RuntimeError("no model loaded yet")
        return Health(
            model=self.uri,
            n_items=len(served.recommender),
            n_cold=len(served.recommender.cold_item_ids),
            search_mode=served.recommender.search_mode,
            loaded_at=served.loaded_at,
            reloads=self.reloads,
        )

    async def reload(self) -> Health:
        """Load and prepare the model in a worker thread, then swap it in.

        Requests keep being answered by the old model meanwhile; concurrent
        reloads run one after the other.

        Raises
        ------
        RecsysError
            If the model cannot be loaded (the old one stays).
        """
        async with self._reload_lock:
            fresh = await run_in_threadpool(self.load)
            self.set(fresh)
            self.reloads += 1
            await run_in_threadpool(gc.collect)  # the replaced model goes now, not at some later collection
            return self.health()


def _reload_on_sighup(holder: ModelHolder) -> Callable[[], None]:
    """Make ``SIGHUP`` reload the model; returns the function that undoes it.

    Signal handlers can only be set from the main thread (not, say, when the
    server runs in a test's thread); there it does nothing.
    """
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[Any]] = set()

    async def reload() -> None:
        try:
            health = await holder.reload()
        except RecsysError as error:
            _log.error("reload on SIGHUP failed, still serving the previous model: %s", error)
        else:
            _log.warning("reloaded %s on SIGHUP: %d items", health.model, health.n_items)

    def on_signal() -> None:
        task = loop.create_task(reload())
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, on_signal)
    return lambda: loop.remove_signal_handler(signal.SIGHUP)


# ---------------------------------------------------------------- responses
def _json(payload: dict[str, Any]) -> Response:
    """Serialise without re-validating (the schemas above document the shape)."""
    return Response(json.dumps(payload, separators=(",", ":")).encode(), media_type="application/json")


def _neighbours(ids: np.ndarray, scores: np.ndarray, cold: np.ndarray) -> list[dict[str, Any]]:
    """``[{"item_id", "score", "cold"}]`` without padding, scores rounded to 6 decimals (float32 holds about 7 digits)."""
    return [
        {"item_id": item, "score": score, "cold": flag}
        for item, score, flag in zip(ids.tolist(), np.round(scores.astype(np.float64), 6).tolist(), cold.tolist())
        if item is not None
    ]


def _batch_payload(item_ids: list[str], result: Recommendations) -> dict[str, Any]:
    ids, scores = result
    fallback = result.fallback.tolist()  # type: ignore[union-attr]
    return {
        "results": [
            {"item_id": item, "fallback": fallback[i], "recommendations": _neighbours(ids[i], scores[i], result.cold[i])}
            for i, item in enumerate(item_ids)
        ]
    }


async def _unknown_item(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=404)


async def _bad_value(request: Request, error: Exception) -> JSONResponse:
    """A :class:`ConfigError` (a value the model cannot answer) is a 422 shaped like FastAPI's own."""
    where = "query" if request.method == "GET" else "body"
    return JSONResponse({"detail": [{"type": "value_error", "loc": [where], "msg": str(error)}]}, status_code=422)


async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    """FastAPI answers 400 to a body it cannot decode (not UTF-8, say): make it the 422 of any malformed body."""
    if error.status_code == 400:
        invalid = RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "the body is not valid UTF-8 JSON", "input": None}]
        )
        return await request_validation_exception_handler(request, invalid)
    return await http_exception_handler(request, error)


# ---------------------------------------------------------------------- app
def create_app(
    model_uri: str,
    *,
    index: IndexKind = "auto",
    recommender: Recommender | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """The REST application.

    Parameters
    ----------
    model_uri
        Model location; loaded at start unless ``recommender`` is given, and
        loaded again by each reload.
    index
        Search strategy of the loaded :class:`Recommender`.
    recommender
        An already loaded (and preferably prepared) model to serve first.
    admin_token
        If given, ``POST /reload`` needs ``Authorization: Bearer <admin_token>``
        (401 otherwise). :func:`serve` refuses a non-loopback host without one.
    """
    holder = ModelHolder(model_uri, index=index)
    if recommender is not None:
        holder.set(recommender)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if recommender is None:
            holder.set(await run_in_threadpool(holder.load))
        undo = _reload_on_sighup(holder)
        try:
            yield
        finally:
            undo()

    app = FastAPI(
        title="recsys",
        summary="item2vec recommendations: similar items and next items for a session.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.admin_token = admin_token
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_exception_handler(UnknownItemError, _unknown_item)
    app.add_exception_handler(ConfigError, _bad_value)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    too_large = {413: {"model": _Error, "description": f"Request body over {MAX_BODY_BYTES:,} bytes."}}
    unknown = {404: {"model": _Error, "description": "Unknown item (with on_unknown=error)."}}

    @app.get("/similar/{item_id:path}", response_model=SimilarResponse, responses=unknown)
    async def similar(
        item_id: Annotated[str, Path(max_length=MAX_ID_LENGTH, description="Query item.")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="Number of recommendations.")] = 10,
        on_unknown: OnUnknown = "error",
        relation: Annotated[Relation | None, Query(description=_RELATION_HELP)] = None,
        rank: Annotated[Rank | None, Query(description=_RANK_HELP)] = None,
    ) -> Response:
        """The ``k`` best items for one item by ``relation`` (never the item itself)."""
        model = holder.recommender
        options = {"on_unknown": on_unknown, "relation": relation, "rank": rank}
        if model.search_mode_of(relation, rank) == "exact":  # a whole-catalogue product: keep the event loop free
            result = await run_in_threadpool(model.recommend, item_id, k, **options)
        else:
            result = model.recommend(item_id, k, **options)
        ids, scores = result
        return _json({"item_id": item_id, "fallback": result.fallback,
                      "recommendations": _neighbours(ids, scores, result.cold)})

    @app.post("/similar", response_model=BatchResponse, responses={**unknown, **too_large})
    async def similar_many(request: BatchRequest) -> Response:
        """The best items by ``relation`` for each of several items."""
        request.check_size()
        result = await run_in_threadpool(
            holder.recommender.recommend_many, request.item_ids, request.k, **request.filters()
        )
        return _json(_batch_payload(request.item_ids, result))

    @app.post("/session", response_model=SessionResponse, responses={**unknown, **too_large})
    async def session(request: SessionRequest) -> Response:
        """Items for a session: the (recency-weighted) mean of its items' query vectors, scored by ``relation``,
        ordered by the ranking stage's blend for sessions where the model has one (``rank``)."""
        result = await run_in_threadpool(
            holder.recommender.for_session,
            request.items,
            request.k,
            recency_decay=request.recency_decay,
            **request.filters(),
        )
        ids, scores = result
        return _json({"items": request.items, "fallback": result.fallback,
                      "recommendations": _neighbours(ids, scores, result.cold)})

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        """What is being served, and since when."""
        return holder.health()

    reload_responses: dict[int | str, dict[str, Any]] = {
        500: {"model": _Error, "description": "The model could not be loaded; the previous one is still served."},
        **too_large,
    }
    guards = []
    if admin_token is not None:
        guards.append(Depends(admin_token_check(admin_token)))
        reload_responses[401] = {"model": _Error, "description": "Missing or wrong admin token."}

    @app.post("/reload", response_model=Health, responses=reload_responses, dependencies=guards)
    async def reload() -> Health:
        """Load the model now behind the model location and swap it in (requests in flight finish on the old one)."""
        try:
            return await holder.reload()
        except RecsysError as error:
            raise HTTPException(500, f"reload failed, still serving the previous model: {error}") from None

    return app


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run ``app`` with uvicorn until interrupted (loopback only by default; no access log).

    Raises
    ------
    ConfigError
        If ``host`` is not loopback and ``app`` has no admin token (:func:`recsys.guard.check_exposure`).
    """
    import uvicorn

    check_exposure(host, getattr(app.state, "admin_token", None))
    _pin_mmap_threshold()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def _pin_mmap_threshold(size: int = 128 * 1024) -> None:
    """Serve every allocation of ``size`` bytes or more with its own mapping, returned to the OS when freed.

    glibc raises this threshold each time a large block is freed, after which
    a model's arrays come from per-thread heaps that keep their peak: the
    server's memory crept up by 15-20% over a dozen reloads
    (``tests/test_soak.py``), and stays flat with the threshold pinned at
    its default. Does nothing where the C library is not glibc.
    """
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(_M_MMAP_THRESHOLD, size)
    except (OSError, AttributeError):
        pass
