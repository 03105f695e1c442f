"""Fuzzing the client with broken answers: only our four error families escape.

Hypothesis builds raw HTTP answers (status lines, headers that lie about
Content-Length, Retry-After and Location, duplicated and huge headers,
chunked bodies with bad chunks, gzip with garbage) and the fake backend
writes them verbatim with ``Reply.raw``. Whatever arrives, a call must end in
a BackendStatus or in exactly one of ConfigError, TransportError, HttpError
and SerializationError, never a urllib3, socket, ssl or json exception, and
within its deadline.

The default run is short and derandomized, so CI sees the same examples each
time. Set ``OPENAPP_FUZZ_EXAMPLES`` (say 5000) for a long, random run.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from typing import List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openapp_status import (
    BackendStatus,
    Client,
    ConfigError,
    HttpError,
    OpenAppError,
    RetryPolicy,
    SerializationError,
    TransportError,
)
from openapp_status.testing import FakeBackend, Reply

FAMILIES = (ConfigError, TransportError, HttpError, SerializationError)
SECRET = "fuzz-S3cret"

LONG_RUN = "OPENAPP_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("OPENAPP_FUZZ_EXAMPLES", "50"))

DEADLINE = 1.0
#: Room for a busy two-core machine: a call may end this long after its deadline.
SLACK = 2.0

POLICY = RetryPolicy(
    max_retries=1,
    initial_backoff=0.01,
    max_backoff=0.02,
    deadline=DEADLINE,
    retry_budget=None,
)

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None if not LONG_RUN else settings.default.database,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

VALID = json.dumps({"environment": "fuzz", "version": "1.2.3"}).encode()

# -- strategies ---------------------------------------------------------------

#: Header text: any Latin-1 character but the CR and LF that end a line.
text = st.text(
    st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"),
    max_size=30,
)
token = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"),
    min_size=1,
    max_size=20,
)

status_lines = st.one_of(
    st.builds(
        "{} {} {}".format,
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1 ", "ICY", ""]),
        st.one_of(
            st.sampled_from([200, 204, 301, 302, 303, 307, 308, 401, 404, 429, 503]),
            st.integers(-5, 1200),
            text,
        ),
        text,
    ),
    text,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)

gzipped = gzip.compress(VALID)
bodies = st.one_of(
    st.just(VALID),
    st.just(b""),
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(
        lambda env, ver, msg: json.dumps(
            {"environment": env, "version": ver, "message": msg}
        ).encode(),
        json_values,
        json_values,
        json_values,
    ),
    st.just(gzipped),
    st.integers(0, len(gzipped)).map(lambda n: gzipped[:n]),
    st.binary(max_size=100).map(lambda junk: gzipped[:10] + junk),
    st.integers(64 * 1024 - 64, 64 * 1024 + 64).map(lambda n: b" " * n + VALID),
)

#: Where a redirect may point. "{origin}" becomes the backend's own origin;
#: absolute URLs name loopback only, so the fuzz never waits on DNS.
locations = st.one_of(
    st.sampled_from(
        [
            "/api/v1/status",
            "status",
            "../v2/status",
            "?again=1",
            "{origin}/api/v1/status",
            "{origin}/elsewhere",
            "https://127.0.0.1:{port}/api/v1/status",
            "http://127.0.0.1:1/api/v1/status",
            "http://[::1",
            "http://127.0.0.1:99999/",
            "ftp://127.0.0.1/",
            "mailto:x@y",
            "https:",
            "",
        ]
    ),
    text.filter(lambda value: "//" not in value and "\\\\" not in value),
)

retry_afters = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "5",
            "3600",
            "-1",
            "1.5",
            "nan",
            "inf",
            "1e400",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "",
        ]
    ),
    text,
)


def content_lengths(size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(str(size)),
        st.integers(0, 2 * size + 10).map(str),
        st.sampled_from(
            [
                "-1",
                "abc",
                "\u00b2",
                "1e3",
                " 5",
                "0x10",
                "9" * 30,
                f"{size}, {size}",
                f"{size}, {size + 1}",
            ]
        ),
        text,
    )


@st.composite
def chunked(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` in chunked coding, honest or broken in one of several ways."""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    lies = draw(
        st.sampled_from(
            ["none", "size", "hex", "negative", "huge", "no end", "trailer", "ext"]
        )
    )
    out = b""
    for piece in pieces:
        size = b"%x" % len(piece)
        if lies == "size":
            size = b"%x" % (len(piece) + draw(st.integers(1, 50)))
        elif lies == "hex":
            size = b"zz"
        elif lies == "negative":
            size = b"-" + size
        elif lies == "huge":
            size = b"f" * 20
        elif lies == "ext":
            size += b";name=" + draw(st.binary(max_size=10)).replace(b"\n", b"")
        out += size + b"\r\n" + piece + b"\r\n"
    if lies != "no end":
        out += b"0\r\n"
        if lies == "trailer":
            out += b"X-Trailer: " + draw(st.binary(max_size=10)) + b"\r\n"
        out += b"\r\n"
    return out


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """One raw HTTP answer, with "{origin}" and "{port}" left to fill in."""
    body = draw(bodies)
    headers: List[Tuple[str, str]] = []

    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 2))):
            headers.append(("Content-Length", draw(content_lengths(len(body)))))
    if draw(st.integers(0, 3)) == 0:
        coding = draw(st.sampled_from(["chunked", "gzip, chunked", "chunked, x", "x"]))
        headers.append(("Transfer-Encoding", coding))
        if "chunked" in coding:
            body = draw(chunked(body))
    if draw(st.integers(0, 3)) == 0:
        encodings = ["gzip", "x-gzip", "deflate", "br", "identity", "gzip, gzip"]
        headers.append(("Content-Encoding", draw(st.sampled_from(encodings) | text)))
    if draw(st.integers(0, 2)) == 0:
        headers.append(("Location", draw(locations)))
    if draw(st.integers(0, 3)) == 0:
        headers.append(("Retry-After", draw(retry_afters)))
    for name in draw(st.lists(st.sampled_from(["Content-Type", "X-Request-Id"]))):
        headers.append((name, draw(text)))
    headers.extend(draw(st.lists(st.tuples(token, text), max_size=3)))

    size = draw(st.sampled_from([0, 0, 0, 70_000, 200]))
    if size == 70_000:
        headers.append(("X-Huge", "x" * size))
    elif size == 200:
        headers.extend([("X-Many", "y")] * size)
    if draw(st.integers(0, 9)) == 0:
        headers.append(("X-Folded", "first\r\n\tcontinued"))

    headers = draw(st.permutations(headers))
    head = draw(status_lines) + "\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    whole = head.encode("latin-1") + body
    if draw(st.integers(0, 9)) == 0:
        whole = whole[: draw(st.integers(0, len(whole)))]
    return whole


# -- properties ---------------------------------------------------------------


def call(backend: FakeBackend, raw: bytes, *, close: bool) -> Optional[OpenAppError]:
    """Serve ``raw`` (twice: a retry sees it again) and make one call."""
    data = raw.replace(b"{origin}", backend.origin.encode())
    data = data.replace(b"{port}", str(backend.port).encode())
    backend.enqueue(*[Reply.raw(data, close=close)] * 2)
    key = f"{backend.origin}_openapp_{SECRET}"

    started = time.monotonic()
    try:
        with Client(backend.url, api_key=key, retry=POLICY) as client:
            result = client.status.get()
    except OpenAppError as error:
        outcome: Optional[OpenAppError] = error
    else:
        assert isinstance(result, BackendStatus)
        outcome = None
    elapsed = time.monotonic() - started

    assert elapsed < DEADLINE + SLACK, f"the call took {elapsed:.2f}s"
    if outcome is not None:
        assert sum(isinstance(outcome, family) for family in FAMILIES) == 1
        assert "\n" not in str(outcome)
        assert SECRET not in str(outcome)
    return outcome


@FUZZ
@given(answers())
def test_any_answer_ends_in_a_status_or_one_of_our_errors(raw: bytes) -> None:
    with FakeBackend() as backend:
        call(backend, raw, close=True)


@settings(FUZZ, max_examples=max(3, EXAMPLES // 50))
@given(answers())
def test_an_answer_left_hanging_still_ends_by_the_deadline(raw: bytes) -> None:
    """The connection stays open after the bytes: lies about length must stall
    no longer than the deadline allows."""
    with FakeBackend() as backend:
        call(backend, raw, close=False)
