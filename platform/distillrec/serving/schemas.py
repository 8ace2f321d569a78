"""The HTTP API's request and response bodies (pydantic); the OpenAPI page at /docs comes from them.

Requests are strict (``extra="forbid"``, no type coercion): ``"k": "10"`` or ``"history": [1.5]``
is a 422 naming the field, not a silent conversion.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

MAX_K = 100


class RecommendRequest(BaseModel):
    """A user's history (item ids or exact titles, oldest first) and how many items to return."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"history": [49, 180, 257], "k": 5}]},
    )

    history: list[StrictInt] | None = Field(
        default=None,
        description="Item ids the user interacted with, oldest first. The model sees the most "
        "recent max_history of them; exclude_history leaves out all of them.",
    )
    history_titles: list[StrictStr] | None = Field(
        default=None,
        description="Alternatively, item titles (exact, or equal ignoring case and spacing).",
    )
    k: Annotated[StrictInt, Field(ge=1, le=MAX_K)] = Field(
        default=10, description=f"How many items to return (1..{MAX_K})."
    )
    exclude_history: StrictBool = Field(
        default=True, description="Leave out every item of the history (also beyond max_history)."
    )

    @model_validator(mode="after")
    def _one_non_empty_history(self) -> Self:
        given = [name for name in ("history", "history_titles") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'history' (item ids) or 'history_titles'")
        if not getattr(self, given[0]):
            raise ValueError(f"'{given[0]}' is empty: give at least one item")
        return self


class Item(BaseModel):
    """One catalogue item."""

    item_id: int
    title: str


class ScoredItem(Item):
    """A recommended item with the model's score (higher is better)."""

    score: float


class ModelInfo(BaseModel):
    """Which registered model version answered: changes when the champion alias moves."""

    name: str = Field(description="Registered model name (or the model URI if not registered).")
    version: str | None = Field(description="Registered model version, null if not registered.")
    student: str = Field(description="Student architecture, e.g. sasrec.")


class RecommendResponse(BaseModel):
    """Top-k items, best first, and the model version that ranked them."""

    items: list[ScoredItem]
    model: ModelInfo
    history_used: int = Field(description="History items the model saw (after truncation).")


class HealthResponse(BaseModel):
    """Liveness plus what is loaded: the benchmark reads num_items and max_history from here."""

    status: str = Field(description="ok, or unhealthy (HTTP 503) with the reason in detail.")
    model: ModelInfo
    num_items: int
    max_history: int
    detail: str | None = Field(default=None, description="Why the service is unhealthy.")


class ReloadResponse(BaseModel):
    """The outcome of ``POST /admin/reload``."""

    changed: bool = Field(description="True when a new champion version was loaded.")
    previous: ModelInfo
    model: ModelInfo


class ErrorResponse(BaseModel):
    """Every 4xx answer: a stable machine-readable code and a message naming the problem."""

    error: str = Field(description="e.g. invalid_request, unknown_item, body_too_large")
    message: str
