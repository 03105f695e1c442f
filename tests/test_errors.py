"""The error tree, and how each error renders."""

from __future__ import annotations

import pickle

import pytest

import openapp_status
from openapp_status import errors
from openapp_status.errors import (
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

FAMILIES = (ConfigError, TransportError, HttpError, SerializationError)


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        (ConfigError, ConfigError),
        (ConnectError, TransportError),
        (Timeout, TransportError),
        (TLSError, TransportError),
        (ProtocolError, TransportError),
        (RedirectError, TransportError),
        (GatewayError, TransportError),
        (HttpError, HttpError),
        (AuthError, HttpError),
        (ApiError, HttpError),
        (SerializationError, SerializationError),
    ],
)
def test_each_error_is_in_exactly_one_family(kind: type, family: type) -> None:
    assert issubclass(kind, OpenAppError)
    assert [f for f in FAMILIES if issubclass(kind, f)] == [family]


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)
    assert not issubclass(TransportError, ValueError)


def test_names_do_not_shadow_builtins() -> None:
    import builtins

    assert not any(hasattr(builtins, name) for name in errors.__all__)


def test_errors_are_re_exported_at_the_top_level() -> None:
    for name in errors.__all__:
        assert getattr(openapp_status, name) is getattr(errors, name)


def test_str_is_one_line_with_url_attempts_and_time() -> None:
    error = ConnectError(
        "cannot connect:\nconnection refused", url="https://x/api/v1/status"
    )
    error.attempts, error.elapsed = 3, 1.234
    assert str(error) == (
        "https://x/api/v1/status: cannot connect: connection refused "
        "(3 attempts, 1.23s)"
    )


def test_http_error_keeps_what_the_backend_said() -> None:
    error = ApiError(
        "HTTP 409",
        status=409,
        headers={"X-Request-Id": "r1"},
        body='{"message": "busy"}',
        request_id="r1",
        code="conflict",
        details={"door": 3},
        correlation_id="c1",
    )
    assert (error.status, error.request_id, error.code) == (409, "r1", "conflict")
    assert (error.details, error.correlation_id, error.retry_after) == (
        {"door": 3},
        "c1",
        None,
    )


def test_errors_survive_pickling() -> None:
    error = GatewayError(
        "gateway", status=502, headers={}, body="<html>", url="https://x", attempts=2
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is GatewayError
    assert (copy.status, copy.url, copy.attempts, str(copy)) == (
        502,
        "https://x",
        2,
        str(error),
    )
