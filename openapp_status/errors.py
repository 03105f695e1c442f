"""The exceptions raised by openapp-status.

Every failure of a call is exactly one of four families, so callers can tell
"I configured it wrong" from "the network failed" from "the backend said no"
from "the backend said something we cannot read"::

    OpenAppError                   message, url, attempts, elapsed
    ├── ConfigError (ValueError)   bad base URL, API key or option; no request sent
    ├── TransportError             no usable answer from the backend
    │   ├── ConnectError           DNS failure, refused, unreachable, proxy down
    │   ├── Timeout                connect or read timeout, or the deadline ran out
    │   ├── TLSError               handshake or certificate failure (not retried)
    │   ├── ProtocolError          dropped or malformed answer, body over the cap
    │   ├── RedirectError          redirect refused: loop, too many hops, downgrade
    │   └── GatewayError           502/503/504 whose body is not JSON (a proxy answered)
    ├── HttpError                  the backend answered with a non-2xx status
    │   ├── AuthError              401 or 403
    │   └── ApiError               another status with an ApiErrorResponse envelope
    └── SerializationError         a 2xx whose body is not a BackendStatus

This module owns the classes and their one-line rendering. It never sees an
API key: messages are built from URLs, statuses and our own words only. The
translation of urllib3, socket and ssl errors into these classes lives in
``_transport``, in one place.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConnectError",
    "GatewayError",
    "HttpError",
    "OpenAppError",
    "ProtocolError",
    "RedirectError",
    "SerializationError",
    "TLSError",
    "Timeout",
    "TransportError",
]


class OpenAppError(Exception):
    """Raised when a call fails; the base of every error in this package.

    ``message`` says what happened, ``url`` where (never with credentials),
    ``attempts`` how many requests the call made and ``elapsed`` how many
    seconds it took in all. ``str(error)`` renders all four on one line.
    """

    def __init__(
        self,
        message: str,
        *,
        url: Optional[str] = None,
        attempts: int = 0,
        elapsed: float = 0.0,
    ) -> None:
        message = _one_line(message)
        super().__init__(message)
        self.message = message
        self.url = url
        self.attempts = attempts
        self.elapsed = elapsed

    def __str__(self) -> str:
        where = f"{self.url}: " if self.url else ""
        if self.attempts == 0:
            return f"{where}{self.message}"
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"{where}{self.message} ({tries}, {self.elapsed:.2f}s)"

    def __reduce__(self) -> Any:
        # Keyword-only fields do not survive the default pickling of
        # exceptions; errors cross process boundaries in pre-fork servers.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: Type[OpenAppError], state: Dict[str, Any]) -> OpenAppError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class ConfigError(OpenAppError, ValueError):
    """Raised when a base URL, API key or option is invalid, before any request."""


class TransportError(OpenAppError):
    """Raised when no usable answer came back from the backend."""


class ConnectError(TransportError):
    """Raised when the connection could not be made: DNS, refused, unreachable."""


class Timeout(TransportError):
    """Raised when a connect or read timeout expired or the deadline ran out."""


class TLSError(TransportError):
    """Raised when the TLS handshake or certificate verification failed."""


class ProtocolError(TransportError):
    """Raised when the answer was dropped, malformed, or larger than the cap."""


class RedirectError(TransportError):
    """Raised when a redirect is refused: a loop, a fourth hop, or https to http."""


class _ResponseDetails(OpenAppError):
    """The parts of an HTTP answer kept on the errors raised for one."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        headers: Mapping[str, str],
        body: str = "",
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        url: Optional[str] = None,
        attempts: int = 0,
        elapsed: float = 0.0,
    ) -> None:
        super().__init__(message, url=url, attempts=attempts, elapsed=elapsed)
        self.status = status
        self.headers = headers
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after


class GatewayError(_ResponseDetails, TransportError):
    """Raised when a 502, 503 or 504 came with a body that is not JSON.

    Such an answer comes from a proxy or load balancer in front of the
    backend, not from the backend itself, so it counts as a transport failure.
    """


class HttpError(_ResponseDetails):
    """Raised when the backend answered with a status outside 2xx.

    ``code``, ``details`` and ``correlation_id`` come from the backend's
    ApiErrorResponse envelope when it sent one, else they are ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        details: Any = None,
        correlation_id: Optional[str] = None,
        **response: Any,
    ) -> None:
        super().__init__(message, **response)
        self.code = code
        self.details = details
        self.correlation_id = correlation_id


class AuthError(HttpError):
    """Raised when the backend answered 401 or 403."""


class ApiError(HttpError):
    """Raised when the backend answered another error with an ApiErrorResponse."""


class SerializationError(OpenAppError):
    """Raised when a 2xx answer's body is not a BackendStatus."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        body: str = "",
        request_id: Optional[str] = None,
        url: Optional[str] = None,
        attempts: int = 0,
        elapsed: float = 0.0,
    ) -> None:
        super().__init__(message, url=url, attempts=attempts, elapsed=elapsed)
        self.status = status
        self.body = body
        self.request_id = request_id


def _one_line(text: str) -> str:
    """Fold control characters so that a message always renders on one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)
