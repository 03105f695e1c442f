"""How far past its deadline a call ends against a server that stalls.

The library promises that a call ends at most 50 ms after its deadline,
whatever the server does. Each case makes ``--runs`` calls with a Client
whose policy makes one attempt and has a ``--deadline`` (default 0.3 s),
and measures when each call ends, relative to the deadline:

* ``trickle head``: the fake backend sends the head one byte every 50 ms,
  so no single read ever times out;
* ``trickle body``: a head at once, then an endless body, a byte every 50 ms;
* ``delay 30 s``: the server says nothing for 30 seconds;
* ``blackhole connect``: a loopback socket that listens with a backlog of 0,
  already filled by another connection, never accepts: the connect hangs.

How to read the output: per case, the median and the worst overrun in
milliseconds (time from the deadline to the call's end; negative means it
ended early), and the error every call raised. The goal is a worst overrun
of at most 50 ms.

Run: ``python benchmarks/deadline.py [--runs 30] [--deadline 0.3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import time
from typing import Any, Dict, Iterator, List, Optional

import _bench

import openapp_status
from openapp_status.testing import FakeBackend, Reply

PROMISE_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deadline", type=float, default=0.3, help="seconds")
    parser.add_argument("--no-save", action="store_true")
    options = parser.parse_args()

    cases = {
        "trickle head": Reply.trickle_head(0.05),
        "trickle body": Reply.trickle_body(0.05, then=Reply.endless()),
        "delay 30 s": Reply.delay(30),
        "blackhole connect": None,
    }
    results: Dict[str, Any] = {"runs": options.runs, "deadline_s": options.deadline}
    results["cases"] = {}
    with FakeBackend("bench", "0.14.2") as backend:
        for name, reply in cases.items():
            results["cases"][name] = measure(backend, reply, options)
    report(results)
    if not options.no_save:
        _bench.update_results("deadline", results)


def measure(
    backend: FakeBackend, reply: Optional[Reply], options: argparse.Namespace
) -> Dict[str, Any]:
    policy = openapp_status.RetryPolicy(max_retries=0, deadline=options.deadline)
    overruns: List[float] = []
    errors = set()
    with contextlib.ExitStack() as stack:
        url = backend.url if reply is not None else stack.enter_context(blackhole())
        for _ in range(options.runs):
            if reply is not None:
                backend.enqueue(reply)
            # A new client per call: each attempt starts on a fresh connection.
            with openapp_status.Client(url, timeout=10.0, retry=policy) as client:
                started = time.monotonic()
                try:
                    client.status.get()
                    errors.add("no error")
                except openapp_status.OpenAppError as error:
                    errors.add(type(error).__name__)
                ended = time.monotonic()
            overruns.append((ended - started - options.deadline) * 1000)
            backend.close_connections()
            backend.clear_requests()
    return {
        "median_ms": statistics.median(overruns),
        "max_ms": max(overruns),
        "min_ms": min(overruns),
        "errors": sorted(errors),
    }


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A loopback URL whose connect hangs: a listener that never accepts.

    With a backlog of 0 the kernel queues one connection; once ours fills
    it, the handshakes that follow get no answer and a connect waits.
    """
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        filler.close()
        listener.close()


def report(results: Dict[str, Any]) -> None:
    print(
        f"\n## Deadline overrun, {results['runs']} calls per case, deadline "
        f"{results['deadline_s'] * 1000:.0f} ms\n"
    )
    rows = []
    for name, case in results["cases"].items():
        rows.append(
            [
                name,
                f"{case['median_ms']:.1f}",
                f"{case['max_ms']:.1f}",
                ", ".join(case["errors"]),
            ]
        )
    _bench.print_table(["case", "median ms", "worst ms", "raised"], rows)
    worst = max(case["max_ms"] for case in results["cases"].values())
    verdict = "holds" if worst <= PROMISE_MS else "MISSED"
    print(f"\npromise: at most {PROMISE_MS:.0f} ms over: worst {worst:.1f} ({verdict})")


if __name__ == "__main__":
    main()
