"""Fork safety, and no threads at import or when a client is built.

A client shared across ``os.fork()`` must never let the child talk on the
parent's pooled sockets: two processes writing to one TCP connection would
interleave their requests. The fake backend numbers the connections it
accepts, so a new connection is observed on the server side, not inferred.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import textwrap
import warnings
from typing import Callable, Dict, Iterator, Tuple

import pytest
import trustme

from openapp_status import Client
from openapp_status.testing import FakeBackend

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(work: Callable[[], None]) -> int:
    """Run ``work`` in a forked child; return its exit status (0: it passed)."""
    # The fake backend's threads make Python 3.12+ warn that forking a
    # threaded process may deadlock the child; the child here only uses the
    # client, whose locks are free at the moment of the fork.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1


@pytest.fixture(params=["http", "https"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[FakeBackend, Client]]:
    """A backend, plain or TLS, and a client for it."""
    options: Dict[str, str] = {}
    context = None
    if request.param == "https":
        ca = trustme.CA()
        options["ca_certs"] = str(tmp_path_factory.mktemp("ca") / "ca.pem")
        ca.cert_pem.write_to_path(options["ca_certs"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)

    backend = FakeBackend(environment="forked", ssl_context=context)
    with backend, Client(backend.url, **options) as client:  # type: ignore[arg-type]
        yield backend, client


def test_the_child_opens_its_own_connection_and_the_parent_keeps_its_own(
    served: Tuple[FakeBackend, Client],
) -> None:
    backend, client = served
    client.status.get()  # the parent now holds a pooled keep-alive connection

    def child() -> None:
        assert client.status.get().environment == "forked"
        assert client.status.get().environment == "forked"

    assert in_child(child) == 0
    client.status.get()

    parent_first, child_first, child_second, parent_again = backend.requests
    assert parent_first.connection == 1
    assert child_first.connection == 2  # new, not the parent's
    assert child_second.connection == 2  # the child pools its own
    assert parent_again.connection == 1  # the parent's is intact


def test_closing_the_client_in_the_child_leaves_the_parents_connection_alone(
    served: Tuple[FakeBackend, Client],
) -> None:
    backend, client = served
    client.status.get()

    def child() -> None:
        with client:
            client.status.get()

    assert in_child(child) == 0
    client.status.get()

    assert [r.connection for r in backend.requests] == [1, 2, 1]


def test_a_child_that_only_closes_the_client_leaves_the_parents_connection_alone(
    served: Tuple[FakeBackend, Client],
) -> None:
    backend, client = served
    client.status.get()

    assert in_child(client.close) == 0
    client.status.get()

    assert [r.connection for r in backend.requests] == [1, 1]


def test_no_thread_starts_at_import_or_when_a_client_is_built() -> None:
    script = textwrap.dedent(
        """
        import threading
        import openapp_status
        assert threading.active_count() == 1, threading.enumerate()
        client = openapp_status.Client("http://127.0.0.1:9")
        openapp_status.Client("https://127.0.0.1:9", verify=False)
        openapp_status.Client("http://192.0.2.1:9", proxy="http://127.0.0.1:9")
        assert threading.active_count() == 1, threading.enumerate()
        client.close()
        assert threading.active_count() == 1, threading.enumerate()
        """
    )

    result = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr.decode(errors="replace")
