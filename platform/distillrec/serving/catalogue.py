"""The served model's item catalogue: ids <-> titles, and request histories checked against it.

Unknown ids and titles are the client's mistake, so they raise :class:`ApiError` (a 4xx naming the
position and value), never reach the model, and never become a 500.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import pandas as pd

from distillrec.serving.http_errors import ApiError
from distillrec.serving.schemas import Item


def normalise_title(title: str) -> str:
    """Case- and spacing-insensitive form used when a title does not match exactly."""
    return re.sub(r"\s+", " ", title).strip().casefold()


class Catalogue:
    """Titles indexed by item id (ids are contiguous ``0..num_items-1``, Contract 1)."""

    def __init__(self, items: pd.DataFrame, num_items: int) -> None:
        self.num_items = int(num_items)
        self.titles = [""] * self.num_items
        exact: dict[str, list[int]] = defaultdict(list)
        loose: dict[str, list[int]] = defaultdict(list)
        for item_id, title in zip(items["item_id"], items["title"], strict=True):
            item_id, title = int(item_id), str(title)
            if 0 <= item_id < self.num_items:
                self.titles[item_id] = title
                exact[title].append(item_id)
                loose[normalise_title(title)].append(item_id)
        self._exact = dict(exact)
        self._loose = dict(loose)

    def item(self, item_id: int) -> Item:
        """The item with this id, or a 404 naming the valid range."""
        if not 0 <= item_id < self.num_items:
            raise ApiError(404, "unknown_item", f"item id {item_id} is not in {self._id_range()}")
        return Item(item_id=item_id, title=self.titles[item_id])

    def check_ids(self, history: Sequence[int], field: str = "history") -> list[int]:
        """Return the ids unchanged, or a 422 naming the first unknown one and its position."""
        for position, item_id in enumerate(history):
            if not 0 <= item_id < self.num_items:
                raise ApiError(
                    422,
                    "unknown_item",
                    f"{field}[{position}]: item id {item_id} is not in {self._id_range()}",
                )
        return list(history)

    def ids_for_titles(self, titles: Sequence[str], field: str = "history_titles") -> list[int]:
        """Map titles to ids: an exact match, else one ignoring case and spacing.

        A title shared by several items is refused (422 ``ambiguous_title`` listing their ids)
        rather than guessed; the client can send those ids in ``history`` instead.
        """
        ids = []
        for position, title in enumerate(titles):
            matches = self._exact.get(title) or self._loose.get(normalise_title(title))
            if not matches:
                raise ApiError(
                    422, "unknown_title", f"{field}[{position}]: no item is titled {title!r}"
                )
            if len(matches) > 1:
                raise ApiError(
                    422,
                    "ambiguous_title",
                    f"{field}[{position}]: {title!r} is the title of items {matches}; "
                    "send their ids in 'history' instead",
                )
            ids.append(matches[0])
        return ids

    def _id_range(self) -> str:
        return f"the catalogue (ids 0..{self.num_items - 1})"
