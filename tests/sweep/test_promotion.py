"""``@champion`` only moves up: the promotion rule on a real sqlite MLflow registry.

Each "sweep" here is a parent run with one finished trial run that logged a tiny pyfunc model,
the same shape ``train()`` leaves behind; ``register_champion`` then registers and decides.
"""

from __future__ import annotations

import json

import pytest

from distillrec.contracts import CHAMPION_ALIAS
from distillrec.sweep import promotion, tracking
from distillrec.sweep.registration import register_champion

SPLIT = json.dumps({"protocol": "temporal", "ratios": [0.8, 0.1, 0.1]}, sort_keys=True)


def fake_sweep(uri: str, name: str, val: float, *, fingerprint: str = "fp-a") -> str:
    """A parent run with one finished trial (val/test metrics, data tags, a logged model)."""
    import mlflow
    import mlflow.pyfunc

    parent = tracking.start_parent_run(uri, "promotion-test", run_name=name, tags={}, params={})
    client = tracking.client(uri)
    experiment_id = client.get_run(parent).info.experiment_id
    tags = {
        tracking.PARENT_TAG: parent,
        tracking.STUDENT_TAG: "gru4rec",
        tracking.VARIANT_TAG: "dllm2rec",
        tracking.DATASET_TAG: "toy",
        "dataset_fingerprint": fingerprint,
        "dataset_split": SPLIT,
    }
    run = client.create_run(experiment_id, tags=tags, run_name=f"{name}-trial")
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_metrics({"best_val_ndcg_20": val, "best_val_hr_20": 2 * val})
        mlflow.log_metrics({"test_ndcg_20": val / 2, "test_hr_20": val})

        class Model(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input

        mlflow.pyfunc.log_model(
            name="toy-gru4rec-dllm2rec", python_model=Model(), pip_requirements=[]
        )
    return parent


def champion_version(uri: str) -> str:
    return str(
        tracking.client(uri).get_model_version_by_alias("distillrec-toy", CHAMPION_ALIAS).version
    )


def test_champion_moves_only_up_unless_forced(mlflow_store):
    uri = mlflow_store
    client = tracking.client(uri)

    first = register_champion(uri, fake_sweep(uri, "a", 0.05), "toy", sweep="a")
    assert first.promoted and first.version == "1" and first.reason == "no champion yet"

    worse_parent = fake_sweep(uri, "b", 0.03)
    worse = register_champion(uri, worse_parent, "toy", sweep="b")
    assert not worse.promoted and worse.version == "2" and worse.champion_version == "1"
    assert worse.reason.startswith("not better: val_ndcg_20 0.0300")
    assert champion_version(uri) == "1"
    v2 = client.get_model_version("distillrec-toy", "2")  # a kept candidate keeps its metrics
    assert v2.tags["promotion"] == "not promoted" and float(v2.tags["val_ndcg_20"]) == 0.03
    assert "val NDCG@20 0.0300" in v2.description and "gru4rec" in v2.description
    parent_tags = client.get_run(worse_parent).data.tags
    assert parent_tags["distillrec.champion"] == "distillrec-toy/1"
    assert parent_tags["distillrec.champion_decision"] == "not promoted"
    assert parent_tags["distillrec.champion_candidate"] == "distillrec-toy/2"

    other_data = register_champion(
        uri, fake_sweep(uri, "c", 0.09, fingerprint="fp-b"), "toy", sweep="c"
    )
    assert not other_data.promoted and "dataset fingerprint differs" in other_data.reason
    assert champion_version(uri) == "1"

    better = register_champion(uri, fake_sweep(uri, "d", 0.07), "toy", sweep="d")
    assert better.promoted and better.version == "4" and better.reason.startswith("better:")
    assert champion_version(uri) == "4"

    forced = register_champion(uri, fake_sweep(uri, "e", 0.01), "toy", sweep="e", force=True)
    assert forced.promoted and forced.reason.startswith("forced (--force)")
    assert champion_version(uri) == "5"

    history = promotion.champion_history(client, "distillrec-toy")
    assert [(h["version"], h["previous"], h["forced"]) for h in history] == [
        ("1", None, False),
        ("4", "1", False),
        ("5", "4", True),
    ]
    assert all(h["at"].endswith("+00:00") for h in history)
    description = client.get_registered_model("distillrec-toy").description
    assert description.index("| v5 |") < description.index("| v4 |") < description.index("| v1 |")


def standing(version: str, value: float | None, **changes: str) -> promotion.Standing:
    fields = {"metric": "val_ndcg_20", "fingerprint": "fp", "split": SPLIT, **changes}
    return promotion.Standing(version=version, value=value, **fields)


@pytest.mark.parametrize(
    ("candidate", "promote", "words"),
    [
        (standing("2", 0.05), False, "not better"),  # a tie does not move the alias
        (standing("2", 0.06), True, "better"),
        (standing("2", 0.09, split='{"protocol": "leave-one-out"}'), False, "split differs"),
        (standing("2", 0.09, metric="val_hr_20"), False, "selection metric differs"),
        (standing("2", None), False, "not comparable"),
        (standing("1", 0.05), False, "already the champion"),
    ],
)
def test_promotion_rule(candidate, promote, words):
    decision = promotion.decide(candidate, standing("1", 0.05))
    assert decision.promote is promote and words in decision.reason
    assert decision.previous == "1"


def test_force_names_what_it_overrode():
    decision = promotion.decide(
        standing("2", 0.01, fingerprint="new"), standing("1", 0.05), force=True
    )
    assert decision.promote and decision.forced and "fingerprint differs" in decision.reason
