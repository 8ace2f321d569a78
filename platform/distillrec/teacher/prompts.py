"""BIGRec-style prompts: an instruction, the history titles oldest first, a response prefix.

The same builder serves fine-tuning (prompt + target title) and inference (prompt only), so the
model is trained on exactly the text it later completes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from distillrec.teacher.config import PromptConfig

# "Usual Suspects, The (1995)": MovieLens (and other catalogues) move a leading article behind the
# name; the optional rest is the alternative title and year in parentheses.
TRAILING_ARTICLE = re.compile(
    r"^(?P<name>.+?), (?P<article>The|A|An|Il|La|Le|Les|L'|Lo|Los|Las|El|Das|Der|Die|Det|Den|"
    r"Un|Une|Una|I)(?P<rest> \(.*)?$"
)


def display_title(title: str, style: str = "dataset") -> str:
    """``title`` as prompts show it: unchanged for ``dataset``; for ``article-first`` a trailing
    article moves to the front ("Usual Suspects, The (1995)" -> "The Usual Suspects (1995)")."""
    match = TRAILING_ARTICLE.match(title) if style == "article-first" else None
    if match is None:
        return title
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['name']}{match['rest'] or ''}"


def item_titles(data: Any, config: PromptConfig) -> list[str]:
    """Every item's title as the teacher writes it (prompts, targets and grounding alike), in
    item-id order."""
    return [display_title(str(t), config.title_style) for t in data.items["title"]]


class PromptBuilder:
    """Turns item-id histories into prompts using the titles of the prepared dataset."""

    def __init__(self, config: PromptConfig, titles: Sequence[str]) -> None:
        self.config = config
        self.titles = list(titles)
        words = {"item": config.item, "items": config.items, "verb": config.verb}
        self._instruction = config.instruction.format(**words)
        self._input = config.input.replace("{history}", "\x00").format(**words)
        self._prefix = config.response_prefix.format(**words)

    def history_text(self, history: Sequence[int]) -> str:
        """``"A", "B", "C"``: the last ``max_history`` titles, oldest first (BIGRec quotes them)."""
        recent = list(history)[-self.config.max_history :]
        return ", ".join(f'"{self.titles[int(i)]}"' for i in recent)

    def prompt(self, history: Sequence[int]) -> str:
        """The full prompt, ending with the response prefix the model continues."""
        text_input = self._input.replace("\x00", self.history_text(history))
        return self.config.template.format(
            instruction=self._instruction, input=text_input, response_prefix=self._prefix
        )

    def target(self, item_id: int) -> str:
        """The supervised response after the prefix: the next item's title and the suffix."""
        return f"{self.titles[int(item_id)]}{self.config.response_suffix}"

    def prompts(self, histories: Sequence[Sequence[int]] | np.ndarray) -> list[str]:
        """Prompts for a batch of histories (lists or arrays of item ids)."""
        return [self.prompt(h) for h in histories]


def clean_generation(text: str, stop: Sequence[str] = ()) -> str:
    """Strip what follows a stop string and surrounding quotes/whitespace (BIGRec strips quotes)."""
    for token in stop:
        if token and token in text:
            text = text.split(token, 1)[0]
    return text.strip().strip('"').strip()
