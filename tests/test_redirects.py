"""Redirects, followed by the client itself: hops, origins, downgrades, deadline.

urllib3's own redirect handling is off; these tests pin the client's rules
against real loopback backends. A second FakeBackend plays "another origin"
and records what reached it, so the API key's travels are observed on the
wire, not inferred.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Iterator, List

import pytest
import trustme

from openapp_status import (
    BackendStatus,
    Client,
    HttpError,
    RedirectError,
    RetryPolicy,
    Timeout,
    TransportError,
)
from openapp_status.testing import FakeBackend, RecordedRequest, Reply

SECRET = "r3direct-Secret"


def key_for(backend: FakeBackend) -> str:
    return f"{backend.origin}_openapp_{SECRET}"


def paths(backend: FakeBackend) -> List[str]:
    return [request.path for request in backend.requests]


def sent_key(request: RecordedRequest) -> bool:
    return "X-API-Key" in request.headers


@pytest.fixture
def other() -> Iterator[FakeBackend]:
    """A second backend on another port: another origin."""
    with FakeBackend(environment="other") as fake:
        yield fake


@pytest.fixture
def tls_backend(ca: trustme.CA) -> Iterator[FakeBackend]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with FakeBackend(environment="tls", ssl_context=context) as fake:
        yield fake


# -- which redirects are followed ---------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_each_redirect_status_is_followed_with_a_get(
    backend: FakeBackend, status: int
) -> None:
    backend.enqueue(Reply.redirect("/api/v1/moved", status=status), Reply.ok())

    result = Client(backend.url).status.get()

    assert result == BackendStatus("test", "0.14.2")
    assert paths(backend) == ["/api/v1/status", "/api/v1/moved"]
    assert [request.method for request in backend.requests] == ["GET", "GET"]


def test_three_hops_are_followed(backend: FakeBackend) -> None:
    backend.enqueue(
        Reply.redirect("/api/v1/a"),
        Reply.redirect("/api/v1/b", status=307),
        Reply.redirect("/api/v1/c", status=308),
        Reply.ok(),
    )

    Client(backend.url).status.get()

    assert paths(backend) == [
        "/api/v1/status",
        "/api/v1/a",
        "/api/v1/b",
        "/api/v1/c",
    ]


def test_a_fourth_hop_is_refused_and_the_error_names_the_chain(
    backend: FakeBackend,
) -> None:
    backend.enqueue(*[Reply.redirect(f"/api/v1/{hop}") for hop in "abcd"])

    with pytest.raises(RedirectError) as info:
        Client(backend.url).status.get()

    error = info.value
    assert isinstance(error, TransportError)
    assert "more than 3 redirects" in str(error)
    chain = [backend.status_url] + [f"{backend.url}/{hop}" for hop in "abcd"]
    assert " -> ".join(chain) in str(error)
    assert error.url == f"{backend.url}/c"  # the last URL that answered
    assert error.attempts == 1  # a redirect policy is not retried
    assert len(backend.requests) == 4  # the fourth target was never asked


def test_a_redirect_loop_is_refused_and_the_error_names_the_chain(
    backend: FakeBackend,
) -> None:
    backend.enqueue(Reply.redirect("/api/v1/a"), Reply.redirect("/api/v1/status"))

    with pytest.raises(RedirectError) as info:
        Client(backend.url, retry=RetryPolicy()).status.get()

    message = str(info.value)
    assert "redirect loop" in message
    url = backend.status_url
    assert f"{url} -> {backend.url}/a -> {url}" in message
    assert len(backend.requests) == 2


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("moved", "/api/v1/moved"),
        ("../v2/status", "/api/v2/status"),
        ("/elsewhere/status", "/elsewhere/status"),
        ("?probe=1", "/api/v1/status?probe=1"),
        ("/api/v1/moved#fragment", "/api/v1/moved"),
    ],
)
def test_relative_locations_resolve_against_the_url_that_redirected(
    backend: FakeBackend, location: str, path: str
) -> None:
    backend.enqueue(Reply.redirect(location), Reply.ok())

    Client(backend.url).status.get()

    assert paths(backend)[1] == path


def test_a_redirect_status_without_location_is_an_http_error(
    backend: FakeBackend,
) -> None:
    backend.enqueue(Reply.status(302))

    with pytest.raises(HttpError) as info:
        Client(backend.url, retry=RetryPolicy.none()).status.get()

    assert info.value.status == 302


@pytest.mark.parametrize(
    "location",
    [
        b"ftp://127.0.0.1/status",
        b"http://[::1",
        b"http://127.0.0.1:99999/status",
        b"https:///no-host",
        b"/api/v1/st\x00tus",
        b"/api/v1/\x7fstatus",
    ],
)
def test_an_unusable_location_is_a_redirect_error(
    backend: FakeBackend, location: bytes
) -> None:
    backend.enqueue(
        Reply.raw(
            b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
    )

    with pytest.raises(RedirectError) as info:
        Client(backend.url, retry=RetryPolicy.none()).status.get()

    assert "invalid location" in str(info.value)
    assert len(backend.requests) == 1


def test_a_location_with_user_info_is_refused_without_showing_it(
    backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    location = f"http://admin:hunter2@127.0.0.1:{backend.port}/api/v1/status"
    backend.enqueue(Reply.redirect(location))

    with pytest.raises(RedirectError) as info:
        Client(backend.url, retry=RetryPolicy.none()).status.get()

    assert "user-info" in str(info.value)
    assert "hunter2" not in repr(info.value)
    assert "hunter2" not in (info.value.url or "")
    assert len(backend.requests) == 1
    shown = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert not any("hunter2" in line for line in shown)


# -- the API key and origins --------------------------------------------------


def test_the_key_goes_only_to_the_base_origin_even_across_a_round_trip(
    backend: FakeBackend, other: FakeBackend
) -> None:
    backend.enqueue(Reply.redirect(other.url + "/status"), Reply.ok())
    other.enqueue(Reply.redirect(backend.url + "/status?back=1"))

    result = Client(api_key=key_for(backend)).status.get()

    assert result.environment == "test"
    assert paths(backend) == ["/api/v1/status", "/api/v1/status?back=1"]
    assert all(sent_key(request) for request in backend.requests)
    assert backend.requests[1].headers["X-API-Key"] == key_for(backend)
    assert len(other.requests) == 1
    assert not sent_key(other.requests[0])


def test_the_same_host_on_another_port_is_another_origin(
    backend: FakeBackend, other: FakeBackend
) -> None:
    assert other.host == backend.host
    backend.enqueue(Reply.redirect(other.url + "/status"))

    assert Client(api_key=key_for(backend)).status.get().environment == "other"

    assert sent_key(backend.requests[0])
    assert not sent_key(other.requests[0])


def test_the_same_port_under_another_host_name_is_another_origin(
    backend: FakeBackend,
) -> None:
    alias = f"http://localhost:{backend.port}/api/v1/status"
    backend.enqueue(Reply.redirect(alias), Reply.ok())

    Client(api_key=key_for(backend)).status.get()

    first, second = backend.requests
    assert sent_key(first)
    assert second.headers["Host"] == f"localhost:{backend.port}"
    assert not sent_key(second)


def test_an_upgrade_to_https_is_followed_without_the_key(
    backend: FakeBackend, tls_backend: FakeBackend, ca_file: str
) -> None:
    backend.enqueue(Reply.redirect(tls_backend.url + "/status", status=301))

    client = Client(api_key=key_for(backend), ca_certs=ca_file)

    assert client.status.get().environment == "tls"
    assert sent_key(backend.requests[0])
    assert not sent_key(tls_backend.requests[0])


def test_an_https_to_http_downgrade_is_refused_before_any_byte_is_sent(
    tls_backend: FakeBackend, backend: FakeBackend, ca_file: str
) -> None:
    tls_backend.enqueue(Reply.redirect(backend.url + "/status", status=301))
    key = f"{tls_backend.origin}_openapp_{SECRET}"

    with pytest.raises(RedirectError) as info:
        Client(api_key=key, ca_certs=ca_file, retry=RetryPolicy()).status.get()

    error = info.value
    assert isinstance(error, TransportError)
    assert "refused redirect from https to http" in str(error)
    assert f"{tls_backend.url}/status -> {backend.url}/status" in str(error)
    assert error.url == tls_backend.url + "/status"
    assert error.attempts == 1
    assert backend.requests == []
    assert len(tls_backend.requests) == 1


def test_a_downgrade_after_an_upgrade_is_refused(
    backend: FakeBackend, other: FakeBackend, tls_backend: FakeBackend, ca_file: str
) -> None:
    backend.enqueue(Reply.redirect(tls_backend.url + "/status"))
    tls_backend.enqueue(Reply.redirect(other.url + "/status"))

    with pytest.raises(RedirectError, match="https to http"):
        Client(backend.url, ca_certs=ca_file).status.get()

    assert other.requests == []


# -- where the call ended, and the deadline -----------------------------------


def test_the_error_url_and_the_log_show_where_the_call_ended(
    backend: FakeBackend, other: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="openapp_status")
    backend.enqueue(Reply.redirect(other.url + "/status"))
    other.enqueue(Reply.redirect("/api/v1/broken"), Reply.status(418, "teapot"))

    with pytest.raises(HttpError) as info:
        Client(backend.url, retry=RetryPolicy.none()).status.get()

    end = other.url + "/broken"
    assert info.value.url == end
    assert str(info.value).startswith(end + ": HTTP 418")
    ours = [
        r.getMessage() for r in caplog.records if r.name == "openapp_status._client"
    ]
    assert ours == [
        f"HTTP 302 redirect from {backend.url}/status to {other.url}/status",
        f"HTTP 302 redirect from {other.url}/status to {end}",
    ]
    gets = [
        r.getMessage() for r in caplog.records if r.name == "openapp_status._transport"
    ]
    assert gets[-1].startswith(f"GET {end} -> 418 in ")


def test_every_hop_counts_against_the_deadline(backend: FakeBackend) -> None:
    # Each hop alone is well inside the deadline; together they are not.
    backend.enqueue(
        Reply.delay(0.4, then=Reply.redirect("/api/v1/a")),
        Reply.delay(0.4, then=Reply.redirect("/api/v1/b")),
        Reply.delay(0.4, then=Reply.redirect("/api/v1/c")),
        Reply.delay(0.4),
    )
    policy = RetryPolicy(deadline=1.0, max_retries=0)

    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        Client(backend.url, retry=policy).status.get()
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + 1.5
    assert len(backend.requests) >= 2  # it timed out after following a hop
    assert info.value.url == backend.origin + backend.requests[-1].path


def test_the_attempt_timeout_spans_every_hop(backend: FakeBackend) -> None:
    """``timeout`` bounds one attempt, its redirect hops included."""
    backend.enqueue(
        Reply.delay(0.5, then=Reply.redirect("/api/v1/a")),
        Reply.delay(0.5),
    )
    client = Client(backend.url, timeout=0.8, retry=RetryPolicy(max_retries=0))

    started = time.monotonic()
    with pytest.raises(Timeout, match=r"0\.8s timeout"):
        client.status.get()

    assert time.monotonic() - started < 0.8 + 0.5
    assert len(backend.requests) == 2
