"""The blocking client: Client, its status resource, and the one-shot helpers.

This module owns the configuration of a client, the request headers, and the
attempt: one GET of ``{base_url}/status`` with its redirects, read into a
BackendStatus. It hands attempts to ``_retry`` and sockets to ``_transport``
and must do neither job itself.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import SplitResult, urljoin, urlsplit

from . import __version__
from ._compat import URLLIB3_VERSION, HTTPHeaderDict
from ._config import (
    check_bool,
    check_header_value,
    check_positive_int,
    check_timeout,
    resolve_base_url,
)
from ._models import BackendStatus
from ._response import to_status
from ._retry import RetryBudget, RetryPolicy, call_with_retries, wait_until_up
from ._transport import Answer, Target, Transport
from .errors import ConfigError, RedirectError

logger = logging.getLogger(__name__)

#: Redirect statuses the client follows (at most MAX_REDIRECTS hops).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3

#: The default cap on a response body, in bytes.
MAX_BODY_SIZE = 64 * 1024

_PYTHON = "{}.{}".format(*sys.version_info)
DEFAULT_USER_AGENT = (
    f"openapp-status/{__version__} python/{_PYTHON} urllib3/{URLLIB3_VERSION}"
)

TimeoutOption = Union[float, Tuple[float, float]]


class StatusResource:
    """``client.status``: the backend's anonymous status endpoint."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self) -> BackendStatus:
        """Fetch ``GET {base_url}/status``, retrying as the client's policy says."""
        return self._client._call()

    def __repr__(self) -> str:
        return f"<StatusResource of {self._client!r}>"


class Client:
    """A thread-safe, fork-safe client for one OpenApp backend.

    One client holds one pool of keep-alive connections; share it between
    threads rather than building one per call. Use it as a context manager,
    or call ``close()`` when done.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        api_key: Optional[str] = None,
        timeout: TimeoutOption = 10.0,
        retry: Optional[RetryPolicy] = None,
        user_agent: Optional[str] = None,
        ca_certs: Optional[str] = None,
        verify: bool = True,
        proxy: Optional[str] = None,
        trust_env: bool = True,
        max_connections: int = 10,
        max_body_size: int = MAX_BODY_SIZE,
    ) -> None:
        self._base_url = resolve_base_url(base_url, api_key)
        self._api_key = api_key
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError(f"retry must be a RetryPolicy or None, got {retry!r}")
        self._policy = retry or RetryPolicy()
        self._budget = RetryBudget(self._policy.retry_budget)
        if ca_certs is not None and not isinstance(ca_certs, str):
            raise ConfigError(f"ca_certs must be a path string, got {ca_certs!r}")
        if proxy is not None and not isinstance(proxy, str):
            raise ConfigError(f"proxy must be a URL string, got {proxy!r}")

        agent = DEFAULT_USER_AGENT if user_agent is None else user_agent
        headers = {
            "Accept": "application/json",
            "User-Agent": check_header_value(agent, "user_agent"),
        }
        self._anonymous_headers = headers
        self._headers = dict(headers, **{"X-API-Key": api_key}) if api_key else headers

        self._transport = Transport(
            timeout=check_timeout(timeout),
            max_connections=check_positive_int(max_connections, "max_connections"),
            max_body_size=check_positive_int(max_body_size, "max_body_size"),
            ca_certs=ca_certs,
            verify=check_bool(verify, "verify"),
            proxy=proxy,
            trust_env=check_bool(trust_env, "trust_env"),
        )
        self._target = self._transport.target(self._base_url + "/status")
        self.status = StatusResource(self)
        if not verify:
            logger.warning("TLS verification is off for %s", self._base_url)

    @property
    def base_url(self) -> str:
        """The API root, normalised, without a trailing slash."""
        return self._base_url

    def wait_for_backend(self, timeout: float = 30.0) -> BackendStatus:
        """Probe until the backend answers a BackendStatus, for up to ``timeout``.

        The startup gate: it backs off to about one probe a second, ignores
        the policy's ``max_retries``, and fails at once on errors that
        waiting cannot fix (configuration, auth, TLS, an unreadable body).
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ConfigError(f"timeout must be a number of seconds, got {timeout!r}")
        if not math.isfinite(timeout) or timeout <= 0:
            raise ConfigError(f"timeout must be positive and finite, got {timeout!r}")
        return wait_until_up(
            self._attempt,
            self._policy,
            float(timeout),
            clock=time.monotonic,
            sleep=time.sleep,
            random=random.random,
        )

    def close(self) -> None:
        """Close the pooled connections. The client opens new ones if used again."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "<hidden>" if self._api_key else None
        return f"Client(base_url={self._base_url!r}, api_key={key})"

    def _call(self) -> BackendStatus:
        return call_with_retries(
            self._attempt,
            self._policy,
            self._budget,
            clock=time.monotonic,
            sleep=time.sleep,
            random=random.random,
        )

    def _attempt(self, deadline_at: Optional[float]) -> BackendStatus:
        """One attempt: the request and its redirects, read as a BackendStatus."""
        target = self._target
        headers = self._headers
        chain = [target.url]
        started = time.monotonic()
        while True:
            answer = _without_secret(
                self._transport.get(target, headers, deadline_at, started),
                self._api_key,
            )
            if (
                answer.status not in REDIRECT_STATUSES
                or "Location" not in answer.headers
            ):
                return to_status(answer, target.url)
            target = self._redirect(target, answer, chain)
            headers = (
                self._headers
                if target.origin == self._target.origin
                else self._anonymous_headers
            )

    def _redirect(self, target: Target, answer: Answer, chain: List[str]) -> Target:
        """Check one redirect hop against our rules and return where it leads."""
        location = answer.headers["Location"]
        parts = _location_url(target.url, location)
        if parts is None:
            raise RedirectError(
                f"redirect to an invalid location {location!r}", url=target.url
            )
        if "@" in parts.netloc:
            # Refused rather than followed, so that the credentials never
            # reach an error, a log line or the next host.
            raise RedirectError(
                "refused redirect to a location with user-info (not shown)",
                url=target.url,
            )
        url = parts.geturl()

        trail = " -> ".join([*chain, url])
        if target.scheme == "https" and parts.scheme == "http":
            raise RedirectError(
                f"refused redirect from https to http: {trail}", url=target.url
            )
        if url in chain:
            raise RedirectError(f"redirect loop: {trail}", url=target.url)
        if len(chain) > MAX_REDIRECTS:
            raise RedirectError(
                f"more than {MAX_REDIRECTS} redirects: {trail}", url=target.url
            )
        chain.append(url)
        logger.debug("HTTP %d redirect from %s to %s", answer.status, target.url, url)
        return self._transport.target(url)


def get_status(base_url: Optional[str] = None, **client_options: Any) -> BackendStatus:
    """Fetch the backend status once, with a client made for this call."""
    with Client(base_url, **_options(client_options)) as client:
        return client.status.get()


def wait_for_backend(
    base_url: Optional[str] = None, *, timeout: float = 30.0, **client_options: Any
) -> BackendStatus:
    """Wait up to ``timeout`` seconds for the backend to answer (the startup gate)."""
    with Client(base_url, **_options(client_options)) as client:
        return client.wait_for_backend(timeout)


_CLIENT_OPTIONS = frozenset(
    {
        "api_key",
        "timeout",
        "retry",
        "user_agent",
        "ca_certs",
        "verify",
        "proxy",
        "trust_env",
        "max_connections",
        "max_body_size",
    }
)


def _options(options: Dict[str, Any]) -> Dict[str, Any]:
    unknown = sorted(set(options) - _CLIENT_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown client option(s): {', '.join(unknown)}")
    return options


def _location_url(base: str, location: str) -> Optional[SplitResult]:
    """The absolute http(s) URL that a Location header names, if it names one."""
    if not location.isprintable():
        return None
    try:
        url = urljoin(base, location.strip()).partition("#")[0]
    except ValueError:
        return None
    return _http_url(url)


def _without_secret(answer: Answer, secret: Optional[str]) -> Answer:
    """``answer`` with every echo of the API key in it replaced by ``<hidden>``.

    A backend or proxy that echoes request headers must not make us repeat
    the key in an error, a log line or a redirect; the key is ASCII (checked
    when the client is built), so its bytes are its Latin-1 encoding.
    """
    if not secret:
        return answer
    raw = secret.encode("latin-1")
    headers = answer.headers
    # Only an error or a redirect lets its headers reach a message, a log
    # line or the next hop: a healthy answer needs no scan of them.
    echoed = raw in answer.body or (
        not 200 <= answer.status < 300
        and any(secret in value for value in headers.values())
    )
    if not echoed:
        return answer

    clean = HTTPHeaderDict()
    for name, value in headers.items():
        clean.add(name, value.replace(secret, "<hidden>"))
    body = answer.body.replace(raw, b"<hidden>")
    return Answer(answer.status, answer.reason, clean, body)


def _http_url(url: str) -> Optional[SplitResult]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts
