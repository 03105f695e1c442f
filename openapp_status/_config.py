"""Validation of what a caller configures: base URL, API key, timeouts, headers.

Everything here runs once, when a client is built, and raises ConfigError with
a message that names the option and the value received. It must never put an
API key in a message: values that look like OpenApp tokens are shown redacted.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_BASE_URL = "https://api.openapp.house/api/v1"

_TOKEN_MARK = "_openapp_"


def resolve_base_url(base_url: Optional[str], api_key: Optional[str]) -> str:
    """Return the normalised API root: the argument, else the key's, else ours."""
    key_origin = parse_api_key(api_key) if api_key is not None else None
    if base_url is not None:
        if isinstance(base_url, str) and _is_token(base_url):
            # Taken as a URL, the key would be in every error and log line.
            raise ConfigError(
                "base_url is an OpenApp API key (not shown); pass it as api_key"
            )
        return normalize_url(base_url, "base_url")
    if key_origin is not None:
        return key_origin + "/api/v1"
    return DEFAULT_BASE_URL


def normalize_url(value: object, option: str) -> str:
    """Check an http(s) URL and return it with a lower-case scheme and host,
    and without a trailing slash; a path prefix is kept."""
    if not isinstance(value, str):
        raise ConfigError(f"{option} must be a string, got {type(value).__name__}")
    shown = _shown(value)
    if not value or not value.isprintable() or value != value.strip():
        raise ConfigError(f"{option} {shown} is empty or has control characters")
    if any(ch.isspace() for ch in value):
        raise ConfigError(f"{option} {shown} must not contain whitespace")

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{option} {shown} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"{option} {shown} must use http or https")
    if not parts.hostname:
        raise ConfigError(f"{option} {shown} has no host")
    if "@" in parts.netloc:
        raise ConfigError(f"{option} {shown} must not contain user-info")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(f"{option} {shown} must not have a query or fragment")

    netloc = parts.netloc.lower()
    if port is not None and netloc.endswith(":"):
        netloc = netloc[:-1]
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def parse_api_key(api_key: object) -> Optional[str]:
    """Check an API key and return the origin named by an OpenApp token.

    Tokens are shaped ``{origin}_openapp_{secret}``; a key of another shape
    is accepted (and sent as it is) but names no origin.
    """
    if not isinstance(api_key, str):
        raise ConfigError(f"api_key must be a string, got {type(api_key).__name__}")
    if not api_key:
        raise ConfigError("api_key is empty")
    if not api_key.isascii() or not api_key.isprintable() or " " in api_key:
        raise ConfigError(
            "api_key must be printable ASCII without spaces or control characters"
        )

    origin, mark, secret = api_key.partition(_TOKEN_MARK)
    if not mark:
        return None
    if not secret:
        raise ConfigError("api_key is an OpenApp token with an empty secret")
    if not _is_bare_origin(origin):
        raise ConfigError(
            "api_key is not a valid OpenApp token: its origin must be a bare "
            "http(s)://host[:port] (the key itself is not shown)"
        )
    return normalize_url(origin, "the origin of api_key")


def check_header_value(value: object, option: str) -> str:
    """Refuse header values that could split or end a header (CR, LF, NUL)."""
    if not isinstance(value, str):
        raise ConfigError(f"{option} must be a string, got {type(value).__name__}")
    if not value.isprintable():
        raise ConfigError(f"{option} {value!r} contains control characters")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigError(f"{option} {value!r} is not Latin-1 text") from None
    return value


def check_timeout(value: object) -> Tuple[float, float, Optional[float]]:
    """Return (connect, read, total) seconds for one attempt.

    A number bounds the whole attempt (and each of its phases); a
    ``(connect, read)`` pair bounds the connect and each read, as in urllib3.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(
                f"timeout must be a number or a (connect, read) pair, got {value!r}"
            )
        connect = _seconds(value[0], "timeout (connect)")
        read = _seconds(value[1], "timeout (read)")
        return connect, read, None
    total = _seconds(value, "timeout")
    return total, total, total


def check_positive_int(value: object, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{option} must be an integer >= 1, got {value!r}")
    return value


def check_bool(value: object, option: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{option} must be True or False, got {value!r}")
    return value


def _seconds(value: object, option: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{option} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{option} must be positive and finite, got {value!r}")
    return float(value)


def _is_bare_origin(origin: str) -> bool:
    """Whether ``origin`` is ``http(s)://host[:port]`` and nothing more."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return bool(
        parts.scheme in ("http", "https")
        and parts.netloc
        and not parts.path
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
    )


def _is_token(value: str) -> bool:
    origin, mark, secret = value.partition(_TOKEN_MARK)
    return bool(mark and secret and _is_bare_origin(origin))


def _shown(value: str) -> str:
    """Quote a value for a message, hiding anything that looks like a token."""
    if _TOKEN_MARK in value:
        return "<redacted: looks like an API key>"
    return repr(value)
