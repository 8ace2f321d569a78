"""Data stage: real interaction logs -> next-item examples (the BIGRec / DLLM2Rec protocol).

``prepare_dataset`` writes a prepared folder (Contract 1 in docs/architecture.md);
``load_prepared`` reads it back as pandas, ``read_split_ray`` as Ray Data.
"""

from distillrec.data.config import DatasetConfig, resolve_config
from distillrec.data.prepare import prepare_dataset
from distillrec.data.prepared import DatasetMeta, PreparedDataset, load_prepared, read_split_ray

__all__ = [
    "DatasetConfig",
    "DatasetMeta",
    "PreparedDataset",
    "load_prepared",
    "prepare_dataset",
    "read_split_ray",
    "resolve_config",
]
