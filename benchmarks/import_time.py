"""Import time of ``openapp_status`` against ``urllib3`` alone.

Both are imported in fresh interpreters of a throwaway venv that holds them
as a wheel install would (copied and byte-compiled, see
``_bench.clean_install``), so neither pays for compiling sources nor for a
development install's start-up hook. Runs alternate (urllib3, ours, urllib3,
...) ``--runs`` times. Two measures:

* ``python -X importtime -c "import X"``: the cumulative microseconds of the
  top-level module, as Python reports them; ours includes urllib3's, since
  we import it;
* the wall time of the whole ``python -c "import X"`` process, and of
  ``python -c pass`` for the interpreter's own start.

How to read the output: the medians, the ratio ours / urllib3 (the goal is
at most 1.10 on the importtime measure), and the modules only ours imports,
with their median self time: that list is where import time can be saved.

Run: ``python benchmarks/import_time.py [--runs 30]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from typing import Any, Dict, List, Tuple

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()

    with _bench.clean_install() as bin_dir:
        python = os.path.join(bin_dir, "python")
        results = measure(python, options.runs)
    report(results)
    if not options.no_save:
        _bench.update_results("import_time", results)


def measure(python: str, runs: int) -> Dict[str, Any]:
    env = _bench.clean_env()
    cumulative: Dict[str, List[int]] = {"urllib3": [], "openapp_status": []}
    selves: Dict[str, Dict[str, List[int]]] = {"urllib3": {}, "openapp_status": {}}
    wall: Dict[str, List[float]] = {"pass": [], "urllib3": [], "openapp_status": []}
    for _ in range(2):  # warm the page cache
        importtime(python, "openapp_status", env)
    for _ in range(runs):
        for module in ("urllib3", "openapp_status"):
            rows = importtime(python, module, env)
            cumulative[module].append(rows[module][1])
            for name, (own, _) in rows.items():
                selves[module].setdefault(name, []).append(own)
        for module in ("pass", "urllib3", "openapp_status"):
            code = "pass" if module == "pass" else f"import {module}"
            started = time.perf_counter()
            subprocess.run([python, "-c", code], env=env, check=True, timeout=60)
            wall[module].append(time.perf_counter() - started)

    ours = statistics.median(cumulative["openapp_status"])
    theirs = statistics.median(cumulative["urllib3"])
    extra = {
        name: statistics.median(values)
        for name, values in selves["openapp_status"].items()
        if name not in selves["urllib3"]
    }
    walls = {name: statistics.median(values) * 1000 for name, values in wall.items()}
    return {
        "runs": runs,
        "importtime_us": {"openapp_status": ours, "urllib3": theirs},
        "importtime_ratio": _bench.paired_ratio(
            [float(x) for x in cumulative["openapp_status"]],
            [float(x) for x in cumulative["urllib3"]],
        ),
        "wall_ms": walls,
        "wall_ratio": walls["openapp_status"] / walls["urllib3"],
        "only_ours_self_us": dict(sorted(extra.items(), key=lambda kv: -kv[1])),
        "only_ours_total_us": sum(extra.values()),
    }


def importtime(
    python: str, module: str, env: Dict[str, str]
) -> Dict[str, Tuple[int, int]]:
    """Run ``-X importtime``; return {module: (self_us, cumulative_us)}."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    rows = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = line.split(":", 1)[1].split("|")
        rows[name.strip()] = (int(own), int(total))
    return rows


def report(results: Dict[str, Any]) -> None:
    times = results["importtime_us"]
    walls = results["wall_ms"]
    print(f"\n## Import time (median of {results['runs']} runs)\n")
    _bench.print_table(
        ["measure", "urllib3", "openapp_status", "ratio"],
        [
            [
                "-X importtime, cumulative ms",
                f"{times['urllib3'] / 1000:.1f}",
                f"{times['openapp_status'] / 1000:.1f}",
                f"{results['importtime_ratio']:.3f}",
            ],
            [
                f"process wall ms (python -c pass: {walls['pass']:.1f})",
                f"{walls['urllib3']:.1f}",
                f"{walls['openapp_status']:.1f}",
                f"{results['wall_ratio']:.3f}",
            ],
        ],
    )
    print(
        f"\nmodules only openapp_status imports: "
        f"{results['only_ours_total_us'] / 1000:.1f} ms of self time"
    )
    for name, own in list(results["only_ours_self_us"].items())[:15]:
        print(f"  {own / 1000:6.2f} ms  {name}")
    ratio = results["importtime_ratio"]
    verdict = "holds" if ratio <= 1.10 else "MISSED"
    print(f"\ngoal: import at most 1.10 x urllib3's: {ratio:.3f} ({verdict})")


if __name__ == "__main__":
    main()
