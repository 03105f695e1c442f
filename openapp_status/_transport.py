"""One HTTP GET through urllib3, bounded in time and in memory.

This module owns the urllib3 pools of a client (direct and through proxies),
the choice of proxy, the per-attempt timeouts, the reading and decoding of a
capped body, and the one translation of urllib3, socket and ssl errors into
our TransportError classes. It makes exactly one request per call, except
that a pooled keep-alive connection found closed by the server is replaced
at once. It must not retry, follow redirects or interpret status codes: that
is ``_client`` and ``_retry``. The one status it reads is a proxy's 407,
which is a proxy failure, not an answer from the backend.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
import threading
import time
import zlib
from typing import Any, Dict, Iterator, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

from urllib3 import PoolManager, ProxyManager, make_headers
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.timeout import Timeout as Urllib3Timeout

from . import _deadline
from ._compat import URLOPEN_OPTIONS, NameResolutionError
from ._config import normalize_url
from .errors import (
    ConfigError,
    ConnectError,
    ProtocolError,
    Timeout,
    TLSError,
    TransportError,
)

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}
_ERRORS = (u3.HTTPError, OSError, http.client.HTTPException)
# http.client reads a negative chunk size and then fails with a ValueError.
_BODY_ERRORS = (*_ERRORS, ValueError)


class Target:
    """A URL split the way a request needs it, with the proxy that serves it."""

    __slots__ = ("host", "origin", "path", "pool", "port", "proxy", "scheme", "url")

    def __init__(self, url: str, proxy: Optional[str]) -> None:
        parts = urlsplit(url)
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or _DEFAULT_PORTS[self.scheme]
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.origin = (self.scheme, self.host, self.port)
        self.proxy = proxy
        self.pool: Any = None


class Answer:
    """A complete HTTP answer: status, headers and the decoded body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(
        self, status: int, reason: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class Transport:
    """The pools of one client, safe to share between threads and forks."""

    def __init__(
        self,
        *,
        timeout: Tuple[float, float, Optional[float]],
        max_connections: int,
        max_body_size: int,
        ca_certs: Optional[str],
        verify: bool,
        proxy: Optional[str],
        trust_env: bool,
    ) -> None:
        self._connect, self._read, self._total = timeout
        self._timeout = Urllib3Timeout(connect=self._connect, read=self._read)
        self.max_connections = max_connections
        self.max_body_size = max_body_size
        self._pool_kw = _pool_options(max_connections, ca_certs, verify)
        self._proxy = None if proxy is None else _parse_proxy(proxy)
        self._env_proxies = _env_proxies() if trust_env and proxy is None else None
        self._lock = threading.Lock()
        self._start_pools()

    def target(self, url: str) -> Target:
        """Split ``url`` and choose its proxy (None: connect directly)."""
        return Target(url, self._proxy_for(url))

    def get(
        self,
        target: Target,
        headers: Mapping[str, str],
        deadline_at: Optional[float],
        attempt_started: Optional[float] = None,
    ) -> Answer:
        """Send one GET and read the whole answer, within the time allowed.

        The total timeout counts from ``attempt_started`` (a monotonic time)
        when given, so that the redirect hops of one attempt share it.
        """
        if self._pid != os.getpid():
            self._after_fork()
        timeout, expires, limit = self._limits(deadline_at, attempt_started, target)
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.monotonic() if debug else 0.0

        watch = _deadline.arm(expires)
        try:
            # Each pass that finds a pooled connection closed by the server
            # costs nothing and takes the next one, until a fresh connection.
            for _ in range(self.max_connections + 1):
                try:
                    answer = self._send(target, headers, timeout, watch, limit)
                except _StaleConnection:
                    logger.debug(
                        "pooled connection to %s was closed; reconnecting", target.url
                    )
                    continue
                if debug:
                    logger.debug(
                        "GET %s -> %d in %.1f ms",
                        target.url,
                        answer.status,
                        (time.monotonic() - started) * 1000,
                    )
                return answer
            raise ProtocolError(
                "every pooled connection was closed by the server", url=target.url
            )
        finally:
            _deadline.disarm(watch)

    def close(self) -> None:
        """Close every pooled connection; a later call opens new ones."""
        with self._lock:
            managers = [self._direct, *self._proxied.values()]
            self._start_pools()
        for manager in managers:
            manager.clear()

    def _send(
        self,
        target: Target,
        headers: Mapping[str, str],
        timeout: Urllib3Timeout,
        watch: _deadline.Watch,
        limit: Optional[float],
    ) -> Answer:
        try:
            if target.proxy is None:
                cached = target.pool
                if (
                    cached is None
                    or cached[0] is not self._direct
                    or cached[1].pool is None
                ):
                    cached = self._pool(target)
                pool = cached[1]
                response = pool.urlopen(
                    "GET",
                    target.path,
                    headers=headers,
                    timeout=timeout,
                    pool_timeout=timeout.connect_timeout,
                    **URLOPEN_OPTIONS,
                )
            else:
                response = self._proxy_manager(target.proxy).urlopen(
                    "GET",
                    target.url,
                    headers=headers,
                    timeout=timeout,
                    pool_timeout=timeout.connect_timeout,
                    **URLOPEN_OPTIONS,
                )
        except _ERRORS as exc:
            if watch.reused and not watch.fired and _closed_before_answer(exc):
                raise _StaleConnection from exc
            raise translate(exc, target, watch, timeout, limit) from exc

        clean = False
        try:
            body = _read_body(response, self.max_body_size, target.url)
            clean = not watch.fired
        except _BODY_ERRORS as exc:
            raise translate(exc, target, watch, timeout, limit) from exc
        finally:
            if not clean:
                response.close()
            response.release_conn()
        if not clean:
            # The watchdog cut the answer short, which can look complete to
            # http.client (a head ended early, a body without a length).
            raise translate(TimeoutError(), target, watch, timeout, limit)
        if response.status == 407 and target.proxy is not None:
            # Only a proxy answers 407 (RFC 9110, 15.5.8): through a tunnel,
            # urllib3 reports it as a ProxyError; here it came as an answer.
            raise ConnectError(
                f"proxy {_shown_proxy(target.proxy)} failed: "
                f"407 {response.reason or 'Proxy Authentication Required'}",
                url=target.url,
            )
        return Answer(response.status, response.reason or "", response.headers, body)

    def _limits(
        self,
        deadline_at: Optional[float],
        attempt_started: Optional[float],
        target: Target,
    ) -> Tuple[Urllib3Timeout, Optional[float], Optional[float]]:
        """Clamp this attempt's timeouts to what is left of the deadline."""
        now = time.monotonic()
        total = self._total
        started = now if attempt_started is None else attempt_started
        expires = None if total is None else started + total
        limit = total
        if deadline_at is not None and (expires is None or deadline_at < expires):
            expires = deadline_at
            limit = None
        if expires is None:
            return self._timeout, None, limit

        left = expires - now
        if left <= 0:
            raise Timeout(
                "the call's deadline ran out before this attempt", url=target.url
            )
        if left >= self._connect and left >= self._read:
            return self._timeout, expires, limit
        timeout = Urllib3Timeout(
            connect=min(self._connect, left), read=min(self._read, left)
        )
        return timeout, expires, limit

    def _proxy_for(self, url: str) -> Optional[str]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if _is_loopback(host):
            return None
        if self._proxy is not None:
            return self._proxy[0]
        proxies = self._env_proxies
        if not proxies:
            return None
        chosen = proxies.get(parts.scheme) or proxies.get("all")
        if chosen is None:
            return None
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

        if proxy_bypass_environment(parts.netloc, proxies):
            return None
        return _parse_proxy(chosen)[0]

    def _start_pools(self) -> None:
        self._pid = os.getpid()
        self._direct = _manager(PoolManager(**self._pool_kw))
        self._proxied: Dict[str, ProxyManager] = {}

    def _after_fork(self) -> None:
        # The parent's sockets stay open in the child, but belong to the
        # parent's conversations: the child must never send on them. The
        # lock is replaced, not taken: another thread of the parent may have
        # held it at the fork, and that thread does not exist here.
        self._lock = threading.Lock()
        self._start_pools()

    def _pool(self, target: Target) -> Tuple[Any, Any]:
        # Cached on the target with the manager it came from, so that a new
        # set of pools (after close() or fork) is noticed at once.
        manager = self._direct
        pool = manager.connection_from_host(target.host, target.port, target.scheme)
        cached = (manager, pool)
        target.pool = cached
        return cached

    def _proxy_manager(self, proxy: str) -> ProxyManager:
        manager = self._proxied.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._proxied.get(proxy)
                if manager is None:
                    url, auth = _split_proxy_auth(proxy)
                    headers = make_headers(proxy_basic_auth=auth) if auth else None
                    manager = _manager(
                        ProxyManager(url, proxy_headers=headers, **self._pool_kw)
                    )
                    self._proxied[proxy] = manager
        return manager


class _StaleConnection(Exception):
    """A pooled connection turned out closed before any byte of the answer."""


class _WatchedConnection:
    """Registers each socket with the attempt's watch, and notes reuse."""

    _openapp_uses = 0
    _openapp_sock: Optional[socket.socket] = None

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._openapp_uses = 0
        self._openapp_sock = sock
        watch = _deadline.current()
        if watch is not None:
            watch.add(sock)
        return sock

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        watch = _deadline.current()
        if watch is not None and self._openapp_uses and self.sock is not None:  # type: ignore[attr-defined]
            watch.reused = True
            if self._openapp_sock is not None:
                watch.add(self._openapp_sock)
        # Counted after sending: sending may connect, which resets the count.
        result = super().request(method, url, *args, **kwargs)  # type: ignore[misc]
        self._openapp_uses += 1
        return result


class _HTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


def _manager(manager: PoolManager) -> Any:
    manager.pool_classes_by_scheme = _POOL_CLASSES
    return manager


def _pool_options(
    max_connections: int, ca_certs: Optional[str], verify: bool
) -> Dict[str, Any]:
    options: Dict[str, Any] = {"maxsize": max_connections, "block": True}
    if not verify:
        options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        return options
    options["cert_reqs"] = "CERT_REQUIRED"
    if ca_certs is not None:
        from urllib3.util.ssl_ import create_urllib3_context

        context = create_urllib3_context()
        try:
            context.load_default_certs()
            context.load_verify_locations(cafile=ca_certs)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"ca_certs {ca_certs!r} cannot be loaded: {exc}"
            ) from None
        options["ssl_context"] = context
    return options


def _read_body(response: Any, cap: int, url: str) -> bytes:
    """Read at most ``cap`` bytes of body, decoded; more is a ProtocolError."""
    length = response.headers.get("Content-Length")
    # isdigit() alone accepts Latin-1 digits such as "²", which int() refuses.
    if length is not None and length.isascii() and length.isdigit():
        if int(length) > cap:
            raise ProtocolError(
                f"answer body of {length} bytes is over the {cap}-byte cap", url=url
            )
        # A known length within the cap: one read, and a body cut short
        # raises, since Content-Length is enforced.
        body: bytes = response.read(decode_content=False)
    else:
        body = b""
        while True:
            chunk = response.read(cap + 1 - len(body), decode_content=False)
            if not chunk:
                break
            body += chunk
            if len(body) > cap:
                raise ProtocolError(f"answer body is over the {cap}-byte cap", url=url)

    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    return _decode(body, encoding, cap, url)


def _decode(body: bytes, encoding: str, cap: int, url: str) -> bytes:
    """Undo gzip or deflate without ever holding more than ``cap`` decoded bytes."""
    if encoding in _ENCODINGS:
        decoder = zlib.decompressobj(_ENCODINGS[encoding])
    elif encoding == "deflate":
        # Servers send either zlib-wrapped or raw deflate under this name.
        raw = not body[:1] or (body[0] & 0x0F) != 8
        decoder = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    else:
        raise ProtocolError(
            f"answer uses an unsupported Content-Encoding {encoding!r}", url=url
        )
    try:
        decoded = decoder.decompress(body, cap + 1)
    except zlib.error as exc:
        raise ProtocolError(
            f"answer body is not valid {encoding}: {exc}", url=url
        ) from exc
    if len(decoded) > cap or decoder.unconsumed_tail:
        raise ProtocolError(f"decoded answer body is over the {cap}-byte cap", url=url)
    return decoded


def translate(
    exc: BaseException,
    target: Target,
    watch: _deadline.Watch,
    timeout: Urllib3Timeout,
    limit: Optional[float],
) -> TransportError:
    """Turn a urllib3, socket or ssl error into the TransportError it means.

    ``limit`` is the attempt's total timeout when that is what the watchdog
    enforced, or None when it enforced the call's deadline.
    """
    url = target.url
    if watch.fired:
        if limit is None:
            return Timeout("the call's deadline ran out", url=url)
        return Timeout(f"no complete answer within the {limit:g}s timeout", url=url)
    if isinstance(exc, u3.EmptyPoolError):
        return Timeout("no free connection in the pool in time", url=url)
    if isinstance(exc, u3.ProxyError):
        return ConnectError(
            f"proxy {_shown_proxy(target.proxy)} failed: {_reason(exc)}", url=url
        )

    tls = _tls_problem(exc)
    if tls is not None:
        return TLSError(tls, url=url)
    if isinstance(exc, NameResolutionError) or _find(exc, socket.gaierror):
        return ConnectError(f"cannot resolve host {target.host!r}", url=url)
    # NewConnectionError subclasses ConnectTimeoutError: look at it first.
    if isinstance(exc, u3.NewConnectionError):
        return ConnectError(f"cannot connect: {_reason(exc)}", url=url)
    if isinstance(exc, u3.ConnectTimeoutError):
        return Timeout(f"connect timed out after {timeout.connect_timeout:g}s", url=url)
    if isinstance(exc, (u3.ReadTimeoutError, socket.timeout)):
        return Timeout(f"read timed out after {timeout.read_timeout:g}s", url=url)

    cause = _first(exc, _MEANINGFUL) or _root(exc)
    if isinstance(cause, http.client.RemoteDisconnected):
        return ProtocolError("server closed the connection without an answer", url=url)
    if isinstance(cause, ConnectionResetError):
        return ProtocolError("connection reset by the server", url=url)
    if isinstance(cause, http.client.IncompleteRead):
        # urllib3 keeps a byte count here, http.client the bytes themselves.
        partial: object = cause.partial
        got = partial if isinstance(partial, int) else len(cause.partial)
        return ProtocolError(f"answer cut short after {got} bytes of the body", url=url)
    if isinstance(cause, (http.client.HTTPException, u3.InvalidHeader, ValueError)):
        # Not _reason(): urllib3 1.26 raises these while handling a TypeError
        # of its own, which would then be the innermost error.
        detail = str(cause) or type(cause).__name__
        return ProtocolError(f"malformed answer: {_clip(detail)}", url=url)
    return ProtocolError(f"connection failed: {_reason(cause)}", url=url)


def _tls_problem(exc: BaseException) -> Optional[str]:
    """Describe a certificate or handshake failure in ``exc``, if there is one.

    A certificate failure names the check that failed (host name, trust,
    validity), since OpenSSL and the two urllib3 lines word them differently.
    """
    for error in _chain(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            # Only OpenSSL sets the verify_* attributes; Python code may not.
            code = getattr(error, "verify_code", None)
            detail = getattr(error, "verify_message", None) or error.reason or error
            check = _CERT_CHECKS.get(code, "certificate rejected")
            return f"TLS certificate verification failed ({check}): {detail}"
        if type(error).__name__ == "CertificateError":
            return f"TLS certificate verification failed (hostname mismatch): {error}"
    for error in _chain(exc):
        if isinstance(
            error, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
        ):
            return None
        if isinstance(error, ssl.SSLError):
            reason = error.reason or str(error)
            if reason in _NOT_TLS:
                return (
                    f"TLS handshake failed: the server did not answer in TLS "
                    f"({reason}); is it plain http?"
                )
            return f"TLS handshake failed: {reason}"
    if isinstance(exc, u3.SSLError):
        return f"TLS handshake failed: {_reason(exc)}"
    return None


#: OpenSSL's X509_V_ERR_* codes, grouped by the check that failed.
_CERT_CHECKS: Dict[Optional[int], str] = {
    2: "untrusted certificate",  # unable to get issuer certificate
    9: "certificate not yet valid",
    10: "expired certificate",
    18: "untrusted certificate",  # self-signed certificate
    19: "untrusted certificate",  # self-signed certificate in chain
    20: "untrusted certificate",  # unable to get local issuer certificate
    21: "untrusted certificate",  # unable to verify the first certificate
    62: "hostname mismatch",
    64: "hostname mismatch",  # IP address mismatch
}

#: What OpenSSL reports when the first bytes back are not a TLS record.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it wraps, through args, causes and contexts."""
    seen: Set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        todo.extend(arg for arg in error.args if isinstance(arg, BaseException))
        # A suppressed context is an implementation detail of the raiser
        # (urllib3 1.26 retries getresponse() after a TypeError, for one).
        context = None if error.__suppress_context__ else error.__context__
        for inner in (error.__cause__, context, getattr(error, "reason", None)):
            if isinstance(inner, BaseException):
                todo.append(inner)


#: The errors that say best what went wrong, looked for before the innermost.
_MEANINGFUL = (
    ConnectionResetError,
    http.client.IncompleteRead,
    http.client.HTTPException,
)


def _first(exc: BaseException, kinds: Tuple[type, ...]) -> Optional[BaseException]:
    return next((error for error in _chain(exc) if isinstance(error, kinds)), None)


def _find(exc: BaseException, kind: type) -> bool:
    return any(isinstance(error, kind) for error in _chain(exc))


def _root(exc: BaseException) -> BaseException:
    """The innermost error: the one that says what really happened."""
    root = exc
    for error in _chain(exc):
        root = error
    return root


def _closed_before_answer(exc: BaseException) -> bool:
    closed = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
    return _first(exc, closed) is not None


def _clip(text: str, limit: int = 200) -> str:
    # A status line may be up to 64 KiB long; a message must stay readable.
    return text if len(text) <= limit else text[:limit] + "..."


def _reason(exc: BaseException) -> str:
    """A short reason without object reprs: the OS's words when it has them."""
    root = _root(exc)
    if isinstance(root, OSError) and root.strerror:
        return root.strerror.lower()
    text = str(root) or type(root).__name__
    if " object at 0x" in text:
        text = text.split(": ", 1)[-1]
    return text


def _is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback, judged without DNS."""
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if ":" in host:
        import ipaddress

        try:
            address = ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return False
        return (address.ipv4_mapped or address).is_loopback
    try:
        # inet_aton reads every IPv4 spelling that the resolver connects to,
        # such as 127.1 and 2130706433, not just the dotted quad.
        return socket.inet_aton(host)[0] == 127
    except (OSError, ValueError):
        return False


def _env_proxies() -> Optional[Dict[str, str]]:
    # Importing urllib.request costs a few milliseconds: only pay for it when
    # the environment names a proxy at all.
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None
    from urllib.request import getproxies_environment

    return getproxies_environment() or None


def _parse_proxy(proxy: str) -> Tuple[str, str]:
    """Return the proxy URL (with credentials) and its display form (without)."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    scheme = proxy.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"proxy {_shown_proxy(proxy)} must use http or https "
            "(socks proxies are not supported)"
        )
    url, auth = _split_proxy_auth(proxy)
    shown = normalize_url(url, "proxy")
    return proxy if auth else shown, shown


def _split_proxy_auth(proxy: str) -> Tuple[str, Optional[str]]:
    scheme, _, rest = proxy.partition("://")
    userinfo, at, hostport = rest.rpartition("@")
    if not at:
        return proxy, None
    from urllib.parse import unquote

    return f"{scheme}://{hostport}", unquote(userinfo)


def _shown_proxy(proxy: Optional[str]) -> str:
    if proxy is None:
        return "(none)"
    return _split_proxy_auth(proxy)[0]
