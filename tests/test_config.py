"""Configs: validation, TOML loading, --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.config import Item2VecConfig, PipelineConfig, load_pipeline_config
from recsys.errors import ConfigError
from recsys.pipeline import default_config_path


def test_default_config_loads_and_finds_data() -> None:
    config = load_pipeline_config(default_config_path())
    assert config.data.name == "synthetic"
    assert config.data.path.name == "playlists.txt"
    assert config.item2vec.sg == 1


def test_overrides_set_item2vec_and_sections() -> None:
    config = load_pipeline_config(
        default_config_path(), overrides=["window=10", "vector_size=32", "split.test_fraction=0.2", "whole_sequence=true"]
    )
    assert (config.item2vec.window, config.item2vec.vector_size) == (10, 32)
    assert config.split.test_fraction == 0.2
    assert config.item2vec.whole_sequence is True
    evaluation = load_pipeline_config(default_config_path(), overrides=[
        "evaluation.session_window=5", "evaluation.baselines=['vsknn']"]).evaluation
    assert (evaluation.session_window, evaluation.baselines) == (5, ("vsknn",))
    assert load_pipeline_config(default_config_path()).evaluation.session_window == 20


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("windw=10", "unknown item2vec option 'windw'"),
        ("nosuch.window=1", "unknown section 'nosuch'"),
        ("window", "expected KEY=VALUE"),
        ("window=-3", "item2vec.window: Input should be greater than 0 (got -3)"),
        ("vector_size=0", "item2vec.vector_size"),
        ("epochs=abc", "item2vec.epochs"),
        ("alpha=0.00001", "min_alpha (0.0001) must not exceed alpha (1e-05)"),
        ("evaluation.session_window=0", "evaluation.session_window: Input should be greater than or equal to 1"),
        ("evaluation.baselines=['vsknn','knn']", "evaluation.baselines"),
    ],
)
def test_bad_overrides_name_the_problem(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_pipeline_config(default_config_path(), overrides=[override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_toml_key_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "x.txt"\n[item2vec]\nwindoww = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown option 'item2vec.windoww'"):
        load_pipeline_config(path)
    path.write_text("[data\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_pipeline_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_pipeline_config(tmp_path / "missing.toml")


def test_configs_are_frozen_and_forbid_extra() -> None:
    with pytest.raises(Exception):
        Item2VecConfig(windw=3)  # type: ignore[call-arg]
    config = Item2VecConfig()
    with pytest.raises(Exception):
        config.window = 3  # type: ignore[misc]
    round_trip = PipelineConfig.model_validate(
        load_pipeline_config(default_config_path()).model_dump(mode="json")
    )
    assert round_trip == load_pipeline_config(default_config_path())
