"""The client against a real loopback backend: answers, failures, headers."""

from __future__ import annotations

import gc
import socket
import threading
from typing import List

import pytest

import openapp_status
from openapp_status import (
    ApiError,
    AuthError,
    BackendStatus,
    Client,
    ConfigError,
    ConnectError,
    GatewayError,
    HttpError,
    OpenAppError,
    ProtocolError,
    RetryPolicy,
    SerializationError,
    Timeout,
    TransportError,
)
from openapp_status.testing import FakeBackend, Reply

KEY_SECRET = "k3y-Secret-Value"
FAMILIES = (ConfigError, TransportError, HttpError, SerializationError)


def key_for(backend: FakeBackend) -> str:
    return f"{backend.origin}_openapp_{KEY_SECRET}"


def fail(backend: FakeBackend, *replies: Reply, **options: object) -> OpenAppError:
    """Plan ``replies`` and return the error a single-attempt call raises."""
    backend.enqueue(*replies)
    options.setdefault("retry", RetryPolicy.none())
    client = Client(backend.url, **options)  # type: ignore[arg-type]
    with client, pytest.raises(OpenAppError) as info:
        client.status.get()
    error = info.value
    assert sum(isinstance(error, family) for family in FAMILIES) == 1
    assert "\n" not in str(error)
    return error


def test_get_returns_the_backend_status(backend: FakeBackend) -> None:
    with Client(backend.url) as client:
        status = client.status.get()
    assert status == BackendStatus(environment="test", version="0.14.2")
    assert [r.path for r in backend.requests] == ["/api/v1/status"]


def test_get_status_one_shot(backend: FakeBackend) -> None:
    assert openapp_status.get_status(backend.url).version == "0.14.2"


def test_headers_sent_without_a_key(backend: FakeBackend) -> None:
    Client(backend.url).status.get()
    headers = backend.requests[0].headers
    assert headers["accept"] == "application/json"
    agent = headers["User-Agent"]
    assert agent.startswith(f"openapp-status/{openapp_status.__version__} python/3.")
    assert " urllib3/" in agent
    assert "X-API-Key" not in headers
    assert "gzip" not in headers.get("Accept-Encoding", "")


def test_the_whole_token_is_sent_as_x_api_key(backend: FakeBackend) -> None:
    client = Client(api_key=key_for(backend))
    assert client.base_url == backend.url
    client.status.get()
    assert backend.requests[0].headers["X-API-Key"] == key_for(backend)


def test_custom_user_agent_replaces_ours(backend: FakeBackend) -> None:
    Client(backend.url, user_agent="door-service/2.1").status.get()
    assert backend.requests[0].headers["User-Agent"] == "door-service/2.1"


def test_a_path_prefix_is_kept() -> None:
    with FakeBackend(api_prefix="/openapp/api/v1") as gateway:
        assert gateway.url.endswith("/openapp/api/v1")
        Client(gateway.url + "/").status.get()
        assert gateway.requests[0].path == "/openapp/api/v1/status"


def test_keep_alive_connection_is_reused(backend: FakeBackend) -> None:
    with Client(backend.url) as client:
        for _ in range(5):
            client.status.get()
    assert {r.connection for r in backend.requests} == {1}


# -- answers that are not a BackendStatus -------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (404, ApiError), (409, ApiError)],
)
def test_error_statuses_with_an_envelope(
    backend: FakeBackend, status: int, kind: type
) -> None:
    error = fail(
        backend,
        Reply.api_error(
            status,
            "door controller offline",
            error_code="controller_offline",
            details={"door": 7},
            correlation_id="corr-1",
            request_id="req-1",
        ),
    )
    assert type(error) is kind
    assert isinstance(error, HttpError)
    assert error.status == status
    assert error.code == "controller_offline"
    assert error.details == {"door": 7}
    assert error.correlation_id == "corr-1"
    assert error.request_id == "req-1"
    assert "door controller offline" in str(error)
    assert "req-1" in str(error)
    assert error.headers["X-Request-Id"] == "req-1"


def test_error_status_without_an_envelope_is_a_plain_http_error(
    backend: FakeBackend,
) -> None:
    error = fail(backend, Reply.status(400, "bad request", request_id="r-9"))
    assert type(error) is HttpError
    assert (error.status, error.body, error.request_id) == (400, "bad request", "r-9")
    assert error.code is None


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_statuses_with_a_non_json_body(
    backend: FakeBackend, status: int
) -> None:
    error = fail(
        backend,
        Reply.status(
            status, "<html>bad gateway</html>", headers={"Content-Type": "text/html"}
        ),
    )
    assert type(error) is GatewayError
    assert isinstance(error, TransportError)
    assert error.status == status
    assert error.body == "<html>bad gateway</html>"


def test_503_with_a_json_envelope_is_the_backend_speaking(
    backend: FakeBackend,
) -> None:
    error = fail(backend, Reply.api_error(503, "maintenance", retry_after=7))
    assert type(error) is ApiError
    assert error.retry_after == 7


def test_error_body_is_truncated(backend: FakeBackend) -> None:
    error = fail(backend, Reply.status(418, "x" * 10_000))
    assert isinstance(error, HttpError)
    assert 2000 <= len(error.body) <= 2100


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        (Reply.status(200), "empty"),
        (Reply.status(200, "<html>hello</html>"), "not JSON"),
        (Reply.status(200, b"\xff\xfe{}"), "not UTF-8"),
        (Reply.status(200, {"environment": "prod"}), "'version'"),
        (Reply.status(200, {"environment": "prod", "version": 14}), "number"),
        (Reply.status(200, [1, 2]), "array"),
        (Reply.status(204), "empty"),
    ],
)
def test_2xx_that_is_not_a_backend_status(
    backend: FakeBackend, reply: Reply, complaint: str
) -> None:
    error = fail(backend, reply, retry=RetryPolicy())
    assert type(error) is SerializationError
    assert complaint in str(error)
    assert error.attempts == 1  # never retried
    assert error.status in (200, 204)
    assert error.request_id
    assert error.url == backend.url + "/status"


# -- transport failures -------------------------------------------------------


def test_refused_is_a_connect_error(backend: FakeBackend) -> None:
    backend.down()
    error = fail(backend)
    assert type(error) is ConnectError
    assert "refused" in str(error)
    assert isinstance(error.__cause__, Exception)


def test_unknown_host_is_a_connect_error() -> None:
    with pytest.raises(ConnectError, match="resolve") as info:
        Client(
            "http://no-such-host.invalid/api/v1", retry=RetryPolicy.none(), timeout=5
        ).status.get()
    assert info.value.attempts == 1


def test_read_timeout(backend: FakeBackend) -> None:
    error = fail(backend, Reply.delay(3), timeout=(1, 0.2))
    assert type(error) is Timeout
    assert "read timed out after 0.2s" in str(error)


def test_total_timeout_bounds_the_attempt(backend: FakeBackend) -> None:
    error = fail(backend, Reply.delay(3), timeout=0.2)
    assert type(error) is Timeout
    assert error.elapsed < 2


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        (Reply.drop(), "closed the connection without an answer"),
        (Reply.reset_mid_body(), ""),
        (Reply.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}"), "cut short"),
        (Reply.raw(b"NONSENSE\r\n\r\n"), "malformed"),
        (Reply.raw(b"HTTP/1.1 abc OK\r\n\r\n"), "malformed"),
        (Reply.oversized(64 * 1024 + 1), "cap"),
        (Reply.endless(), "cap"),
        (Reply.gzip_bomb(50 * 1024 * 1024), "cap"),
        (Reply.status(200, b"not gzip", headers={"Content-Encoding": "gzip"}), "gzip"),
        (Reply.status(200, b"{}", headers={"Content-Encoding": "br"}), "br"),
    ],
    ids=repr,
)
def test_broken_answers_are_protocol_errors(
    backend: FakeBackend, reply: Reply, complaint: str
) -> None:
    error = fail(backend, reply)
    assert type(error) is ProtocolError
    assert complaint in str(error)
    assert error.__cause__ is None or not isinstance(error.__cause__, OpenAppError)


def test_body_just_under_the_cap_is_fine(backend: FakeBackend) -> None:
    backend.enqueue(Reply.oversized(64 * 1024))
    assert Client(backend.url).status.get().version == "0.14.2"


def test_the_cap_can_be_raised(backend: FakeBackend) -> None:
    backend.enqueue(Reply.oversized(100_000))
    assert Client(backend.url, max_body_size=200_000).status.get().version


def test_gzip_answers_are_decoded(backend: FakeBackend) -> None:
    backend.enqueue(Reply.gzip())
    assert Client(backend.url).status.get() == BackendStatus("test", "0.14.2")


def test_no_urllib3_or_socket_error_escapes(backend: FakeBackend) -> None:
    """A mixed bag of failures: each is one of ours, with the original as cause."""
    replies = [Reply.drop(), Reply.reset_mid_body(), Reply.raw(b"\x00\x01")]
    for reply in replies:
        error = fail(backend, reply)
        assert isinstance(error, TransportError)
        assert not type(error).__module__.startswith(("urllib3", "socket", "ssl"))


# -- secrets ------------------------------------------------------------------


def test_a_key_echoed_by_the_backend_never_reaches_the_error(
    backend: FakeBackend,
) -> None:
    key = key_for(backend)
    error = fail(
        backend,
        Reply.api_error(401, f"bad key {key}", details=None),
        api_key=key,
    )
    assert isinstance(error, AuthError)
    for text in (str(error), repr(error), repr(error.args), error.body, error.message):
        assert KEY_SECRET not in text


# -- threads ------------------------------------------------------------------


def test_one_client_shared_by_16_threads(backend: FakeBackend) -> None:
    failures: List[BaseException] = []
    client = Client(backend.url, max_connections=16)

    def work() -> None:
        try:
            for _ in range(100):
                assert client.status.get().version == "0.14.2"
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    client.close()
    assert failures == []
    assert len(backend.requests) == 1600
    assert len({r.connection for r in backend.requests}) <= 16


def test_client_can_be_used_after_close(backend: FakeBackend) -> None:
    client = Client(backend.url)
    client.status.get()
    client.close()
    assert client.status.get().version == "0.14.2"
    assert len({r.connection for r in backend.requests}) == 2


def test_no_socket_is_leaked(backend: FakeBackend) -> None:
    with Client(backend.url) as client:
        client.status.get()
    gc.collect()
    probe = socket.create_connection(("127.0.0.1", backend.port))
    probe.close()
