"""Champion switching without dropping requests: the current model behind one reference.

A new version is loaded off to the side (in the caller's thread) while the old one keeps answering,
then swapped in with one assignment. Readers take ``holder.current`` once per request and keep that
snapshot until they answer, so no request ever sees half a switch.
"""

from __future__ import annotations

import logging
import threading

from distillrec.serving.model_loading import (
    LoadedModel,
    load_champion,
    parse_model_uri,
    resolve_version,
)
from distillrec.serving.schemas import ModelInfo

logger = logging.getLogger("ray.serve")


class ChampionHolder:
    """The model a replica serves, re-resolved from its alias on demand or periodically."""

    def __init__(self, model_uri: str, tracking_uri: str) -> None:
        self.ref = parse_model_uri(model_uri)
        self.tracking_uri = tracking_uri
        self.current: LoadedModel = load_champion(model_uri, tracking_uri)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._non_finite = 0  # requests the current model scored NaN/inf (reset on a switch)

    @property
    def fault(self) -> str | None:
        """Why the current model is unhealthy (``/healthz`` answers 503), or None."""
        if not self._non_finite:
            return None
        return (
            f"model {self.current.info.name} version {self.current.info.version} produced "
            f"non-finite scores (NaN/inf) for {self._non_finite} request(s)"
        )

    def report_non_finite(self, champion: LoadedModel) -> None:
        """A request scored by ``champion`` got NaN/inf scores: mark it unhealthy if current."""
        if champion is self.current:
            self._non_finite += 1

    def reload(self) -> tuple[ModelInfo, ModelInfo]:
        """Switch to the version the alias points at now, if it changed: (previous, current).

        Raises :class:`~distillrec.errors.UserError` (alias gone, model unloadable) and keeps the
        current model in that case.
        """
        with self._lock:
            previous = self.current
            version = resolve_version(self.ref, self.tracking_uri)
            if version == previous.info.version:
                return previous.info, previous.info
            pinned = f"models:/{self.ref.name}/{version}" if self.ref.name else self.ref.uri
            self.current = load_champion(pinned, self.tracking_uri)
            self._non_finite = 0
            logger.info("champion switched: %s -> %s", previous.info, self.current.info)
            return previous.info, self.current.info

    def start_polling(self, interval_s: float) -> bool:
        """Check the alias every ``interval_s`` seconds in a daemon thread (if it can move)."""
        if not self.ref.follows_alias or interval_s <= 0:
            return False
        threading.Thread(target=self._poll, args=(interval_s,), daemon=True).start()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _poll(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.reload()
            except Exception as err:  # keep serving the current model; try again next time
                logger.warning("champion check failed, keeping %s: %s", self.current.info, err)
