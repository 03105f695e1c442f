"""The fake backend does on the wire what its replies promise.

Every test talks to a real ``FakeBackend`` on loopback, through urllib3 or a
raw socket when the bytes and their timing are the point; none mocks
anything. An autouse fixture fails any test that leaves a thread running.
"""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type

import pytest
import urllib3

from openapp_status.testing import FakeBackend, Headers, Reply, main

HEALTHY = b'{"environment": "test", "version": "0.0.0"}'


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [thread.name for thread in threading.enumerate() if thread not in before]
    assert leaked == []


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=10.0)
    yield pool
    pool.clear()


def connect(backend: FakeBackend) -> socket.socket:
    return socket.create_connection((backend.host, backend.port), timeout=10.0)


def send_request(
    sock: socket.socket,
    method: str = "GET",
    path: str = "/api/v1/status",
    headers: Sequence[Tuple[str, str]] = (),
    body: bytes = b"",
    http_version: str = "HTTP/1.1",
) -> None:
    lines = [f"{method} {path} {http_version}", "Host: fake.test"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def read_response(sock: socket.socket) -> Tuple[str, Dict[str, str], bytes]:
    """Read one response whose body has a Content-Length."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed after {buffer!r}")
        buffer += chunk

    head, _, body = buffer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed after {len(body)} body bytes")
        body += chunk
    return status_line, headers, body


def read_until_closed(sock: socket.socket) -> Tuple[bytes, Optional[OSError]]:
    """Read everything until EOF; also return the error that ended it, if any."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, None
            data += chunk
    except OSError as exc:
        return data, exc


# The healthy backend


def test_status_answers_the_backend_status(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    response = http.request("GET", backend.status_url)

    assert response.status == 200
    assert response.data == HEALTHY
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(HEALTHY))
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["X-Request-Id"])
    assert backend.requests[0].request_id == response.headers["X-Request-Id"]
    assert "Connection" not in response.headers


def test_environment_and_version_can_change_between_requests(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.environment, backend.version = "staging", "0.15.1"

    response = http.request("GET", backend.status_url)

    assert json.loads(response.data) == {"environment": "staging", "version": "0.15.1"}


def test_urls_are_derived_from_the_bound_port() -> None:
    backend = FakeBackend(api_prefix="openapp/api/v1/")
    with pytest.raises(RuntimeError):
        backend.url  # noqa: B018 (the property raises before start)

    with backend:
        assert backend.port > 0
        assert backend.origin == f"http://127.0.0.1:{backend.port}"
        assert backend.url == backend.origin + "/openapp/api/v1"
        assert backend.status_url == backend.url + "/status"
        assert repr(backend) == (
            f"FakeBackend('test', '0.0.0', host='127.0.0.1', port={backend.port}, "
            "api_prefix='/openapp/api/v1')"
        )


def test_an_empty_api_prefix_serves_status_at_the_root(
    http: urllib3.PoolManager,
) -> None:
    with FakeBackend(api_prefix="") as backend:
        assert backend.url == backend.origin

        assert http.request("GET", backend.origin + "/status").status == 200


def test_other_paths_answer_404_with_an_api_error(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    response = http.request("GET", backend.url + "/doors?floor=2")

    assert response.status == 404
    assert json.loads(response.data) == {
        "message": "no route for /api/v1/doors",
        "code": "not_found",
    }
    assert backend.requests[0].path == "/api/v1/doors?floor=2"


def test_other_methods_on_status_answer_405(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    response = http.request("POST", backend.status_url, body=b'{"a": 1}')

    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert json.loads(response.data)["code"] == "method_not_allowed"
    assert backend.requests[0].body == b'{"a": 1}'


def test_head_sends_the_head_only(backend: FakeBackend) -> None:
    with connect(backend) as sock:
        send_request(sock, "HEAD")
        head = sock.recv(65536)
        send_request(sock)
        status_line, _, body = read_response(sock)

    assert b"Content-Length: 43\r\n" in head
    assert head.endswith(b"\r\n\r\n")
    assert (status_line, body) == ("HTTP/1.1 200 OK", HEALTHY)


# Connections and recorded requests


def test_keep_alive_reuse_is_visible_in_connection_numbers(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    for _ in range(3):
        http.request("GET", backend.status_url)
    with urllib3.PoolManager() as other:
        other.request("GET", backend.status_url)

    assert [request.connection for request in backend.requests] == [1, 1, 1, 2]


def test_a_reply_that_says_close_closes(backend: FakeBackend) -> None:
    backend.enqueue(Reply.status(204, headers={"Connection": "close"}))

    with connect(backend) as sock:
        send_request(sock)
        _, headers, _ = read_response(sock)
        assert headers["connection"] == "close"
        assert read_until_closed(sock) == (b"", None)


@pytest.mark.parametrize(
    ("http_version", "headers"),
    [("HTTP/1.1", [("Connection", "close")]), ("HTTP/1.0", [])],
)
def test_a_client_that_asks_to_close_is_answered_close(
    backend: FakeBackend, http_version: str, headers: List[Tuple[str, str]]
) -> None:
    with connect(backend) as sock:
        send_request(sock, headers=headers, http_version=http_version)
        _, answer, body = read_response(sock)
        assert (answer["connection"], body) == ("close", HEALTHY)
        assert read_until_closed(sock) == (b"", None)


def test_recorded_headers_are_case_insensitive(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    http.request("GET", backend.status_url, headers={"X-API-Key": "k_openapp_s"})

    headers = backend.requests[0].headers
    assert headers["x-api-key"] == headers["X-Api-Key"] == "k_openapp_s"
    assert "X-API-KEY" in headers
    assert "X-API-Key" in list(headers)
    assert headers.get("x-missing") is None


def test_repeated_headers_are_joined_and_kept_apart() -> None:
    headers = Headers([("Accept", "a"), ("accept", "b"), ("Host", "h")])

    assert headers["ACCEPT"] == "a, b"
    assert headers.get_all("Accept") == ["a", "b"]
    assert list(headers) == ["Accept", "Host"]
    assert headers == {"accept": "a, b", "HOST": "h"}
    assert headers.raw == (("Accept", "a"), ("accept", "b"), ("Host", "h"))


def test_requests_are_a_snapshot_in_arrival_order(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    http.request("GET", backend.status_url + "?n=1")
    snapshot = backend.requests
    http.request("GET", backend.status_url + "?n=2")

    assert [request.path for request in snapshot] == ["/api/v1/status?n=1"]
    assert [request.path for request in backend.requests] == [
        "/api/v1/status?n=1",
        "/api/v1/status?n=2",
    ]
    first = backend.requests[0]
    assert (first.method, first.http_version, first.reply) == (
        "GET",
        "HTTP/1.1",
        Reply.ok(),
    )
    backend.clear_requests()
    assert backend.requests == []


def test_wait_for_requests_times_out_with_a_count(backend: FakeBackend) -> None:
    with pytest.raises(TimeoutError, match="received 0 of 1 requests"):
        backend.wait_for_requests(1, timeout=0.05)


def test_a_chunked_request_body_is_read_and_recorded(backend: FakeBackend) -> None:
    chunked = b"4\r\nping\r\n0\r\n\r\n"

    with connect(backend) as sock:
        send_request(
            sock, "POST", headers=[("Transfer-Encoding", "chunked")], body=chunked
        )
        read_response(sock)
        send_request(sock)
        read_response(sock)

    first, second = backend.requests
    assert first.body == b"ping"
    assert first.connection == second.connection


def test_a_malformed_request_gets_400_and_a_close(backend: FakeBackend) -> None:
    with connect(backend) as sock:
        sock.sendall(b"NOT HTTP\r\n\r\n")
        status_line, headers, body = read_response(sock)
        assert read_until_closed(sock) == (b"", None)

    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["connection"] == "close"
    assert json.loads(body)["code"] == "bad_request"
    assert backend.requests == []


# Planned replies


def test_planned_replies_are_served_in_order_on_any_path_then_healthy(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(Reply.status(500), Reply.status(201))
    assert backend.pending == 2

    statuses = [
        http.request("GET", backend.url + path).status
        for path in ("/status", "/anything", "/status")
    ]

    assert statuses == [500, 201, 200]
    assert backend.pending == 0


@pytest.mark.parametrize(
    ("body", "content_type", "sent"),
    [
        ({"a": [1]}, "application/json", b'{"a": [1]}'),
        ([1, 2], "application/json", b"[1, 2]"),
        ("déjà", "text/plain; charset=utf-8", "déjà".encode()),
        (b"\x00\xff", "application/octet-stream", b"\x00\xff"),
        (None, None, b""),
    ],
)
def test_status_bodies_are_encoded_by_type(
    backend: FakeBackend,
    http: urllib3.PoolManager,
    body: Any,
    content_type: Optional[str],
    sent: bytes,
) -> None:
    backend.enqueue(Reply.status(418, body))

    response = http.request("GET", backend.status_url)

    assert (response.status, response.data) == (418, sent)
    assert response.headers.get("Content-Type") == content_type
    assert response.headers["Content-Length"] == str(len(sent))


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (3, "3"),
        (2.0, "2"),
        (0.25, "0.25"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
def test_retry_after_is_sent_as_given(
    backend: FakeBackend, http: urllib3.PoolManager, retry_after: Any, header: str
) -> None:
    backend.enqueue(Reply.status(503, retry_after=retry_after))

    response = http.request("GET", backend.status_url)

    assert response.headers["Retry-After"] == header


def test_given_headers_and_request_id_replace_the_defaults(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(
        Reply.status(
            502,
            "<html>bad gateway</html>",
            headers={"content-type": "text/html", "Server": "nginx"},
            request_id="req-7",
        )
    )

    response = http.request("GET", backend.status_url)

    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["Server"] == "nginx"
    assert response.headers["X-Request-Id"] == "req-7"
    assert backend.requests[0].request_id == "req-7"


def test_api_error_sends_the_envelope(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(
        Reply.api_error(
            429,
            "slow down",
            error_code="rate_limited",
            details={"limit": 10},
            correlation_id="c-1",
            request_id="r-1",
            retry_after=2,
        ),
        Reply.api_error(500, "boom"),
    )

    first = http.request("GET", backend.status_url)
    second = http.request("GET", backend.status_url)

    assert first.status == 429
    assert json.loads(first.data) == {
        "message": "slow down",
        "code": "rate_limited",
        "details": {"limit": 10},
        "correlationId": "c-1",
    }
    assert (first.headers["X-Request-Id"], first.headers["Retry-After"]) == (
        "r-1",
        "2",
    )
    assert json.loads(second.data) == {"message": "boom"}


def test_ok_can_answer_other_values(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(Reply.ok(version="0.15.0"))

    response = http.request("GET", backend.status_url)

    assert json.loads(response.data) == {"environment": "test", "version": "0.15.0"}


def test_delay_waits_before_answering(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(Reply.delay(0.2, then=Reply.status(504)))

    started = time.monotonic()
    response = http.request("GET", backend.status_url)

    assert response.status == 504
    assert time.monotonic() - started >= 0.19


def test_drop_sends_zero_bytes_then_eof(backend: FakeBackend) -> None:
    backend.enqueue(Reply.drop())

    with connect(backend) as sock:
        send_request(sock)
        assert read_until_closed(sock) == (b"", None)

    assert backend.requests[0].request_id is None


def test_reset_mid_body_promises_more_than_it_sends(backend: FakeBackend) -> None:
    backend.enqueue(Reply.reset_mid_body())

    with connect(backend) as sock:
        send_request(sock)
        data, error = read_until_closed(sock)

    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 43" in head
    assert body == HEALTHY[: len(HEALTHY) // 2]
    # Linux reports the RST; elsewhere the body is just cut short.
    assert isinstance(error, ConnectionResetError) or error is None


def test_reset_mid_body_is_a_protocol_error_for_urllib3(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(Reply.reset_mid_body())

    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("GET", backend.status_url)


def test_trickle_head_sends_the_head_byte_by_byte(backend: FakeBackend) -> None:
    interval = 0.002
    backend.enqueue(Reply.trickle_head(interval))

    with connect(backend) as sock:
        started = time.monotonic()
        send_request(sock)
        pieces: List[bytes] = []
        while b"\r\n\r\n" not in b"".join(pieces):
            pieces.append(sock.recv(65536))
        head_time = time.monotonic() - started
        _, _, body = b"".join(pieces).partition(b"\r\n\r\n")
        while len(body) < len(HEALTHY):
            body += sock.recv(65536)

    head_length = len(b"".join(pieces)) - len(body)
    assert head_time >= (head_length - 1) * interval * 0.8
    assert len(pieces) >= 5
    assert len(pieces[0]) < head_length
    assert body == HEALTHY


def test_trickle_body_sends_the_head_at_once_then_the_body_slowly(
    backend: FakeBackend,
) -> None:
    interval = 0.02
    backend.enqueue(Reply.trickle_body(interval, then=Reply.status(200, "0123456789")))

    with connect(backend) as sock:
        started = time.monotonic()
        send_request(sock)
        first = sock.recv(65536)
        _, _, body = first.partition(b"\r\n\r\n")
        pieces = 0
        while len(body) < 10:
            body += sock.recv(65536)
            pieces += 1
        body_time = time.monotonic() - started

    assert first.startswith(b"HTTP/1.1 200 OK") and b"\r\n\r\n" in first
    assert body == b"0123456789"
    assert pieces >= 3
    assert body_time >= 9 * interval * 0.8


def test_oversized_sends_exactly_size_bytes_of_status_json(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    size = 64 * 1024 + 1
    backend.enqueue(Reply.oversized(size))

    response = http.request("GET", backend.status_url)

    assert len(response.data) == int(response.headers["Content-Length"]) == size
    assert json.loads(response.data) == json.loads(HEALTHY)


def test_endless_streams_until_the_backend_stops(http: urllib3.PoolManager) -> None:
    with FakeBackend() as backend:
        backend.enqueue(Reply.endless())
        response = http.request("GET", backend.status_url, preload_content=False)
        received = 0
        for chunk in response.stream(64 * 1024):
            received += len(chunk)
            if received > 1024 * 1024:
                break

        # The client holds the response open without reading: the writer is
        # blocked in send() and stop() must still end it at once.
        started = time.monotonic()
        backend.stop()
        assert time.monotonic() - started < 2.0

    assert "Content-Length" not in response.headers
    assert response.headers["Connection"] == "close"
    response.release_conn()


def test_gzip_body_decompresses_to_the_status_json(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(Reply.gzip(), Reply.gzip({"message": "down"}, status=503))

    first = http.request("GET", backend.status_url, decode_content=False)
    second = http.request("GET", backend.status_url, decode_content=False)

    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Content-Length"] == str(len(first.data))
    assert gzip.decompress(first.data) == HEALTHY
    assert second.status == 503
    assert gzip.decompress(second.data) == b'{"message": "down"}'


def test_gzip_bomb_is_small_and_expands_to_decoded_size(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    decoded_size = 8 * 1024 * 1024
    backend.enqueue(Reply.gzip_bomb(decoded_size))

    response = http.request("GET", backend.status_url, decode_content=False)

    assert len(response.data) < decoded_size // 500
    decoded = gzip.decompress(response.data)
    assert len(decoded) == decoded_size
    assert json.loads(decoded) == json.loads(HEALTHY)


def test_redirect_sends_location_and_the_target_answers(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    backend.enqueue(
        Reply.redirect("/api/v1/status?hop=1", status=307),
        Reply.redirect(backend.status_url + "?hop=2"),
    )

    first = http.request("GET", backend.status_url, redirect=False)
    followed = http.request("GET", backend.status_url, redirect=True, retries=3)

    assert (first.status, first.headers["Location"]) == (307, "/api/v1/status?hop=1")
    assert first.headers["Content-Length"] == "0"
    assert followed.data == HEALTHY
    assert [request.path for request in backend.requests[1:]] == [
        "/api/v1/status",
        "/api/v1/status?hop=2",
    ]


def test_raw_writes_bytes_verbatim_then_closes(backend: FakeBackend) -> None:
    lie = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}"
    backend.enqueue(Reply.raw(lie))

    with connect(backend) as sock:
        send_request(sock)
        assert read_until_closed(sock) == (lie, None)


def test_raw_can_keep_the_connection_open(backend: FakeBackend) -> None:
    backend.enqueue(Reply.raw(b"HTTP/1.1 204 No Content\r\n\r\n", close=False))

    with connect(backend) as sock:
        send_request(sock)
        assert sock.recv(65536) == b"HTTP/1.1 204 No Content\r\n\r\n"
        send_request(sock)
        assert read_response(sock)[2] == HEALTHY

    first, second = backend.requests
    assert first.connection == second.connection


# Replies as values


def test_replies_are_immutable_values_with_a_readable_repr() -> None:
    reply = Reply.delay(1.5, then=Reply.trickle_body(0.1, then=Reply.status(503)))

    assert repr(reply) == (
        "Reply.delay(1.5, then=Reply.trickle_body(0.1, then=Reply.status(503)))"
    )
    assert repr(Reply.api_error(404, "gone", error_code="not_found")) == (
        "Reply.api_error(404, 'gone', error_code='not_found')"
    )
    assert Reply.status(503, retry_after=1) == Reply.status(503, retry_after=1)
    with pytest.raises(FrozenInstanceError):
        reply.status_code = 200  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: Reply.delay(-1), ValueError),
        (lambda: Reply.trickle_head(float("nan")), ValueError),
        (lambda: Reply.status(42), ValueError),
        (lambda: Reply.status(200, headers={"X-A": "b\r\nX-Injected: 1"}), ValueError),
        (lambda: Reply.status(200, object()), TypeError),  # type: ignore[arg-type]
        (lambda: Reply.oversized(-1), ValueError),
        (lambda: Reply.endless(b""), ValueError),
        (lambda: Reply.raw("text"), TypeError),  # type: ignore[arg-type]
        (lambda: Reply.delay(1, then="503"), TypeError),  # type: ignore[arg-type]
    ],
)
def test_bad_replies_fail_when_built(
    build: Callable[[], Reply], error: Type[Exception]
) -> None:
    with pytest.raises(error):
        build()


def test_enqueue_accepts_replies_only(backend: FakeBackend) -> None:
    with pytest.raises(TypeError):
        backend.enqueue(503)  # type: ignore[arg-type]


# Lifecycle


def test_stop_ends_every_thread_promptly() -> None:
    before = threading.active_count()
    backend = FakeBackend().start()
    assert backend.start() is backend
    backend.enqueue(Reply.delay(30), Reply.trickle_body(1.0), Reply.endless())
    sockets = [connect(backend) for _ in range(4)]
    for sock in sockets:
        send_request(sock)
    backend.wait_for_requests(4)

    started = time.monotonic()
    backend.stop()
    backend.stop()

    assert time.monotonic() - started < 2.0
    assert threading.active_count() == before
    for sock in sockets:
        sock.close()


def test_stop_ends_a_pending_request(backend: FakeBackend) -> None:
    backend.enqueue(Reply.delay(30))
    errors: List[Exception] = []

    def probe() -> None:
        with urllib3.PoolManager(retries=False) as pool:
            try:
                pool.request("GET", backend.status_url)
            except urllib3.exceptions.HTTPError as exc:
                errors.append(exc)

    client = threading.Thread(target=probe)
    client.start()
    backend.wait_for_requests(1)
    backend.stop()
    client.join(5.0)

    assert not client.is_alive()
    assert len(errors) == 1


def test_down_refuses_connections_and_up_listens_on_the_same_port(
    backend: FakeBackend, http: urllib3.PoolManager
) -> None:
    port = backend.port
    with connect(backend) as idle:
        send_request(idle)
        read_response(idle)

        backend.down()

        assert not backend.is_listening
        with pytest.raises(ConnectionRefusedError):
            connect(backend).close()
        data, error = read_until_closed(idle)
        assert data == b""
        assert error is None or isinstance(error, ConnectionResetError)

    backend.up()

    assert backend.port == port
    assert http.request("GET", backend.status_url).status == 200


def test_down_and_up_need_a_started_backend() -> None:
    with pytest.raises(RuntimeError):
        FakeBackend().down()
    with pytest.raises(RuntimeError):
        FakeBackend().up()


def test_close_connections_closes_idle_connections_only(
    backend: FakeBackend,
) -> None:
    with connect(backend) as idle:
        send_request(idle)
        read_response(idle)

        backend.close_connections()

        assert read_until_closed(idle)[0] == b""
    with connect(backend) as fresh:
        send_request(fresh)
        assert read_response(fresh)[2] == HEALTHY


def test_https_when_given_a_server_context(tmp_path: Path) -> None:
    import trustme

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    with FakeBackend(ssl_context=server_context) as backend:
        # Plain HTTP fails the handshake: that connection closes, no other.
        with connect(backend) as plain:
            send_request(plain)
            assert b"HTTP/" not in read_until_closed(plain)[0]
        with urllib3.PoolManager(ca_certs=str(ca_file), retries=False) as pool:
            response = pool.request("GET", backend.status_url)

    assert backend.url.startswith("https://")
    assert response.data == HEALTHY


# The pytest fixture and the foreground server


def test_the_fixture_is_enabled_by_pytest_plugins(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["openapp_status.testing"]\n'
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import urllib.request

            seen = []

            def test_started(openapp_backend):
                seen.append(openapp_backend)
                with urllib.request.urlopen(openapp_backend.status_url) as answer:
                    assert answer.status == 200

            def test_stopped_after_the_test():
                assert not seen[0].is_listening
            """
        )
    )

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout.decode()
    assert b"2 passed" in result.stdout


def test_importing_the_package_does_not_import_testing() -> None:
    code = (
        "import sys, threading, openapp_status\n"
        "assert 'openapp_status.testing' not in sys.modules\n"
        "import openapp_status.testing\n"
        "assert threading.active_count() == 1\n"
    )

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def read_line(stream: Any, timeout: float) -> bytes:
    lines: List[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()))
    reader.start()
    reader.join(timeout)
    assert lines, f"no line within {timeout}s"
    return lines[0]


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_foreground_server_fails_first_then_serves_until_a_signal(
    http: urllib3.PoolManager, signum: int
) -> None:
    command = [sys.executable, "-m", "openapp_status.testing", "--port", "0"]
    command += ["--environment", "ci", "--version", "1.2.3", "--fail-first", "2"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = read_line(server.stdout, timeout=30.0).decode()
        url = re.search(r"http://\S+", ready)
        assert url is not None, ready

        answers = [http.request("GET", url.group() + "/status") for _ in range(3)]
        server.send_signal(signum)
        _, stderr = server.communicate(timeout=10.0)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    assert [answer.status for answer in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert json.loads(answers[0].data)["message"]
    assert json.loads(answers[2].data) == {"environment": "ci", "version": "1.2.3"}
    assert server.returncode == 0
    assert b"Traceback" not in stderr
    assert b"GET /api/v1/status" in stderr


def test_foreground_server_usage_errors_exit_64(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--fail-first", "-1"])

    assert exit_info.value.code == 64
    assert "--fail-first" in capsys.readouterr().err
