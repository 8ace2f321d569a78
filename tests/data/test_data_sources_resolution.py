"""Where raw files come from: official archive (cached, sha256-checked), mirror, --raw-dir."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import yaml
from data_helpers import tiny_sequences

from distillrec.config import load_config
from distillrec.data import DatasetConfig, load_prepared, prepare_dataset
from distillrec.data.config import config_dir, known_datasets
from distillrec.errors import UserError


def test_every_bundled_dataset_config_validates():
    names = known_datasets()
    assert {"ml-100k", "ml-1m", "ml-10m", "amazon-games-2018"} <= set(names)
    for path in sorted(config_dir().glob("*.yaml")):
        cfg = load_config(DatasetConfig, path)
        assert cfg.name == path.stem
        for line in path.read_text().splitlines():  # every key has a one-line comment
            if line.strip() and not line.lstrip().startswith("#") and line.rstrip().endswith(":"):
                continue  # a section header; its keys carry the comments
            assert not line.strip() or "#" in line, f"{path.name}: {line!r} has no comment"


def _archive_config(tmp_path: Path, sha: str | None) -> Path:
    source = tmp_path / "src"
    config = tiny_sequences(source)
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("sequences.tsv", "items.tsv"):
            zf.write(source / "raw" / name, f"tiny/{name}")
    data = yaml.safe_load(config.read_text())
    data["name"] = "tiny-download"
    data["archive"] = {"url": archive.as_uri(), "sha256": sha, "member_dir": "tiny"}
    path = tmp_path / "tiny-download.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_official_archive_is_downloaded_checked_and_cached(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DISTILLREC_DATA_MIRROR", raising=False)
    monkeypatch.setenv("DISTILLREC_CACHE", str(tmp_path / "cache"))
    config = _archive_config(tmp_path, sha=None)
    sha = hashlib.sha256((tmp_path / "tiny.zip").read_bytes()).hexdigest()
    config = _archive_config(tmp_path, sha=sha)
    data = load_prepared(prepare_dataset(config, out_dir=tmp_path / "out"))
    assert data.meta.num_users == 3
    assert data.meta.source["origin"].startswith("download:")
    assert (tmp_path / "cache" / "tiny-download" / "items.tsv").is_file()
    (tmp_path / "tiny.zip").unlink()  # the cache is used from now on
    assert load_prepared(prepare_dataset(config, out_dir=tmp_path / "o2")).fingerprint == (
        data.fingerprint
    )


def test_archive_with_wrong_checksum_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DISTILLREC_DATA_MIRROR", raising=False)
    monkeypatch.setenv("DISTILLREC_CACHE", str(tmp_path / "cache"))
    config = _archive_config(tmp_path, sha="1" * 64)
    with pytest.raises(UserError, match="tiny.zip: sha256 .* != pinned 1111"):
        prepare_dataset(config, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "tiny-download" / "tiny.zip").exists()


def test_mirror_folder_named_like_the_dataset_is_used(tmp_path: Path, monkeypatch):
    config = tiny_sequences(tmp_path / "x")
    (tmp_path / "mirror").mkdir()
    (tmp_path / "x" / "raw").rename(tmp_path / "mirror" / "tiny-seq")
    monkeypatch.setenv("DISTILLREC_DATA_MIRROR", str(tmp_path / "mirror"))
    data = load_prepared(prepare_dataset(config, data_root=tmp_path / "data"))
    assert data.path == tmp_path / "data" / "tiny-seq"
    assert data.meta.source["origin"] == f"mirror:{tmp_path / 'mirror' / 'tiny-seq'}"
