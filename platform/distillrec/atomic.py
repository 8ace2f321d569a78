"""Atomic outputs: write to a temporary sibling, then rename, so nothing is ever half written.

Output folders are also never destructive: each folder written by :func:`atomic_dir` carries a
marker (:data:`OUTPUT_MARKER`) naming what wrote it and which files. Writing again replaces only
those files and keeps anything else found there; a non-empty folder that is not a previous output
of the same kind is refused unless ``overwrite`` is given, and then our files are added to it
one by one and nothing else in it is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillrec.errors import UserError

OUTPUT_MARKER = ".distillrec-output.json"
NEW_FOLDER_REMEDY = "choose a new or empty folder"
OVERWRITE_REMEDY = "choose a new or empty folder, or pass --overwrite (its other files are kept)"


@contextlib.contextmanager
def atomic_dir(
    target: str | Path,
    *,
    kind: str,
    signature: str | None = None,
    overwrite: bool = False,
    remedy: str = NEW_FOLDER_REMEDY,
) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success its files land in ``target``.

    ``kind`` names the writer (e.g. ``"prepared dataset"``); ``signature`` is a file only this
    writer produces, so folders written before markers existed are still recognised. On any
    exception the temporary folder is removed and ``target`` is left untouched.
    """
    target = Path(target)
    check_output_dir(target, kind, signature=signature, overwrite=overwrite, remedy=remedy)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise UserError(f"{target}: cannot write ({err.strerror or err})") from None
    try:
        yield tmp
        ours = _files(tmp)
        (tmp / OUTPUT_MARKER).write_text(json.dumps({"kind": kind, "files": ours}, indent=2))
        _install(tmp, target, kind, signature, ours, overwrite, remedy)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output_dir(
    target: str | Path,
    kind: str,
    *,
    signature: str | None = None,
    overwrite: bool = False,
    remedy: str = NEW_FOLDER_REMEDY,
) -> None:
    """Refuse, before any work, a folder :func:`atomic_dir` would refuse after it."""
    target = Path(target)
    check_writable(target, folder=True)
    if overwrite or not target.is_dir() or _previous_files(target, kind, signature) is not None:
        return
    if any(target.iterdir()):
        raise UserError(f"{target}: folder is not empty and not an earlier {kind}; {remedy}")


def check_writable(path: str | Path, *, folder: bool) -> None:
    """Raise a one-line :class:`UserError` unless ``path`` (a folder or a file) can be written.

    Called before long work so a bad output path fails in a second, not after training.
    """
    path = Path(path).absolute()
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{path}: exists and is not a folder")
    if not folder and path.is_dir():
        raise UserError(f"{path}: is a folder, expected a file path")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{path}: cannot write ({ancestor} is a file, not a folder)")
    for where in (ancestor, path) if folder and path.is_dir() else (ancestor,):
        if not os.access(where, os.W_OK | os.X_OK):
            raise UserError(f"{path}: cannot write ({where} is not writable)")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def _previous_files(target: Path, kind: str, signature: str | None) -> set[str] | None:
    """The files an earlier output of ``kind`` wrote in ``target``, or None if it is not one."""
    marker = target / OUTPUT_MARKER
    if marker.is_file():
        with contextlib.suppress(ValueError, OSError):
            record = json.loads(marker.read_text())
            if record.get("kind") == kind:
                return set(record.get("files", []))
        return None
    if signature is not None and (target / signature).is_file():
        return set(_files(target))  # written before markers: ours are those we write again
    return None


def _install(
    tmp: Path,
    target: Path,
    kind: str,
    signature: str | None,
    ours: list[str],
    overwrite: bool,
    remedy: str,
) -> None:
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        os.replace(tmp, target)
        return
    previous = _previous_files(target, kind, signature)
    if previous is None:
        if not overwrite:
            raise UserError(f"{target}: folder is not empty and not an earlier {kind}; {remedy}")
        _merge(tmp, target, ours)
        return
    if signature is not None and not (target / OUTPUT_MARKER).exists():
        previous &= set(ours)  # a pre-marker output: files we no longer write are the user's
    kept = [name for name in _files(target) if name not in previous and name != OUTPUT_MARKER]
    clash = [name for name in kept if any(_overlaps(name, our) for our in ours)]
    if clash:
        raise UserError(f"{target / clash[0]}: not written by an earlier {kind}; move it away")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    moved: list[str] = []
    try:
        for name in kept:  # the user's files move into the new folder, untouched
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(target / name, tmp / name)
            moved.append(name)
        os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        # put everything back before atomic_dir removes tmp: the user's files never go with it
        if old.exists() and not target.exists():
            os.replace(old, target)
        for name in moved:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, target / name)
        raise
    shutil.rmtree(old, ignore_errors=True)  # holds only files an earlier run of ours wrote


def _overlaps(a: str, b: str) -> bool:
    """Whether two relative paths cannot both exist: the same path, or one a folder of the other."""
    return a == b or a.startswith(f"{b}{os.sep}") or b.startswith(f"{a}{os.sep}")


def _merge(tmp: Path, target: Path, ours: list[str]) -> None:
    """``overwrite`` into a foreign folder: add/replace our files one by one, delete nothing."""
    for name in [*ours, OUTPUT_MARKER]:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, target / name)
    shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(target: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file next to ``target``; on success rename it over ``target``."""
    target = Path(target)
    check_writable(target, folder=False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    except OSError as err:
        raise UserError(f"{target}: cannot write ({err.strerror or err})") from None
    os.close(fd)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        with open(tmp_name, mode) as handle:
            yield handle
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as pretty JSON, atomically."""
    with atomic_file(path) as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
