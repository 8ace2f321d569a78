"""The content hash of a model folder: which weights a teacher artifact was made with.

``sha256`` runs over the bytes of the folder's weight files (``*.safetensors``, ``*.gguf``,
``*.bin``, top level, symlinks followed as in a Hugging Face cache snapshot) one after another in
sorted file-name order; names, configs and tokenizers are not hashed (the file list is recorded
beside the hash). Any ``hashlib.sha256`` over the same files in the same order gives the same
digest.

Hashing reads every weight byte (about 1 s per GB here), so the digest is cached per folder in
``<cache>/model-hashes/`` (``$DISTILLREC_CACHE`` or ``~/.cache/distillrec``) with each file's
size and mtime: a rerun on an unchanged folder reads no weights; a changed size or mtime hashes
again.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin")
CHUNK = 8 * 1024 * 1024


def weight_files(folder: str | Path) -> list[Path]:
    """The weight files of ``folder`` (top level), sorted by name."""
    folder = Path(folder)
    return sorted(
        (p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )


def _stats(files: list[Path]) -> list[list[Any]]:
    out = []
    for path in files:
        st = path.stat()  # follows symlinks: the blob's size and mtime
        out.append([path.name, st.st_size, st.st_mtime_ns])
    return out


def _cache_file(folder: Path) -> Path:
    from distillrec.teacher.base_models import cache_dir

    key = hashlib.sha256(str(folder).encode()).hexdigest()[:24]
    return cache_dir() / "model-hashes" / f"{key}.json"


def _read_cache(path: Path, folder: Path, stats: list[list[Any]]) -> str | None:
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if cached.get("folder") == str(folder) and cached.get("files") == stats:
        return cached.get("sha256")
    return None


def model_sha256(folder: str | Path, *, use_cache: bool = True) -> dict[str, Any]:
    """``{"sha256", "weight_files", "weight_bytes", "hash_seconds", "hash_cached"}`` of a model
    folder. ``sha256`` is None when the folder holds no weight file; ``hash_seconds`` is the time
    this call took (reading the cache, or hashing when ``hash_cached`` is false).
    """
    from distillrec.atomic import write_json_atomic
    from distillrec.errors import UserError

    start = time.perf_counter()
    folder = Path(folder).resolve()
    files = weight_files(folder)
    stats = _stats(files)
    result: dict[str, Any] = {
        "weight_files": [name for name, _, _ in stats],
        "weight_bytes": int(sum(size for _, size, _ in stats)),
    }
    if not files:
        return {**result, "sha256": None, "hash_seconds": 0.0, "hash_cached": False}
    cache = _cache_file(folder)
    digest = _read_cache(cache, folder, stats) if use_cache else None
    cached = digest is not None
    if digest is None:
        hasher = hashlib.sha256()
        for path in files:
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
        digest = hasher.hexdigest()
        if _stats(files) == stats:  # unchanged while read: worth caching
            try:
                write_json_atomic(cache, {"folder": str(folder), "files": stats, "sha256": digest})
            except (OSError, UserError):
                pass  # a read-only cache only costs the next run the hashing
    seconds = round(time.perf_counter() - start, 3)
    return {**result, "sha256": digest, "hash_seconds": seconds, "hash_cached": cached}


def local_model_folder(name: str) -> Path | None:
    """The local folder a ``base_model`` name means, without converting or downloading anything
    (the built-in SmolLM2 only once converted); None for a hub id or a missing folder."""
    from distillrec.teacher.base_models import BUILTIN_SMOLLM2, cache_dir

    if name == BUILTIN_SMOLLM2:
        folder = cache_dir() / "models" / BUILTIN_SMOLLM2
    else:
        folder = Path(name).expanduser()
    return folder.resolve() if (folder / "config.json").is_file() else None
