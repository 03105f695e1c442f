"""TLS: verification on by default, private CAs, verify=False, and failures.

Certificates come from trustme, a throwaway CA made for each test module;
the fake backend serves them, so every handshake here is a real one. The
number of connections a backend accepted is read from the connection number
of a later request, made by an unverifying client.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
import ssl
import threading
from pathlib import Path
from typing import Iterator, Optional

import pytest
import trustme

from openapp_status import (
    Client,
    ConfigError,
    ProtocolError,
    RetryPolicy,
    TLSError,
    TransportError,
)
from openapp_status.testing import FakeBackend

#: Retries without real waiting: a retried TLS failure would show at once.
RETRYING = RetryPolicy(initial_backoff=0.001, max_backoff=0.005, retry_budget=None)

PAST = datetime.datetime(2001, 1, 1)

pytestmark = pytest.mark.filterwarnings(
    "ignore::urllib3.exceptions.InsecureRequestWarning"
)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@contextlib.contextmanager
def serving(context: ssl.SSLContext) -> Iterator[FakeBackend]:
    with FakeBackend(environment="tls", ssl_context=context) as backend:
        yield backend


def self_signed_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    # A CA's own certificate served as the leaf: signed by itself, trusted by
    # nobody.
    lonely = trustme.CA()
    folder = tmp_path_factory.mktemp("self-signed")
    lonely.cert_pem.write_to_path(str(folder / "cert.pem"))
    lonely.private_key_pem.write_to_path(str(folder / "key.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
    return context


def connections_accepted(backend: FakeBackend) -> int:
    """How many connections ``backend`` accepted before this one."""
    backend.clear_requests()
    with Client(backend.url, verify=False) as client:
        client.status.get()
    return backend.requests[0].connection - 1


@contextlib.contextmanager
def plain_http_listener() -> Iterator[int]:
    """A port that answers whatever arrives with an HTTP 400, as nginx does."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(10)
            try:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(10)


# -- verification on, and a private CA ----------------------------------------


def test_verification_is_on_by_default_against_the_system_trust_store(
    ca: trustme.CA,
) -> None:
    with serving(server_context(ca.issue_cert("127.0.0.1"))) as backend:
        with pytest.raises(TLSError) as info:
            Client(backend.url, retry=RETRYING).status.get()

        assert "certificate verification failed" in str(info.value)
        assert backend.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ca_certs_trusts_a_private_ca(ca: trustme.CA, ca_file: str, host: str) -> None:
    with serving(server_context(ca.issue_cert("127.0.0.1", "localhost"))) as backend:
        url = f"https://{host}:{backend.port}/api/v1"

        with Client(url, ca_certs=ca_file) as client:
            assert client.status.get().environment == "tls"

        assert backend.requests[0].path == "/api/v1/status"


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_an_unusable_ca_certs_file_is_a_config_error(
    tmp_path: Path, content: Optional[bytes]
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ConfigError, match="ca_certs"):
        Client("https://127.0.0.1:9/api/v1", ca_certs=str(path))


# -- verify=False -------------------------------------------------------------


def test_verify_false_accepts_any_certificate_and_warns_once_per_client(
    ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    expired = ca.issue_cert("elsewhere.test", not_after=PAST)

    with serving(server_context(expired)) as backend:
        with Client(backend.url, verify=False) as client:
            for _ in range(3):
                client.status.get()
        Client(backend.url, verify=False).close()

    warnings = [r for r in caplog.records if r.name.startswith("openapp_status")]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert warnings[0].getMessage() == f"TLS verification is off for {backend.url}"


def test_verify_true_logs_no_warning(
    ca: trustme.CA, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with serving(server_context(ca.issue_cert("127.0.0.1"))) as backend:
        Client(backend.url, ca_certs=ca_file).status.get()

    assert not [r for r in caplog.records if r.name.startswith("openapp_status")]


# -- certificate failures: which check, and never retried ---------------------


@pytest.mark.parametrize(
    ("case", "check", "detail"),
    [
        ("unknown issuer", "untrusted certificate", "issuer"),
        ("self-signed", "untrusted certificate", "self"),
        ("other host", "hostname mismatch", "127.0.0.1"),
        ("expired", "expired certificate", "expired"),
    ],
)
def test_a_certificate_failure_is_a_tls_error_naming_the_check_and_not_retried(
    ca: trustme.CA,
    ca_file: str,
    tmp_path_factory: pytest.TempPathFactory,
    case: str,
    check: str,
    detail: str,
) -> None:
    if case == "unknown issuer":
        context = server_context(trustme.CA().issue_cert("127.0.0.1"))
    elif case == "self-signed":
        context = self_signed_context(tmp_path_factory)
    elif case == "other host":
        context = server_context(ca.issue_cert("elsewhere.test"))
    else:
        context = server_context(ca.issue_cert("127.0.0.1", not_after=PAST))

    with serving(context) as backend:
        with pytest.raises(TLSError) as info:
            Client(backend.url, ca_certs=ca_file, retry=RETRYING).status.get()

        error = info.value
        assert f"TLS certificate verification failed ({check})" in str(error)
        assert detail in str(error).lower()
        assert error.attempts == 1
        assert backend.requests == []
        assert connections_accepted(backend) == 1


def test_the_startup_gate_does_not_wait_out_a_certificate_failure(
    ca: trustme.CA,
) -> None:
    with serving(server_context(ca.issue_cert("127.0.0.1"))) as backend:
        with pytest.raises(TLSError) as info:
            Client(backend.url).wait_for_backend(timeout=30)

        assert info.value.attempts == 1
        assert info.value.elapsed < 5
        assert connections_accepted(backend) == 1


# -- speaking the wrong protocol ----------------------------------------------


def test_tls_to_a_plain_http_port_is_a_tls_error_that_says_so() -> None:
    with plain_http_listener() as port, pytest.raises(TLSError) as info:
        Client(f"https://127.0.0.1:{port}/api/v1", retry=RETRYING).status.get()

    error = info.value
    assert "TLS handshake failed: the server did not answer in TLS" in str(error)
    assert "plain http" in str(error)
    assert error.attempts == 1


def test_plain_http_to_a_tls_port_is_one_transport_error(ca: trustme.CA) -> None:
    with serving(server_context(ca.issue_cert("127.0.0.1"))) as backend:
        url = f"http://127.0.0.1:{backend.port}/api/v1"

        with pytest.raises(TransportError) as info:
            Client(url, retry=RetryPolicy.none()).status.get()

        assert type(info.value) is ProtocolError
        assert info.value.url == url + "/status"
        assert backend.requests == []
