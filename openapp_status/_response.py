"""Reading an HTTP answer as a BackendStatus, or as the error it stands for.

This module owns the mapping from status code and body to result: 2xx with a
BackendStatus body, or one of HttpError, AuthError, ApiError, GatewayError and
SerializationError carrying what the backend said. It does no I/O.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

from ._models import BackendStatus
from ._retry import parse_retry_after
from ._transport import Answer
from .errors import (
    ApiError,
    AuthError,
    GatewayError,
    HttpError,
    OpenAppError,
    SerializationError,
)

#: How much of a body an error keeps, in characters.
BODY_SNIPPET = 2048

_GATEWAY_STATUSES = (502, 503, 504)


def to_status(answer: Answer, url: str) -> BackendStatus:
    """Return the BackendStatus in a 2xx answer, or raise what the answer means."""
    if 200 <= answer.status < 300:
        try:
            return BackendStatus.from_dict(_json(answer.body))
        except SerializationError as error:
            error.url = url
            error.status = answer.status
            error.body = _snippet(answer.body)
            error.request_id = answer.headers.get("X-Request-Id")
            raise
    raise http_error(answer, url)


def http_error(answer: Answer, url: str) -> OpenAppError:
    """Build the error for a non-2xx answer, with everything it told us."""
    status = answer.status
    headers = answer.headers
    body = _snippet(answer.body)
    request_id = headers.get("X-Request-Id")
    retry_after = parse_retry_after(headers.get("Retry-After"), time.time())
    try:
        data: Any = _json(answer.body)
    except SerializationError:
        if status in _GATEWAY_STATUSES:
            return GatewayError(
                f"gateway answered HTTP {status} {answer.reason} "
                "instead of the backend",
                status=status,
                headers=headers,
                body=body,
                request_id=request_id,
                retry_after=retry_after,
                url=url,
            )
        data = None

    envelope = _envelope(data)
    message = f"HTTP {status} {answer.reason}".rstrip()
    if envelope is not None:
        message += f": {envelope['message']}"
        if envelope.get("code") is not None:
            message += f" (code {envelope['code']})"
    if request_id:
        message += f" [request id {request_id}]"
    if status in (401, 403):
        kind: type = AuthError
    elif envelope is not None:
        kind = ApiError
    else:
        kind = HttpError
    error: HttpError = kind(
        message,
        status=status,
        headers=headers,
        body=body,
        request_id=request_id,
        retry_after=retry_after,
        code=None if envelope is None else envelope.get("code"),
        details=None if envelope is None else envelope.get("details"),
        correlation_id=None if envelope is None else envelope.get("correlationId"),
        url=url,
    )
    return error


def _json(body: bytes) -> Any:
    if not body:
        raise SerializationError("answer body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerializationError("answer body is not UTF-8 text") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        start = text.lstrip()[:40]
        raise SerializationError(f"answer body is not JSON: {start!r}") from exc


def _envelope(data: Any) -> Optional[Dict[str, Any]]:
    """The ApiErrorResponse in ``data``, if it is one."""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("code")
        if code is not None and not isinstance(code, str):
            data = dict(data, code=str(code))
        envelope: Dict[str, Any] = data
        return envelope
    return None


def _snippet(body: bytes) -> str:
    text = body[: BODY_SNIPPET * 4].decode("utf-8", "replace")
    if len(text) > BODY_SNIPPET:
        text = text[:BODY_SNIPPET] + "..."
    return text
