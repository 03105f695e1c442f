"""The wire under the fake backend: sockets, threads and HTTP/1.1 framing.

This module owns the listening socket, one accept thread, one thread per
accepted connection, the parsing of requests and the paced writing of bytes.
It knows nothing of replies, routes or the OpenApp API: for each request it
calls a handler that decides what to write, through a ``Connection``. Every
wait is on an ``Event`` that ``Server.close`` sets, and every blocking socket
call is woken by a shutdown, so closing never waits on a client.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import ssl
import struct
import threading
import uuid
from dataclasses import dataclass
from typing import (
    BinaryIO,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
)

__all__ = ["BadRequest", "Connection", "Headers", "Server", "WireRequest"]

logger = logging.getLogger(__name__)

# Limits on what a client may send; real servers have them too.
_MAX_LINE = 8192
_MAX_HEADERS = 100
_MAX_BODY = 1024 * 1024

# How long closing waits for one thread. Writers wake at once on the closing
# event or on the socket shutdown, so this bound is only ever hit by a bug.
_JOIN_TIMEOUT = 5.0


class Headers(Mapping[str, str]):
    """Request headers as received, looked up without regard to case.

    Iteration yields each name once, spelled as the client first sent it; a
    header sent several times reads as its values joined by ``", "``, and
    ``get_all`` returns them one by one. ``raw`` keeps every pair in order.
    """

    def __init__(self, pairs: Iterable[Tuple[str, str]] = ()) -> None:
        self.raw: Tuple[Tuple[str, str], ...] = tuple(pairs)
        self._values: Dict[str, List[str]] = {}
        self._names: Dict[str, str] = {}
        for name, value in self.raw:
            key = name.lower()
            self._values.setdefault(key, []).append(value)
            self._names.setdefault(key, name)

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return ", ".join(self._values[name.lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._names)

    def get_all(self, name: str) -> List[str]:
        """Every value sent for ``name``, in order; empty when it was not sent."""
        return list(self._values.get(name.lower(), ()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        theirs = {str(name).lower(): value for name, value in other.items()}
        return theirs == {key: self[key] for key in self._values}

    def __hash__(self) -> int:
        return hash(frozenset((key, self[key]) for key in self._values))

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class WireRequest:
    """One parsed request: request line, headers and the body, if any."""

    method: str
    target: str
    http_version: str
    headers: Headers
    body: bytes


class BadRequest(Exception):
    """Raised when a client sends bytes that are not an HTTP/1.x request."""


def read_request(reader: BinaryIO) -> Optional[WireRequest]:
    """Read one request from ``reader``; None when the client went away first."""
    line = reader.readline(_MAX_LINE + 1)
    # RFC 9112 section 2.2: ignore empty lines received before a request line.
    while line in (b"\r\n", b"\n"):
        line = reader.readline(_MAX_LINE + 1)
    if not line:
        return None
    if len(line) > _MAX_LINE:
        raise BadRequest("request line too long")
    if not line.endswith(b"\n"):
        return None

    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("malformed request line")
    method, target, http_version = parts

    pairs: List[Tuple[str, str]] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            if len(line) > _MAX_LINE:
                raise BadRequest("header line too long")
            return None
        if line in (b"\r\n", b"\n"):
            break
        if len(pairs) == _MAX_HEADERS:
            raise BadRequest("too many headers")
        name, colon, value = line.decode("latin-1").partition(":")
        # RFC 9112 section 5.1: no whitespace between a field name and colon.
        if not colon or not name or name != name.strip():
            raise BadRequest("malformed header line")
        pairs.append((name, value.strip()))
    headers = Headers(pairs)

    body = _read_body(reader, headers)
    if body is None:
        return None
    return WireRequest(method, target, http_version, headers, body)


def _read_body(reader: BinaryIO, headers: Headers) -> Optional[bytes]:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(reader)

    try:
        length = int(headers.get("Content-Length", "0"))
    except ValueError:
        raise BadRequest("malformed Content-Length") from None
    if not 0 <= length <= _MAX_BODY:
        raise BadRequest("request body too large")
    body = reader.read(length)
    return body if len(body) == length else None


def _read_chunked(reader: BinaryIO) -> Optional[bytes]:
    chunks: List[bytes] = []
    total = 0
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            return None
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequest("malformed chunk size") from None
        total += size
        if size < 0 or total > _MAX_BODY:
            raise BadRequest("request body too large")
        if size == 0:
            break
        chunk = reader.read(size)
        if len(chunk) != size or not reader.readline(_MAX_LINE + 1):
            return None
        chunks.append(chunk)

    # Trailer fields, if any, end with an empty line like headers do.
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return b"".join(chunks)


class Connection:
    """One accepted connection, as the handler sees it.

    Its thread owns the socket; any other thread may only ``abort`` it. All
    writes return False once the client has gone or the server is closing,
    so the handler just stops.
    """

    def __init__(self, sock: socket.socket, number: int) -> None:
        self.number = number
        self.closing = threading.Event()
        self._sock = sock
        self._reader: Optional[BinaryIO] = None
        self._lock = threading.Lock()
        self._closed = False

    def send(self, data: bytes, interval: float = 0.0) -> bool:
        """Write ``data``; one byte every ``interval`` seconds when it is > 0."""
        try:
            if interval <= 0:
                self._sock.sendall(data)
                return True
            for index in range(len(data)):
                if index and self.closing.wait(interval):
                    return False
                self._sock.sendall(data[index : index + 1])
        except OSError:
            return False
        return not self.closing.is_set()

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False when the server closed the connection meanwhile."""
        return not self.closing.wait(seconds)

    def reset(self) -> None:
        """Close with a TCP reset instead of an orderly shutdown."""
        with self._lock:
            try:
                # A zero linger time makes close() send RST (see socket(7)).
                self._sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
        self.close()

    def abort(self) -> None:
        """Wake the connection's thread and make it end; safe from any thread."""
        self.closing.set()
        with self._lock:
            if self._closed:
                return
            try:
                # The base class method, so that a TLS socket is shut down at
                # the TCP level without a TLS exchange.
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket for TLS and do the server side of the handshake."""
        with self._lock:
            if self.closing.is_set():
                raise ConnectionAbortedError("connection closed before the handshake")
            self._sock = context.wrap_socket(
                self._sock, server_side=True, do_handshake_on_connect=False
            )
        tls = self._sock
        assert isinstance(tls, ssl.SSLSocket)
        tls.do_handshake()

    def reader(self) -> BinaryIO:
        """The buffered reader that requests are parsed from."""
        if self._reader is None:
            self._reader = self._sock.makefile("rb")
        return self._reader

    def close(self) -> None:
        """Close the connection; only its own thread calls this."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reader is not None:
                self._reader.close()
            self._sock.close()


Handler = Callable[[WireRequest, Connection], bool]
"""Answers one request on a connection; returns whether to keep it open."""


class _Listening:
    """The state of one listening period, from ``listen`` to ``close``."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.wake_reader, self.wake_writer = socket.socketpair()
        self.thread: Optional[threading.Thread] = None

    def close(self) -> None:
        self.listener.close()
        self.wake_reader.close()
        self.wake_writer.close()


class Server:
    """A threaded HTTP/1.1 listener that hands each request to ``handler``.

    ``listen`` and ``close`` may alternate any number of times; after the
    first ``listen`` the port stays the same, so clients can reconnect.
    """

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.host = host
        self.port = port
        self._handler = handler
        self._ssl_context = ssl_context
        self._control = threading.Lock()
        self._lock = threading.Lock()
        self._listening: Optional[_Listening] = None
        self._connections: Dict[Connection, threading.Thread] = {}
        self._accepted = 0

    @property
    def is_listening(self) -> bool:
        return self._listening is not None

    def listen(self) -> None:
        """Bind and start accepting; does nothing when already listening."""
        with self._control:
            if self._listening is not None:
                return

            listening = _Listening(_bind(self.host, self.port))
            self.port = listening.listener.getsockname()[1]
            thread = threading.Thread(
                target=self._accept_loop,
                args=(listening,),
                name=f"openapp-fake-accept-{self.port}",
                daemon=True,
            )
            listening.thread = thread
            self._listening = listening
            thread.start()
            logger.debug("listening on %s port %d", self.host, self.port)

    def close(self) -> None:
        """Stop accepting, close every connection, and join every thread."""
        with self._control:
            listening, self._listening = self._listening, None
            if listening is not None:
                # Joining the accept thread first means no connection can be
                # accepted after the snapshot that close_connections takes.
                listening.wake_writer.send(b"\0")
                assert listening.thread is not None
                listening.thread.join(_JOIN_TIMEOUT)
                listening.close()
                logger.debug("stopped listening on port %d", self.port)
            self._close_connections()

    def close_connections(self) -> None:
        """Close every open connection but keep listening."""
        with self._control:
            self._close_connections()

    def _close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            connection.abort()
        for _, thread in connections:
            if thread is not threading.current_thread():
                thread.join(_JOIN_TIMEOUT)

    def _accept_loop(self, listening: _Listening) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listening.listener, selectors.EVENT_READ)
            selector.register(listening.wake_reader, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if listening.wake_reader in ready:
                    return
                try:
                    sock, _ = listening.listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                except OSError as exc:
                    # Out of file descriptors or worse: retrying would spin.
                    logger.debug("stopped accepting on port %d: %s", self.port, exc)
                    return
                self._start_connection(sock)

    def _start_connection(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        # Trickled replies must leave one byte at a time, and a head written
        # apart from its body must not wait for the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._accepted += 1
            connection = Connection(sock, self._accepted)
            thread = threading.Thread(
                target=self._serve,
                args=(connection,),
                name=f"openapp-fake-connection-{connection.number}",
                daemon=True,
            )
            self._connections[connection] = thread
            # Started under the lock, so close_connections never finds a
            # thread it cannot join yet.
            thread.start()

    def _serve(self, connection: Connection) -> None:
        try:
            if self._ssl_context is not None:
                connection.start_tls(self._ssl_context)
            reader = connection.reader()
            while not connection.closing.is_set():
                try:
                    request = read_request(reader)
                except BadRequest as exc:
                    connection.send(_bad_request(str(exc)))
                    break
                if request is None or not self._handler(request, connection):
                    break
        except OSError as exc:
            # The client reset the connection, failed the TLS handshake, or
            # close() shut the socket down under a blocking call.
            logger.debug("connection %d ended: %s", connection.number, exc)
        finally:
            connection.close()
            with self._lock:
                del self._connections[connection]


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        # Rebinding the same port right after close() must not fail on
        # connections in TIME_WAIT. On Windows the option means something
        # else (sharing a port with a live socket), so it is left off there.
        if os.name != "nt":
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener


def _bad_request(reason: str) -> bytes:
    body = json.dumps({"message": reason, "code": "bad_request"}).encode("utf-8")
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-Id: {uuid.uuid4()}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
