"""The Serve application for ``serve run serve.app:app`` (run from the repository root).

The model comes from ``DISTILLREC_MODEL_URI`` (else ``DISTILLREC_DATASET``'s champion, ml-100k by
default) and the store from ``MLFLOW_TRACKING_URI``. ``serve run serve.app:build model=...`` passes
the same arguments on the command line; ``serve/config.yaml`` is the ``serve deploy`` form.
"""

from distillrec.serving.deployment import build_app
from distillrec.serving.settings import args_from_env

build = build_app
app = build_app(args_from_env())
