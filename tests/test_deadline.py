"""Retries and the deadline against a real loopback backend.

Timing bounds here are generous on purpose (a busy CI machine must not
flake); the precise overrun is measured in benchmarks/deadline.py.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from typing import Tuple

import pytest

from openapp_status import (
    ApiError,
    Client,
    ConnectError,
    GatewayError,
    HttpError,
    ProtocolError,
    RetryPolicy,
    Timeout,
    wait_for_backend,
)
from openapp_status.testing import FakeBackend, Reply

FAST = RetryPolicy(initial_backoff=0.001, max_backoff=0.005, retry_budget=None)
SLACK = 0.5  # seconds allowed past a deadline in these tests


def timed_failure(client: Client) -> Tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        client.status.get()
    return info.value, time.monotonic() - started


@pytest.mark.parametrize(
    "reply",
    [
        Reply.trickle_head(0.05),
        Reply.trickle_body(0.05, then=Reply.oversized(2000)),
        Reply.trickle_body(0.05, then=Reply.endless()),
        Reply.delay(30),
    ],
    ids=repr,
)
def test_deadline_holds_against_slow_servers(
    backend: FakeBackend, reply: Reply
) -> None:
    """Each read gets a byte before its timeout, but the call still ends."""
    backend.enqueue(reply, reply, reply, reply)
    policy = RetryPolicy(deadline=1.0, initial_backoff=0.01)
    client = Client(backend.url, timeout=(5, 0.5), retry=policy)
    error, elapsed = timed_failure(client)
    assert isinstance(error, Timeout)
    assert "deadline" in str(error)
    assert 0.9 <= elapsed < 1.0 + SLACK
    assert error.elapsed < 1.0 + SLACK


def test_attempt_timeout_holds_against_a_trickled_head(backend: FakeBackend) -> None:
    backend.enqueue(Reply.trickle_head(0.05))
    client = Client(backend.url, timeout=0.5, retry=RetryPolicy.none())
    error, elapsed = timed_failure(client)
    assert isinstance(error, Timeout)
    assert "0.5s timeout" in str(error)
    assert elapsed < 0.5 + SLACK


def test_retries_until_success(backend: FakeBackend) -> None:
    backend.enqueue(
        Reply.drop(), Reply.status(503, "busy"), Reply.api_error(429, "slow")
    )
    assert Client(backend.url, retry=FAST).status.get().version == "0.14.2"
    assert len(backend.requests) == 4


def test_gives_up_after_max_retries(backend: FakeBackend) -> None:
    backend.enqueue(*[Reply.status(502, "<html>")] * 10)
    with pytest.raises(GatewayError) as info:
        Client(
            backend.url, retry=RetryPolicy(max_retries=2, initial_backoff=0)
        ).status.get()
    assert info.value.attempts == 3
    assert len(backend.requests) == 3


def test_non_retried_status_fails_at_once(backend: FakeBackend) -> None:
    backend.enqueue(Reply.api_error(404, "gone"), Reply.ok())
    with pytest.raises(ApiError):
        Client(backend.url, retry=FAST).status.get()
    assert len(backend.requests) == 1


def test_retry_after_seconds_is_honoured(backend: FakeBackend) -> None:
    backend.enqueue(Reply.api_error(503, "maintenance", retry_after=1))
    started = time.monotonic()
    Client(backend.url, retry=RetryPolicy(initial_backoff=0)).status.get()
    assert 0.95 <= time.monotonic() - started < 1 + SLACK


def test_retry_after_date_is_honoured(backend: FakeBackend) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    backend.enqueue(Reply.status(429, {"message": "later"}, retry_after=when))
    started = time.monotonic()
    Client(backend.url, retry=RetryPolicy(initial_backoff=0)).status.get()
    # An HTTP-date has a resolution of one second.
    assert 0.9 <= time.monotonic() - started < 2 + SLACK


def test_retry_after_is_capped(backend: FakeBackend) -> None:
    backend.enqueue(Reply.status(503, "", retry_after=3600))
    started = time.monotonic()
    policy = RetryPolicy(initial_backoff=0, max_retry_after=0.2)
    Client(backend.url, retry=policy).status.get()
    assert time.monotonic() - started < 0.2 + SLACK


def test_retry_after_past_the_deadline_fails_at_once(backend: FakeBackend) -> None:
    backend.enqueue(Reply.api_error(503, "maintenance", retry_after=120))
    client = Client(backend.url, retry=RetryPolicy(deadline=5))
    error, elapsed = timed_failure(client)
    assert isinstance(error, HttpError)
    assert error.retry_after == 120
    assert elapsed < SLACK
    assert "past the 5s deadline" in str(error)
    assert len(backend.requests) == 1


def test_budget_limits_load_in_a_sustained_outage(backend: FakeBackend) -> None:
    """100 calls in an outage make about 100 requests, not 400."""
    backend.enqueue(*[Reply.status(503, "<html>down</html>")] * 1000)
    client = Client(backend.url, retry=RetryPolicy(initial_backoff=0))
    messages = []
    for _ in range(100):
        with pytest.raises(GatewayError) as info:
            client.status.get()
        messages.append(str(info.value))
    assert len(backend.requests) <= 110
    assert any("retry budget" in message for message in messages)


def test_stale_keep_alive_connection_is_replaced_for_free(backend: FakeBackend) -> None:
    """A pooled connection closed by the server costs neither a retry nor a wait."""
    client = Client(backend.url, retry=RetryPolicy.none())
    client.status.get()
    backend.enqueue(Reply.drop())
    assert client.status.get().version == "0.14.2"
    connections = [r.connection for r in backend.requests]
    assert connections[0] == connections[1] != connections[2]


def test_a_drop_on_a_fresh_connection_is_a_real_failure(backend: FakeBackend) -> None:
    backend.enqueue(Reply.drop())
    with pytest.raises(ProtocolError):
        Client(backend.url, retry=RetryPolicy.none()).status.get()


def test_gate_waits_for_a_backend_that_comes_up_late(backend: FakeBackend) -> None:
    backend.down()
    timer = threading.Timer(1.0, backend.up)
    timer.start()
    try:
        started = time.monotonic()
        status = wait_for_backend(backend.url, timeout=20, retry=FAST)
        waited = time.monotonic() - started
    finally:
        timer.cancel()
    assert status.version == "0.14.2"
    assert 0.9 <= waited < 5


def test_gate_uses_its_whole_timeout_and_says_how_long(backend: FakeBackend) -> None:
    backend.down()
    started = time.monotonic()
    with pytest.raises(ConnectError) as info:
        wait_for_backend(backend.url, timeout=1.5)
    elapsed = time.monotonic() - started
    assert 1.3 <= elapsed < 1.5 + SLACK
    assert "not up after waiting 1.5s" in str(info.value)
    assert info.value.attempts >= 3


def test_gate_fails_at_once_on_auth_errors(backend: FakeBackend) -> None:
    backend.enqueue(Reply.api_error(401, "no"))
    started = time.monotonic()
    with pytest.raises(HttpError):
        Client(backend.url).wait_for_backend(timeout=30)
    assert time.monotonic() - started < SLACK


def test_logging_of_requests_and_retries(
    backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"{backend.origin}_openapp_log-Secret"
    backend.enqueue(Reply.status(503, "<html>"))
    with caplog.at_level(logging.DEBUG):
        Client(backend.url, api_key=key, retry=FAST).status.get()
    ours = [
        r
        for r in caplog.records
        if r.name.startswith("openapp_status.") and r.name != "openapp_status.testing"
    ]
    retries = [r for r in ours if r.levelno == logging.INFO]
    requests = [r for r in ours if "GET" in r.getMessage()]
    assert len(retries) == 1
    assert "attempt 1" in retries[0].getMessage()
    assert "gateway answered 503" in retries[0].getMessage()
    assert len(requests) == 2
    assert all(r.levelno == logging.DEBUG for r in requests)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "log-Secret" not in caplog.text
