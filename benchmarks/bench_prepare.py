"""Preparation throughput and peak memory: streaming polars against plain pandas.

For each size, the synthetic events log (``recsys data synth --events N
--format parquet``, generated once under ``--data-dir``) is sessionized into
a sequences Parquet file by

* ``recsys``: :func:`recsys.data.prepare.prepare_events` with a cold cache
  (content digest, ``read_events`` checks, streaming sessionize to Parquet);
* ``pandas``: the same sessionizing written with plain pandas (sort, gaps,
  cumulative sums, group to lists), the simplest thing a user could do.

Each run is a subprocess, so its peak memory is its own (``/usr/bin/time``'s
maximum resident set size); the two alternate and each runs ``--repeat`` times, so that the ratio
is measured in the same conditions. Results go to
``benchmarks/results/prepare.json``.

    .venv/bin/python benchmarks/bench_prepare.py --sizes 1000000 10000000 50000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_results  # noqa: E402

_OURS = """
import json, sys, time
from pathlib import Path
from recsys.config import SessionConfig
from recsys.data.prepare import prepare_events
from recsys.data.readers import read_events
path, cache = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
read_events(path)
validate = time.perf_counter() - started
started = time.perf_counter()
prepared = prepare_events(path, read=read_events, sessions=SessionConfig(), settings={}, cache_dir=cache)
print(json.dumps({"seconds": time.perf_counter() - started, "validate_seconds": validate,
                  "sequences": prepared.n_sequences, "output": str(prepared.path)}))
"""

_PANDAS = """
import json, sys, time
import pandas as pd
path, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
events = pd.read_parquet(path)
events["event_index"] = range(len(events))
events = events.sort_values(["user_id", "timestamp", "event_index"], kind="stable", ignore_index=True)
new_user = events["user_id"].ne(events["user_id"].shift())
start = new_user | (events["timestamp"].diff() > pd.Timedelta(minutes=30))
events["session"] = start.groupby(events["user_id"]).cumsum()
repeat = ~start & events["item_id"].eq(events["item_id"].shift())
events = events[~repeat]
sequences = events.groupby(["user_id", "session"], sort=True)["item_id"].agg(list).reset_index()
sequences = sequences[sequences["item_id"].str.len() >= 2]
sequences = pd.DataFrame({"sequence_id": sequences["user_id"] + ":" + sequences["session"].astype(str),
                          "items": sequences["item_id"]})
sequences.to_parquet(out, index=False)
print(json.dumps({"seconds": time.perf_counter() - started, "sequences": len(sequences), "output": out}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; return its JSON line plus wall time and its peak RSS (MiB)."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-c", code, *args],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(wall_seconds=wall, peak_rss_mb=int(done.stderr.strip().splitlines()[-1]) / 1024)
    return result


def _events(data_dir: Path, size: int) -> Path:
    path = data_dir / f"events_{size}.parquet"
    if not path.exists():
        from recsys.data.synthetic_events import EventsSynthConfig, write_events

        write_events(path, EventsSynthConfig(n_events=size))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--pandas-max", type=int, default=10_000_000,
                        help="Largest size also run with pandas (it needs far more memory).")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "recsys-bench")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        path = _events(args.data_dir, size)
        for attempt in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=args.data_dir) as scratch:
                ours = _run(_OURS, str(path), scratch)
                row = {"events": size, "attempt": attempt + 1, "recsys": ours}
                if size <= args.pandas_max:
                    out = str(Path(scratch) / "pandas.parquet")
                    theirs = _run(_PANDAS, str(path), out)
                    row["pandas"] = theirs
                    row["speedup"] = theirs["seconds"] / ours["seconds"]
                    row["identical"] = _identical(ours["output"], out)
                rows.append(row)
                print(json.dumps(_summary(row)), flush=True)
    path = write_results("prepare", {"runs": rows, "summary": [_summary(r) for r in rows]})
    print(f"wrote {path}")


def _identical(ours: str, theirs: str) -> bool:
    import polars as pl

    return pl.read_parquet(ours).equals(pl.read_parquet(theirs).cast({"items": pl.List(pl.String)}))


def _summary(row: dict) -> dict:
    ours = row["recsys"]
    summary = {
        "events": row["events"],
        "attempt": row["attempt"],
        "recsys_seconds": round(ours["seconds"], 2),
        "recsys_events_per_s": round(row["events"] / ours["seconds"]),
        "recsys_peak_rss_mb": round(ours["peak_rss_mb"]),
        "read_events_check_seconds": round(ours["validate_seconds"], 2),
    }
    if "pandas" in row:
        theirs = row["pandas"]
        summary.update(
            pandas_seconds=round(theirs["seconds"], 2),
            pandas_events_per_s=round(row["events"] / theirs["seconds"]),
            pandas_peak_rss_mb=round(theirs["peak_rss_mb"]),
            speedup=round(row["speedup"], 2),
            identical=row["identical"],
        )
    return summary


if __name__ == "__main__":
    main()
