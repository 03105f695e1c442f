"""Per-call time of ``client.status.get()`` against raw urllib3 and its peers.

Every contender does the same job on a warm keep-alive connection: GET
``/status`` with the same two headers, read the body, ``json.loads`` it and
build a BackendStatus. They run interleaved in this one process, in rounds
of ``--batch`` calls each, against the same loopback server: nginx when it
is installed (a server fast enough that the client's own cost shows), then
the package's fake backend (a Python server in a child process).

How to read the output: one Markdown table per server. "wall" is the median
over rounds of the time per call; "CPU" is this thread's CPU time per call,
steadier on a busy machine. The ratio columns are medians of round-by-round
ratios to the named baseline, measured in the same rounds, so they hold
across machines where lone absolute times do not. "urllib3 PoolManager" is
raw urllib3 as its docs teach it, with the Client's pool settings (maxsize
10, block); "urllib3 HTTPConnectionPool" calls one pool's ``urlopen``
directly, the lowest layer of urllib3; http.client is the floor.

Run: ``python benchmarks/per_call.py [--server nginx|fake|all]``.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=["nginx", "fake", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=200, help="calls per round")
    parser.add_argument(
        "--max-seconds", type=float, default=90, help="time limit per server"
    )
    parser.add_argument("--only", action="append", help="a contender name")
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()

    results: Dict[str, Any] = {"rounds": options.rounds, "batch": options.batch}
    results["servers"] = {}
    for start in _bench.servers(options.server):
        with start() as server:
            results["servers"][server.name] = measure(server, options)
    if not options.no_save:
        _bench.update_results("per_call", results)


def measure(server: _bench.Server, options: argparse.Namespace) -> Dict[str, Any]:
    calls, closers = {}, []
    for name, make in _bench.available_contenders(options.only):
        call, close = make(server.base_url)
        calls[name] = call
        closers.append(close)
    try:
        samples = _bench.interleave(
            calls,
            batch=options.batch,
            rounds=options.rounds,
            max_seconds=options.max_seconds,
        )
    finally:
        for close in closers:
            close()

    clients: Dict[str, Any] = {}
    for name, sample in samples.items():
        row = {
            "wall_us": _bench.median(sample["wall"]) * 1e6,
            "cpu_us": _bench.median(sample["cpu"]) * 1e6,
            "rounds": len(sample["wall"]),
        }
        for base in ("urllib3 PoolManager", "urllib3 HTTPConnectionPool"):
            if base in samples:
                theirs = samples[base]
                row[f"wall_vs_{base}"] = _bench.paired_ratio(
                    sample["wall"], theirs["wall"]
                )
                row[f"cpu_vs_{base}"] = _bench.paired_ratio(
                    sample["cpu"], theirs["cpu"]
                )
        if "http.client" in samples:
            row["wall_vs_http.client"] = _bench.paired_ratio(
                sample["wall"], samples["http.client"]["wall"]
            )
        clients[name] = row

    report(server, clients)
    return {"base_url": server.base_url, "clients": clients}


def report(server: _bench.Server, clients: Dict[str, Any]) -> None:
    print(f"\n## Per call, {server.name} at {server.base_url}\n")
    headers = [
        "client",
        "wall µs",
        "CPU µs",
        "x PoolManager",
        "x ConnectionPool",
        "x http.client",
    ]
    rows: List[List[str]] = []
    for name, row in clients.items():
        rows.append(
            [
                name,
                f"{row['wall_us']:.0f}",
                f"{row['cpu_us']:.0f}",
                ratio(row, "wall_vs_urllib3 PoolManager"),
                ratio(row, "wall_vs_urllib3 HTTPConnectionPool"),
                ratio(row, "wall_vs_http.client"),
            ]
        )
    _bench.print_table(headers, rows)
    ours = clients.get(_bench.OURS, {})
    goal = ours.get("wall_vs_urllib3 PoolManager")
    if goal is not None:
        verdict = "holds" if goal <= 1.05 else "MISSED"
        print(f"\ngoal: at most 1.05 x raw urllib3 per call: {goal:.3f} ({verdict})")


def ratio(row: Dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "-"


if __name__ == "__main__":
    main()
