"""The watchdog that holds every attempt to its deadline.

urllib3's read timeout applies to each socket read, so a server that sends
one byte just before each read times out can hold a request open without
end. This module closes that gap: an attempt arms a ``Watch`` with the
monotonic time by which it must end, the connection classes in
``_transport`` register each socket the attempt uses, and one daemon thread
per process shuts those sockets down when the time comes. The blocked read
then returns at once and ``_transport`` reports a Timeout.

The thread starts on the first armed watch, never at import or when a
client is built, and a forked child starts its own. It sleeps until the
earliest deadline among the attempts in flight, so a busy process wakes it
about once per deadline, not once per call.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Dict, List, Optional

_local = threading.local()


class Watch:
    """One attempt's deadline and the sockets it is allowed to hold open."""

    __slots__ = ("expires", "fired", "reused", "sockets")

    def __init__(self, expires: Optional[float]) -> None:
        self.expires = expires
        self.sockets: List[socket.socket] = []
        self.fired = False
        self.reused = False

    def add(self, sock: socket.socket) -> None:
        if self.fired:
            _shutdown(sock)
        self.sockets.append(sock)


class _Watchdog:
    def __init__(self) -> None:
        # Calls take the plain lock; only the watchdog thread waits on the
        # condition, which is cheaper than entering a Condition on every call.
        self.lock = threading.Lock()
        self.wakeup = threading.Condition(self.lock)
        self.watches: Dict[int, Watch] = {}
        self.wake_at: Optional[float] = None
        self.thread: Optional[threading.Thread] = None

    def add(self, watch: Watch) -> None:
        expires = watch.expires
        assert expires is not None
        with self.lock:
            self.watches[id(watch)] = watch
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="openapp-status-watchdog", daemon=True
                )
                self.thread.start()
            if self.wake_at is None or expires < self.wake_at:
                self.wake_at = expires
                self.wakeup.notify()

    def remove(self, watch: Watch) -> None:
        with self.lock:
            self.watches.pop(id(watch), None)

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                due = [w for w in self.watches.values() if w.expires <= now]  # type: ignore[operator]
                for watch in due:
                    del self.watches[id(watch)]
                    watch.fired = True
                    for sock in watch.sockets:
                        _shutdown(sock)
                pending = [w.expires for w in self.watches.values()]
                self.wake_at = min(pending) if pending else None  # type: ignore[type-var]
                timeout = None if self.wake_at is None else self.wake_at - now
                self.wakeup.wait(timeout)


_watchdog = _Watchdog()


def arm(expires: Optional[float]) -> Watch:
    """Start watching the calling thread's attempt; ``None`` only records."""
    watch = Watch(expires)
    _local.watch = watch
    if expires is not None:
        _watchdog.add(watch)
    return watch


def disarm(watch: Watch) -> None:
    """Stop watching; after this returns, no socket of the attempt is touched."""
    _local.watch = None
    if watch.expires is not None:
        _watchdog.remove(watch)


def current() -> Optional[Watch]:
    """The watch armed by the calling thread, if any."""
    return getattr(_local, "watch", None)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket method, even on an SSLSocket: it ends the blocked read
    # without touching the TLS state that the reading thread is using.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _after_fork_in_child() -> None:
    global _watchdog
    _watchdog = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
