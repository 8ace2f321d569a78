"""Resumable inference output: finished blocks as parquet parts keyed by ``example_id``.

Generation is the expensive step, so each generated block is stored (``gen-*.parquet``) as soon
as the engine returns it, before grounding; the grounded block follows as ``part-*.parquet``.
Both are written atomically (temp file + rename), so after an interruption every file on disk is
complete; a restarted run skips grounded ids, grounds stored generations again without
regenerating them, and generates only the rest (no duplicates, nothing lost). ``run.json``
records what produced the parts, so a run with another model, prompt or decoding never mixes its
rows with them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distillrec.atomic import atomic_file, write_json_atomic
from distillrec.errors import UserError
from distillrec.teacher.artifact import RANKINGS_SCHEMA

RUN_FILE = "run.json"
ITEMS_FILE = "item_embeddings.npy"
# A part is the artifact's rankings plus what was generated for each example.
GENERATION_SCHEMA = pa.schema(
    [
        ("example_id", pa.int64()),
        ("generation", pa.string()),
        ("num_generated_tokens", pa.int64()),
        ("beams", pa.string()),  # generation.encode_beams of every beam; "" when greedy
        ("generate_seconds", pa.float64()),
        ("generate_started", pa.float64()),
        ("generate_finished", pa.float64()),
        ("worker_peak_rss_mb", pa.float64()),
    ]
)
PART_SCHEMA = pa.schema(
    [
        *RANKINGS_SCHEMA,
        pa.field("generation", pa.string()),
        pa.field("num_generated_tokens", pa.int64()),
    ]
)


class PartStore:
    """The work folder beside the artifact (``.<name>.parts``) holding finished blocks."""

    def __init__(self, folder: str | Path, identity: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.identity = json.loads(json.dumps(identity, sort_keys=True, default=str))

    def open(self, fresh: bool = False) -> None:
        """Create the folder, or check that existing parts come from the same run settings."""
        run_file = self.folder / RUN_FILE
        if fresh and self.folder.exists():
            shutil.rmtree(self.folder)
        if run_file.is_file():
            previous = json.loads(run_file.read_text())
            if previous != self.identity:
                changed = sorted(k for k in self.identity if previous.get(k) != self.identity[k])
                raise UserError(
                    f"{self.folder}: unfinished parts were made with different {changed}; "
                    "rerun with --fresh to discard them"
                )
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_file, self.identity)

    def part_files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet"))

    def generation_files(self) -> list[Path]:
        return sorted(self.folder.glob("gen-*.parquet"))

    def write_generations(self, batch: dict[str, Any]) -> Path:
        """Store one generated (not yet grounded) block atomically, as soon as it exists."""
        columns = {
            name: np.asarray(batch[name]) for name in GENERATION_SCHEMA.names if name != "beams"
        }
        columns["generation"] = [str(t) for t in batch["generation"]]
        beams = batch.get("beams")
        n = len(columns["generation"])
        columns["beams"] = [str(t or "") for t in beams] if beams is not None else [""] * n
        table = pa.table(columns, schema=GENERATION_SCHEMA)
        return self._write_next("gen", table)

    def read_generations(self, ids: set[int]) -> pd.DataFrame:
        """Stored generations of ``ids`` (one row per id), in ``example_id`` order."""
        files = self.generation_files()
        if not files or not ids:
            return GENERATION_SCHEMA.empty_table().to_pandas()
        frame = pa.concat_tables(pq.read_table(f, schema=GENERATION_SCHEMA) for f in files)
        frame = frame.to_pandas()
        frame["beams"] = frame["beams"].fillna("")  # files from before beams were kept
        frame = frame[frame["example_id"].isin(ids)].drop_duplicates("example_id")
        return frame.sort_values("example_id").reset_index(drop=True)

    def generated_ids(self) -> set[int]:
        return self._ids(self.generation_files())

    def read(self) -> pd.DataFrame:
        """All finished rows (empty frame with the part columns when none)."""
        files = self.part_files()
        if not files:
            return PART_SCHEMA.empty_table().to_pandas()
        return pa.concat_tables(pq.read_table(f, schema=PART_SCHEMA) for f in files).to_pandas()

    def done_ids(self) -> set[int]:
        """Ids with a grounded (finished) row."""
        return self._ids(self.part_files())

    @staticmethod
    def _ids(files: list[Path]) -> set[int]:
        if not files:
            return set()
        ids = [pq.read_table(f, columns=["example_id"])["example_id"] for f in files]
        return set(pa.chunked_array(ids).to_numpy().tolist())

    def write(self, batch: dict[str, Any]) -> Path:
        """Write one finished block atomically; its name continues the numbering."""
        table = pa.table(
            {
                "example_id": np.asarray(batch["example_id"], dtype=np.int64),
                "items": [np.asarray(v, dtype=np.int64) for v in batch["items"]],
                "distances": [np.asarray(v, dtype=np.float32) for v in batch["distances"]],
                "generation": [str(t) for t in batch["generation"]],
                "num_generated_tokens": np.asarray(batch["num_generated_tokens"], np.int64),
            },
            schema=PART_SCHEMA,
        )
        return self._write_next("part", table)

    def _write_next(self, prefix: str, table: pa.Table) -> Path:
        files = sorted(self.folder.glob(f"{prefix}-*.parquet"))
        index = int(files[-1].stem.split("-")[1]) + 1 if files else 0
        target = self.folder / f"{prefix}-{index:06d}.parquet"
        with atomic_file(target, "wb") as handle:
            pq.write_table(table, handle)
        return target

    def load_item_embeddings(self) -> np.ndarray | None:
        path = self.folder / ITEMS_FILE
        return np.load(path) if path.is_file() else None

    def save_item_embeddings(self, embeddings: np.ndarray) -> None:
        with atomic_file(self.folder / ITEMS_FILE, "wb") as handle:
            np.save(handle, np.asarray(embeddings, dtype=np.float32))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
