"""BIGRec-style prompts: an instruction, the history titles oldest first, a response prefix.

The same builder serves fine-tuning (prompt + target title) and inference (prompt only), so the
model is trained on exactly the text it later completes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distillrec.teacher.config import PromptConfig


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
