"""The whole pipeline's config, read from TOML with overrides, and validation with readable errors."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError, model_validator

from recsys.config._base import _Config
from recsys.config._coldstart import ColdStartConfig
from recsys.config._data import DataConfig, SessionConfig, SplitConfig
from recsys.config._evaluation import EvaluationConfig, SelectionConfig
from recsys.config._item2vec import Item2VecConfig
from recsys.config._ranking import RankingConfig
from recsys.config._tracking import TrackingConfig
from recsys.errors import ConfigError

__all__ = [
    "PipelineConfig", "apply_overrides", "load_pipeline_config", "logged_config", "read_toml", "validate_config",
]


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


def _param_value(text: str, annotation: Any) -> Any:
    """A logged param back as a config value: the text itself where the field takes it (numbers, booleans,
    names, paths), else the Python literal it spells (``None``, ``[10, 20]``, ``{'title': 'text'}``)."""
    if text == "None":
        return None
    try:
        TypeAdapter(annotation).validate_python(text)
        return text
    except ValidationError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def logged_config(params: Mapping[str, str], *, exclude: tuple[str, ...] = ("item2vec",)) -> dict[str, dict[str, Any]]:
    """The pipeline config a run logged (:func:`recsys.tracking.log_config`), read back from its params as raw sections.

    Every section of :class:`~recsys.config.PipelineConfig` but ``exclude``,
    each with the options the run logged (options it did not log, say from
    a run older than the option, are left to their defaults).

    Parameters
    ----------
    params
        The run's params (``run.data.params``).
    exclude
        Sections not to read (``item2vec``: its options are bare params, and
        a saved model carries its own).

    Returns
    -------
    dict
        ``{section: {option: value}}``, for :func:`recsys.config.validate_config`.
    """
    raw: dict[str, dict[str, Any]] = {}
    for section, field in PipelineConfig.model_fields.items():
        model = field.annotation
        if section in exclude or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        raw[section] = {
            name: _param_value(params[f"{section}.{name}"], option.annotation)
            for name, option in model.model_fields.items() if f"{section}.{name}" in params
        }
    return raw
