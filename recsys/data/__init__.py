"""Reading, sessionizing, splitting and generating item sequences.

:func:`load_training_data` is the one way in for a training run: a pipeline
config in, training and test sequences (and metadata) out.
"""

from recsys.data.datasets import read_metadata, read_movielens_items, read_yes_metadata
from recsys.data.load import PreparedData, load_training_data
from recsys.data.readers import (
    read_events,
    read_metadata_csv,
    read_mpd,
    read_playlists,
    read_song_hash,
)
from recsys.data.sessions import prune_rare_items, sessionize
from recsys.data.split import next_item_pairs, random_split, time_split
from recsys.data.synthetic import SynthConfig, generate_playlists, two_cluster_corpus, write_synthetic

__all__ = [
    "PreparedData",
    "SynthConfig",
    "generate_playlists",
    "load_training_data",
    "next_item_pairs",
    "prune_rare_items",
    "random_split",
    "read_events",
    "read_metadata",
    "read_metadata_csv",
    "read_movielens_items",
    "read_mpd",
    "read_playlists",
    "read_song_hash",
    "read_yes_metadata",
    "sessionize",
    "time_split",
    "two_cluster_corpus",
    "write_synthetic",
]
