"""The BIGRec-style LLM teacher: prompts, fine-tuning, Ray Data + vLLM inference, artifacts."""
