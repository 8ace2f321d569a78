"""Find and load the model to serve: ``models:/<name>@<alias>`` resolved to a concrete version.

The alias is resolved to a version first and that exact version (``models:/<name>/<version>``) is
loaded, so the version reported in answers is the one that produced them even if the alias moves
during the load. Replicas run in other processes (other working directories), so the tracking URI
is always passed explicitly and made absolute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from distillrec.contracts import CHAMPION_ALIAS
from distillrec.errors import UserError
from distillrec.serving.catalogue import Catalogue
from distillrec.serving.schemas import ModelInfo

if TYPE_CHECKING:
    from distillrec.training.packaging import PackagedStudent

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: a registry name with an alias or a version, or any other MLflow URI."""

    uri: str
    name: str | None = None
    alias: str | None = None
    version: str | None = None

    @property
    def follows_alias(self) -> bool:
        """True when the served version can change (the alias may move)."""
        return self.alias is not None


def parse_model_uri(uri: str) -> ModelRef:
    """``models:/n@champion`` -> name+alias; ``models:/n/3`` -> name+version; else URI as is."""
    if not uri.startswith("models:/"):
        return ModelRef(uri=uri)
    match = _REGISTRY_URI.match(uri)
    if match is None:
        raise UserError(
            f"model URI {uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>"
        )
    if match["alias"] is None and match["version"] is None:
        return ModelRef(uri=uri, name=match["name"], alias=CHAMPION_ALIAS)
    return ModelRef(uri=uri, name=match["name"], alias=match["alias"], version=match["version"])


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve_version(ref: ModelRef, tracking_uri: str) -> str | None:
    """The registry version ``ref`` points at now (None for a non-registry URI)."""
    if ref.name is None:
        return None
    if ref.version is not None:
        return ref.version
    from mlflow.exceptions import MlflowException

    try:
        return str(_client(tracking_uri).get_model_version_by_alias(ref.name, ref.alias).version)
    except MlflowException as err:
        raise UserError(
            f"model {ref.uri!r} in {tracking_uri}: no version of registered model {ref.name!r} "
            f"has alias {ref.alias!r} ({err.message.splitlines()[0]}); run `distillrec sweep` "
            "to register a champion, or pass --model"
        ) from None


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model plus what answers report about it."""

    student: PackagedStudent
    info: ModelInfo
    catalogue: Catalogue

    @property
    def max_history(self) -> int:
        return int(self.student.max_history)


def load_champion(model_uri: str, tracking_uri: str) -> LoadedModel:
    """Resolve ``model_uri`` to a version and load it through ``training.packaging``.

    A model whose scores on a few probe histories are not finite is refused (``UserError``), so
    ``distillrec serve`` stops with one line and a reload keeps the previous version.
    """
    import mlflow

    from distillrec.training.packaging import NonFiniteScoresError, load_student

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    ref = parse_model_uri(model_uri)
    version = resolve_version(ref, tracking_uri)
    pinned = f"models:/{ref.name}/{version}" if ref.name is not None else ref.uri
    try:
        student = load_student(pinned)
        student.probe_finite()
    except NonFiniteScoresError as err:
        raise UserError(f"model {pinned!r}: refusing to serve it ({err})") from None
    except UserError:
        raise
    except Exception as err:  # MLflow raises many types for a missing/broken model
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"model {pinned!r} in {tracking_uri}: cannot load it ({first})") from None
    info = ModelInfo(name=ref.name or ref.uri, version=version, student=student.student_name)
    return LoadedModel(
        student=student, info=info, catalogue=Catalogue(student.items, student.num_items)
    )
