"""Bad input through the real CLI: exit code 2, one line naming file/line/field, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from data_helpers import tiny_sequences, write_dataset
from typer.testing import CliRunner

from distillrec.cli import app

runner = CliRunner()


def _fails(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _prepare_fails(tmp_path: Path, config: Path, *fragments: str) -> None:
    out = tmp_path / "out"
    _fails(
        ["data", "prepare", str(config), "--raw-dir", str(tmp_path / "raw"), "--out", str(out)],
        *fragments,
    )
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_file(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    (tmp_path / "raw" / "items.tsv").unlink()
    _prepare_fails(tmp_path, config, "items.tsv", "file not found")


def test_wrong_column(tmp_path: Path):
    config = tiny_sequences(tmp_path, sequences="user\titem_ids\nu1\ta b\n")
    _prepare_fails(tmp_path, config, "sequences.tsv", "missing column 'user_id'", "found: user")


def test_non_numeric_id(tmp_path: Path):
    config = {
        "name": "bad-ml",
        "format": "movielens-100k",
        "files": {"ratings": {"path": "u.data"}, "items": {"path": "u.item"}},
    }
    path = write_dataset(
        tmp_path, config, {"u.data": "1\t1\t5\t10\nx\t1\t5\t11\n", "u.item": "1|One|\n"}
    )
    _prepare_fails(tmp_path, path, "u.data line 2", "user 'x' is not an integer")


def test_undecodable_bytes(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    (tmp_path / "raw" / "items.tsv").write_bytes(b"item_id\ttitle\na\tA\nb\t\xff\n")
    _prepare_fails(tmp_path, config, "items.tsv line 3", "0xff", "utf-8")


def test_unknown_item_in_a_sequence(tmp_path: Path):
    config = tiny_sequences(tmp_path, sequences="user_id\titem_ids\nu1\ta b\nu2\tb zz\n")
    _prepare_fails(tmp_path, config, "sequences.tsv line 3", "'zz'", "not in items.tsv")


def test_empty_after_filtering(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "k_core": 10}))
    _prepare_fails(tmp_path, config, "tiny-seq", "no interactions left", "k_core=10")


def test_pinned_checksum_mismatch(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["files"]["items"]["sha256"] = "0" * 64
    config.write_text(yaml.safe_dump(data))
    _prepare_fails(tmp_path, config, "items.tsv", "does not match the pinned")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("../evil", "dataset name"), ("a/b", "dataset name"), ("..", "dataset name")],
)
def test_unsafe_names_in_configs(tmp_path: Path, name: str, fragment: str):
    config = tiny_sequences(tmp_path)
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "name": name}))
    _prepare_fails(tmp_path, config, "field name", fragment)


def test_unsafe_file_name_in_config(tmp_path: Path):
    config = tiny_sequences(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["files"]["items"]["path"] = "../../etc/passwd"
    config.write_text(yaml.safe_dump(data))
    _prepare_fails(tmp_path, config, "files.items.path", "file name")


def test_unknown_dataset_name():
    _fails(["data", "prepare", "no-such-dataset"], "unknown dataset 'no-such-dataset'", "ml-100k")


def test_stats_of_a_folder_that_is_not_prepared(tmp_path: Path):
    _fails(["data", "stats", str(tmp_path)], "no meta.json")
