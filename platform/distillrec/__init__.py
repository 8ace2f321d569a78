"""distillrec: distil LLM recommenders into fast sequential students (DLLM2Rec) on Ray."""

__version__ = "0.1.0"
