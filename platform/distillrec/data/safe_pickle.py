"""Read DLLM2Rec's pickled DataFrames (``*.df``) without running code from the file.

A pickle names functions to call while it loads, so a crafted ``data_statis.df`` could run any
program. :class:`PlainFrameUnpickler` admits only what a DataFrame of plain values needs (pandas'
frame, index and block types, numpy arrays and dtypes, pyarrow string buffers); anything else is
refused with a message saying what was asked for. ``trust=True`` (``--trust-pickle``) falls back
to ``pandas.read_pickle`` for files from a source you trust.
"""

from __future__ import annotations

import _compat_pickle
from pathlib import Path

import pandas as pd
from pandas.compat import pickle_compat

from distillrec.errors import UserError

# (module, name) a plain DataFrame's pickle refers to, across pandas 1.x-3.x and numpy 1.x-2.x.
PLAIN_FRAME_GLOBALS = frozenset(
    {
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
        ("builtins", "bytearray"),
        ("builtins", "slice"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        *(
            (f"numpy.{core}.{module}", name)
            for core in ("core", "_core")
            for module, name in (
                ("multiarray", "_reconstruct"),
                ("multiarray", "scalar"),
                ("numeric", "_frombuffer"),
            )
        ),
        ("pandas", "DataFrame"),
        ("pandas", "Index"),
        ("pandas", "RangeIndex"),
        ("pandas", "StringDtype"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.numeric", "Int64Index"),
        ("pandas.arrays", "ArrowStringArray"),
        ("pandas.core.arrays.string_arrow", "ArrowStringArray"),
        ("pandas.core.arrays.string_", "StringDtype"),
        ("pyarrow.lib", "_restore_array"),
        ("pyarrow.lib", "type_for_alias"),
        ("pyarrow.lib", "py_buffer"),
    }
)


class UnsafePickleError(Exception):
    """The pickle asked for a global outside :data:`PLAIN_FRAME_GLOBALS`."""


class PlainFrameUnpickler(pickle_compat.Unpickler):
    """pandas' compatibility unpickler, limited to :data:`PLAIN_FRAME_GLOBALS`."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's protocol
        key = (module, name)
        if self.proto < 3:  # Python 2 names (``__builtin__``), as pickle itself maps them
            key = _compat_pickle.NAME_MAPPING.get(key, key)
            key = (_compat_pickle.IMPORT_MAPPING.get(key[0], key[0]), key[1])
        if key not in PLAIN_FRAME_GLOBALS:
            raise UnsafePickleError(f"{module}.{name}")
        return super().find_class(module, name)


def read_frame_pickle(path: Path, *, trust: bool = False) -> pd.DataFrame:
    """A pickled DataFrame from ``path``; untrusted files may only hold plain values."""
    try:
        if trust:
            frame = pd.read_pickle(path)
        else:
            with open(path, "rb") as handle:
                frame = PlainFrameUnpickler(handle).load()
    except UnsafePickleError as err:
        raise UserError(
            f"{path}: the pickle calls {err}, which a plain DataFrame never needs, so it was "
            "not loaded (it could run code); if you trust where the file came from, rerun "
            "with --trust-pickle"
        ) from None
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    except Exception as err:  # noqa: BLE001 - a malformed pickle fails in any way its bytes say
        # (IndexError, KeyError, struct.error, ImportError, ...): it is the file, not a bug here
        raise UserError(f"{path}: not a pandas pickle ({_reason(err)})") from None
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"{path}: expected a pickled DataFrame, got {type(frame).__name__}")
    return frame


def _reason(err: BaseException) -> str:
    """``IndexError: pop from empty list``: the error's type and first line, kept short."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
