"""Training speed of the forward context (numba kernel) against gensim's symmetric skip-gram, same corpus.

    python benchmarks/bench_directional.py [--epochs 5] [--repeat 2]

Corpora: the shipped synthetic playlists, 30,000 larger synthetic
playlists, and the yes playlists when ../shared/data is present. For each,
trains both contexts with the same options (64 dimensions, window 5, 10
negatives, no down-sampling) on 1 and 2 workers, in turns, and reports
items read per second of training (words/s, as gensim counts them) and the
ratio forward / symmetric measured in the same run. The forward kernel
trains fewer pairs per item (the successors only, sampled by their 1/d**2
weight); the ratio is the speed a user sees for the same epochs.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import polars as pl
from _common import write_results

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data.readers import read_playlists
from recsys.data.synthetic import SynthConfig, generate_playlists

ROOT = Path(__file__).resolve().parents[1]
YES = ROOT.parent / "shared" / "data" / "yes_playlists" / "playlist_test_1000.txt"


def _corpora() -> dict[str, pl.DataFrame]:
    corpora = {
        "synthetic (shipped)": generate_playlists(SynthConfig())[0],
        "synthetic x10": generate_playlists(SynthConfig(n_playlists=30_000, seed=3))[0],
    }
    if YES.exists():
        corpora["yes playlists"] = read_playlists(YES)
    return corpora


def _words_per_second(sequences: pl.DataFrame, context: str, workers: int, epochs: int) -> float:
    config = Item2VecConfig(context=context, epochs=epochs, alpha=0.025, sample=0.0, relation="next",
                            workers=workers)
    vectors = train(sequences, config)
    reports = vectors.epochs[1:] if len(vectors.epochs) > 1 else vectors.epochs  # the first epoch warms up
    return sum(r.words for r in reports) / sum(r.seconds for r in reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    train(generate_playlists(SynthConfig(n_playlists=50))[0], Item2VecConfig(context="forward", epochs=1))  # compile
    rows = []
    for name, sequences in _corpora().items():
        words = int(sequences["items"].list.len().sum())
        for workers in (1, 2):
            for repeat in range(args.repeat):
                symmetric = _words_per_second(sequences, "symmetric", workers, args.epochs)
                forward = _words_per_second(sequences, "forward", workers, args.epochs)
                rows.append({"corpus": name, "words": words, "workers": workers, "repeat": repeat,
                             "symmetric_wps": symmetric, "forward_wps": forward, "ratio": forward / symmetric})
                print(f"{name:20s} {words:>9,} items  workers {workers}  gensim symmetric {symmetric:>10,.0f} w/s"
                      f"  forward {forward:>10,.0f} w/s  ratio {forward / symmetric:.2f}", flush=True)
    write_results("directional", {"epochs": args.epochs, "rows": rows})


if __name__ == "__main__":
    main()
