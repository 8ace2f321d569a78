"""Student tests run single-threaded: tiny tensors, and no OpenMP spinning on a busy 2-core box."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    yield
