"""openapp-status: is the OpenApp backend up, and which version is it?

A small, blocking client for the backend's ``GET /status`` endpoint, with a
hard deadline, retries that respect the backend, and errors that say whether
the network or the backend failed. See ``Client`` and ``get_status``.
"""

import logging as _logging

__version__ = "0.1.0"

from ._client import Client, StatusResource, get_status, wait_for_backend
from ._config import DEFAULT_BASE_URL
from ._models import BackendStatus
from ._retry import RetryPolicy
from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    GatewayError,
    HttpError,
    OpenAppError,
    ProtocolError,
    RedirectError,
    SerializationError,
    Timeout,
    TLSError,
    TransportError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiError",
    "AuthError",
    "BackendStatus",
    "Client",
    "ConfigError",
    "ConnectError",
    "GatewayError",
    "HttpError",
    "OpenAppError",
    "ProtocolError",
    "RedirectError",
    "RetryPolicy",
    "SerializationError",
    "StatusResource",
    "TLSError",
    "Timeout",
    "TransportError",
    "__version__",
    "get_status",
    "wait_for_backend",
]

_logging.getLogger(__name__).addHandler(_logging.NullHandler())
