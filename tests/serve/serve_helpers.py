"""Helpers shared by the serving tests (importable: conftest files are not)."""

from __future__ import annotations

ADMIN_TOKEN = "serve-tests-admin-token-0123456789"  # POST /admin/reload needs it (>= 16 chars)


def admin_app(args: dict, **options):
    """``recommender_app`` built with ``DISTILLREC_ADMIN_TOKEN`` = :data:`ADMIN_TOKEN`."""
    import os

    from distillrec.serving.admin import ENV_ADMIN_TOKEN
    from distillrec.serving.deployment import recommender_app

    previous = os.environ.get(ENV_ADMIN_TOKEN)
    os.environ[ENV_ADMIN_TOKEN] = ADMIN_TOKEN
    try:
        return recommender_app(args, **options)
    finally:
        if previous is None:
            del os.environ[ENV_ADMIN_TOKEN]
        else:
            os.environ[ENV_ADMIN_TOKEN] = previous
