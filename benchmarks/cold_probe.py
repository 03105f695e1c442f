"""Wall time of a cold ``openapp-status`` probe, a fresh process each time.

A probe run by cron, a container health check or a shell loop is a new
process every few seconds, so what counts is the whole process: interpreter
start, imports, one request, exit. The commands run alternately (one of
each, ``--runs`` times) from a throwaway venv that holds urllib3 and this
package as a wheel install would (``_bench.clean_install``), against the
same loopback server (nginx when installed, else the fake backend):

* ``openapp-status --timeout 2 --base-url URL --quiet``: the console script;
* ``python -c "import openapp_status; openapp_status.get_status(URL)"``: the
  library's one-shot without the command line;
* ``python -c "import urllib3; urllib3.PoolManager().request('GET', URL)"``:
  the bare one-shot, the baseline;
* ``curl -sf URL``, and ``python -c pass`` (the interpreter's own start).

How to read the output: median wall milliseconds and median CPU
milliseconds (user + system, from ``wait4``) per command, and each one's
ratio to the bare urllib3 one-shot. The goal is a probe at most 1.10 times
the bare one-shot. With ``hyperfine`` installed the same commands are also
timed by it, as a cross-check (it runs them one after another, not
alternately).

Run: ``python benchmarks/cold_probe.py [--runs 40] [--server nginx|fake]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Tuple

import _bench

BASELINE = "bare urllib3 one-shot"
PROBE = "openapp-status CLI"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=["nginx", "fake"], default=None)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--no-hyperfine", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()

    start = _bench.servers(options.server or "all")[0]
    with start() as server, _bench.clean_install() as bin_dir:
        commands = probe_commands(bin_dir, server)
        results = measure(commands, options.runs)
        results["server"] = server.name
        if shutil.which("hyperfine") and not options.no_hyperfine:
            results["hyperfine_ms"] = hyperfine(commands, options.runs)
    report(results)
    if not options.no_save:
        _bench.update_results("cold_probe", results)


def probe_commands(bin_dir: str, server: _bench.Server) -> Dict[str, List[str]]:
    python = os.path.join(bin_dir, "python")
    base, url = server.base_url, server.status_url
    commands = {
        PROBE: [
            os.path.join(bin_dir, "openapp-status"),
            "--timeout",
            "2",
            "--base-url",
            base,
            "--quiet",
        ],
        "library one-shot": [
            python,
            "-c",
            f"import openapp_status; openapp_status.get_status({base!r})",
        ],
        BASELINE: [
            python,
            "-c",
            f"import urllib3; urllib3.PoolManager().request('GET', {url!r})",
        ],
        "python -c pass": [python, "-c", "pass"],
    }
    curl = shutil.which("curl")
    if curl:
        commands["curl -sf"] = [curl, "-sf", url]
    return commands


def measure(commands: Dict[str, List[str]], runs: int) -> Dict[str, Any]:
    env = _bench.clean_env()
    for command in commands.values():
        run(command, env)  # warm up, and fail early on a broken command
    wall: Dict[str, List[float]] = {name: [] for name in commands}
    cpu: Dict[str, List[float]] = {name: [] for name in commands}
    names = list(commands)
    for number in range(runs):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, used = run(commands[name], env)
            wall[name].append(elapsed)
            cpu[name].append(used)

    table = {}
    for name in commands:
        table[name] = {
            "wall_ms": _bench.median(wall[name]) * 1000,
            "cpu_ms": _bench.median(cpu[name]) * 1000,
            "wall_vs_bare": _bench.paired_ratio(wall[name], wall[BASELINE]),
            "cpu_vs_bare": _bench.paired_ratio(cpu[name], cpu[BASELINE]),
        }
    return {
        "runs": runs,
        "commands": {name: shlex.join(argv) for name, argv in commands.items()},
        "results": table,
    }


def run(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """Run one command; return its wall seconds and CPU seconds (user + sys)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    error = process.stderr.read()
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{argv} failed ({process.returncode}): {error!r}")
    return elapsed, usage.ru_utime + usage.ru_stime


def hyperfine(commands: Dict[str, List[str]], runs: int) -> Dict[str, float]:
    """The same commands timed by hyperfine: median wall milliseconds."""
    with tempfile.TemporaryDirectory() as tmp:
        export = os.path.join(tmp, "hyperfine.json")
        argv = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs)]
        argv += ["--export-json", export, "--style", "none"]
        argv += [shlex.join(command) for command in commands.values()]
        subprocess.run(
            argv,
            env=_bench.clean_env(),
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
        with open(export) as file:
            data = json.load(file)
    return {
        name: entry["median"] * 1000 for name, entry in zip(commands, data["results"])
    }


def report(results: Dict[str, Any]) -> None:
    print(f"\n## Cold probe, a fresh process per call ({results['runs']} runs)\n")
    headers = ["command", "wall ms", "CPU ms", "wall x bare", "CPU x bare"]
    if "hyperfine_ms" in results:
        headers.append("hyperfine ms")
    rows = []
    for name, row in results["results"].items():
        cells = [
            name,
            f"{row['wall_ms']:.1f}",
            f"{row['cpu_ms']:.1f}",
            f"{row['wall_vs_bare']:.3f}",
            f"{row['cpu_vs_bare']:.3f}",
        ]
        if "hyperfine_ms" in results:
            cells.append(f"{results['hyperfine_ms'][name]:.1f}")
        rows.append(cells)
    _bench.print_table(headers, rows)
    ratio = results["results"][PROBE]["wall_vs_bare"]
    verdict = "holds" if ratio <= 1.10 else "MISSED"
    print(
        f"\ngoal: a cold probe at most 1.10 x the bare one-shot: {ratio:.3f} "
        f"({verdict})"
    )


if __name__ == "__main__":
    main()
