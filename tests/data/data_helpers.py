"""Helpers for the data tests: write tiny raw datasets + their YAML configs into a folder."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_dataset(folder: Path, config: dict, files: dict[str, str | bytes]) -> Path:
    """Write raw files into ``folder/raw`` and the config to ``folder/<name>.yaml``."""
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (raw / name).write_bytes(data)
    path = folder / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tiny_sequences(folder: Path, sequences: str | None = None, items: str | None = None) -> Path:
    """A generic-sequences dataset: 3 users, 4 items (one title with HTML entities)."""
    config = {
        "name": "tiny-seq",
        "format": "sequences",
        "files": {"sequences": {"path": "sequences.tsv"}, "items": {"path": "items.tsv"}},
    }
    return write_dataset(
        folder,
        config,
        {
            "sequences.tsv": sequences
            or "user_id\titem_ids\nu1\ta b c d\nu2\tb c\nu3\td a b c a\n",
            "items.tsv": items
            or "item_id\tasin\ttitle\na\tA1\tTom &amp; Jerry\nb\tB1\t  Two   spaces \n"
            "c\tC1\tC game\nd\tD1\tD&eacute;j&agrave; vu\n",
        },
    )
