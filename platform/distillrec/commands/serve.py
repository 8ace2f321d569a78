"""`distillrec serve`: the champion student over HTTP with Ray Serve, until Ctrl-C."""

from __future__ import annotations

import typer

from distillrec.errors import exit_on_user_error
from distillrec.serving.settings import DEFAULT_HOST, DEFAULT_PORT, SERVE_DEFAULTS, ServeArgs

APP_NAME = "distillrec"


@exit_on_user_error
def serve_command(
    model: str | None = typer.Option(
        None, help="MLflow model URI [default: models:/distillrec-<dataset>@champion]"
    ),
    dataset: str = typer.Option(
        SERVE_DEFAULTS.dataset, help="Serve this dataset's champion (without --model)."
    ),
    host: str = typer.Option(DEFAULT_HOST, help="Bind address; 0.0.0.0 exposes it to the network."),
    port: int = typer.Option(DEFAULT_PORT, min=1, max=65535, help="HTTP port."),
    tracking_uri: str | None = typer.Option(
        None, help="MLflow store [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]"
    ),
    reload_interval: float = typer.Option(
        SERVE_DEFAULTS.reload_interval_s,
        min=0,
        help="Seconds between champion alias checks (0: only POST /admin/reload).",
    ),
    access_log: bool = typer.Option(
        SERVE_DEFAULTS.access_log, help="Log every request (costs CPU per request)."
    ),
) -> None:
    """Serve POST /recommend, GET /items/{id}, GET /healthz and /docs; block until Ctrl-C."""
    from distillrec.config import validate
    from distillrec.serving.ingress import check_port_free
    from distillrec.serving.model_loading import load_champion

    args = {"model": model, "dataset": dataset, "tracking_uri": tracking_uri}
    args |= {"reload_interval_s": reload_interval, "access_log": access_log}
    settings = validate(ServeArgs, args, "distillrec serve")
    check_port_free(host, port)  # before Ray and Serve start: one line, exit 2
    # Load it here first: a missing or broken model is one line now, not replica retries later.
    info = load_champion(settings.model_uri, settings.resolved_tracking_uri()).info
    shown = f"{settings.model_uri} (version {info.version}, {info.student})"
    run_until_interrupted(settings, host, port, shown)


def run_until_interrupted(settings: ServeArgs, host: str, port: int, shown: str) -> None:
    """Deploy on the local Ray (or $RAY_ADDRESS), wait for Ctrl-C or SIGTERM, then clean up."""
    import os
    import signal
    import time

    from ray import serve

    from distillrec.runtime import ensure_ray
    from distillrec.serving.deployment import build_app

    ensure_ray()
    # Per-request access logs cost the proxy CPU on every request: off unless asked for.
    logging_config = {"enable_access_log": settings.access_log}
    try:
        serve.start(http_options={"host": host, "port": port}, logging_config=logging_config)
    except RuntimeError as err:  # e.g. HAProxy could not bind: the port was taken meanwhile
        from distillrec.errors import UserError

        raise UserError(f"serving on {host}:{port} failed: {str(err).splitlines()[0]}") from None
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        try:
            serve.run(build_app(settings), name=APP_NAME, route_prefix="/")
        except RuntimeError as err:
            raise_deploy_error(err, settings.model_uri)
        typer.echo(f"serving {shown} at http://{host}:{port} (API docs: /docs); Ctrl-C to stop")
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        # On a shared cluster remove only our application; locally stop Serve altogether.
        if os.environ.get("RAY_ADDRESS"):
            serve.delete(APP_NAME)
        else:
            serve.shutdown()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def raise_deploy_error(err: RuntimeError, model_uri: str) -> None:
    """A replica that cannot start (e.g. the model fails to load) becomes one line, exit 2."""
    from distillrec.errors import UserError

    first = next((line for line in str(err).splitlines() if "UserError" in line), None)
    raise UserError(f"serving {model_uri} failed: {first or str(err).splitlines()[0]}") from None
