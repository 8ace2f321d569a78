"""Reading files a user hands us: a corrupt file is one line naming it, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillrec.errors import UserError


def read_parquet(file: Path, content: bytes | None = None) -> pa.Table:
    """``file`` as an Arrow table (``content``: its bytes when already read, e.g. to hash them)."""
    try:
        return pq.read_table(pa.BufferReader(content) if content is not None else file)
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{file}: not a readable parquet file ({_reason(err)})") from None


def load_safetensors(file: Path, framework: str = "numpy") -> dict[str, Any]:
    """All tensors of a safetensors file (``framework``: ``"numpy"`` or ``"torch"``)."""
    from safetensors import SafetensorError

    if framework == "torch":
        from safetensors.torch import load_file
    else:
        from safetensors.numpy import load_file
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"{file}: not a readable safetensors file ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
