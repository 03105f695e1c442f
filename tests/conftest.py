"""Shared fixtures: a fake backend per test, and a private certificate authority."""

from __future__ import annotations

from typing import Iterator

import pytest
import trustme

from openapp_status.testing import FakeBackend


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend(environment="test", version="0.14.2") as fake:
        yield fake


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A private certificate authority, as a company's internal CA."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CA's certificate as a PEM file, for ``ca_certs``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
