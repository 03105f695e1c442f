"""The pieces every benchmark shares: servers, contenders, timing and results.

This module starts the loopback servers (nginx with a temporary config when it
is installed, and the package's fake backend in a child process), builds the
clients that are compared side by side, times them interleaved, describes the
machine, writes ``benchmarks/results/latest.json`` and draws the chart. It
talks to nothing but 127.0.0.1, every loop in it is bounded in count and in
time, and it never changes the library: it only calls it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results", "latest.json")
CHART = os.path.join(ROOT, "docs", "performance.svg")

if ROOT not in sys.path:
    # Run from a checkout without installing: the package sits beside us.
    sys.path.insert(0, ROOT)

import urllib3  # noqa: E402
from urllib3.util.retry import Retry  # noqa: E402

import openapp_status  # noqa: E402
from openapp_status import BackendStatus  # noqa: E402

#: What every server answers, and what every contender sends.
STATUS_BODY = '{"environment":"bench","version":"0.14.2"}'
USER_AGENT = "openapp-status-benchmark/1"
HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT}
#: The pool every urllib3-based contender gets: the Client's defaults.
POOL_SIZE = 10

Call = Callable[[], object]


class Server(NamedTuple):
    """A loopback server answering ``GET {base_url}/status``."""

    name: str
    base_url: str

    @property
    def status_url(self) -> str:
        return self.base_url + "/status"

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 80

    @property
    def status_path(self) -> str:
        return urlsplit(self.status_url).path


# --------------------------------------------------------------------------
# Servers


NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location = /api/v1/status {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


def nginx_path() -> Optional[str]:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def nginx_version() -> Optional[str]:
    path = nginx_path()
    if path is None:
        return None
    done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    return done.stderr.strip().rpartition("/")[2] or None


@contextlib.contextmanager
def nginx_server() -> Iterator[Server]:
    """Run nginx with one worker on a free loopback port, stopped on exit."""
    path = nginx_path()
    if path is None:
        raise RuntimeError("nginx is not installed")
    with tempfile.TemporaryDirectory(prefix="openapp-bench-nginx-") as tmp:
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as file:
            file.write(NGINX_CONF.format(tmp=tmp, port=port, body=STATUS_BODY))
        log = os.path.join(tmp, "error.log")
        command = [path, "-p", tmp, "-c", conf, "-e", log]
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, process)
            yield Server("nginx", f"http://127.0.0.1:{port}/api/v1")
        finally:
            stop(process)


@contextlib.contextmanager
def fake_backend_server() -> Iterator[Server]:
    """Run ``python -m openapp_status.testing`` in a child process.

    A child process, not threads of ours: a server in our own process would
    share the GIL with the client under test and slow it down.
    """
    command = [
        sys.executable,
        "-m",
        "openapp_status.testing",
        "--port",
        "0",
        "--quiet",
        "--environment",
        "bench",
        "--version",
        "0.14.2",
    ]
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 15)
        line = process.stdout.readline() if ready else ""
        if "listening on" not in line:
            raise RuntimeError(f"the fake backend did not start: {line!r}")
        yield Server("fake backend", line.split("listening on", 1)[1].strip())
    finally:
        stop(process)


def servers(choice: str) -> List[Callable[[], Any]]:
    """The server context managers for ``--server nginx|fake|all``.

    ``all`` means nginx when it is installed, then the fake backend; a
    machine without nginx falls back to the fake backend alone.
    """
    have_nginx = nginx_path() is not None
    if choice == "nginx" and not have_nginx:
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    chosen = []
    if choice in ("nginx", "all") and have_nginx:
        chosen.append(nginx_server)
    if choice == "fake" or (choice == "all") or not chosen:
        chosen.append(fake_backend_server)
    return chosen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, process: subprocess.Popen[Any], timeout: float = 10
) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --------------------------------------------------------------------------
# Contenders: the same job done by each client


def parse(body: bytes) -> BackendStatus:
    """What every contender returns: the answer read as a BackendStatus."""
    return BackendStatus.from_dict(json.loads(body))


def openapp_status_client(base_url: str) -> Tuple[Call, Call]:
    client = openapp_status.Client(base_url, user_agent=USER_AGENT)
    return client.status.get, client.close


#: urllib3's own retries off, as the Client has them (built once, not per call).
NO_RETRIES = Retry(total=False, redirect=False)
URLLIB3_TIMEOUT = urllib3.Timeout(connect=10.0, read=10.0)


def urllib3_pool_manager(base_url: str) -> Tuple[Call, Call]:
    """Raw urllib3 as its docs teach it: a PoolManager and ``request()``."""
    manager = urllib3.PoolManager(maxsize=POOL_SIZE, block=True)
    url = base_url + "/status"

    def call() -> BackendStatus:
        response = manager.request(
            "GET",
            url,
            headers=HEADERS,
            timeout=URLLIB3_TIMEOUT,
            retries=NO_RETRIES,
            redirect=False,
        )
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return parse(response.data)

    return call, manager.clear


def urllib3_connection_pool(base_url: str) -> Tuple[Call, Call]:
    """urllib3's lowest public layer: one HTTPConnectionPool, ``urlopen()``."""
    server = Server("", base_url)
    pool = urllib3.HTTPConnectionPool(
        "127.0.0.1", server.port, maxsize=POOL_SIZE, block=True
    )
    path = server.status_path

    def call() -> BackendStatus:
        response = pool.urlopen(
            "GET",
            path,
            headers=HEADERS,
            timeout=URLLIB3_TIMEOUT,
            retries=NO_RETRIES,
            redirect=False,
        )
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return parse(response.data)

    return call, pool.close


def http_client(base_url: str) -> Tuple[Call, Call]:
    """The standard library: one persistent connection per thread."""
    import http.client

    server = Server("", base_url)
    path = server.status_path
    local = threading.local()
    opened: List[http.client.HTTPConnection] = []

    def call() -> BackendStatus:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, timeout=10
            )
            local.connection = connection
            opened.append(connection)
        connection.request("GET", path, headers=HEADERS)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return parse(body)

    def close() -> None:
        for connection in opened:
            connection.close()

    return call, close


def requests_session(base_url: str) -> Tuple[Call, Call]:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=POOL_SIZE, pool_block=True, max_retries=0)
    session.mount("http://", adapter)
    url = base_url + "/status"

    def call() -> BackendStatus:
        response = session.get(url, headers=HEADERS, timeout=10, allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return parse(response.content)

    return call, session.close


def httpx_client(base_url: str) -> Tuple[Call, Call]:
    import httpx

    limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=10)
    client = httpx.Client(limits=limits, timeout=10.0, headers=HEADERS)
    url = base_url + "/status"

    def call() -> BackendStatus:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return parse(response.content)

    return call, client.close


def openapp_sdk_client(base_url: str) -> Tuple[Call, Call]:
    """The official SDK's blocking client (its core is Rust, behind asyncio)."""
    import openapp_sdk

    origin = base_url.split("/api/", 1)[0]
    client = openapp_sdk.Client.connect(
        api_key=f"{origin}_openapp_benchmark",
        base_url=base_url,
        user_agent=USER_AGENT,
        timeout=10.0,
        skip_status_probe=True,
    )

    def call() -> BackendStatus:
        return BackendStatus.from_dict(client.status.get())

    return call, client.close


#: Every contender, in the order tables list them. ``module`` is what must be
#: importable for the contender to run.
CONTENDERS: List[Tuple[str, str, Callable[[str], Tuple[Call, Call]]]] = [
    ("openapp_status", "openapp_status", openapp_status_client),
    ("urllib3 PoolManager", "urllib3", urllib3_pool_manager),
    ("urllib3 HTTPConnectionPool", "urllib3", urllib3_connection_pool),
    ("http.client", "http.client", http_client),
    ("requests", "requests", requests_session),
    ("httpx", "httpx", httpx_client),
    ("openapp-sdk", "openapp_sdk", openapp_sdk_client),
]
OURS = "openapp_status"
BASELINE = "urllib3 PoolManager"


def available_contenders(
    only: Optional[List[str]] = None,
) -> List[Tuple[str, Callable[[str], Tuple[Call, Call]]]]:
    """The contenders whose libraries are installed (``pip install .[bench]``)."""
    import importlib.util

    chosen = []
    for name, module, make in CONTENDERS:
        if only and name not in only:
            continue
        if importlib.util.find_spec(module) is None:
            print(f"# {name}: not installed, left out", file=sys.stderr)
            continue
        chosen.append((name, make))
    return chosen


# --------------------------------------------------------------------------
# Timing


def interleave(
    calls: Dict[str, Call], *, batch: int, rounds: int, max_seconds: float
) -> Dict[str, Dict[str, List[float]]]:
    """Time ``batch`` calls of each contender per round, all in one process.

    The order rotates every round, so that no contender always runs right
    after the same neighbour or always first; a round is a few hundred
    milliseconds, so slow drifts of the machine hit every contender alike.
    Returns, per contender, the wall and the thread CPU seconds per call of
    each round. Stops after ``rounds`` rounds or ``max_seconds``.
    """
    names = list(calls)
    for call in calls.values():
        for _ in range(batch):
            call()

    samples: Dict[str, Dict[str, List[float]]] = {
        name: {"wall": [], "cpu": []} for name in names
    }
    started = time.perf_counter()
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(batch):
                call()
            cpu = time.thread_time() - cpu
            wall = time.perf_counter() - wall
            samples[name]["wall"].append(wall / batch)
            samples[name]["cpu"].append(cpu / batch)
        if time.perf_counter() - started > max_seconds:
            break
    return samples


def paired_ratio(mine: List[float], theirs: List[float]) -> float:
    """The median of round-by-round ratios: robust to drift between rounds."""
    return statistics.median(a / b for a, b in zip(mine, theirs))


def median(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------
# A clean install, for the subprocess benchmarks


@contextlib.contextmanager
def clean_install() -> Iterator[str]:
    """A throwaway venv holding urllib3 and openapp_status as a wheel would.

    Both packages are copied from this environment and byte-compiled, as pip
    does on install, and ``bin/openapp-status`` is the console script pip
    writes. So a measurement pays neither for compiling our sources (this
    machine sets PYTHONDONTWRITEBYTECODE) nor for the editable-install hook
    that a development venv runs at every interpreter start. Yields the
    venv's bin directory.
    """
    with tempfile.TemporaryDirectory(prefix="openapp-bench-venv-") as tmp:
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run(
            [base, "-m", "venv", "--without-pip", tmp], check=True, timeout=120
        )
        bin_dir = os.path.join(tmp, "bin")
        python = os.path.join(bin_dir, "python")
        site = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for package in (urllib3, openapp_status):
            source = os.path.dirname(package.__file__ or "")
            target = os.path.join(site, os.path.basename(source))
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns("__pycache__")
            )
        subprocess.run(
            [python, "-m", "compileall", "-q", site],
            check=True,
            timeout=300,
            env=clean_env(),
        )
        script = os.path.join(bin_dir, "openapp-status")
        with open(script, "w") as file:
            file.write(CONSOLE_SCRIPT.format(python=python))
        os.chmod(script, 0o755)
        yield bin_dir


CONSOLE_SCRIPT = """\
#!{python}
import sys
from openapp_status.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""


def clean_env() -> Dict[str, str]:
    """This environment without the PYTHON* variables that change a run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


# --------------------------------------------------------------------------
# The machine and the results file


def machine() -> Dict[str, Any]:
    """Where the numbers come from: CPU, Python and library versions."""
    import importlib.metadata as metadata

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in ("requests", "httpx", "openapp-sdk"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "library": library_revision(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "urllib3": metadata.version("urllib3"),
        "openapp_status": openapp_status.__version__,
        "nginx": nginx_version(),
        **versions,
    }


def library_revision() -> str:
    """The commit measured, and "+changes" when the package differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "openapp_status"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" +changes" if changed else "")


def update_results(section: str, data: Any) -> None:
    """Store one benchmark's results in results/latest.json, keeping the rest."""
    results: Dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError), open(RESULTS) as file:
        results = json.load(file)
    results["machine"] = machine()
    results[section] = dict(data, measured_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS + ".tmp", "w") as file:
        json.dump(results, file, indent=2, sort_keys=True)
        file.write("\n")
    os.replace(RESULTS + ".tmp", RESULTS)


def load_results() -> Dict[str, Any]:
    with open(RESULTS) as file:
        results: Dict[str, Any] = json.load(file)
        return results


def print_table(headers: List[str], rows: List[List[str]]) -> None:
    """A Markdown table, so that output can be pasted into the docs as is."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells: List[str]) -> str:
        padded = (str(c).ljust(w) for c, w in zip(cells, widths))
        return "| " + " | ".join(padded) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


# --------------------------------------------------------------------------
# The chart


COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]


def write_chart(results: Dict[str, Any], path: str = CHART) -> Optional[str]:
    """Draw microseconds per call, by client and thread count, as an SVG.

    One bar per thread count for each client, from the threads benchmark
    against the fastest server measured (nginx when present): with T threads
    the time per call is the wall time divided by the calls made, so the
    bars show what a busy process pays per status check. Shorter is better.
    """
    threads = results.get("threads", {}).get("servers", {})
    if not threads:
        return None
    server = "nginx" if "nginx" in threads else next(iter(threads))
    table = threads[server]["clients"]
    counts = sorted({int(n) for row in table.values() for n in row})
    order = [name for name, _, _ in CONTENDERS]
    clients = sorted(table, key=lambda c: order.index(c) if c in order else 99)
    values, failing = {}, {}
    for client, row in table.items():
        for n in counts:
            cell = row.get(str(n))
            if cell is None or cell["calls_per_second"] <= 0:
                continue
            values[client, n] = 1e6 / cell["calls_per_second"]
            if cell["failed"] > cell["calls"] / 10:
                # Mostly failures: the bar would only measure how fast a
                # call fails, so it is drawn cut off, with the failure rate.
                failing[client, n] = cell["failed"] / cell["calls"]
    if not values:
        return None

    top = max(v for k, v in values.items() if k not in failing) * 1.15
    left, right, bar, gap, head = 210, 40, 13, 14, 56
    width = 760
    plot = width - left - right
    height = head + len(clients) * (len(counts) * bar + gap) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">'
        f"Microseconds per status call, one shared client ({server})</text>",
        f'<text x="{left}" y="38" fill="#555">wall time / calls; shorter is '
        "better; python "
        f"{results['machine']['python']}, urllib3 "
        f"{results['machine']['urllib3']}, {results['machine']['cpus']} CPUs</text>",
    ]
    for i, n in enumerate(counts):
        x = left + i * 110
        out.append(
            f'<rect x="{x}" y="{height - 24}" width="12" height="12" '
            f'fill="{COLOURS[i % len(COLOURS)]}"/>'
        )
        label = "1 thread" if n == 1 else f"{n} threads"
        out.append(f'<text x="{x + 16}" y="{height - 14}">{label}</text>')

    y = head
    for client in clients:
        group = len(counts) * bar
        out.append(
            f'<text x="{left - 8}" y="{y + group / 2 + 4}" '
            f'text-anchor="end">{client}</text>'
        )
        for i, n in enumerate(counts):
            value = values.get((client, n))
            if value is not None:
                length = max(1.0, min(value / top, 1.0) * plot)
                if (client, n) in failing:
                    length = min(length, plot * 0.5)
                colour = COLOURS[i % len(COLOURS)]
                out.append(
                    f'<rect x="{left}" y="{y}" width="{length:.1f}" '
                    f'height="{bar - 2}" fill="{colour}"/>'
                )
                text = f"{value:.0f}"
                if (client, n) in failing:
                    text = f"{value:,.0f}: {failing[client, n]:.0%} of calls failed"
                out.append(
                    f'<text x="{left + length + 4:.1f}" y="{y + bar - 3}" '
                    f'font-size="10">{text}</text>'
                )
            y += bar
        y += gap
    out.append(
        f'<line x1="{left}" y1="{head - 4}" x2="{left}" y2="{y - gap + 4}" '
        'stroke="#333"/>'
    )
    out.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write("\n".join(out) + "\n")
    return path
