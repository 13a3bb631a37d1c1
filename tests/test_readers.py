"""Tests of recsys.data.readers: round-trips, every bad input, and the real data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.datasets import read_metadata
from recsys.data.readers import (
    guess_format,
    read_events,
    read_metadata_csv,
    read_mpd,
    read_playlists,
    read_song_hash,
)
from recsys.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sequences(rows: dict[str, list[str]]) -> pl.DataFrame:
    """A sequences-contract frame from ``{sequence_id: items}``."""
    return pl.DataFrame(
        {"sequence_id": list(rows), "items": list(rows.values())}, schema=SEQUENCES_SCHEMA
    )


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ---------------------------------------------------------------- playlists


class TestReadPlaylists:
    def test_round_trip_with_trailing_spaces_and_blank_lines(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", "1 2 3 \n\n4\t5  6\r\n  7 8\n")
        expected = sequences({"1": ["1", "2", "3"], "3": ["4", "5", "6"], "4": ["7", "8"]})
        assert_frame_equal(read_playlists(path), expected)

    def test_skip_lines_keeps_file_line_numbers(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", "id1 id2 id3\n5 3 1\na b\nc d \n")
        expected = sequences({"3": ["a", "b"], "4": ["c", "d"]})
        assert_frame_equal(read_playlists(path, skip_lines=2), expected)

    def test_single_item_lines_dropped_with_warning(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", "a b\nsolo \nc d\nalone\n")
        with pytest.warns(UserWarning, match=r"dropped 2 line\(s\).*line 2"):
            result = read_playlists(path)
        assert result["sequence_id"].to_list() == ["1", "3"]

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="file not found"):
            read_playlists(tmp_path / "nope.txt")

    @pytest.mark.parametrize("content", ["", "\n \n"])
    def test_empty_file(self, tmp_path: Path, content: str) -> None:
        with pytest.raises(DataError, match="empty file"):
            read_playlists(write(tmp_path, "p.txt", content))

    def test_skipping_every_line_is_empty(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="after skipping 2 line"):
            read_playlists(write(tmp_path, "p.txt", "a b\nc d\n"), skip_lines=2)

    def test_only_single_items(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", "a\nb\n")
        with pytest.raises(DataError, match="no line with at least 2 items"):
            with pytest.warns(UserWarning):
                read_playlists(path)

    def test_non_utf8_names_the_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", b"a b\nc d\ncaf\xe9 x\n")
        with pytest.raises(DataError) as info:
            read_playlists(path)
        assert info.value.line == 3
        assert "p.txt:3" in str(info.value)
        assert "re-encode the file as UTF-8" in str(info.value)

    def test_utf8_bom_ignored(self, tmp_path: Path) -> None:
        path = write(tmp_path, "p.txt", "\ufeffa b\n".encode())
        assert read_playlists(path)["items"].to_list() == [["a", "b"]]


# ---------------------------------------------------------------- events


def events_frame(rows: list[tuple[str, str, datetime]]) -> pl.DataFrame:
    """Expected events contract frame for ``(user, item, time)`` rows in file order."""
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "timestamp": [r[2] for r in rows],
            "event_index": list(range(len(rows))),
        },
        schema={
            "user_id": pl.String,
            "item_id": pl.String,
            "timestamp": pl.Datetime("us"),
            "event_index": pl.UInt64,
        },
    )


class TestReadEvents:
    def test_int_seconds_and_int_ids(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\n7,123,0\n8,007,86400\n")
        result = read_events(path)
        assert isinstance(result, pl.LazyFrame)
        expected = events_frame(
            [("7", "123", datetime(1970, 1, 1)), ("8", "007", datetime(1970, 1, 2))]
        )
        assert_frame_equal(result.collect(), expected)

    def test_fractional_seconds_keep_microseconds(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.tsv", "SessionId\tItemId\tTime\n3\t21\t1396437466.940123\n")
        result = read_events(
            path, user_column="SessionId", item_column="ItemId", time_column="Time"
        ).collect()
        assert result["timestamp"][0] == datetime(2014, 4, 2, 11, 17, 46, 940123)

    def test_milliseconds(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\nu,i,1500\n")
        result = read_events(path, time_unit="ms").collect()
        assert result["timestamp"][0] == datetime(1970, 1, 1, 0, 0, 1, 500000)

    def test_iso_strings(self, tmp_path: Path) -> None:
        content = (
            "user_id,item_id,timestamp\n"
            "u,a,2024-01-31T12:00:00\n"
            "u,b,2024-01-31 12:00:01.25\n"
            "u,c,2024-01-31\n"
            "u,d,2024-01-31T13:00:00+01:00\n"
            "u,e,2024-01-31T12:00:00Z\n"
        )
        result = read_events(write(tmp_path, "e.csv", content)).collect()
        assert result["timestamp"].to_list() == [
            datetime(2024, 1, 31, 12),
            datetime(2024, 1, 31, 12, 0, 1, 250000),
            datetime(2024, 1, 31),
            datetime(2024, 1, 31, 12),
            datetime(2024, 1, 31, 12),
        ]

    def test_iso_unit_rejects_numbers(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\nu,i,1700000000\n")
        with pytest.raises(DataError, match="1700000000"):
            read_events(path, time_unit="iso")

    def test_parquet_with_int_ids_and_float_seconds(self, tmp_path: Path) -> None:
        path = tmp_path / "e.parquet"
        pl.DataFrame({"u": [1, 2], "i": [10, 20], "t": [0.5, 60.0]}).write_parquet(path)
        result = read_events(path, user_column="u", item_column="i", time_column="t").collect()
        expected = events_frame(
            [
                ("1", "10", datetime(1970, 1, 1, 0, 0, 0, 500000)),
                ("2", "20", datetime(1970, 1, 1, 0, 1)),
            ]
        )
        assert_frame_equal(result, expected)

    def test_parquet_datetime_column(self, tmp_path: Path) -> None:
        path = tmp_path / "e.pq"
        when = datetime(2024, 1, 31, 12)
        frame = pl.DataFrame({"user_id": ["u"], "item_id": ["i"], "timestamp": [when]})
        frame.with_columns(pl.col("timestamp").dt.cast_time_unit("ms")).write_parquet(path)
        assert read_events(path).collect()["timestamp"].to_list() == [when]

    def test_custom_separator(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.dat", "user_id;item_id;timestamp\nu;i;0\n")
        assert read_events(path, separator=";").collect().height == 1

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="file not found"):
            read_events(tmp_path / "nope.csv")

    @pytest.mark.parametrize("content", ["", "user_id,item_id,timestamp\n"])
    def test_empty_file(self, tmp_path: Path, content: str) -> None:
        with pytest.raises(DataError, match="empty file"):
            read_events(write(tmp_path, "e.csv", content))

    def test_missing_column_lists_columns(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user,item_id,timestamp\nu,i,0\n")
        with pytest.raises(DataError) as info:
            read_events(path)
        message = str(info.value)
        assert "'user_id'" in message
        assert "['user', 'item_id', 'timestamp']" in message
        assert "--user-column" in message

    def test_unparseable_timestamp_names_value_and_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\nu,a,0\nu,b,yesterday\nu,c,x\n")
        with pytest.raises(DataError) as info:
            read_events(path)
        error = info.value
        assert error.line == 3
        assert error.column == "timestamp"
        assert "'yesterday'" in str(error)
        assert "ISO 8601" in str(error)

    def test_missing_timestamp(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\nu,a,0\nu,b,\n")
        with pytest.raises(DataError, match=r"e\.csv:3: column 'timestamp': missing timestamp"):
            read_events(path)

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("user_id,item_id,timestamp\nu,a,0\n,b,1\n", "e.csv:3: column 'user_id': missing user"),
            ("user_id,item_id,timestamp\nu,a,0\nu,b,1\nu,,2\n", "e.csv:4: column 'item_id'"),
        ],
    )
    def test_null_ids(self, tmp_path: Path, content: str, message: str) -> None:
        with pytest.raises(DataError, match=message):
            read_events(write(tmp_path, "e.csv", content))

    def test_parquet_bad_row_names_the_row(self, tmp_path: Path) -> None:
        path = tmp_path / "e.parquet"
        frame = pl.DataFrame({"user_id": ["u", None], "item_id": ["a", "b"], "timestamp": [0, 1]})
        frame.write_parquet(path)
        with pytest.raises(DataError, match="missing user id in row 2"):
            read_events(path)

    def test_non_utf8_csv_is_a_data_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", b"user_id,item_id,timestamp\nu,caf\xe9,0\n")
        with pytest.raises(DataError, match="utf-8"):
            read_events(path)

    def test_ragged_csv_is_a_data_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "e.csv", "user_id,item_id,timestamp\nu,a,0,extra\n")
        with pytest.raises(DataError, match="cannot read the file"):
            read_events(path)

    def test_unknown_suffix(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="unknown events file type"):
            read_events(write(tmp_path, "e.json", "{}"))


# ---------------------------------------------------------------- Spotify MPD


def mpd_slice(*playlists: dict) -> str:
    return json.dumps({"info": {}, "playlists": list(playlists)}, indent=1)


def track(uri: str, pos: int | None = None, name: str = "t") -> dict:
    data = {"track_uri": uri, "track_name": name, "artist_name": "a", "album_name": "b"}
    return data if pos is None else {"pos": pos, **data}


class TestReadMpd:
    def test_round_trip_ordered_by_pos(self, tmp_path: Path) -> None:
        content = mpd_slice(
            {"pid": 7, "name": "x", "tracks": [track("s:2", 1, "two"), track("s:1", 0, "one")]},
            {"pid": 8, "tracks": [track("s:1"), track("s:3")]},
        )
        result, metadata = read_mpd(write(tmp_path, "mpd.slice.0-999.json", content))
        assert_frame_equal(result, sequences({"7": ["s:1", "s:2"], "8": ["s:1", "s:3"]}))
        assert metadata.columns == ["item_id", "title", "artist", "album"]
        assert metadata["item_id"].to_list() == ["s:2", "s:1", "s:3"]
        assert metadata.filter(pl.col("item_id") == "s:1")["title"].item() == "one"

    def test_directory_read_in_name_order(self, tmp_path: Path) -> None:
        write(tmp_path, "b.json", mpd_slice({"pid": 2, "tracks": [track("x"), track("y")]}))
        write(tmp_path, "a.json", mpd_slice({"pid": 1, "tracks": [track("x"), track("z")]}))
        result, _ = read_mpd(tmp_path)
        assert result["sequence_id"].to_list() == ["1", "2"]

    def test_short_playlists_dropped_with_warning(self, tmp_path: Path) -> None:
        content = mpd_slice(
            {"pid": 1, "tracks": [track("x")]}, {"pid": 2, "tracks": [track("x"), track("y")]}
        )
        with pytest.warns(UserWarning, match="dropped 1 playlist"):
            result, _ = read_mpd(write(tmp_path, "m.json", content))
        assert result["sequence_id"].to_list() == ["2"]

    def test_malformed_json_names_line_and_column(self, tmp_path: Path) -> None:
        path = write(tmp_path, "m.json", '{"playlists": [\n  {"pid": 1,,}\n]}')
        with pytest.raises(DataError) as info:
            read_mpd(path)
        assert info.value.line == 2
        assert "column 13" in str(info.value)

    def test_missing_key_names_key_and_playlist(self, tmp_path: Path) -> None:
        content = mpd_slice({"pid": 1, "tracks": [track("x"), track("y")]}, {"pid": 2})
        with pytest.raises(DataError, match=r"playlists\[1\] has no 'tracks' key"):
            read_mpd(write(tmp_path, "m.json", content))

    def test_missing_track_uri(self, tmp_path: Path) -> None:
        content = mpd_slice({"pid": 1, "tracks": [track("x"), {"pos": 1}]})
        with pytest.raises(DataError, match=r"playlists\[0\]\.tracks\[1\] has no 'track_uri' key"):
            read_mpd(write(tmp_path, "m.json", content))

    def test_missing_playlists_key(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="no 'playlists' key"):
            read_mpd(write(tmp_path, "m.json", "{}"))

    def test_empty_directory(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="no .json files"):
            read_mpd(tmp_path)


# ---------------------------------------------------------------- metadata


class TestReadMetadata:
    def test_song_hash_round_trip(self, tmp_path: Path) -> None:
        content = (
            "0 \tGucci Time (w\\/ Swizz Beatz)\tGucci Mane\n"
            "1 \t\tBoney James\n"
            "2 \t Hit \tA &amp; B\n"
        )
        result = read_song_hash(write(tmp_path, "song_hash.txt", content))
        expected = pl.DataFrame(
            {
                "item_id": ["0", "1", "2"],
                "title": ["Gucci Time (w/ Swizz Beatz)", None, "Hit"],
                "artist": ["Gucci Mane", "Boney James", "A & B"],
            }
        )
        assert_frame_equal(result, expected)

    def test_song_hash_quotes_kept(self, tmp_path: Path) -> None:
        result = read_song_hash(write(tmp_path, "s.txt", '0 \t"Quoted" title\tX\n'))
        assert result["title"].item() == '"Quoted" title'

    @pytest.mark.parametrize("bad_line", ["2 \tonly title", "2 \ta\tb\tc", " \ttitle\tartist"])
    def test_song_hash_bad_line_names_line(self, tmp_path: Path, bad_line: str) -> None:
        path = write(tmp_path, "s.txt", f"0 \ta\tb\n1 \tc\td\n{bad_line}\n")
        with pytest.raises(DataError, match=r"s\.txt:3: expected 3 tab-separated fields"):
            read_song_hash(path)

    def test_song_hash_missing_and_empty(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="file not found"):
            read_song_hash(tmp_path / "nope.txt")
        with pytest.raises(DataError, match="empty file"):
            read_song_hash(write(tmp_path, "s.txt", "\n"))

    def test_csv_renames_id_column(self, tmp_path: Path) -> None:
        path = write(tmp_path, "m.csv", "sku,name,price\n007,Pen,1.5\n8,Ink,2\n007,Dup,3\n")
        result = read_metadata_csv(path, id_column="sku")
        expected = pl.DataFrame(
            {"item_id": ["007", "8"], "name": ["Pen", "Ink"], "price": ["1.5", "2"]}
        )
        assert_frame_equal(result, expected)

    def test_csv_missing_id_column_lists_columns(self, tmp_path: Path) -> None:
        path = write(tmp_path, "m.csv", "sku,name\n1,Pen\n")
        pattern = r"column 'item_id': missing id column.*\['sku', 'name'\]"
        with pytest.raises(DataError, match=pattern):
            read_metadata_csv(path)

    def test_dispatch(self, tmp_path: Path) -> None:
        csv_path = write(tmp_path, "m.csv", "id,title\n1,A\n")
        hash_path = write(tmp_path, "song_hash.txt", "1 \tA\tB\n")
        assert read_metadata(csv_path, id_column="id").columns == ["item_id", "title"]
        assert read_metadata(hash_path).columns == ["item_id", "title", "artist"]
        forced = read_metadata(write(tmp_path, "m.txt", "item_id,x\n1,2\n"), format="csv")
        assert forced.columns == ["item_id", "x"]


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
class TestRealData:
    @pytest.fixture(autouse=True)
    def _need_data(self) -> None:
        if not SHARED_DATA.is_dir():
            pytest.skip(f"{SHARED_DATA} is absent")

    def test_yes_playlists_and_song_hash(self) -> None:
        playlists = read_playlists(SHARED_DATA / "yes_playlists" / "playlist_test_1000.txt")
        assert playlists.height == 1000
        assert playlists["items"].list.len().sum() == 176_510
        songs = read_song_hash(SHARED_DATA / "yes_playlists" / "song_hash.txt")
        assert songs.height == 75_262
        played = playlists["items"].explode().unique()
        assert played.is_in(songs["item_id"].implode()).all()

    def test_rsc15_clicks(self) -> None:
        events = read_events(
            SHARED_DATA / "rsc15_100k" / "yoochoose-clicks-100k_train_full.txt",
            user_column="SessionId",
            item_column="ItemId",
            time_column="Time",
        ).collect()
        assert events.height == 70_278
        assert events["user_id"].n_unique() == 17_794
        assert events["item_id"].n_unique() == 2_933
        assert events["timestamp"].dt.year().unique().to_list() == [2014]


def test_the_format_is_guessed_from_the_name_and_a_parquet_files_columns(tmp_path: Path) -> None:
    sequences, events = tmp_path / "prepared.parquet", tmp_path / "clicks.pq"
    pl.DataFrame({"sequence_id": ["s"], "items": [["a", "b"]]}).write_parquet(sequences)
    pl.DataFrame({"user_id": ["u"], "item_id": ["a"], "timestamp": [datetime(2024, 1, 1)]}).write_parquet(events)
    assert guess_format(sequences) == "sequences" and guess_format(events) == "events"
    assert guess_format(tmp_path) == "sequences"  # a directory that `recsys prepare` wrote
    assert [guess_format(tmp_path / name) for name in ("e.csv", "e.TSV", "mpd.slice.json", "lists.txt", "x")] == [
        "events", "events", "mpd", "playlists", "playlists"]
