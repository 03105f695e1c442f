"""Throughput of one client shared by 1, 4 and 16 threads.

For each contender and thread count, the threads share one client (its one
pool of at most 10 connections, ``block=True``, as the Client has it) and
call ``/status`` as fast as they can for ``--window`` seconds; the count of
good answers over the wall time is the throughput. Windows run interleaved
(every contender at every thread count, then again, ``--rounds`` times) and
the medians are reported, with each contender's ratio to raw urllib3 at the
same thread count, computed round by round. http.client cannot be shared
between threads, so it gets one connection per thread: it is the floor, not
a peer. A call that raises counts as failed, not as done: the official SDK's
blocking client runs every call on one private event loop, so calls from
several threads at once mostly fail.

How to read the output: one Markdown table per server; "calls/s" is the
median throughput, "µs/call" its inverse (what a busy process pays per
status check), "x urllib3" the median paired ratio of throughputs (higher is
better; the goal is at least 0.95 at 16 threads), "failed" the share of
calls that raised.

Run: ``python benchmarks/threads.py [--server nginx|fake|all]``.
"""

from __future__ import annotations

import argparse
import threading
import time
import warnings
from typing import Any, Dict, List, Tuple

import _bench

THREAD_COUNTS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=["nginx", "fake", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window", type=float, default=0.4, help="seconds")
    parser.add_argument(
        "--max-calls", type=int, default=50_000, help="per window and thread"
    )
    parser.add_argument("--only", action="append", help="a contender name")
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()
    # The SDK's failed calls leave coroutines never awaited: one warning each.
    warnings.filterwarnings("ignore", "coroutine .* was never awaited")

    results: Dict[str, Any] = {
        "rounds": options.rounds,
        "window_s": options.window,
        "servers": {},
    }
    for start in _bench.servers(options.server):
        with start() as server:
            results["servers"][server.name] = measure(server, options)
    if not options.no_save:
        _bench.update_results("threads", results)
        _bench.write_chart(_bench.load_results())


def measure(server: _bench.Server, options: argparse.Namespace) -> Dict[str, Any]:
    contenders = _bench.available_contenders(options.only)
    clients = {}
    for name, make in contenders:
        clients[name] = make(server.base_url)
    done: Dict[Tuple[str, int], List[float]] = {}
    failed: Dict[Tuple[str, int], int] = {}
    calls: Dict[Tuple[str, int], int] = {}
    try:
        for call, _ in clients.values():
            window(call, 4, 0.1, options.max_calls)  # warm the pools
        names = list(clients)
        for number in range(options.rounds):
            shift = number % len(names)
            for count in THREAD_COUNTS:
                for name in names[shift:] + names[:shift]:
                    good, bad, elapsed = window(
                        clients[name][0], count, options.window, options.max_calls
                    )
                    done.setdefault((name, count), []).append(good / elapsed)
                    failed[name, count] = failed.get((name, count), 0) + bad
                    calls[name, count] = calls.get((name, count), 0) + good + bad
    finally:
        for _, close in clients.values():
            close()

    table: Dict[str, Dict[str, Any]] = {}
    for (name, count), rates in done.items():
        row = {
            "calls_per_second": _bench.median(rates),
            "failed": failed[name, count],
            "calls": calls[name, count],
        }
        base = done.get((_bench.BASELINE, count))
        if base:
            row["vs_urllib3"] = _bench.paired_ratio(rates, base)
        table.setdefault(name, {})[str(count)] = row
    report(server, table)
    return {"base_url": server.base_url, "clients": table}


def window(
    call: _bench.Call, count: int, seconds: float, cap: int
) -> Tuple[int, int, float]:
    """Run ``count`` threads calling for ``seconds``; return (good, bad, wall)."""
    good = [0] * count
    bad = [0] * count
    gate = threading.Barrier(count + 1)
    end = [0.0]

    def work(index: int) -> None:
        gate.wait()
        stop_at = end[0]
        ok = failed = 0
        clock = time.perf_counter
        while clock() < stop_at and ok + failed < cap:
            try:
                call()
                ok += 1
            except Exception:
                failed += 1
        good[index] = ok
        bad[index] = failed

    workers = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    end[0] = started + seconds
    gate.wait()
    for worker in workers:
        worker.join(seconds + 60)
    return sum(good), sum(bad), time.perf_counter() - started


def report(server: _bench.Server, table: Dict[str, Dict[str, Any]]) -> None:
    print(f"\n## Threads sharing one client, {server.name} at {server.base_url}\n")
    headers = ["client"]
    for count in THREAD_COUNTS:
        headers += [f"{count}t calls/s", f"{count}t µs/call", f"{count}t x urllib3"]
    headers.append("failed")
    rows = []
    for name, by_count in table.items():
        row = [name]
        failed = total = 0
        for count in THREAD_COUNTS:
            cell = by_count.get(str(count))
            if cell is None:
                row += ["-", "-", "-"]
                continue
            rate = cell["calls_per_second"]
            row.append(f"{rate:,.0f}")
            row.append(f"{1e6 / rate:.0f}" if rate else "-")
            row.append(f"{cell['vs_urllib3']:.3f}" if "vs_urllib3" in cell else "-")
            failed += cell["failed"]
            total += cell["calls"]
        row.append(f"{failed:,} of {total:,}" if failed else "0")
        rows.append(row)
    _bench.print_table(headers, rows)
    ours = table.get(_bench.OURS, {}).get("16", {})
    if "vs_urllib3" in ours:
        ratio = ours["vs_urllib3"]
        verdict = "holds" if ratio >= 0.95 else "MISSED"
        print(
            f"\ngoal: at 16 threads at least 0.95 x raw urllib3's throughput: "
            f"{ratio:.3f} ({verdict})"
        )


if __name__ == "__main__":
    main()
