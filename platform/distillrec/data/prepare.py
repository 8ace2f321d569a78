"""``prepare_dataset``: config -> raw files -> examples -> the prepared folder (Contract 1)."""

from __future__ import annotations

from pathlib import Path

from distillrec.contracts import DATA_ROOT
from distillrec.data.config import DatasetConfig, resolve_config
from distillrec.data.download import resolve_raw_files
from distillrec.data.prepared import check_prepared_output, write_prepared
from distillrec.data.processing import Examples, build_examples
from distillrec.data.sources import read_source


def prepare_dataset(
    dataset: str | Path | DatasetConfig,
    *,
    raw_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    data_root: str | Path = DATA_ROOT,
    overwrite: bool = False,
    trust_pickle: bool = False,
) -> Path:
    """Prepare ``dataset`` (a bundled name, a YAML path or a config) and return the folder.

    Raw files come from ``raw_dir``, else ``$DISTILLREC_DATA_MIRROR/<name>/``, else the official
    download (cached). The output (default ``<data_root>/<name>/``) is replaced atomically; on any
    error nothing is written. A non-empty folder that is not an earlier prepared dataset is
    refused before any work unless ``overwrite`` (then only our files are written into it).
    ``trust_pickle`` lets DLLM2Rec ``.df`` files hold any pickle (else plain DataFrames only).
    """
    cfg = resolve_config(dataset)
    out = Path(out_dir) if out_dir is not None else Path(data_root) / cfg.name
    check_prepared_output(out, overwrite=overwrite)
    raw = resolve_raw_files(cfg, raw_dir)
    if cfg.format == "dllm2rec":
        from distillrec.data.dllm2rec_format import examples_from_dllm2rec

        examples = examples_from_dllm2rec(raw.paths, cfg, trust_pickle=trust_pickle)
        protocol = {"protocol": "given", "note": "splits as published in the DLLM2Rec format"}
    else:
        examples = build_examples(read_source(cfg, raw.paths), cfg)
        protocol = split_description(cfg, examples)
    meta = {
        "name": cfg.name,
        "num_users": examples.num_users,
        "num_items": len(examples.items),
        "padding_id": len(examples.items),
        "max_history": cfg.max_history,
        "min_history": cfg.min_history,
        "num_train": len(examples.splits["train"]),
        "num_val": len(examples.splits["val"]),
        "num_test": len(examples.splits["test"]),
        "num_interactions": examples.num_interactions,
        "split": protocol,
        "source": {"format": cfg.format, "origin": raw.origin, "sha256": raw.sha256},
        "k_core": cfg.k_core,
    }
    write_prepared(out, examples.items, examples.splits, meta, overwrite=overwrite)
    return out


def split_description(cfg: DatasetConfig, examples: Examples) -> dict:
    """What ``meta.json`` says about the split, including which rule applied."""
    has_time = bool(examples.has_timestamps)
    rule = cfg.split.protocol
    if rule == "temporal":
        rule = "global_time" if has_time else "per_user_ratio"
    return {
        "protocol": cfg.split.protocol,
        "rule": rule,
        "ratios": list(cfg.split.ratios),
        "timestamps": "source" if has_time else "position",
    }
