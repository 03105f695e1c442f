"""The API key never leaves the X-API-Key header of requests to its origin.

Each scenario below drives a client with a key through one way of ending a
call (success, HTTP errors, redirects, retries, transport, TLS and proxy
failures, a backend that echoes the key back) while every log record of
every logger is captured at DEBUG, urllib3's included. Then the secret part
of the key is looked for in everything a caller or an operator could see:
``repr`` of the client, each error's ``str``, ``repr``, ``args``,
attributes and traceback (chained causes included), and each formatted log
record with its own traceback.
"""

from __future__ import annotations

import logging
import socket
import ssl
import traceback
from typing import Callable, Iterator, List

import pytest
import trustme

from openapp_status import (
    Client,
    ConfigError,
    OpenAppError,
    RetryPolicy,
    get_status,
    wait_for_backend,
)
from openapp_status.testing import FakeBackend, Reply

SECRET = "Zq9-S3cr3t-T0ken-Value"

#: Retries without real waiting, so that retried scenarios stay fast.
FAST = RetryPolicy(
    initial_backoff=0.001, max_backoff=0.005, retry_budget=None, deadline=10
)


def key_for(backend: FakeBackend) -> str:
    return f"{backend.origin}_openapp_{SECRET}"


def visible(error: OpenAppError) -> List[str]:
    """Everything about ``error`` that a caller could print or log."""
    texts = [str(error), repr(error), repr(error.args), repr(vars(error))]
    # What logger.exception() would write: the chained urllib3 errors too.
    texts += traceback.format_exception(type(error), error, error.__traceback__)
    headers = getattr(error, "headers", None)
    if headers is not None:
        texts.append(repr(list(headers.items())))
    return texts


#: The fake backend's loggers: their records show the replies a test scripted,
#: echoes of the key included, so they are the test's words, not the client's.
FAKE_BACKEND_LOGGERS = ("openapp_status.testing", "openapp_status._fakeserver")


def logged(caplog: pytest.LogCaptureFixture) -> List[str]:
    """Every record of the client's and urllib3's loggers, with tracebacks."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [
        formatter.format(record)
        for record in caplog.records
        if not record.name.startswith(FAKE_BACKEND_LOGGERS)
    ]


@pytest.fixture
def other() -> Iterator[FakeBackend]:
    with FakeBackend(environment="other") as fake:
        yield fake


def failures(call: Callable[[], object], times: int = 1) -> List[OpenAppError]:
    errors = []
    for _ in range(times):
        with pytest.raises(OpenAppError) as info:
            call()
        errors.append(info.value)
    return errors


# -- scenarios: each returns the errors it provoked ---------------------------


def success(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    with Client(backend.url, api_key=key_for(backend)) as client:
        client.status.get()
        client.wait_for_backend(timeout=5)
    get_status(api_key=key_for(backend))
    wait_for_backend(api_key=key_for(backend), timeout=5)
    assert backend.requests[0].headers["X-API-Key"] == key_for(backend)
    return []


def http_errors(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    backend.enqueue(
        Reply.api_error(401, "bad key", error_code="unauthorized"),
        Reply.api_error(404, "nothing here"),
        Reply.status(502, "<html>bad gateway</html>"),
        Reply.status(200, {"environment": "x"}),
        Reply.status(200, "<html>not json</html>"),
    )
    client = Client(backend.url, api_key=key_for(backend), retry=RetryPolicy.none())
    return failures(client.status.get, times=5)


def retries(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    backend.enqueue(
        Reply.api_error(503, "starting", retry_after=0),
        Reply.status(500),
        Reply.drop(),
        Reply.ok(),
        *[Reply.api_error(429, "slow down")] * 4,
    )
    client = Client(backend.url, api_key=key_for(backend), retry=FAST)
    client.status.get()
    return failures(client.status.get)


def redirects(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    backend.enqueue(Reply.redirect(other.url + "/status"), Reply.ok())
    other.enqueue(Reply.redirect(backend.url + "/status?back=1"))
    backend.enqueue(*[Reply.redirect("/api/v1/status?hop=1")] * 2)
    client = Client(backend.url, api_key=key_for(backend), retry=RetryPolicy.none())
    client.status.get()
    errors = failures(client.status.get)
    assert all("X-API-Key" not in r.headers for r in other.requests)
    return errors


def echoes(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    # A backend, or a proxy in front of it, that repeats the key it was sent.
    key = key_for(backend)
    backend.enqueue(
        Reply.status(200, key),
        Reply.status(200, f"X-API-Key: {key}"),
        Reply.status(200, {"environment": key, "version": 14}),
        Reply.api_error(400, f"invalid key {key}", error_code=key, details=key),
        Reply.status(500, key, headers={"X-Request-Id": key, "X-Echo": key}),
        Reply.status(418, key.encode()),
        Reply.gzip(f"<pre>{key}</pre>"),
        Reply.redirect(f"/api/v1/status?key={key}"),
        Reply.status(404),
    )
    client = Client(backend.url, api_key=key, retry=RetryPolicy.none())
    errors = failures(client.status.get, times=8)
    assert backend.requests[-1].path == "/api/v1/status?key=%3Chidden%3E"
    return errors


def transport_errors(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    backend.enqueue(
        Reply.drop(),
        Reply.reset_mid_body(),
        Reply.delay(2),
        Reply.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}"),
        Reply.oversized(64 * 1024 + 1),
    )
    key = key_for(backend)
    client = Client(backend.url, api_key=key, timeout=0.3, retry=RetryPolicy.none())
    errors = failures(client.status.get, times=5)
    backend.down()
    errors += failures(Client(backend.url, api_key=key, retry=FAST).status.get)
    backend.up()
    return errors


def tls_errors(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    # Issued by a CA that the client does not trust.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    with FakeBackend(ssl_context=context) as tls:
        client = Client(tls.url, api_key=key_for(tls), retry=FAST)
        return failures(client.status.get)


def proxy_errors(backend: FakeBackend, other: FakeBackend) -> List[OpenAppError]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://user:pass@127.0.0.1:{sock.getsockname()[1]}"
    errors = []
    for url in ("http://backend.test:8080", "https://backend.test:8443"):
        client = Client(api_key=f"{url}_openapp_{SECRET}", proxy=dead, retry=FAST)
        errors += failures(client.status.get)
    return errors


SCENARIOS = [
    success,
    http_errors,
    retries,
    redirects,
    echoes,
    transport_errors,
    tls_errors,
    proxy_errors,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_the_key_appears_in_no_error_and_no_log_record(
    backend: FakeBackend,
    other: FakeBackend,
    caplog: pytest.LogCaptureFixture,
    scenario: Callable[[FakeBackend, FakeBackend], List[OpenAppError]],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root: every logger, urllib3's too

    errors = scenario(backend, other)

    lines = logged(caplog)
    assert lines  # the capture works, so its silence means something
    seen = [text for error in errors for text in visible(error)] + lines
    assert [text for text in seen if SECRET in text] == []


def test_the_scenarios_do_log_at_debug_and_info(
    backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """The capture above sees urllib3's and our records: it is not vacuous."""
    caplog.set_level(logging.DEBUG)
    backend.enqueue(Reply.status(503))

    Client(backend.url, api_key=key_for(backend), retry=FAST).status.get()

    names = {(r.name.split(".")[0], r.levelname) for r in caplog.records}
    assert ("urllib3", "DEBUG") in names
    assert ("openapp_status", "DEBUG") in names
    assert ("openapp_status", "INFO") in names


# -- the client itself, and keys refused at construction ----------------------


def test_the_client_repr_hides_the_key(backend: FakeBackend) -> None:
    client = Client(backend.url, api_key=key_for(backend))

    assert repr(client) == f"Client(base_url={backend.url!r}, api_key=<hidden>)"
    assert SECRET not in repr(client.status)


@pytest.mark.parametrize(
    "bad", ["\r\nX-Evil: 1", "\n", "\r", "\x00", "\x7f", "\t", " ", "\u00e9", "\u2028"]
)
def test_a_key_with_control_characters_is_a_config_error_that_hides_it(
    bad: str,
) -> None:
    key = f"https://api.openapp.house_openapp_{SECRET}{bad}tail"

    with pytest.raises(ConfigError) as info:
        Client(api_key=key)

    for text in visible(info.value):
        assert SECRET not in text
        assert "tail" not in text


@pytest.mark.parametrize(
    "key",
    [
        f"ftp://host_openapp_{SECRET}",
        f"https://host/path_openapp_{SECRET}",
        f"https://user@host_openapp_{SECRET}",
        "https://host_openapp_",
        f"http://[::1_openapp_{SECRET}",
    ],
)
def test_a_malformed_token_is_a_config_error_that_hides_it(key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Client(api_key=key)

    for text in visible(info.value):
        assert SECRET not in text


def test_a_token_passed_as_the_base_url_is_not_repeated() -> None:
    with pytest.raises(ConfigError) as info:
        Client(f"https://api.openapp.house_openapp_{SECRET}")

    for text in visible(info.value):
        assert SECRET not in text
