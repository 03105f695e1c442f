"""The ``openapp-status`` command, run for real against a loopback backend.

Most tests start ``python -m openapp_status`` in a subprocess, with a clean
environment, against the package's own FakeBackend; the fast cases call
``main(argv)`` in this process. Timing bounds are generous on purpose: they
catch a probe that ignores its timeout, not a slow machine.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import openapp_status
from openapp_status import cli
from openapp_status.testing import FakeBackend, Reply

REPO = Path(openapp_status.__file__).resolve().parent.parent
SECRET = "s3cr3t-Never-Printed"
JSON_KEYS = ["ok", "url", "environment", "version", "elapsed_ms", "attempts"]
FAILURE_KEYS = [*JSON_KEYS, "error", "message", "status", "request_id"]
METRICS = [
    "openapp_backend_up",
    "openapp_backend_info",
    "openapp_backend_probe_duration_seconds",
    "openapp_backend_probe_attempts",
]

posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="exec and POSIX signals"
)


def clean_env(**extra: str) -> Dict[str, str]:
    """os.environ without OPENAPP_* and proxy variables, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("OPENAPP_")
        and not name.lower().endswith("_proxy")
    }
    path = [str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(part for part in path if part)
    env.update(extra)
    return env


def command(*args: str) -> List[str]:
    return [sys.executable, "-m", "openapp_status", *args]


def run(
    *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end and capture what it printed."""
    return subprocess.run(
        command(*args),
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_json_object(stdout: str) -> Dict[str, Any]:
    """Parse stdout, which must hold exactly one JSON object and nothing else."""
    assert stdout.count("\n") == 1 and stdout.endswith("\n"), stdout
    document = json.loads(stdout)
    assert isinstance(document, dict)
    return document


def key_for(backend: FakeBackend) -> str:
    return f"{backend.origin}_openapp_{SECRET}"


@pytest.fixture(autouse=True)
def no_openapp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs see no OPENAPP_* variable of the machine running the tests."""
    for name in list(os.environ):
        if name.upper().startswith("OPENAPP_"):
            monkeypatch.delenv(name)


def main(capsys: pytest.CaptureFixture[str], *args: str) -> Tuple[int, str, str]:
    """Run ``cli.main(args)`` in this process; return (exit code, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- success and the three formats -------------------------------------------


def test_up_prints_one_line_on_stdout(backend: FakeBackend) -> None:
    result = run("--base-url", backend.url)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    line = result.stdout.strip()
    assert line.startswith("up: environment=test version=0.14.2 in ")
    assert line.endswith(f" ms after 1 attempt at {backend.status_url}")


def test_json_success_is_one_object_with_the_documented_keys(
    backend: FakeBackend,
) -> None:
    result = run("--base-url", backend.url, "--format", "json")

    assert result.returncode == 0
    document = one_json_object(result.stdout)
    assert list(document) == JSON_KEYS
    assert document["ok"] is True
    assert document["url"] == backend.status_url
    assert (document["environment"], document["version"]) == ("test", "0.14.2")
    assert document["attempts"] == 1
    assert 0 <= document["elapsed_ms"] < 10_000
    assert result.stderr == ""


def test_prometheus_success_has_help_type_and_every_metric(
    backend: FakeBackend,
) -> None:
    result = run("--base-url", backend.url, "--format", "prometheus")

    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for name in METRICS:
        assert f"# TYPE {name} gauge" in lines
        assert any(line.startswith(f"# HELP {name} ") for line in lines)
    assert "openapp_backend_up 1" in lines
    assert 'openapp_backend_info{environment="test",version="0.14.2"} 1' in lines
    assert "openapp_backend_probe_attempts 1" in lines
    duration = [line for line in lines if line.startswith(METRICS[2] + " ")]
    assert 0 <= float(duration[0].split()[1]) < 10


def test_prometheus_failure_still_reports_up_0(backend: FakeBackend) -> None:
    backend.down()

    result = run("--base-url", backend.url, "--retries", "0", "--format", "prometheus")

    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert "openapp_backend_up 0" in lines
    assert "openapp_backend_probe_attempts 1" in lines
    assert not any(line.startswith("openapp_backend_info") for line in lines)
    assert len(result.stderr.splitlines()) == 1


def test_prometheus_escapes_label_values(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    """Backslash, double quote and newline are escaped as the exposition asks."""
    backend.environment = 'a\\b"c\nd'

    code, out, _ = main(capsys, "--base-url", backend.url, "--format", "prometheus")

    assert code == 0
    assert 'openapp_backend_info{environment="a\\\\b\\"c\\nd",version="0.14.2"} 1' in (
        out.splitlines()
    )


def test_text_shows_odd_values_quoted_on_one_line(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.environment = "pre prod\n"

    code, out, _ = main(capsys, "--base-url", backend.url)

    assert code == 0
    assert out.count("\n") == 1
    assert "environment='pre prod\\n' version=0.14.2" in out


# -- exit codes --------------------------------------------------------------

# Each row: the reply (None: the backend is down), extra arguments, the exit
# code, the error named in the JSON report, and the HTTP status in it.
FAILURES: List[Tuple[Optional[Reply], List[str], int, str, Optional[int]]] = [
    (None, [], 3, "ConnectError", None),
    (Reply.status(502, "<html>bad gateway</html>"), [], 3, "GatewayError", 502),
    (Reply.api_error(404, "no such thing"), [], 4, "ApiError", 404),
    (Reply.api_error(401, "bad key"), [], 4, "AuthError", 401),
    (Reply.status(200, "<html>"), [], 5, "SerializationError", 200),
    (Reply.ok(), ["--expect-version", "^0.15"], 6, "VersionMismatch", None),
    (Reply.ok(), ["--expect-environment", "prod"], 6, "EnvironmentMismatch", None),
]
FAILURE_IDS = [row[3] for row in FAILURES]


def prepare(backend: FakeBackend, reply: Optional[Reply], count: int = 1) -> None:
    """Plan ``count`` times ``reply``, or take the backend down for None."""
    if reply is None:
        backend.down()
    else:
        backend.enqueue(*[reply] * count)


@pytest.mark.parametrize(
    ("reply", "args", "code", "error", "status"), FAILURES, ids=FAILURE_IDS
)
def test_failure_exit_code_and_json_report(
    backend: FakeBackend,
    reply: Optional[Reply],
    args: List[str],
    code: int,
    error: str,
    status: Optional[int],
) -> None:
    """Each family of failure has its exit code and one JSON object naming it."""
    prepare(backend, reply)

    result = run("--base-url", backend.url, "--retries", "0", "--format", "json", *args)

    assert result.returncode == code, result.stderr
    document = one_json_object(result.stdout)
    assert list(document) == FAILURE_KEYS
    assert document["ok"] is False
    assert document["error"] == error
    assert document["status"] == status
    assert document["url"] == backend.status_url
    assert document["attempts"] == 1
    assert document["message"]
    if status is not None:
        assert document["request_id"] == backend.requests[-1].request_id
    if code == 6:
        assert (document["environment"], document["version"]) == ("test", "0.14.2")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("reply", "args", "code"), [row[:3] for row in FAILURES], ids=FAILURE_IDS
)
def test_failure_in_text_is_one_line_on_stderr(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    reply: Optional[Reply],
    args: List[str],
    code: int,
) -> None:
    prepare(backend, reply)

    exit_code, out, err = main(
        capsys, "--base-url", backend.url, "--retries", "0", *args
    )

    assert exit_code == code
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"openapp-status: {backend.status_url}: ")
    assert "(1 attempt, " in err


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--format", "xml"],
        ["--expect-version", ">=0.14,, <1"],
        ["--expect-version", "banana"],
        ["--api-key", "abc"],
        ["--timeout", "0"],
        ["--timeout", "nan"],
        ["--wait", "-1"],
        ["--retries", "-1"],
        ["--retries", "two"],
        ["--api-key-env", ""],
        ["--quiet", "--verbose"],
        ["--base"],
        ["gunicorn"],
        ["--"],
        ["--demo", "--", "true"],
    ],
)
def test_usage_errors_exit_64_before_any_request(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], args: List[str]
) -> None:
    code, out, err = main(capsys, "--base-url", backend.url, *args)

    assert code == 64
    assert out == ""
    assert err.startswith("usage: openapp-status [options] [-- COMMAND ...]\n")
    assert "openapp-status: error: " in err
    assert backend.requests == []


@pytest.mark.parametrize(
    "args",
    [["--no-such-option"], ["--format", "yaml"], ["--expect-version", "~>1.2"]],
)
def test_usage_errors_exit_64_from_the_real_process(args: List[str]) -> None:
    """The process exits 64, never argparse's 2, which Docker reserves."""
    result = run(*args)

    assert result.returncode == 64
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--base-url", "ftp://example.test"], "must use http or https"),
        (["--base-url", ""], "is empty"),
        (["--ca-certs", "/nonexistent/ca.pem"], "cannot be loaded"),
        (["--api-key-env", "OPENAPP_TEST_UNSET_KEY"], "OPENAPP_TEST_UNSET_KEY"),
    ],
)
def test_configuration_errors_exit_64_in_the_chosen_format(
    capsys: pytest.CaptureFixture[str], args: List[str], words: str
) -> None:
    code, out, err = main(capsys, "--format", "json", *args)

    assert code == 64
    document = one_json_object(out)
    assert document["error"] == "ConfigError"
    assert words in document["message"]
    assert document["attempts"] == 0
    assert err == ""


def test_help_exits_0_and_lists_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = main(capsys, "--help")

    assert code == 0
    assert out.startswith("usage: openapp-status [options] [-- COMMAND ...]")
    assert "exit codes:" in out


def test_version_prints_the_package_version() -> None:
    """Also the proof that ``python -m openapp_status`` runs the command."""
    result = run("--version")

    assert result.returncode == 0
    assert result.stdout == f"openapp-status {openapp_status.__version__}\n"


# -- quiet and verbose -------------------------------------------------------


def test_quiet_prints_nothing_but_keeps_the_exit_code(backend: FakeBackend) -> None:
    up = run("--base-url", backend.url, "--quiet")
    backend.down()
    down = run("--base-url", backend.url, "--quiet", "--retries", "0")

    assert (up.returncode, up.stdout, up.stderr) == (0, "", "")
    assert (down.returncode, down.stdout, down.stderr) == (3, "", "")


def test_verbose_logs_the_package_records_one_line_each(backend: FakeBackend) -> None:
    result = run("--base-url", backend.url, "--verbose")

    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines
    assert all(line.startswith("openapp-status: ") for line in lines)
    assert any(
        "openapp_status._transport: GET " + backend.status_url in line for line in lines
    )


# -- the API key -------------------------------------------------------------


def test_api_key_comes_from_the_environment(backend: FakeBackend) -> None:
    """No --base-url: the token's origin names the backend, and it gets the key."""
    env = clean_env(OPENAPP_API_KEY=key_for(backend))

    result = run("--verbose", env=env)

    assert result.returncode == 0, result.stderr
    assert backend.requests[0].headers["X-API-Key"] == key_for(backend)
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("output", ["text", "json", "prometheus"])
def test_api_key_is_never_printed_on_failure(backend: FakeBackend, output: str) -> None:
    backend.enqueue(Reply.api_error(401, "invalid API key", error_code="unauthorized"))
    env = clean_env(OPENAPP_API_KEY=key_for(backend))

    result = run("--verbose", "--format", output, env=env)

    assert result.returncode == 4
    assert backend.requests[0].headers["X-API-Key"] == key_for(backend)
    assert SECRET not in result.stdout + result.stderr


def test_a_malformed_key_is_a_configuration_error_that_hides_it() -> None:
    env = clean_env(OPENAPP_API_KEY=f"ftp://x/path_openapp_{SECRET}")

    result = run("--verbose", env=env)

    assert result.returncode == 64
    assert result.stderr.count("\n") >= 1
    assert SECRET not in result.stdout + result.stderr


def test_api_key_env_names_another_variable(backend: FakeBackend) -> None:
    env = clean_env(
        OTHER_KEY=key_for(backend), OPENAPP_API_KEY="http://wrong.test_openapp_x"
    )

    result = run("--api-key-env", "OTHER_KEY", env=env)

    assert result.returncode == 0, result.stderr
    assert backend.requests[0].headers["X-API-Key"] == key_for(backend)


def test_without_a_key_no_header_is_sent(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = main(capsys, "--base-url", backend.url)

    assert code == 0
    assert "X-API-Key" not in backend.requests[0].headers


def test_base_url_falls_back_on_the_environment(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAPP_API_BASE", backend.url)
    assert main(capsys, "--format", "json")[0] == 0

    monkeypatch.setenv("OPENAPP_API_BASE", "http://127.0.0.1:9/api/v1")
    assert main(capsys, "--base-url", backend.url)[0] == 0
    assert len(backend.requests) == 2


# -- time: --timeout and --wait ----------------------------------------------


def test_timeout_bounds_the_whole_probe(backend: FakeBackend) -> None:
    """Three attempts that would each take 30s still end within --timeout."""
    backend.enqueue(*[Reply.delay(30)] * 3)

    started = time.monotonic()
    result = run("--base-url", backend.url, "--timeout", "1", "--format", "json")
    wall = time.monotonic() - started

    assert result.returncode == 3
    assert one_json_object(result.stdout)["error"] == "Timeout"
    assert wall < 1 + 5


def test_wait_lets_a_late_backend_come_up(backend: FakeBackend) -> None:
    backend.down()
    timer = threading.Timer(1.0, backend.up)
    timer.start()
    try:
        result = run("--base-url", backend.url, "--wait", "20", "--format", "json")
    finally:
        timer.cancel()

    assert result.returncode == 0, result.stdout
    document = one_json_object(result.stdout)
    assert document["attempts"] >= 2
    assert 800 <= document["elapsed_ms"] < 15_000


@pytest.mark.parametrize(
    ("reply", "code"),
    [(None, 3), (Reply.api_error(503, "starting"), 4)],
    ids=["refused", "503"],
)
def test_wait_that_runs_out_exits_with_the_last_failure(
    backend: FakeBackend, reply: Optional[Reply], code: int
) -> None:
    prepare(backend, reply, count=50)

    started = time.monotonic()
    result = run("--base-url", backend.url, "--wait", "1")
    wall = time.monotonic() - started

    assert result.returncode == code
    assert "backend not up after waiting 1s" in result.stderr
    assert wall < 1 + 5


# -- interruption ------------------------------------------------------------


@posix_only
@pytest.mark.parametrize(
    ("signum", "code", "error"),
    [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_the_wait_ends_it_cleanly(
    backend: FakeBackend, signum: int, code: int, error: str
) -> None:
    backend.down()
    process = subprocess.Popen(
        command(
            "--base-url", backend.url, "--wait", "30", "--verbose", "--format=json"
        ),
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The first log line means main() runs and its handlers are in place.
        assert process.stderr is not None
        assert process.stderr.readline().startswith("openapp-status: ")
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == code
    assert one_json_object(out)["error"] == error
    assert "Traceback" not in err


# -- handing over to a command -----------------------------------------------


@posix_only
def test_command_replaces_the_process_once_up(backend: FakeBackend) -> None:
    child = "import os, sys; print(os.getpid()); sys.exit(7)"
    process = subprocess.Popen(
        command("--base-url", backend.url, "--", sys.executable, "-c", child),
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(timeout=60)

    assert process.returncode == 7, err
    up, pid = out.splitlines()
    assert up.startswith("up: ")
    assert int(pid) == process.pid


@posix_only
def test_command_never_runs_when_the_backend_is_down(
    backend: FakeBackend, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    backend.down()

    result = run(
        *["--base-url", backend.url, "--retries", "0", "--"],
        *[sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
    )

    assert result.returncode == 3
    assert not marker.exists()


@posix_only
def test_command_never_runs_on_a_mismatch(backend: FakeBackend, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    result = run(
        *["--base-url", backend.url, "--expect-environment", "prod", "--"],
        *[sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
    )

    assert result.returncode == 6
    assert not marker.exists()


@posix_only
def test_a_command_that_cannot_run_exits_like_a_shell(
    backend: FakeBackend, tmp_path: Path
) -> None:
    """127 for a command not found, 126 for one found but not executable."""
    not_executable = tmp_path / "script"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    not_executable.chmod(stat.S_IRUSR | stat.S_IWUSR)

    missing = run("--base-url", backend.url, "--", "no-such-command-openapp")
    denied = run("--base-url", backend.url, "--", str(not_executable))

    assert missing.returncode == 127
    assert missing.stderr.startswith("openapp-status: cannot run 'no-such-command-")
    assert denied.returncode == 126
    assert denied.stderr.count("\n") == 1


# -- the demo ----------------------------------------------------------------


def test_demo_probes_a_fake_backend_that_starts_slowly() -> None:
    result = run("--demo", env=clean_env(OPENAPP_API_BASE="http://127.0.0.1:9"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("up: environment=demo ")
    assert "after 2 attempts at http://127.0.0.1:" in result.stdout
    assert "Traceback" not in result.stderr


# -- version requirements ----------------------------------------------------


@pytest.mark.parametrize(
    ("version", "requirement", "code"),
    [
        ("0.14.2", "^0.14", 0),
        ("0.14.2", "0.14", 0),
        ("0.15.0", "^0.14", 6),
        ("0.15.9", ">=0.14, <0.16", 0),
        ("0.16.0", ">=0.14, <0.16", 6),
        ("1.2.9", "~1.2.3", 0),
        ("1.3.0", "~1.2.3", 6),
        ("1.2.7", "1.2.*", 0),
        ("0.0.4", "^0.0.3", 6),
        ("1.2.3+build.5", "=1.2.3", 0),
        # Cargo's pre-release rule: only a requirement that names the same
        # major.minor.patch with a pre-release of its own lets one in.
        ("0.14.0-rc.1", "^0.14", 6),
        ("1.3.0-rc.1", ">=1.2", 6),
        ("1.0.0-alpha", "*", 6),
        ("1.0.0-alpha", "<1.0.0", 6),
        ("1.3.0-rc.1", ">=1.3.0-rc.0", 0),
        ("1.3.0-rc.2", "^1.3.0-rc.1", 0),
        ("1.3.0-beta", "^1.3.0-rc.1", 6),
        ("1.4.0-rc.1", ">=1.3.0-rc.1", 6),
        ("1.3.0", "^1.3.0-rc.1", 0),
        ("not-semver", "*", 6),
    ],
)
def test_expect_version_follows_cargo(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    version: str,
    requirement: str,
    code: int,
) -> None:
    backend.version = version

    exit_code, _, err = main(
        capsys, "--base-url", backend.url, "--expect-version", requirement
    )

    assert exit_code == code, err
