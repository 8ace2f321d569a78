"""The teacher grid's report: ``grid.csv`` (every point), ``grid.md`` (the table a reader needs)
and ``best.yaml`` (the chosen teacher config, ready for ``teacher infer``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml

from distillrec.atomic import atomic_file

if TYPE_CHECKING:
    from distillrec.teacher.tune import GridResult, Point
    from distillrec.teacher.tune_config import TeacherTuneConfig

SHOWN = ("hr@10", "hr@20", "ndcg@10", "ndcg@20")


def points_frame(points: list[Point]) -> pd.DataFrame:
    """One row per point: knobs, val metrics, cost."""
    return pd.DataFrame(
        [
            {
                **point.params(),
                **{f"val {k}": v for k, v in point.metrics.items()},
                **{f"cost {k}": v for k, v in point.cost.items()},
            }
            for point in points
        ]
    )


def grid_markdown(tune: TeacherTuneConfig, result: GridResult) -> str:
    """Per (entry, decoding, embedder): the plain grounding (gamma 0) and its best gamma on val."""
    metric = tune.selection_metric
    val_floor = result.floors["val"]
    lines = [
        f"# Teacher grid `{tune.name}`",
        "",
        f"Val sample: {result.samples['val']['size']} examples (seed "
        f"{result.samples['val']['seed']}); chosen on val {metric}; "
        + (
            f"test read once, for the chosen point, on {result.samples['test']['size']} test "
            f"examples (seed {result.samples['test']['seed']})"
            if result.test
            else "test not read (--val-only)"
        )
        + ". Popularity on the val sample: HR@20 "
        f"{val_floor['popularity hr@20']:.4f}, NDCG@20 {val_floor['popularity ndcg@20']:.4f}; "
        f"random HR@20 {val_floor['random hr@20']:.4f}.",
        "",
        "| entry | decoding | embedder | gamma | val HR@10 | val HR@20 | val NDCG@10 | "
        "val NDCG@20 | prompts/s | generation s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str, str], list[Point]] = {}
    for point in result.points:
        key = (point.entry, point.decoding, point.merge, point.embedder)
        groups.setdefault(key, []).append(point)
    ordered = sorted(groups.values(), key=lambda ps: -max(p.metrics[metric] for p in ps))
    for group in ordered:
        plain = min(group, key=lambda p: p.gamma)
        best = max(group, key=lambda p: (p.metrics[metric], -p.gamma))
        for point in [plain] if best is plain else [plain, best]:
            mark = " **(chosen)**" if point is result.best else ""
            cells = [
                f"{point.entry}{mark}",
                point.decoding if point.decoding == "greedy" else f"beam ({point.merge})",
                point.embedder,
                f"{point.gamma:g}",
                *(f"{point.metrics[k]:.4f}" for k in SHOWN),
                f"{point.cost['prompts_per_s']:.2f}",
                f"{point.cost['generate_span_seconds']:.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if not result.test:
        lines += [
            "",
            f"## Chosen on val: {result.best.name}",
            "",
            "Test not read (`--val-only`): run the grid without it to score the chosen point "
            "once on the test sample.",
            "",
        ]
        return "\n".join(lines)
    test, floor = result.test, result.floors["test"]
    ratio = {
        k: test[k] / floor[f"popularity {k}"] if floor[f"popularity {k}"] else float("nan")
        for k in ("hr@20", "ndcg@20")
    }
    lines += [
        "",
        f"## Chosen: {result.best.name}",
        "",
        f"Test sample ({result.samples['test']['size']} examples), the chosen teacher against "
        "the floors on the same rows:",
        "",
        "| | HR@10 | HR@20 | NDCG@10 | NDCG@20 |",
        "|---|---|---|---|---|",
        "| teacher | " + " | ".join(f"{test[k]:.4f}" for k in SHOWN) + " |",
        f"| popularity | - | {floor['popularity hr@20']:.4f} | - | "
        f"{floor['popularity ndcg@20']:.4f} |",
        f"| random | - | {floor['random hr@20']:.4f} | - | {floor['random ndcg@20']:.4f} |",
        "",
        f"Teacher / popularity: HR@20 {ratio['hr@20']:.2f}x, NDCG@20 {ratio['ndcg@20']:.2f}x. "
        f"Test generation: {result.test_cost['prompts_per_s']:.2f} prompts/s. Longest title + "
        f"suffix: {result.title_token_budget} tokens (`inference.max_new_tokens` in best.yaml).",
        "",
    ]
    return "\n".join(lines)


def best_yaml(tune: TeacherTuneConfig, result: GridResult) -> str:
    """The chosen teacher config as YAML, ``max_new_tokens`` cut to the longest title."""
    cfg = result.best_config
    env = {k: v for k, v in cfg.inference.env.items() if k not in tune.engine_env}  # this run's log
    inference = cfg.inference.model_copy(
        update={"max_new_tokens": result.title_token_budget, "env": env}
    )
    data = cfg.model_copy(update={"inference": inference}).model_dump(mode="json")
    test = (
        f"test HR@20 {result.test['hr@20']:.4f}, NDCG@20 {result.test['ndcg@20']:.4f} on "
        f"{result.samples['test']['size']}"
        if result.test
        else "test not read (--val-only)"
    )
    header = (
        f"# Chosen by `distillrec teacher tune` grid {tune.name!r}: {result.best.name}\n"
        f"# val {tune.selection_metric} {result.best.metrics[tune.selection_metric]:.4f} on "
        f"{result.samples['val']['size']} examples; {test}.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False)


def write_report(tune: TeacherTuneConfig, result: GridResult) -> Path:
    """Write ``<report_dir>/<name>/{grid.csv,grid.md,best.yaml}``; returns the folder. A grid
    that left test unread (``--val-only``) writes to ``<name>/val-only/`` instead, so it never
    replaces the report of a finished grid."""
    folder = Path(tune.report_dir) / tune.name
    if not result.test:
        folder = folder / "val-only"
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        "grid.csv": points_frame(result.points).to_csv(index=False),
        "grid.md": grid_markdown(tune, result),
        "best.yaml": best_yaml(tune, result),
    }
    for name, text in texts.items():
        with atomic_file(folder / name) as handle:
            handle.write(text)
    return folder
