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
