"""A fake OpenApp backend on loopback, for this project's tests and for yours.

This module owns ``FakeBackend``, a small threaded HTTP/1.1 server that
answers ``GET {api_prefix}/status`` the way a healthy OpenApp backend does;
``Reply``, the values that script it to answer otherwise; ``RecordedRequest``,
its record of what it received; the ``openapp_backend`` pytest fixture; and
the foreground server behind ``python -m openapp_status.testing``. It uses the
standard library only, imports nothing from this package but ``_fakeserver``
(where the sockets and threads live), and starts no thread until a backend
starts; the package itself never imports it.

Scripting replies
-----------------

``backend.enqueue(*replies)`` plans replies. Each request, whatever its path,
takes the next planned reply; once none is left the backend is healthy again:
``{api_prefix}/status`` answers 200 with ``{"environment": ..., "version":
...}`` and any other path 404 with ``{"message": "no route for <path>",
"code": "not_found"}``. Every reply that sends a head sets ``Content-Length``
(except ``endless``, which has no end) and ``X-Request-Id`` (generated unless
given), and says ``Connection: close`` only when it closes the connection::

    with FakeBackend(version="0.14.2") as backend:
        backend.enqueue(Reply.status(503, retry_after=1), Reply.ok())
        ...  # first request: 503; second: 200; then healthy again

The kinds of reply, each built by a class method of ``Reply``:

``Reply.ok(environment=None, version=None)``
    A healthy 200 BackendStatus, from the backend's own ``environment`` and
    ``version`` unless given: ``Reply.ok(version="0.15.0")``.

``Reply.status(code, body=None, *, headers=None, retry_after=None, request_id=None)``
    Any status. A dict or list body is sent as JSON, a str as UTF-8 text,
    bytes as they are (``application/octet-stream``), None as an empty body.
    ``retry_after`` sets ``Retry-After`` (a str is sent verbatim, so an
    HTTP-date works); a header given in ``headers`` replaces the default of
    the same name: ``Reply.status(502, "<html>Bad Gateway</html>",
    headers={"Content-Type": "text/html"})``.

``Reply.api_error(code, message, *, error_code=None, details=None, ...)``
    A status with the ApiErrorResponse envelope ``{"message", "code",
    "details", "correlationId"}`` (``correlation_id=``; members left None
    are omitted), and ``request_id``, ``retry_after``, ``headers`` as above:
    ``Reply.api_error(429, "slow down", error_code="rate_limited",
    retry_after=2)``.

``Reply.delay(seconds, then=None)``
    Wait, then answer ``then`` (default: healthy):
    ``Reply.delay(2.0, then=Reply.status(504))``.

``Reply.drop()``
    Read the request, then close the connection without sending a byte.

``Reply.reset_mid_body()``
    Send a healthy head whose ``Content-Length`` promises more than follows,
    half of the body, then a TCP reset.

``Reply.trickle_head(interval, then=None)``
    Send the status line and headers one byte every ``interval`` seconds,
    then the body at once: ``Reply.trickle_head(0.05)``.

``Reply.trickle_body(interval, then=None)``
    Send the head at once, then the body one byte every ``interval``
    seconds: ``Reply.trickle_body(0.1, then=Reply.endless())`` never ends.

``Reply.oversized(size)``
    A healthy 200 whose body is ``size`` bytes of valid BackendStatus JSON
    (padded with JSON whitespace): ``Reply.oversized(64 * 1024 + 1)``.

``Reply.endless(chunk=b"x" * 1024)``
    A 200 without ``Content-Length`` whose body repeats ``chunk`` until the
    client goes away or the backend stops.

``Reply.gzip(body=None, *, status=200)`` and ``Reply.gzip_bomb(decoded_size)``
    A body sent with ``Content-Encoding: gzip`` (default: the healthy JSON);
    a bomb is a healthy JSON padded to ``decoded_size`` bytes, which
    compresses about a thousand to one: ``Reply.gzip_bomb(1024 ** 3)``.

``Reply.redirect(location, status=302)``
    A ``Location`` header, absolute or relative, and an empty body:
    ``Reply.redirect("/api/v2/status", status=308)``.

``Reply.raw(data, *, close=True)``
    ``data`` written verbatim, then the connection closed (kept open with
    ``close=False``), for protocol abuse:
    ``Reply.raw(b"HTTP/1.1 200 OK\\r\\nContent-Length: 99\\r\\n\\r\\n{}")``.

``delay``, ``trickle_head`` and ``trickle_body`` wrap any other reply, and
compose: ``Reply.delay(1, then=Reply.trickle_body(0.1))``. (``drop`` and
``raw`` send no head, so ``trickle_head`` has nothing to pace in them.)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gzip as _gzip
import http
import json
import logging
import math
import signal
import ssl
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field, replace
from typing import (
    Any,
    Deque,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)
from urllib.parse import urlsplit

from ._fakeserver import Connection, Headers, Server, WireRequest

__all__ = ["FakeBackend", "Headers", "RecordedRequest", "Reply", "main"]

logger = logging.getLogger(__name__)

Body = Union[str, bytes, Dict[str, Any], List[Any], None]
"""What ``Reply.status`` sends: JSON for a dict or list, text, bytes, or nothing."""

RetryAfter = Union[int, float, str, None]

_ANSWER = "answer"
_DROP = "drop"
_RESET = "reset"
_RAW = "raw"
_ENDLESS = "endless"

_JSON = (("Content-Type", "application/json"),)


@dataclass(frozen=True, repr=False)
class Reply:
    """One scripted answer of a ``FakeBackend``; build it with the class methods.

    Replies are immutable values: the same reply may be planned many times
    and compared with ``==``. The fields say what goes on the wire and are
    meant for reading; ``repr`` shows the constructor call that built it.
    ``kind`` is "answer", "drop", "reset", "raw" or "endless". A ``body`` of
    None stands for the healthy BackendStatus JSON, rendered
    when the reply is served from ``environment`` and ``version`` (the
    backend's own when None), padded to ``pad_to`` bytes and gzip-encoded
    when ``compress`` is set.
    """

    kind: str = _ANSWER
    status_code: int = 200
    headers: Tuple[Tuple[str, str], ...] = _JSON
    body: Optional[bytes] = None
    environment: Optional[str] = None
    version: Optional[str] = None
    pad_to: int = 0
    compress: bool = False
    wait: float = 0.0
    head_interval: float = 0.0
    body_interval: float = 0.0
    close: bool = False
    label: str = field(default="Reply.ok()", compare=False)

    def __repr__(self) -> str:
        return self.label

    @classmethod
    def ok(
        cls, environment: Optional[str] = None, version: Optional[str] = None
    ) -> Reply:
        """A healthy 200 BackendStatus; the backend's values unless given."""
        label = _call("ok", environment=environment, version=version)
        return cls(environment=environment, version=version, label=label)

    @classmethod
    def status(
        cls,
        code: int,
        body: Body = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        retry_after: RetryAfter = None,
        request_id: Optional[str] = None,
    ) -> Reply:
        """Answer ``code`` with ``body``; ``headers`` replace the defaults."""
        content, content_type = _encode_body(body)
        defaults: List[Tuple[str, str]] = []
        if content_type is not None:
            defaults.append(("Content-Type", content_type))
        if retry_after is not None:
            defaults.append(("Retry-After", _retry_after_text(retry_after)))
        if request_id is not None:
            defaults.append(("X-Request-Id", request_id))
        pairs = _merge_headers(defaults, headers)

        label = _call(
            "status",
            code,
            body,
            headers=headers,
            retry_after=retry_after,
            request_id=request_id,
        )
        return cls(
            status_code=_check_status(code),
            headers=pairs,
            body=content,
            close=_says_close(pairs),
            label=label,
        )

    @classmethod
    def api_error(
        cls,
        code: int,
        message: str,
        *,
        error_code: Optional[str] = None,
        details: Any = None,
        correlation_id: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: RetryAfter = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Reply:
        """Answer ``code`` with an ApiErrorResponse envelope."""
        envelope: Dict[str, Any] = {"message": message}
        if error_code is not None:
            envelope["code"] = error_code
        if details is not None:
            envelope["details"] = details
        if correlation_id is not None:
            envelope["correlationId"] = correlation_id
        reply = cls.status(
            code,
            envelope,
            headers=headers,
            retry_after=retry_after,
            request_id=request_id,
        )

        label = _call(
            "api_error",
            code,
            message,
            error_code=error_code,
            details=details,
            correlation_id=correlation_id,
            request_id=request_id,
            retry_after=retry_after,
            headers=headers,
        )
        return replace(reply, label=label)

    @classmethod
    def delay(cls, seconds: float, then: Optional[Reply] = None) -> Reply:
        """Wait ``seconds`` before answering ``then`` (default: healthy)."""
        base = _check_reply(then)
        label = _call("delay", seconds, then=then)
        wait = base.wait + _check_seconds("seconds", seconds)
        return replace(base, wait=wait, label=label)

    @classmethod
    def drop(cls) -> Reply:
        """Read the request, then close the connection without a byte."""
        return cls(kind=_DROP, headers=(), close=True, label="Reply.drop()")

    @classmethod
    def reset_mid_body(cls) -> Reply:
        """Send the head and half the body, then reset the connection."""
        return cls(kind=_RESET, close=True, label="Reply.reset_mid_body()")

    @classmethod
    def trickle_head(cls, interval: float, then: Optional[Reply] = None) -> Reply:
        """Send the head one byte every ``interval`` seconds, the body at once."""
        base = _check_reply(then)
        label = _call("trickle_head", interval, then=then)
        interval = _check_seconds("interval", interval)
        return replace(base, head_interval=interval, label=label)

    @classmethod
    def trickle_body(cls, interval: float, then: Optional[Reply] = None) -> Reply:
        """Send the head at once, the body one byte every ``interval`` seconds."""
        base = _check_reply(then)
        label = _call("trickle_body", interval, then=then)
        interval = _check_seconds("interval", interval)
        return replace(base, body_interval=interval, label=label)

    @classmethod
    def oversized(cls, size: int) -> Reply:
        """A healthy 200 whose JSON body is padded to ``size`` bytes."""
        return cls(pad_to=_check_size("size", size), label=_call("oversized", size))

    @classmethod
    def endless(cls, chunk: bytes = b"x" * 1024) -> Reply:
        """A 200 whose body repeats ``chunk`` until the client or backend stops."""
        if not isinstance(chunk, bytes) or not chunk:
            raise ValueError(f"chunk must be non-empty bytes, got {chunk!r}")
        label = "Reply.endless()" if chunk == b"x" * 1024 else _call("endless", chunk)
        return cls(kind=_ENDLESS, body=chunk, close=True, label=label)

    @classmethod
    def gzip(cls, body: Body = None, *, status: int = 200) -> Reply:
        """Send ``body`` (default: the healthy JSON) gzip-encoded."""
        content: Optional[bytes] = None
        content_type: Optional[str] = "application/json"
        if body is not None:
            content, content_type = _encode_body(body)
        pairs: List[Tuple[str, str]] = [("Content-Encoding", "gzip")]
        if content_type is not None:
            pairs.insert(0, ("Content-Type", content_type))

        return cls(
            status_code=_check_status(status),
            headers=tuple(pairs),
            body=content,
            compress=True,
            label=_call("gzip", body, status=None if status == 200 else status),
        )

    @classmethod
    def gzip_bomb(cls, decoded_size: int) -> Reply:
        """A small gzip body that decodes to ``decoded_size`` bytes of JSON."""
        return cls(
            headers=(*_JSON, ("Content-Encoding", "gzip")),
            pad_to=_check_size("decoded_size", decoded_size),
            compress=True,
            label=_call("gzip_bomb", decoded_size),
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """Redirect to ``location`` with an empty body."""
        pairs = _merge_headers([], {"Location": location})
        return cls(
            status_code=_check_status(status),
            headers=pairs,
            body=b"",
            label=_call("redirect", location, status=None if status == 302 else status),
        )

    @classmethod
    def raw(cls, data: bytes, *, close: bool = True) -> Reply:
        """Write ``data`` verbatim, then close unless ``close`` is False."""
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        label = _call("raw", data, close=None if close else False)
        return cls(kind=_RAW, headers=(), body=data, close=close, label=label)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the fake backend received it.

    ``path`` is the request target as sent, query included; ``headers``
    are looked up without regard to case; ``connection`` numbers the TCP
    connections the backend accepted (1, 2, ...), so equal numbers mean a
    reused connection. ``request_id`` is the ``X-Request-Id`` the backend
    answered with (None when the reply sent no head), ``reply`` the reply
    that answered, and ``received_at`` a ``time.monotonic()`` reading.
    """

    method: str
    path: str
    headers: Headers
    connection: int
    body: bytes
    http_version: str
    request_id: Optional[str]
    reply: Reply
    received_at: float


class FakeBackend:
    """An OpenApp backend on loopback that answers ``GET {api_prefix}/status``.

    ``url`` is its API root, as a client's ``base_url``. ``environment`` and
    ``version`` are what a healthy ``/status`` answers, and may be changed at
    any time. Use it as a context manager, or call ``start`` and ``stop``
    (both idempotent); ``down`` and ``up`` make it vanish and come back on
    the same port, as a restarting backend does. Give ``ssl_context`` (a
    server-side context with a certificate) to serve HTTPS.
    """

    def __init__(
        self,
        environment: str = "test",
        version: str = "0.0.0",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_prefix: str = "/api/v1",
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.environment = environment
        self.version = version
        self.api_prefix = "/" + api_prefix.strip("/") if api_prefix.strip("/") else ""
        self.ssl_context = ssl_context
        self._server = Server(self._serve, host, port, ssl_context)
        self._started = False
        self._changed = threading.Condition()
        self._planned: Deque[Reply] = collections.deque()
        self._requests: List[RecordedRequest] = []

    def __repr__(self) -> str:
        tls = "" if self.ssl_context is None else ", ssl_context=..."
        return (
            f"FakeBackend({self.environment!r}, {self.version!r}, "
            f"host={self.host!r}, port={self._server.port}, "
            f"api_prefix={self.api_prefix!r}{tls})"
        )

    def __enter__(self) -> FakeBackend:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        """The bound port; known once started, the same after ``down``/``up``."""
        if self._server.port == 0:
            raise RuntimeError("the backend has no port until start() binds one")
        return self._server.port

    @property
    def origin(self) -> str:
        """``http(s)://host:port``, with no path."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{_url_host(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The API root, ``origin`` plus ``api_prefix``: a client's base URL."""
        return self.origin + self.api_prefix

    @property
    def status_url(self) -> str:
        """The full URL of the ``/status`` endpoint."""
        return self.url + "/status"

    @property
    def is_listening(self) -> bool:
        """True between ``start``/``up`` and ``down``/``stop``."""
        return self._server.is_listening

    def start(self) -> FakeBackend:
        """Start listening (in background threads) and return the backend."""
        self._server.listen()
        self._started = True
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and join every thread."""
        self._started = False
        self._server.close()

    def down(self) -> None:
        """Vanish: close the listener and every connection; connects are refused."""
        self._require_started("down")
        self._server.close()

    def up(self) -> None:
        """Listen again, on the same port, after ``down``."""
        self._require_started("up")
        self._server.listen()

    def close_connections(self) -> None:
        """Close every open connection but keep listening (an idle timeout)."""
        self._server.close_connections()

    def enqueue(self, *replies: Reply) -> None:
        """Plan ``replies``: the next requests get them, one each, in order."""
        for reply in replies:
            _check_reply(reply)
        with self._changed:
            self._planned.extend(replies)

    @property
    def pending(self) -> int:
        """How many planned replies no request has taken yet."""
        with self._changed:
            return len(self._planned)

    @property
    def requests(self) -> List[RecordedRequest]:
        """A copy of the requests received so far, in arrival order."""
        with self._changed:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._changed:
            self._requests.clear()

    def wait_for_requests(
        self, count: int, timeout: float = 5.0
    ) -> List[RecordedRequest]:
        """Wait until ``count`` requests have arrived; TimeoutError if they do not."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: len(self._requests) >= count, timeout
            ):
                raise TimeoutError(
                    f"received {len(self._requests)} of {count} requests in {timeout}s"
                )
            return list(self._requests)

    def _require_started(self, action: str) -> None:
        if not self._started:
            raise RuntimeError(f"{action}() needs a started backend; call start()")

    def _serve(self, request: WireRequest, connection: Connection) -> bool:
        # Taking the reply and recording the request under one lock keeps the
        # record in the order in which requests took their planned replies.
        with self._changed:
            if self._planned:
                reply = self._planned.popleft()
            else:
                reply = self._route(request.method, urlsplit(request.target).path)
            request_id = _header(reply.headers, "X-Request-Id") or str(uuid.uuid4())
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.target,
                    headers=request.headers,
                    connection=connection.number,
                    body=request.body,
                    http_version=request.http_version,
                    request_id=None if reply.kind in (_DROP, _RAW) else request_id,
                    reply=reply,
                    received_at=time.monotonic(),
                )
            )
            self._changed.notify_all()
            environment, version = self.environment, self.version

        logger.debug(
            "%s %s on connection %d: %r",
            request.method,
            request.target,
            connection.number,
            reply,
        )
        plan = _Plan(
            reply,
            request_id,
            head_only=request.method == "HEAD",
            keep_open=not (reply.close or _client_closes(request)),
        )
        return plan.perform(connection, environment, version)

    def _route(self, method: str, path: str) -> Reply:
        if path != self.api_prefix + "/status":
            return Reply.api_error(404, f"no route for {path}", error_code="not_found")
        if method not in ("GET", "HEAD"):
            return Reply.api_error(
                405,
                f"method {method} not allowed on {path}",
                error_code="method_not_allowed",
                headers={"Allow": "GET, HEAD"},
            )
        return Reply.ok()


try:
    import pytest
except ImportError:
    pass
else:

    @pytest.fixture
    def openapp_backend() -> Iterator[FakeBackend]:
        """A started ``FakeBackend``, stopped after the test.

        Enable it with ``pytest_plugins = ["openapp_status.testing"]`` in
        your top-level ``conftest.py``.
        """
        with FakeBackend() as backend:
            yield backend


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve a fake backend in the foreground until SIGINT or SIGTERM."""
    parser = _ArgumentParser(
        prog="python -m openapp_status.testing",
        description="Serve a fake OpenApp backend until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=8080, help="default: 8080; 0 picks a free port"
    )
    parser.add_argument("--environment", default="test", help="default: test")
    parser.add_argument("--version", default="0.0.0", help="default: 0.0.0")
    parser.add_argument("--api-prefix", default="/api/v1", help="default: /api/v1")
    parser.add_argument(
        "--fail-first",
        type=int,
        default=0,
        metavar="N",
        help="answer the first N requests with 503 and Retry-After: 1",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not log requests to stderr"
    )
    options = parser.parse_args(argv)
    if options.fail_first < 0:
        parser.error(f"--fail-first must be >= 0, got {options.fail_first}")

    backend = FakeBackend(
        options.environment,
        options.version,
        host=options.host,
        port=options.port,
        api_prefix=options.api_prefix,
    )
    starting_up = Reply.api_error(
        503, "backend starting up", error_code="unavailable", retry_after=1
    )
    backend.enqueue(*[starting_up] * options.fail_first)
    if not options.quiet:
        _log_requests_to_stderr()
    try:
        backend.start()
    except OSError as exc:
        print(f"cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 1

    with _sigterm_interrupts():
        try:
            print(f"fake OpenApp backend listening on {backend.url}", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            backend.stop()
    return 0


class _ArgumentParser(argparse.ArgumentParser):
    # A usage error exits 64 (EX_USAGE), as the openapp-status command does:
    # Docker reserves 2, argparse's default.
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(64, f"{self.prog}: error: {message}\n")


def _log_requests_to_stderr() -> None:
    if any(isinstance(handler, logging.StreamHandler) for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    # SIGTERM (docker stop) then ends the server the way Ctrl-C does. Signal
    # handlers can only be set from the main thread; elsewhere, main() still
    # serves and stops on KeyboardInterrupt.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


class _Plan:
    """A reply bound to one request: renders it and writes it, step by step."""

    def __init__(
        self, reply: Reply, request_id: str, *, head_only: bool, keep_open: bool
    ) -> None:
        self.reply = reply
        self.request_id = request_id
        self.head_only = head_only
        self.keep_open = keep_open

    def perform(self, connection: Connection, environment: str, version: str) -> bool:
        """Write the reply; return whether the connection stays open."""
        reply = self.reply
        if reply.wait and not connection.pause(reply.wait):
            return False
        if reply.kind == _DROP:
            return False
        if reply.kind == _RAW:
            sent = connection.send(reply.body or b"", reply.body_interval)
            return sent and not reply.close

        body = _render_body(reply, environment, version)
        if reply.kind == _ENDLESS:
            head = self._head(None, close=True)
            if connection.send(head, reply.head_interval):
                while connection.send(body, reply.body_interval):
                    pass
            return False
        if reply.kind == _RESET:
            head = self._head(len(body), close=False)
            if connection.send(head, reply.head_interval):
                connection.send(body[: len(body) // 2], reply.body_interval)
            connection.reset()
            return False

        head = self._head(len(body), close=not self.keep_open)
        if self.head_only:
            body = b""
        if reply.head_interval or reply.body_interval:
            sent = connection.send(head, reply.head_interval) and connection.send(
                body, reply.body_interval
            )
        else:
            sent = connection.send(head + body)
        return sent and self.keep_open

    def _head(self, length: Optional[int], *, close: bool) -> bytes:
        pairs = list(self.reply.headers)
        names = {name.lower() for name, _ in pairs}
        if length is not None and "content-length" not in names:
            pairs.append(("Content-Length", str(length)))
        if "x-request-id" not in names:
            pairs.append(("X-Request-Id", self.request_id))
        if close and "connection" not in names:
            pairs.append(("Connection", "close"))

        code = self.reply.status_code
        lines = [f"HTTP/1.1 {code} {_reason(code)}"]
        lines.extend(f"{name}: {value}" for name, value in pairs)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _render_body(reply: Reply, environment: str, version: str) -> bytes:
    if reply.body is not None:
        return _gzip.compress(reply.body) if reply.compress else reply.body

    if reply.environment is not None:
        environment = reply.environment
    if reply.version is not None:
        version = reply.version
    if reply.compress:
        return _gzip_status_json(environment, version, reply.pad_to)
    prefix, padding, rest = _status_json_parts(environment, version, reply.pad_to)
    return prefix + b" " * padding + rest


def _status_json_parts(
    environment: str, version: str, pad_to: int
) -> Tuple[bytes, int, bytes]:
    # Padding goes right after the opening brace, as JSON whitespace, so the
    # body stays a valid BackendStatus of exactly pad_to bytes.
    document = {"environment": environment, "version": version}
    body = json.dumps(document).encode("utf-8")
    return body[:1], max(0, pad_to - len(body)), body[1:]


@functools.lru_cache(maxsize=8)
def _gzip_status_json(environment: str, version: str, pad_to: int) -> bytes:
    # Compressed piece by piece so that a bomb of a gigabyte never needs a
    # gigabyte of memory; wbits 31 asks zlib for the gzip container.
    prefix, padding, rest = _status_json_parts(environment, version, pad_to)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    pieces = [compressor.compress(prefix)]
    block = b" " * (1024 * 1024)
    while padding > 0:
        pieces.append(compressor.compress(block[:padding]))
        padding -= len(block)
    pieces.append(compressor.compress(rest))
    pieces.append(compressor.flush())
    return b"".join(pieces)


def _encode_body(body: Body) -> Tuple[bytes, Optional[str]]:
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode("utf-8"), "application/json"
    raise TypeError(
        f"body must be a dict, list, str, bytes or None, got {type(body).__name__}"
    )


def _merge_headers(
    defaults: Sequence[Tuple[str, str]], given: Optional[Mapping[str, str]]
) -> Tuple[Tuple[str, str], ...]:
    given = dict(given or {})
    for name, value in given.items():
        _check_header(name, value)
    replaced = {name.lower() for name in given}
    kept = [(name, value) for name, value in defaults if name.lower() not in replaced]
    for name, value in kept:
        _check_header(name, value)
    return (*kept, *given.items())


def _check_header(name: str, value: str) -> None:
    # Header injection belongs to Reply.raw; everywhere else a stray CR or LF
    # is a mistake in the test, better caught when the reply is built.
    for what, text in (("header name", name), ("header value", value)):
        if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
            raise ValueError(f"{what} must be a str without CR, LF or NUL: {text!r}")
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"{what} must be latin-1 text: {text!r}") from None
    if not name or ":" in name or name != name.strip():
        raise ValueError(f"header name must be a token, got {name!r}")


def _header(pairs: Sequence[Tuple[str, str]], name: str) -> Optional[str]:
    for key, value in pairs:
        if key.lower() == name.lower():
            return value
    return None


def _says_close(pairs: Sequence[Tuple[str, str]]) -> bool:
    return "close" in (_header(pairs, "Connection") or "").lower()


def _client_closes(request: WireRequest) -> bool:
    tokens = request.headers.get("Connection", "").lower().split(",")
    return request.http_version == "HTTP/1.0" or "close" in map(str.strip, tokens)


def _retry_after_text(value: Union[int, float, str]) -> str:
    if isinstance(value, str):
        _check_header("Retry-After", value)
        return value
    seconds = _check_seconds("retry_after", value)
    if isinstance(value, int) or seconds.is_integer():
        return str(int(seconds))
    return repr(seconds)


def _check_reply(reply: Optional[Reply]) -> Reply:
    if reply is None:
        return Reply.ok()
    if not isinstance(reply, Reply):
        raise TypeError(f"expected a Reply, got {type(reply).__name__}")
    return reply


def _check_seconds(name: str, value: float) -> float:
    number_types = (int, float)
    if isinstance(value, bool) or not isinstance(value, number_types):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not 0 <= value < math.inf:
        raise ValueError(f"{name} must be >= 0 and finite, got {value!r}")
    return float(value)


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def _check_status(code: int) -> int:
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
        raise ValueError(f"status code must be an int from 100 to 999, got {code!r}")
    return code


def _reason(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _call(name: str, *args: object, **kwargs: object) -> str:
    # Arguments left at None are left out, as a reader would write the call.
    while args and args[-1] is None:
        args = args[:-1]
    shown = [repr(arg) for arg in args]
    shown.extend(
        f"{key}={value!r}" for key, value in kwargs.items() if value is not None
    )
    return f"Reply.{name}({', '.join(shown)})"


if __name__ == "__main__":
    sys.exit(main())
