"""The real teacher on ml-100k: LoRA steps through Ray Train, vLLM (CPU) generation + grounding
through Ray Data, the artifact contract, and resuming after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.vllm]


def test_finetune_lowers_loss_and_saves_a_merged_model(finetuned):
    metrics = finetuned.metrics
    assert metrics["probe_loss_after"] < metrics["probe_loss_before"]
    assert np.isfinite(metrics["val_loss"])
    folder = Path(finetuned.model_dir)
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors"))
    assert not list(folder.glob("adapter_*")), "the LoRA must be merged into the weights"
    assert json.loads((folder / "distillrec_finetune.json").read_text())["num_train"] == 16


def test_finetune_saves_the_earlier_epoch_beside_the_final_model(finetuned):
    from safetensors.numpy import load_file

    from distillrec.teacher.finetune import SUMMARY_FILE, epoch_output_dir

    final = Path(finetuned.model_dir)
    first = epoch_output_dir(final, 1)
    assert first == final.with_name(f"{final.name}-epoch1")
    summaries = [json.loads((d / SUMMARY_FILE).read_text()) for d in (first, final)]
    assert [s["epoch"] for s in summaries] == [1, 2]
    assert summaries[1]["mlflow_run_id"] == finetuned.mlflow_run_id
    assert summaries[1]["finetune"]["dtype"] == "bfloat16"
    weights = [load_file(str(next(d.glob("*.safetensors")))) for d in (first, final)]
    key = next(k for k in weights[0] if "q_proj" in k)
    assert not np.allclose(weights[0][key], weights[1][key]), "epoch 2's steps changed q_proj"


def test_interrupted_run_writes_no_artifact_and_resume_completes(interrupted_then_resumed):
    run = interrupted_then_resumed
    assert run["first"].out_dir is None and run["first"].new_rows == 16
    assert run["parts_before"] == 2
    # the deleted part's 8 rows are grounded again from their stored generations (never
    # regenerated); the third block, whose stored generations were deleted, is generated again
    assert run["second"].new_rows == 8
    assert run["second"].manifest["throughput"]["regrounded_rows"] == 8
    cfg = run["config"]
    assert not Path(cfg.output_dir).with_name(f".{Path(cfg.output_dir).name}.parts").exists()


def test_resumed_run_reports_progress_and_logs_engines_to_a_file(interrupted_then_resumed):
    run = interrupted_then_resumed
    progress = run["progress"]
    total = 8 * len(run["config"].sample.splits)  # limit=8 per split
    assert {t for _, t in progress} == {total}
    done = [d for d, _ in progress]
    assert done == sorted(done) and done[-1] == total
    redone = run["second"].new_rows + run["second"].manifest["throughput"]["regrounded_rows"]
    assert done[0] == total - redone > 0  # resumed: earlier blocks count as done
    text = run["engine_log"].read_text()
    assert "vLLM generation engine (pid " in text and "grounding embedder (pid " in text
    assert "LLM engine" in text  # vLLM's own start-up lines are in the file


def test_artifact_honours_contract_2(interrupted_then_resumed, ml100k):
    from distillrec.data import load_prepared
    from distillrec.teacher.artifact import read_artifact

    data = load_prepared(ml100k)
    art = read_artifact(
        interrupted_then_resumed["second"].out_dir, expected_fingerprint=data.fingerprint
    )
    assert len(art.rankings) == 24 and art.rankings["example_id"].is_unique
    assert art.item_embeddings.shape == (data.meta.num_items, 576)
    ids, items, dists = art.topk_arrays(20)
    assert items.shape == (24, 20)
    assert np.all(np.diff(dists, axis=1) >= 0), "distances ascending"
    assert all(len(set(row)) == 20 for row in items), "no item twice in a ranking"
    splits = {s: set(data.split(s)["example_id"]) for s in ("train", "val", "test")}
    assert all(sum(i in ids_ for i in ids) == 8 for ids_ in splits.values())


def test_manifest_records_how_it_was_made(interrupted_then_resumed):
    manifest = interrupted_then_resumed["second"].manifest
    assert manifest["rows"] == {"train": 8, "val": 8, "test": 8}
    assert manifest["decoding"]["decoding"] == "greedy"
    assert manifest["engine"]["block_size"] == 32 and manifest["engine"]["enable_prefix_caching"]
    assert "{instruction}" in manifest["prompt"]["template"]
    # the resumed run generated one block of 8; the other 8 redone rows were only regrounded
    assert manifest["throughput"]["prompts"] == 8 and manifest["throughput"]["prompts_per_s"] > 0
    assert manifest["throughput"]["regrounded_rows"] == 8
    assert manifest["throughput"]["generated_tokens"] > 0
    assert manifest["peak_rss_mb"]["generator"] > 0
    assert set(manifest["metrics"]) == {"val", "test"}
    assert 0.0 <= manifest["metrics"]["test"]["hr@20"] <= 1.0
    assert manifest["mlflow_run_id"]


def test_sft_labels_cover_only_the_response():
    from transformers import AutoTokenizer

    from distillrec.teacher.base_models import ensure_smollm2
    from distillrec.teacher.finetune import IGNORE, tokenize_pair

    tokenizer = AutoTokenizer.from_pretrained(ensure_smollm2())
    prompt = 'Input: "Heat (1995)"\n### Response:\nThe recommended movie is "'
    ids, labels = tokenize_pair(tokenizer, prompt, 'Babe (1995)"', max_length=512)
    n_prompt = len(tokenizer(prompt)["input_ids"])
    assert ids[:n_prompt] == tokenizer(prompt)["input_ids"]
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:] and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[n_prompt:-1]) == 'Babe (1995)"'


def _weights_sha256(folder: Path) -> str:
    """sha256 over the folder's safetensors in name order, computed here with hashlib alone."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors"), key=lambda p: p.name):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_manifest_records_provenance(interrupted_then_resumed, finetuned):
    from importlib.metadata import version

    from distillrec.provenance import installed
    from distillrec.runtime import tracking_uri
    from distillrec.teacher.base_models import ensure_smollm2

    cfg = interrupted_then_resumed["config"]
    manifest = interrupted_then_resumed["second"].manifest
    on_disk = json.loads((interrupted_then_resumed["second"].out_dir / "manifest.json").read_text())
    prov = on_disk["provenance"]
    assert prov == json.loads(json.dumps(manifest["provenance"]))
    for name in ("torch", "transformers", "peft", "ray"):
        assert prov["libraries"][name] == version(name)
    dist, vllm_version = installed("vllm")
    assert prov["libraries"]["vllm"] == vllm_version == version(dist)
    assert prov["engine"]["name"] == "vllm" and prov["engine"]["version"] == vllm_version
    assert prov["model"]["path"] == str(Path(finetuned.model_dir).resolve())
    assert prov["model"]["sha256"] == _weights_sha256(finetuned.model_dir)
    assert prov["model"]["weight_files"] == ["model.safetensors"]
    ft = prov["finetune"]
    assert ft["base_model"] == "smollm2-135m-instruct" and ft["num_train"] == 16
    assert ft["base_model_sha256"] == _weights_sha256(ensure_smollm2())
    assert prov["seeds"] == {
        "sample": cfg.sample.seed,
        "inference": cfg.inference.seed,
        "finetune": cfg.finetune.seed,
    }
    assert on_disk["mlflow_tracking_uri"] == tracking_uri(cfg.mlflow_tracking_uri)


def test_manifest_names_the_lora_run(interrupted_then_resumed, finetuned):
    summary = json.loads((Path(finetuned.model_dir) / "distillrec_finetune.json").read_text())
    assert summary["mlflow_run_id"] == finetuned.mlflow_run_id
    prov = interrupted_then_resumed["second"].manifest["provenance"]
    assert prov["finetune"]["mlflow_run_id"] == finetuned.mlflow_run_id is not None
    assert prov["finetune"]["epoch"] == prov["finetune"]["epochs"] == 2


def test_evaluate_logs_to_the_inference_run(interrupted_then_resumed, ml100k):
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from distillrec.commands.teacher import app

    run = interrupted_then_resumed["second"]
    args = ["evaluate", str(run.out_dir), "--dataset", str(ml100k)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run_id = run.manifest["mlflow_run_id"]
    assert f"metrics logged to run {run_id}" in result.output
    client = MlflowClient(run.manifest["mlflow_tracking_uri"])
    logged = client.get_run(run_id)
    assert logged.data.metrics["val_hr_20"] == pytest.approx(
        run.manifest["metrics"]["val"]["hr@20"]
    )
    assert {"val_popularity_hr_20", "test_random_ndcg_20"} <= set(logged.data.metrics)
    assert logged.data.tags["distillrec.engine"].startswith("vllm ")
    assert logged.data.params["model_sha256"] == run.manifest["provenance"]["model"]["sha256"]
