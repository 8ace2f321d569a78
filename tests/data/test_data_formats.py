"""Every source format on handmade tiny files, through ``prepare_dataset`` and ``load_prepared``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
from data_helpers import tiny_sequences, write_dataset

from distillrec.data import load_prepared, prepare_dataset


def _histories(frame: pd.DataFrame) -> list[tuple[list[int], int]]:
    return [
        (list(map(int, h)), int(n))
        for h, n in zip(frame["history"], frame["next_item"], strict=True)
    ]


def _all(data) -> pd.DataFrame:
    return pd.concat([data.train, data.val, data.test]).sort_values("example_id")


def test_sequences_format_ids_titles_and_examples(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    out = prepare_dataset(config, raw_dir=tmp_path / "raw", out_dir=tmp_path / "out")
    data = load_prepared(out)
    assert data.items["raw_id"].tolist() == ["a", "b", "c", "d"]
    assert data.items["title"].tolist() == ["Tom & Jerry", "Two spaces", "C game", "Déjà vu"]
    assert data.meta.num_users == 3 and data.meta.num_items == 4 and data.meta.padding_id == 4
    examples = _all(data)
    # u1: a b c d -> 3 examples; u2: b c -> 1; u3: d a b c a -> 4 (a repeat stays)
    assert len(examples) == 8
    assert _histories(examples[examples.user_id == 2]) == [
        ([3], 0),
        ([3, 0], 1),
        ([3, 0, 1], 2),
        ([3, 0, 1, 2], 0),
    ]
    assert data.meta.split["rule"] == "per_user_ratio"
    assert data.meta.source["sha256"].keys() == {"sequences.tsv", "items.tsv"}


def test_movielens_100k_format_latin1_and_time_order(tmp_path: Path):
    config = {
        "name": "tiny-ml",
        "format": "movielens-100k",
        "encoding": "latin-1",
        "files": {"ratings": {"path": "u.data"}, "items": {"path": "u.item"}},
        "split": {"protocol": "leave_one_out"},
    }
    # user 7 rates items 2, 10, 1 at times 30, 10, 20 (file order is not time order); ties stable
    ratings = "7\t2\t5\t30\n7\t10\t3\t10\n7\t1\t4\t20\n8\t1\t4\t5\n8\t2\t4\t5\n"
    items = "1|Caf\xe9 (1995)|01-Jan-1995||http://x|0|1\n2|B (1996)|x||y|0\n10|Ten|x||y|1\n"
    path = write_dataset(tmp_path, config, {"u.data": ratings, "u.item": items.encode("latin-1")})
    data = load_prepared(prepare_dataset(path, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o"))
    assert data.items["raw_id"].tolist() == ["1", "2", "10"]  # numeric order
    assert data.items["title"][0] == "Café (1995)"
    examples = _all(data)
    assert _histories(examples) == [([2], 0), ([2, 0], 1), ([0], 1)]
    assert examples["timestamp"].tolist() == [20, 30, 5]
    assert len(data.test) == 2 and len(data.val) == 1  # leave-one-out per user


def test_movielens_dat_format(tmp_path: Path):
    config = {
        "name": "tiny-ml1m",
        "format": "movielens-dat",
        "encoding": "latin-1",
        "files": {"ratings": {"path": "ratings.dat"}, "items": {"path": "movies.dat"}},
    }
    ratings = "1::3::5::100\n1::4::5::101\n2::3::1::102\n2::4::1::103\n"
    movies = '3::Three (1990)::Drama\n4::Four: the "Sequel" (1991)::Comedy|Drama\n'
    path = write_dataset(tmp_path, config, {"ratings.dat": ratings, "movies.dat": movies})
    data = load_prepared(prepare_dataset(path, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o"))
    assert data.items["title"].tolist() == ["Three (1990)", 'Four: the "Sequel" (1991)']
    assert _histories(_all(data)) == [([0], 1), ([0], 1)]


def test_amazon_2018_format_dedupe_drop_untitled_and_k_core(tmp_path: Path):
    config = {
        "name": "tiny-amazon",
        "format": "amazon-2018",
        "dedupe": True,
        "k_core": 2,
        "files": {"ratings": {"path": "Games.csv"}, "items": {"path": "meta.json.gz"}},
    }
    ratings = (
        "I1,U1,5.0,100\nI2,U1,4.0,200\nI1,U1,5.0,300\n"  # repeated I1 review is dropped
        "I1,U2,3.0,100\nI2,U2,3.0,150\nI3,U2,1.0,160\n"  # I3 has no title -> dropped
        "I4,U3,2.0,100\n"  # U3 then has 1 interaction -> removed by the 2-core
    )
    meta = "\n".join(
        json.dumps(r)
        for r in [
            {"asin": "I1", "title": "One &amp; Only"},
            {"asin": "I2", "title": "Two"},
            {"asin": "I3", "title": ""},
            {"asin": "I4", "title": "Four"},
        ]
    )
    path = write_dataset(
        tmp_path, config, {"Games.csv": ratings, "meta.json.gz": gzip.compress(meta.encode())}
    )
    data = load_prepared(prepare_dataset(path, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o"))
    assert data.items["title"].tolist() == ["One & Only", "Two"]
    assert data.meta.num_users == 2 and data.meta.num_interactions == 4
    assert _histories(_all(data)) == [([0], 1), ([0], 1)]


def test_generic_interactions_format_without_timestamps(tmp_path: Path):
    config = {
        "name": "tiny-inter",
        "format": "interactions",
        "separator": ";",
        "columns": {"user": "who", "item": "what", "timestamp": None, "items_id": "id"},
        "files": {"ratings": {"path": "log.csv"}, "items": {"path": "items.csv"}},
    }
    files = {"log.csv": "who;what\nx;p\nx;q\nx;p\n", "items.csv": "id;title\np;Pea\nq;Queue\n"}
    path = write_dataset(tmp_path, config, files)
    data = load_prepared(prepare_dataset(path, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o"))
    assert _histories(_all(data)) == [([0], 1), ([0, 1], 0)]
    assert data.meta.split["timestamps"] == "position"


def test_rerun_is_deterministic_and_replaces_atomically(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    first = load_prepared(prepare_dataset(config, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o"))
    second = load_prepared(
        prepare_dataset(config, raw_dir=tmp_path / "raw", out_dir=tmp_path / "o")
    )
    assert first.fingerprint == second.fingerprint
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["o", "raw", "tiny-seq.yaml"]
