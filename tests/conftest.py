"""Shared fixtures: a fake backend per test, and retry policies that barely wait."""

from __future__ import annotations

from typing import Iterator

import pytest

from openapp_status import RetryPolicy
from openapp_status.testing import FakeBackend

#: Retries without real waiting, so failure tests stay fast.
FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.005, retry_budget=None)


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend(environment="test", version="0.14.2") as fake:
        yield fake
