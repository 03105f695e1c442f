"""Memory: resident size over 100,000 calls, and under bodies over the cap.

Each case runs in a child process of its own, so that one case's memory
cannot hide another's, and samples the child's resident set size (VmRSS in
/proc/self/status) at regular points, with the peak (``ru_maxrss``) at the
end:

* ``steady``: ``--calls`` calls (default 100,000) of one shared Client
  against a fast loopback server (nginx when installed, else the fake
  backend in another process), sampled every tenth of the run; the same for
  raw urllib3 (a PoolManager), as a reference;
* ``body cap``: a Client with its retries off against the fake backend (in
  the child's threads) answering, call after call, an endless body without
  a Content-Length and a gzip body that decodes to 16 MiB. Each call must
  fail with ProtocolError after reading about 64 KiB, and memory must stay
  flat however much the server offers.

How to read the output: RSS in MiB at the first sample (after warm-up) and
at the last, the growth between them, and the peak. "No growth" means a
growth within a few hundred KiB (allocator noise), the same as urllib3's.

Run: ``python benchmarks/memory.py [--calls 100000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from typing import Any, Callable, Dict, List

import _bench

#: Growth between the first and the last sample that still counts as flat.
FLAT_KIB = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--cap-calls", type=int, default=300)
    parser.add_argument("--server", choices=["nginx", "fake"], default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()
    if options.child:
        child(options)
        return

    results: Dict[str, Any] = {"calls": options.calls, "cases": {}}
    start = _bench.servers(options.server or "all")[0]
    with start() as server:
        results["server"] = server.name
        for case in ("openapp_status", "urllib3 PoolManager"):
            results["cases"][f"steady, {case}"] = spawn(
                case, server.base_url, options.calls
            )
    for case in ("endless body", "gzip bomb"):
        results["cases"][f"body cap, {case}"] = spawn(case, "", options.cap_calls)
    report(results)
    if not options.no_save:
        _bench.update_results("memory", results)


def spawn(case: str, url: str, calls: int) -> Dict[str, Any]:
    argv = [sys.executable, __file__, "--child", case, "--calls", str(calls)]
    argv += ["--url", url]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=1800
    )
    result: Dict[str, Any] = json.loads(done.stdout)
    return result


def child(options: argparse.Namespace) -> None:
    """Make the calls of one case and print the RSS samples as JSON."""
    case, calls = options.child, options.calls
    every = max(1, calls // 10)
    if case == "openapp_status":
        call, close = _bench.openapp_status_client(options.url)
        run = expect_success(call)
    elif case == "urllib3 PoolManager":
        call, close = _bench.urllib3_pool_manager(options.url)
        run = expect_success(call)
    else:
        run, close = body_cap(case)

    for _ in range(min(1000, calls)):  # warm up: pools, caches, free lists
        run()
    samples: List[float] = []
    for number in range(1, calls + 1):
        run()
        if number % every == 0:
            samples.append(rss_kib())
    close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "calls": calls,
                "rss_kib": samples,
                "growth_kib": samples[-1] - samples[0],
                "peak_kib": peak,
            }
        )
    )


def expect_success(call: _bench.Call) -> Callable[[], None]:
    def run() -> None:
        call()

    return run


def body_cap(case: str) -> Any:
    """A Client that must refuse, call after call, a body over its cap."""
    import openapp_status
    from openapp_status.testing import FakeBackend, Reply

    backend = FakeBackend("bench", "0.14.2").start()
    client = openapp_status.Client(backend.url, retry=openapp_status.RetryPolicy.none())
    reply = Reply.endless() if case == "endless body" else Reply.gzip_bomb(16 << 20)

    def run() -> None:
        # The backend records every request: forget them, or its memory grows.
        backend.clear_requests()
        backend.enqueue(reply)
        try:
            client.status.get()
        except openapp_status.ProtocolError:
            return
        raise AssertionError("a body over the cap was accepted")

    def close() -> None:
        client.close()
        backend.stop()

    return run, close


def rss_kib() -> float:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def report(results: Dict[str, Any]) -> None:
    print(f"\n## Memory ({results['server']} for the steady cases)\n")
    rows = []
    for name, case in results["cases"].items():
        samples = case["rss_kib"]
        rows.append(
            [
                name,
                f"{case['calls']:,}",
                f"{samples[0] / 1024:.1f}",
                f"{samples[-1] / 1024:.1f}",
                f"{case['growth_kib']:+.0f}",
                f"{case['peak_kib'] / 1024:.1f}",
            ]
        )
    _bench.print_table(
        ["case", "calls", "first MiB", "last MiB", "growth KiB", "peak MiB"], rows
    )
    ours = [c for n, c in results["cases"].items() if "urllib3" not in n]
    flat = all(case["growth_kib"] <= FLAT_KIB for case in ours)
    verdict = "holds" if flat else "MISSED"
    print(f"\ngoal: no memory growth (within {FLAT_KIB} KiB): {verdict}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", _bench.ROOT)
    main()
