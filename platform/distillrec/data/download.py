"""Where raw files come from: ``--raw-dir``, the local mirror, or the official URL (cached).

Order: an explicit raw folder wins; else ``$DISTILLREC_DATA_MIRROR/<name>/`` when it exists (no
network); else the download cache ``$DISTILLREC_CACHE/<name>/`` (default ``~/.cache/distillrec``),
filled from the official URL. Every file with a pinned sha256 is checked wherever it came from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from distillrec.atomic import atomic_file
from distillrec.data.config import DatasetConfig
from distillrec.errors import UserError

MIRROR_ENV = "DISTILLREC_DATA_MIRROR"
CACHE_ENV = "DISTILLREC_CACHE"


@dataclass(frozen=True)
class RawFiles:
    """The resolved raw files of one dataset: role -> path, where they came from, checksums."""

    paths: dict[str, Path]
    origin: str
    sha256: dict[str, str]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_raw_files(cfg: DatasetConfig, raw_dir: str | Path | None = None) -> RawFiles:
    """Find (or download) every raw file of ``cfg`` and verify pinned checksums."""
    if raw_dir is not None:
        folder, origin = Path(raw_dir), "raw-dir"
        if not folder.is_dir():
            raise UserError(f"--raw-dir {folder}: folder not found")
    elif os.environ.get(MIRROR_ENV) and (Path(os.environ[MIRROR_ENV]) / cfg.name).is_dir():
        folder, origin = Path(os.environ[MIRROR_ENV]) / cfg.name, "mirror"
    else:
        folder, origin = _download(cfg), "download"
    paths: dict[str, Path] = {}
    sums: dict[str, str] = {}
    for role, spec in cfg.files.items():
        path = folder / spec.path
        if not path.is_file():
            raise UserError(f"{path}: file not found ({cfg.name} needs it as '{role}')")
        digest = sha256_file(path)
        if spec.sha256 and digest != spec.sha256:
            raise UserError(
                f"{path}: sha256 {digest} does not match the pinned {spec.sha256} (wrong version?)"
            )
        paths[role], sums[spec.path] = path, digest
    return RawFiles(paths=paths, origin=f"{origin}:{folder}", sha256=sums)


def cache_dir(name: str) -> Path:
    """The download cache folder of one dataset."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "distillrec")
    return root / name


def _download(cfg: DatasetConfig) -> Path:
    """Fill the cache from the official URLs (archive or single files); return the cache folder."""
    folder = cache_dir(cfg.name)
    missing = [s for s in cfg.files.values() if not (folder / s.path).is_file()]
    if not missing:
        return folder
    if cfg.archive is not None:
        archive = folder / Path(cfg.archive.url).name
        if not archive.is_file():
            _fetch(cfg.archive.url, archive)
        digest = sha256_file(archive)
        if cfg.archive.sha256 and digest != cfg.archive.sha256:
            archive.unlink()
            raise UserError(f"{cfg.archive.url}: sha256 {digest} != pinned {cfg.archive.sha256}")
        _extract(archive, cfg.archive.member_dir, [s.path for s in missing], folder)
        return folder
    for spec in missing:
        if not spec.url:
            raise UserError(
                f"{cfg.name}: {spec.path} has no download URL; pass --raw-dir or set {MIRROR_ENV}"
            )
        _fetch(spec.url, folder / spec.path)
    return folder


def _fetch(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` atomically; network failures are user errors."""
    print(f"downloading {url} -> {target}", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, atomic_file(target, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        raise UserError(
            f"{url}: download failed ({err}); pass --raw-dir DIR or set {MIRROR_ENV}"
        ) from None


def _extract(archive: Path, member_dir: str, names: list[str], folder: Path) -> None:
    """Copy the named members out of a zip into the cache folder."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in names:
                member = f"{member_dir}/{name}" if member_dir else name
                try:
                    data = zf.read(member)
                except KeyError:
                    raise UserError(f"{archive}: has no member {member!r}") from None
                with atomic_file(folder / name, "wb") as out:
                    out.write(data)
    except zipfile.BadZipFile:
        archive.unlink()
        raise UserError(f"{archive}: not a valid zip file (removed; run again)") from None
