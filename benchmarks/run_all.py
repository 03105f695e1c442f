"""Run every benchmark, store the results and redraw the chart.

Each benchmark runs as a child process of its own (so that one cannot warm
or pollute another), in this order: per call, threads, import time, cold
probe, memory, deadline. Each writes its section of
``benchmarks/results/latest.json``; at the end this script redraws
``docs/performance.svg`` from that file and prints which goals hold.

``--quick`` runs every benchmark with fewer rounds and calls (about three
minutes instead of about fifteen): enough to see that all of them work, not
enough for numbers to publish.

Run: ``python benchmarks/run_all.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any, Dict, List

import _bench

HERE = os.path.dirname(os.path.abspath(__file__))

QUICK = {
    "per_call.py": ["--rounds", "6"],
    "threads.py": ["--rounds", "2"],
    "import_time.py": ["--runs", "8"],
    "cold_probe.py": ["--runs", "8"],
    "memory.py": ["--calls", "10000", "--cap-calls", "50"],
    "deadline.py": ["--runs", "5"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()

    failed = []
    for script, quick in QUICK.items():
        argv = [sys.executable, os.path.join(HERE, script)]
        if options.quick:
            argv += quick
        print(f"\n# {' '.join(argv[1:])}", flush=True)
        if subprocess.run(argv, timeout=3600).returncode != 0:
            failed.append(script)

    results = _bench.load_results()
    chart = _bench.write_chart(results)
    if chart:
        print(f"\nchart: {os.path.relpath(chart, _bench.ROOT)}")
    print(f"results: {os.path.relpath(_bench.RESULTS, _bench.ROOT)}\n")
    for line in goals(results):
        print(line)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


def goals(results: Dict[str, Any]) -> List[str]:
    """One line per goal of the issue, with the ratio measured."""
    lines = []

    def verdict(ok: bool) -> str:
        return "holds" if ok else "MISSED"

    for server, data in results.get("per_call", {}).get("servers", {}).items():
        row = data["clients"].get(_bench.OURS, {})
        ratio = row.get("wall_vs_urllib3 PoolManager")
        if ratio is not None:
            lines.append(
                f"per call <= 1.05 x urllib3 ({server}): {ratio:.3f} "
                f"{verdict(ratio <= 1.05)}"
            )
    for server, data in results.get("threads", {}).get("servers", {}).items():
        row = data["clients"].get(_bench.OURS, {}).get("16", {})
        ratio = row.get("vs_urllib3")
        if ratio is not None:
            lines.append(
                f"16 threads >= 0.95 x urllib3 throughput ({server}): {ratio:.3f} "
                f"{verdict(ratio >= 0.95)}"
            )
    imports = results.get("import_time")
    if imports:
        ratio = imports["importtime_ratio"]
        lines.append(f"import <= 1.10 x urllib3: {ratio:.3f} {verdict(ratio <= 1.10)}")
    cold = results.get("cold_probe")
    if cold:
        row = cold["results"]["openapp-status CLI"]
        lines.append(
            f"cold probe <= 1.10 x bare one-shot: wall {row['wall_vs_bare']:.3f}, "
            f"CPU {row['cpu_vs_bare']:.3f} {verdict(row['wall_vs_bare'] <= 1.10)}"
        )
    memory = results.get("memory")
    if memory:
        growth = [
            case["growth_kib"]
            for name, case in memory["cases"].items()
            if "urllib3" not in name
        ]
        lines.append(
            f"no memory growth: worst {max(growth):+.0f} KiB "
            f"{verdict(max(growth) <= 512)}"
        )
    deadline = results.get("deadline")
    if deadline:
        worst = max(case["max_ms"] for case in deadline["cases"].values())
        lines.append(
            f"deadline overrun <= 50 ms: worst {worst:.1f} ms {verdict(worst <= 50)}"
        )
    return lines


if __name__ == "__main__":
    main()
