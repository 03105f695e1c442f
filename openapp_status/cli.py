"""The ``openapp-status`` command: is the backend up, and is it the one we expect?

This module owns the command line and nothing below it: the options and the
environment variables they fall back on, the exit codes, the three output
formats (one text line, one JSON object, Prometheus text), the hand-over to
another command after ``--``, and the offline ``--demo``. Requests, retries
and waiting belong to the client, so this module never opens a socket, never
retries and never sleeps by itself. It must never read the API key from the
command line or print it, never exit with status 2 (Docker reserves it), and
never let a traceback out: every ending, a bug included, is reported in the
chosen format and ends with a documented exit code. It imports the fake
backend only for ``--demo`` and ``json`` only for ``--format json``, since a
probe is a fresh process every few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

from . import __version__
from ._client import Client
from ._models import BackendStatus
from ._retry import RetryPolicy
from .errors import (
    ConfigError,
    HttpError,
    OpenAppError,
    SerializationError,
    TransportError,
)

__all__ = ["main"]

PROG = "openapp-status"

#: The variable that holds the API key unless ``--api-key-env`` names another.
DEFAULT_API_KEY_ENV = "OPENAPP_API_KEY"
#: The base URL used when ``--base-url`` is not given.
API_BASE_ENV = "OPENAPP_API_BASE"

EXIT_UP = 0
EXIT_TRANSPORT = 3
EXIT_HTTP = 4
EXIT_BODY = 5
EXIT_MISMATCH = 6
EXIT_USAGE = 64  # EX_USAGE in sysexits.h
EXIT_SOFTWARE = 70  # EX_SOFTWARE: a bug in this command, not a backend failure
EXIT_CANNOT_EXECUTE = 126  # as shells answer for a command they cannot run
EXIT_NOT_FOUND = 127  # as shells answer for a command they cannot find
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM

# How long --demo waits for its fake backend when --wait is not given.
_DEMO_WAIT = 10.0
_DEMO_ENVIRONMENT = "demo"
_DEMO_VERSION = "0.14.2"

# The package's own logger, whatever name a vendored copy lives under.
_PACKAGE = __name__.rpartition(".")[0]

logger = logging.getLogger(__name__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return its exit code.

    With ``-- COMMAND`` and a backend that is up, this does not return: the
    process becomes the command.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        options, command = _parse(args)
    except SystemExit as exc:
        # --help and --version end here with 0, usage errors with 64.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    try:
        with _sigterm_interrupts(), _verbose_logging(options.verbose):
            outcome = _Probe(options).run()
            _report(outcome, options)
            if outcome.exit_code != EXIT_UP or not command:
                return outcome.exit_code
            return _execute(command, options.quiet)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except _Terminated:
        return EXIT_TERMINATED
    except Exception as exc:
        # Reporting itself failed (a closed stdout, say): say so, in one line.
        if not options.quiet:
            with contextlib.suppress(Exception):
                _warn(_internal_error(exc))
        return EXIT_SOFTWARE


# -- the command line --------------------------------------------------------

_DESCRIPTION = """\
Probe the OpenApp backend's GET {base_url}/status and report whether it is up,
which environment it runs and which version. The API key is read from the
environment only (see --api-key-env); /status needs none."""

_EPILOG = """\
base URL: --base-url, else $OPENAPP_API_BASE, else the origin of the API key
  plus /api/v1, else https://api.openapp.house/api/v1.

exit codes:
  0    up, and every expectation met
  3    transport failure: refused, timed out, TLS, a proxy answered
  4    HTTP error: the backend answered a status outside 2xx
  5    invalid response body: a 2xx that is not a BackendStatus
  6    version or environment mismatch
  64   usage or configuration error
  70   internal error of this command
  126  COMMAND cannot be executed; 127: COMMAND not found
  130  interrupted (SIGINT); 143: terminated (SIGTERM)

With -- COMMAND, the command replaces this process once the backend is up;
its exit code is then the command's own."""


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with the usage error exiting 64 instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parse(args: List[str]) -> Tuple[argparse.Namespace, List[str]]:
    """Split off ``-- COMMAND ...`` and parse the options before it."""
    parser = _parser()
    command: List[str] = []
    if "--" in args:
        split = args.index("--")
        args, command = args[:split], args[split + 1 :]
        if not command:
            parser.error("-- must be followed by a command to run")

    options = parser.parse_args(args)

    if options.demo and command:
        parser.error("--demo probes a built-in fake backend and runs no command")
    return options, command


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] [-- COMMAND ...]",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--base-url", metavar="URL", help="the API root (see base URL below)")
    add(
        "--api-key-env",
        metavar="NAME",
        type=_variable_name,
        help=f"read the API key from this environment variable "
        f"(default: {DEFAULT_API_KEY_ENV}; if given, it must be set)",
    )
    add(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=10.0,
        help="finish the probe, retries and waits included, within this time; "
        "with --wait, bound each probe (default: 10)",
    )
    add(
        "--retries",
        metavar="N",
        type=_retries,
        default=2,
        help="retries after the first attempt (default: 2)",
    )
    add(
        "--wait",
        metavar="SECONDS",
        type=_seconds,
        help="startup gate: keep probing for up to SECONDS until the backend is up",
    )
    add(
        "--expect-version",
        metavar="REQ",
        type=_requirement,
        help="fail with 6 unless the version meets this Cargo requirement, "
        "e.g. '^0.14' or '>=0.14, <0.16'",
    )
    add(
        "--expect-environment",
        metavar="NAME",
        help="fail with 6 unless the environment is exactly NAME",
    )
    add(
        "--format",
        choices=("text", "json", "prometheus"),
        default="text",
        help="text: one line; json: one object; prometheus: text exposition "
        "(default: text)",
    )
    add(
        "--ca-certs",
        metavar="FILE",
        help="also trust the CA certificates in this PEM file",
    )
    chatter = parser.add_mutually_exclusive_group()
    chatter.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing; the exit code says it all",
    )
    chatter.add_argument(
        "--verbose",
        action="store_true",
        help="log each request and retry to stderr",
    )
    add("--version", action="version", version=f"{PROG} {__version__}")
    add(
        "--demo",
        action="store_true",
        help="probe a built-in fake backend on loopback that starts up slowly",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, got {text!r}"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text!r}")
    return value


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _requirement(text: str) -> str:
    # Checked while parsing, so that a typo never costs a request; imported
    # here, so that probes without --expect-version never load the parser.
    from ._semver import parse_requirement

    try:
        parse_requirement(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _variable_name(text: str) -> str:
    if not text or "=" in text or "\0" in text:
        raise argparse.ArgumentTypeError(
            f"expected an environment variable name, got {text!r}"
        )
    return text


# -- the probe ---------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """How one run of the command ended, ready to be reported.

    ``error`` is None on success, else the name of what failed: an exception
    class such as ``ConnectError``, or ``VersionMismatch``,
    ``EnvironmentMismatch``, ``Interrupted``, ``Terminated``. ``line`` is the
    one-line diagnostic for stderr, ``message`` the bare description.
    """

    exit_code: int
    url: Optional[str]
    elapsed: float
    attempts: int
    status: Optional[BackendStatus] = None
    error: Optional[str] = None
    message: Optional[str] = None
    line: Optional[str] = None
    http_status: Optional[int] = None
    request_id: Optional[str] = None


class _CountingClient(Client):
    """A Client that counts its attempts.

    An error reports how many attempts the call made, but a BackendStatus
    does not, so the command counts them where the client makes them.
    """

    attempts = 0

    def _attempt(self, deadline_at: Optional[float]) -> BackendStatus:
        self.attempts += 1
        return super()._attempt(deadline_at)


class _Probe:
    """One run: configure a client, probe and judge the answer, into an _Outcome."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.url: Optional[str] = None
        self.client: Optional[_CountingClient] = None
        self.started: Optional[float] = None

    def run(self) -> _Outcome:
        try:
            if self.options.demo:
                return self._demo()
            base_url, api_key = self._configuration()
            return self._probe(base_url, api_key, self.options.wait)
        except OpenAppError as error:
            return self._failed(error)
        except KeyboardInterrupt:
            return self._stopped(EXIT_INTERRUPTED, "Interrupted", "interrupted")
        except _Terminated:
            return self._stopped(EXIT_TERMINATED, "Terminated", "terminated")
        except Exception as exc:
            return self._stopped(
                EXIT_SOFTWARE, type(exc).__name__, _internal_error(exc)
            )

    def _configuration(self) -> Tuple[Optional[str], Optional[str]]:
        """Read the base URL and the API key from the options and the environment."""
        options = self.options
        # An empty --base-url is a mistake to report; an empty variable is unset.
        base_url = options.base_url
        if base_url is None:
            base_url = os.environ.get(API_BASE_ENV) or None

        variable = options.api_key_env or DEFAULT_API_KEY_ENV
        api_key = os.environ.get(variable) or None
        if api_key is None and options.api_key_env is not None:
            raise ConfigError(
                f"the environment variable {variable} named by --api-key-env "
                f"is not set or empty"
            )
        if api_key is None:
            logger.debug("no API key: $%s is not set", variable)
        else:
            logger.debug("API key read from $%s", variable)
        return base_url, api_key

    def _probe(
        self, base_url: Optional[str], api_key: Optional[str], wait: Optional[float]
    ) -> _Outcome:
        options = self.options
        client = _CountingClient(
            base_url,
            api_key=api_key,
            timeout=options.timeout,
            retry=RetryPolicy(max_retries=options.retries, deadline=options.timeout),
            ca_certs=options.ca_certs,
        )
        self.client = client
        self.url = client.base_url + "/status"

        with client:
            self.started = time.monotonic()
            if wait is None:
                logger.debug(
                    "probing %s within %gs, up to %d retries",
                    self.url,
                    options.timeout,
                    options.retries,
                )
                status = client.status.get()
            else:
                logger.debug("waiting up to %gs for %s", wait, self.url)
                status = client.wait_for_backend(wait)
            elapsed = time.monotonic() - self.started

        return self._judge(status, elapsed, client.attempts)

    def _demo(self) -> _Outcome:
        # Imported here only: a probe must not pay for the fake backend.
        from .testing import FakeBackend, Reply

        backend = FakeBackend(_DEMO_ENVIRONMENT, _DEMO_VERSION)
        backend.enqueue(
            Reply.api_error(
                503, "backend starting", error_code="unavailable", retry_after=1
            )
        )
        with backend:
            if self.options.format == "text" and not self.options.quiet:
                _warn(
                    f"demo: a fake backend listens at {backend.url}; it answers "
                    f"503 'backend starting' with Retry-After: 1 at first"
                )
            wait = self.options.wait or _DEMO_WAIT
            return self._probe(backend.url, None, wait)

    def _judge(self, status: BackendStatus, elapsed: float, attempts: int) -> _Outcome:
        """Hold the answer to the expectations given on the command line."""
        requirement = self.options.expect_version
        if requirement is not None and not status.satisfies(requirement):
            return self._mismatch(
                "VersionMismatch",
                f"version {status.version!r} does not satisfy {requirement!r}",
                status,
                elapsed,
                attempts,
            )
        environment = self.options.expect_environment
        if environment is not None and status.environment != environment:
            return self._mismatch(
                "EnvironmentMismatch",
                f"environment is {status.environment!r}, not {environment!r}",
                status,
                elapsed,
                attempts,
            )
        return _Outcome(EXIT_UP, self.url, elapsed, attempts, status)

    def _mismatch(
        self,
        error: str,
        message: str,
        status: BackendStatus,
        elapsed: float,
        attempts: int,
    ) -> _Outcome:
        message = f"the backend is up but its {message}"
        line = f"{self.url}: {message} ({_attempts(attempts)}, {elapsed:.2f}s)"
        return _Outcome(
            EXIT_MISMATCH,
            self.url,
            elapsed,
            attempts,
            status,
            error=error,
            message=message,
            line=line,
        )

    def _failed(self, error: OpenAppError) -> _Outcome:
        http_status = getattr(error, "status", None) or None
        return _Outcome(
            _exit_code(error),
            self.url,
            self._elapsed(),
            error.attempts,
            error=type(error).__name__,
            message=error.message,
            line=str(error),
            http_status=http_status,
            request_id=getattr(error, "request_id", None),
        )

    def _stopped(self, exit_code: int, error: str, message: str) -> _Outcome:
        attempts = self.client.attempts if self.client is not None else 0
        line = f"{self.url}: {message}" if self.url else message
        return _Outcome(
            exit_code,
            self.url,
            self._elapsed(),
            attempts,
            error=error,
            message=message,
            line=line,
        )

    def _elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started


def _exit_code(error: OpenAppError) -> int:
    """The exit code of each family of errors (GatewayError is a transport one)."""
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    if isinstance(error, TransportError):
        return EXIT_TRANSPORT
    if isinstance(error, HttpError):
        return EXIT_HTTP
    if isinstance(error, SerializationError):
        return EXIT_BODY
    return EXIT_SOFTWARE


def _internal_error(exc: BaseException) -> str:
    return f"internal error, please report it: {type(exc).__name__}: {exc}"


# -- reporting ---------------------------------------------------------------


def _report(outcome: _Outcome, options: argparse.Namespace) -> None:
    """Print the outcome in the chosen format; print nothing with --quiet."""
    if options.quiet:
        return
    if options.format == "json":
        _print(_as_json(outcome))
        return
    if options.format == "prometheus":
        _print(_as_prometheus(outcome))
    elif outcome.status is not None and outcome.error is None:
        _print(_as_text(outcome.status, outcome))
    if outcome.error is not None:
        _warn(outcome.line or outcome.message or outcome.error)


def _as_text(status: BackendStatus, outcome: _Outcome) -> str:
    return (
        f"up: environment={_shown(status.environment)} "
        f"version={_shown(status.version)} "
        f"in {outcome.elapsed * 1000:.0f} ms after {_attempts(outcome.attempts)} "
        f"at {outcome.url}"
    )


def _as_json(outcome: _Outcome) -> str:
    import json

    status = outcome.status
    document: Dict[str, Any] = {
        "ok": outcome.error is None,
        "url": outcome.url,
        "environment": status.environment if status else None,
        "version": status.version if status else None,
        "elapsed_ms": round(outcome.elapsed * 1000, 1),
        "attempts": outcome.attempts,
    }
    if outcome.error is not None:
        document.update(
            error=outcome.error,
            message=outcome.message,
            status=outcome.http_status,
            request_id=outcome.request_id,
        )
    return json.dumps(document)


_METRICS = (
    (
        "openapp_backend_up",
        "1 if the OpenApp backend answered its status probe and met the "
        "expectations, else 0.",
    ),
    (
        "openapp_backend_info",
        "The environment and version the OpenApp backend reports; always 1.",
    ),
    (
        "openapp_backend_probe_duration_seconds",
        "Seconds the status probe took, retries and waits included.",
    ),
    (
        "openapp_backend_probe_attempts",
        "Requests the status probe made to the OpenApp backend.",
    ),
)


def _as_prometheus(outcome: _Outcome) -> str:
    """Render the Prometheus text exposition format (version 0.0.4)."""
    status = outcome.status
    samples: Dict[str, List[Tuple[str, str]]] = {
        "openapp_backend_up": [("", "1" if outcome.error is None else "0")],
        "openapp_backend_info": [],
        "openapp_backend_probe_duration_seconds": [("", f"{outcome.elapsed:.6f}")],
        "openapp_backend_probe_attempts": [("", str(outcome.attempts))],
    }
    if status is not None:
        info = (
            f'{{environment="{_label_value(status.environment)}",'
            f'version="{_label_value(status.version)}"}}'
        )
        samples["openapp_backend_info"].append((info, "1"))

    lines = []
    for name, help_text in _METRICS:
        if not samples[name]:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples[name])
    return "\n".join(lines)


def _label_value(value: str) -> str:
    # The exposition format escapes exactly these three in label values.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _shown(value: str) -> str:
    """A backend-supplied value as one unambiguous word of the text line."""
    if value and value.isprintable() and not any(ch.isspace() for ch in value):
        return value
    return repr(value)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _warn(line: str) -> None:
    sys.stderr.write(f"{PROG}: {line}\n")
    sys.stderr.flush()


# -- handing over to COMMAND -------------------------------------------------

# Python ignores these at start-up, and an ignored signal stays ignored across
# exec: a command would then never die of a broken pipe or an oversized file.
_IGNORED_BY_PYTHON = ("SIGPIPE", "SIGXFZ", "SIGXFSZ")


def _execute(command: List[str], quiet: bool) -> int:
    """Replace this process with ``command``; return only if that fails."""
    logger.debug("backend up; handing over to %s", command[0])
    sys.stdout.flush()
    sys.stderr.flush()

    restored = {}
    for name in _IGNORED_BY_PYTHON:
        number = getattr(signal, name, None)
        if number is not None:
            restored[number] = signal.signal(number, signal.SIG_DFL)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        for number, handler in restored.items():
            signal.signal(number, handler)
        if not quiet:
            _warn(f"cannot run {command[0]!r}: {exc.strerror or exc}")
        if isinstance(exc, FileNotFoundError):
            return EXIT_NOT_FOUND
        return EXIT_CANNOT_EXECUTE


# -- process plumbing --------------------------------------------------------


class _Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives (``docker stop``)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    # As PID 1 of a container (the entrypoint gate), a process that sets no
    # handler is immune to SIGTERM, and docker stop would wait for SIGKILL.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


class _OneLineFormatter(logging.Formatter):
    """One line per record, control characters folded, never a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not message.isprintable():
            message = "".join(ch if ch.isprintable() else " " for ch in message)
        seconds = record.relativeCreated / 1000
        return f"{PROG}: {seconds:.3f}s {record.levelname} {record.name}: {message}"


@contextlib.contextmanager
def _verbose_logging(enabled: bool) -> Iterator[None]:
    """With --verbose, send the package's DEBUG records to stderr for this run."""
    if not enabled:
        yield
        return
    package_logger = logging.getLogger(_PACKAGE)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
