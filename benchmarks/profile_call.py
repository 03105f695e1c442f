"""Where a call of ours spends time that raw urllib3 does not.

Profiles ``--calls`` calls of ``client.status.get()`` and as many of the
lowest raw urllib3 path (one HTTPConnectionPool, ``urlopen``, the same
headers and options) with cProfile, against the same loopback server, and
prints the functions whose call counts differ: what our layers add per call.
Then it times, without a profiler, the few steps of ours that the profile
points at (each a guess at a saving, measured in place).

How to read the output: "µs/call" is the profiled own time per status call
(cProfile inflates every function call about alike, so read it as a rank,
not a cost); "ours" and "raw" are calls per status call. The second table
is unprofiled microseconds per status call.

Run: ``python benchmarks/profile_call.py [--calls 20000]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
import timeit
from typing import Any, Dict, List, Tuple

import _bench
import urllib3

import openapp_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--server", choices=["nginx", "fake"], default=None)
    options = parser.parse_args()

    start = _bench.servers(options.server or "all")[0]
    with start() as server:
        ours, close_ours = _bench.openapp_status_client(server.base_url)
        raw, close_raw = lowest_urllib3(server)
        try:
            compare(profile(ours, options.calls), profile(raw, options.calls))
            steps(server)
        finally:
            close_ours()
            close_raw()


def lowest_urllib3(server: _bench.Server) -> Tuple[_bench.Call, _bench.Call]:
    """Raw urllib3 doing what our transport asks of it, and nothing more."""
    pool = urllib3.HTTPConnectionPool(
        "127.0.0.1", server.port, maxsize=_bench.POOL_SIZE, block=True
    )

    def call() -> object:
        response = pool.urlopen(
            "GET",
            server.status_path,
            headers=_bench.HEADERS,
            timeout=_bench.URLLIB3_TIMEOUT,
            retries=_bench.NO_RETRIES,
            redirect=False,
            preload_content=False,
            decode_content=False,
            enforce_content_length=True,
        )
        body = response.read(decode_content=False)
        response.release_conn()
        return _bench.parse(body)

    return call, pool.close


Profile = Dict[str, Tuple[float, float]]


def profile(call: _bench.Call, calls: int) -> Profile:
    for _ in range(500):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats: Dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    table: Profile = {}
    for (path, line, name), (_, count, own, _, _) in stats.items():
        where = f"{os.path.basename(path)}:{line}({name})" if line else name
        table[where] = (count / calls, own / calls * 1e6)
    return table


def compare(ours: Profile, raw: Profile) -> None:
    rows = []
    for name in set(ours) | set(raw):
        mine, theirs = ours.get(name, (0, 0)), raw.get(name, (0, 0))
        if abs(mine[0] - theirs[0]) > 0.01:
            rows.append((mine[1] - theirs[1], name, mine, theirs))
    rows.sort(reverse=True)
    print("\n## Functions whose call counts differ (profiled)\n")
    _bench.print_table(
        ["function", "ours", "raw", "ours µs/call", "extra µs/call"],
        [
            [name, f"{m[0]:.0f}", f"{t[0]:.0f}", f"{m[1]:.2f}", f"{d:+.2f}"]
            for d, name, m, t in rows[:30]
        ],
    )
    total = sum(x[0] for x in ours.values()), sum(x[0] for x in raw.values())
    print(f"\nfunction calls per status call: ours {total[0]:.0f}, raw {total[1]:.0f}")


def steps(server: _bench.Server) -> None:
    """Unprofiled costs of single steps, each measured in place."""
    rows = []
    pool = urllib3.HTTPConnectionPool("127.0.0.1", server.port, maxsize=1)
    first, second, whole = [], [], []
    for number in range(4000):
        response = pool.urlopen(
            "GET",
            server.status_path,
            headers=_bench.HEADERS,
            retries=_bench.NO_RETRIES,
            preload_content=False,
            decode_content=False,
            enforce_content_length=True,
        )
        started = time.perf_counter()
        if number % 2:
            body = response.read(64 * 1024 + 1, decode_content=False)
            middle = time.perf_counter()
            response.read(64 * 1024 + 1 - len(body), decode_content=False)
            first.append(middle - started)
            second.append(time.perf_counter() - middle)
        else:
            response.read(decode_content=False)
            whole.append(time.perf_counter() - started)
        response.release_conn()
    pool.close()
    rows.append(["read(cap + 1): the first read, whole body", us(first)])
    rows.append(["read() again, only to see the end of the body", us(second)])
    rows.append(["read() of a known Content-Length, once", us(whole)])

    try:
        from openapp_status import _deadline

        def watch() -> None:
            _deadline.disarm(_deadline.arm(time.monotonic() + 10))

        rows.append(["arm and disarm the deadline watch", best(watch)])
    except (ImportError, AttributeError) as exc:  # the library changed
        rows.append([f"deadline watch: not measured ({exc})", "-"])

    status = openapp_status.BackendStatus("bench", "0.14.2")
    rows.append(
        [
            "build a BackendStatus (frozen dataclass)",
            best(lambda: openapp_status.BackendStatus("bench", "0.14.2")),
        ]
    )
    rows.append(
        [
            "BackendStatus.from_dict",
            best(lambda: openapp_status.BackendStatus.from_dict(status.to_dict())),
        ]
    )
    print("\n## Single steps, unprofiled\n")
    _bench.print_table(["step", "µs"], rows)


def us(samples: List[float]) -> str:
    return f"{statistics.median(samples) * 1e6:.2f}"


def best(step: _bench.Call) -> str:
    number = 50_000
    return f"{min(timeit.repeat(step, number=number, repeat=5)) / number * 1e6:.2f}"


if __name__ == "__main__":
    main()
