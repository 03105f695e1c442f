"""Proxies: the ``proxy`` option, the environment, NO_PROXY and loopback.

A real forwarding proxy, proxy.py, runs as a subprocess for this module. Its
access log and the ``Via`` header it adds are the evidence that a request
went through it.

Loopback hosts always go direct, so a loopback URL cannot exercise a proxy.
The client decides by the host's name, without resolving it, so these tests
address the fake backend by this machine's own host name (``vm``,
``runner-42``, ...): a name that does not look like loopback to the client
but that the proxy, resolving it, reaches on this machine. The backend
listens on the address the name resolves to. Where the host name does not
resolve, the tests that need it are skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import trustme

from openapp_status import Client, ConnectError, RetryPolicy
from openapp_status.testing import FakeBackend, Reply

USER, PASSWORD = "user", "pass"
SECRET = "pr0xy-Secret"


class Proxy:
    """A running proxy.py: where it listens and what it logged."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the access log mentions ``text`` (lines are written late)."""
        end = time.monotonic() + timeout
        while text not in self.log.read_text():
            if time.monotonic() > end:
                raise AssertionError(f"proxy log never mentioned {text!r}")
            time.sleep(0.02)

    def logged(self, text: str) -> bool:
        return text in self.log.read_text()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("proxy")
    port_file, log = folder / "port", folder / "access.log"
    command = [
        sys.executable,
        "-m",
        "proxy",
        "--hostname=127.0.0.1",
        "--port=0",
        f"--port-file={port_file}",
        f"--log-file={log}",
        "--num-acceptors=1",
        "--num-workers=1",
        f"--basic-auth={USER}:{PASSWORD}",
    ]
    with open(folder / "stderr", "wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(process, port_file, folder / "stderr")
        yield Proxy(port, log)
    finally:
        _stop(process)


def _wait_for_port(process: subprocess.Popen, port_file: Path, stderr: Path) -> int:  # type: ignore[type-arg]
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if process.poll() is not None:
            pytest.fail(f"proxy.py exited at start: {stderr.read_text()[-2000:]}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", int(text)), timeout=1).close()
                return int(text)
        time.sleep(0.05)
    pytest.fail("proxy.py did not start listening within 30s")


def _stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    # proxy.py forks acceptor processes: end its whole session, and only it.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def machine() -> Tuple[str, str]:
    """This machine's host name and the address it resolves to."""
    name = socket.gethostname().lower()
    if not name or name == "localhost" or name.endswith(".localhost"):
        pytest.skip(f"the host name {name!r} looks like loopback to the client")
    try:
        address = socket.gethostbyname(name)
        with socket.socket() as sock:
            sock.bind((address, 0))
    except OSError:
        pytest.skip(f"the host name {name!r} does not resolve to this machine")
    return name, address


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without proxy variables from the outside world."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def remote(machine: Tuple[str, str]) -> Iterator[FakeBackend]:
    """A backend that the client can only tell apart from loopback by name."""
    with FakeBackend(environment="remote", host=machine[1]) as backend:
        yield backend


@pytest.fixture
def remote_tls(machine: Tuple[str, str], ca: trustme.CA) -> Iterator[FakeBackend]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(machine[0]).configure_cert(context)
    with FakeBackend(environment="remote", host=machine[1], ssl_context=context) as b:
        yield b


def url_of(backend: FakeBackend, machine: Tuple[str, str]) -> str:
    scheme = "https" if backend.ssl_context is not None else "http"
    return f"{scheme}://{machine[0]}:{backend.port}/api/v1"


@pytest.fixture
def dead_port() -> int:
    """A loopback port with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def via_proxy(backend: FakeBackend) -> List[bool]:
    return ["proxy.py" in r.headers.get("Via", "") for r in backend.requests]


# -- the proxy option ---------------------------------------------------------


def test_http_goes_through_the_proxy_option(
    proxy: Proxy, remote: FakeBackend, machine: Tuple[str, str]
) -> None:
    url = url_of(remote, machine)
    key = f"http://{machine[0]}:{remote.port}_openapp_{SECRET}"

    with Client(url, api_key=key, proxy=proxy.url) as client:
        assert client.status.get().environment == "remote"

    assert via_proxy(remote) == [True]
    assert remote.requests[0].headers["X-API-Key"] == key
    assert "Proxy-Authorization" not in remote.requests[0].headers
    proxy.wait_for_log(f"GET {machine[0]}:{remote.port}/api/v1/status - 200")


def test_https_goes_through_a_connect_tunnel(
    proxy: Proxy, remote_tls: FakeBackend, machine: Tuple[str, str], ca_file: str
) -> None:
    url = url_of(remote_tls, machine)

    with Client(url, proxy=proxy.url, ca_certs=ca_file) as client:
        assert client.status.get().environment == "remote"
        assert client.status.get().environment == "remote"

    # The proxy only relays the tunnel's bytes: it adds no Via header, and
    # both requests came over the one tunnel it logs when it closes.
    assert via_proxy(remote_tls) == [False, False]
    assert {r.connection for r in remote_tls.requests} == {1}
    proxy.wait_for_log(f"CONNECT {machine[0]}:{remote_tls.port}")


# -- proxies from the environment ---------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_http_proxy_variables_are_honoured(
    proxy: Proxy,
    remote: FakeBackend,
    machine: Tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, proxy.url)

    Client(url_of(remote, machine)).status.get()

    assert via_proxy(remote) == [True]


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_https_proxy_variables_are_honoured(
    proxy: Proxy,
    remote_tls: FakeBackend,
    machine: Tuple[str, str],
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, proxy.url)

    with Client(url_of(remote_tls, machine), ca_certs=ca_file) as client:
        client.status.get()

    assert len(remote_tls.requests) == 1
    proxy.wait_for_log(f"CONNECT {machine[0]}:{remote_tls.port}")


def test_http_proxy_is_not_used_for_https(
    remote_tls: FakeBackend,
    machine: Tuple[str, str],
    ca_file: str,
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port}")

    Client(url_of(remote_tls, machine), ca_certs=ca_file).status.get()

    assert len(remote_tls.requests) == 1


@pytest.mark.parametrize(
    "listed", ["{name}", "{name}:{port}", "other.test,{name}", "*"]
)
def test_no_proxy_sends_listed_hosts_direct(
    remote: FakeBackend,
    machine: Tuple[str, str],
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
    listed: str,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port}")
    monkeypatch.setenv("NO_PROXY", listed.format(name=machine[0], port=remote.port))

    Client(url_of(remote, machine)).status.get()

    assert via_proxy(remote) == [False]


def test_no_proxy_leaves_other_hosts_on_the_proxy(
    proxy: Proxy,
    remote: FakeBackend,
    machine: Tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "other.test,.example.com")

    Client(url_of(remote, machine)).status.get()

    assert via_proxy(remote) == [True]


def test_trust_env_false_ignores_proxy_variables(
    remote: FakeBackend,
    machine: Tuple[str, str],
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{dead_port}")

    Client(url_of(remote, machine), trust_env=False).status.get()

    assert via_proxy(remote) == [False]


def test_the_proxy_option_wins_over_the_environment(
    proxy: Proxy,
    remote: FakeBackend,
    machine: Tuple[str, str],
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port}")

    Client(url_of(remote, machine), proxy=proxy.url).status.get()

    assert via_proxy(remote) == [True]


# -- loopback always goes direct ----------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "2130706433"])
def test_loopback_hosts_always_go_direct(
    backend: FakeBackend,
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    dead = f"http://127.0.0.1:{dead_port}"
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("ALL_PROXY", dead)
    url = f"http://{host}:{backend.port}/api/v1"

    Client(url).status.get()
    Client(url, proxy=dead).status.get()

    assert len(backend.requests) == 2


def test_a_redirect_to_loopback_leaves_the_proxy(
    proxy: Proxy, remote: FakeBackend, backend: FakeBackend, machine: Tuple[str, str]
) -> None:
    remote.enqueue(Reply.redirect(backend.url + "/status"))

    Client(url_of(remote, machine), proxy=proxy.url).status.get()

    assert via_proxy(remote) == [True]
    assert via_proxy(backend) == [False]


# -- proxy failures -----------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_dead_proxy_is_a_connect_error_naming_it_without_credentials(
    machine: Tuple[str, str],
    dead_port: int,
    caplog: pytest.LogCaptureFixture,
    tls: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    scheme = "https" if tls else "http"
    url = f"{scheme}://{machine[0]}:9/api/v1"
    dead = f"http://{USER}:{PASSWORD}@127.0.0.1:{dead_port}"

    with pytest.raises(ConnectError) as info:
        Client(url, proxy=dead, retry=RetryPolicy.none()).status.get()

    error = info.value
    assert f"proxy http://127.0.0.1:{dead_port} failed" in str(error)
    for shown in (str(error), repr(error), repr(error.args)):
        assert PASSWORD not in shown
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_wrong_proxy_credentials_are_a_connect_error_naming_the_proxy(
    proxy: Proxy,
    remote: FakeBackend,
    remote_tls: FakeBackend,
    machine: Tuple[str, str],
    ca_file: str,
    tls: bool,
) -> None:
    target = remote_tls if tls else remote
    wrong = f"http://{USER}:hunter2@127.0.0.1:{proxy.port}"

    with pytest.raises(ConnectError) as info:
        Client(
            url_of(target, machine),
            proxy=wrong,
            ca_certs=ca_file,
            retry=RetryPolicy.none(),
        ).status.get()

    message = str(info.value)
    assert f"proxy http://127.0.0.1:{proxy.port} failed" in message
    assert "407" in message
    assert "hunter2" not in message
    assert target.requests == []
