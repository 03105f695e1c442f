"""When to try again, and how long to wait first.

This module owns the retry policy, the backoff formula, the retry decision,
Retry-After parsing, the retry budget and the two loops that use them (one
call, and the startup gate). It knows nothing of sockets or urllib3: an
attempt is a function that returns a result or raises an OpenAppError, and
the clock, the sleep and the random source are passed in, so every decision
here can be tested without waiting.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Callable, MutableSet, Optional, TypeVar

from .errors import (
    ConfigError,
    GatewayError,
    HttpError,
    OpenAppError,
    RedirectError,
    TLSError,
    TransportError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses that mean "not now" rather than "no": worth another attempt.
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: The startup gate probes at most about once a second once it has backed off.
GATE_MAX_BACKOFF = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a call retries: how often, how long it waits, and when it gives up.

    Read it as one sentence: make up to ``max_retries`` retries after the
    first attempt, waiting ``initial_backoff`` seconds times ``multiplier``
    to the power of the retry number, at most ``max_backoff``, with full
    jitter, and never past ``deadline`` seconds for the whole call.
    """

    max_retries: int = 3
    initial_backoff: float = 0.25
    multiplier: float = 2.0
    max_backoff: float = 8.0
    deadline: Optional[float] = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True
    retry_budget: Optional[int] = 10

    def __post_init__(self) -> None:
        _check_int(self.max_retries, "max_retries", minimum=0)
        _check_seconds(self.initial_backoff, "initial_backoff")
        _check_seconds(self.max_backoff, "max_backoff")
        _check_seconds(self.max_retry_after, "max_retry_after")
        _check_seconds(self.multiplier, "multiplier")
        if self.multiplier < 1:
            raise ConfigError(
                f"RetryPolicy.multiplier must be >= 1, got {self.multiplier!r}"
            )
        if self.deadline is not None:
            _check_seconds(self.deadline, "deadline")
            if self.deadline <= 0:
                raise ConfigError(
                    f"RetryPolicy.deadline must be positive or None, "
                    f"got {self.deadline!r}"
                )
        if not isinstance(self.jitter, bool):
            raise ConfigError(f"RetryPolicy.jitter must be a bool, got {self.jitter!r}")
        if self.retry_budget is not None:
            _check_int(self.retry_budget, "retry_budget", minimum=1)

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_retries=0)


def backoff(policy: RetryPolicy, retry: int, random: Callable[[], float]) -> float:
    """Return the seconds to wait before retry number ``retry`` (0, 1, ...).

    The upper bound is ``min(max_backoff, initial_backoff * multiplier **
    retry)``. With ``jitter`` the delay is drawn uniformly from ``[0,
    bound]`` ("full jitter"), so that clients that failed together do not
    come back together; without it the delay is the bound itself.
    """
    try:
        bound = min(
            policy.max_backoff, policy.initial_backoff * policy.multiplier**retry
        )
    except OverflowError:
        bound = policy.max_backoff
    return bound * random() if policy.jitter else bound


def retry_reason(error: OpenAppError) -> Optional[str]:
    """Say why ``error`` is worth another attempt, or None if it is final."""
    # A certificate or a redirect policy does not change between attempts.
    if isinstance(error, (TLSError, RedirectError)):
        return None
    # A proxy in front of the backend answered for it: usually a restart.
    if isinstance(error, GatewayError):
        return f"gateway answered {error.status}"
    # No answer at all: refused, reset, timed out, cut short.
    if isinstance(error, TransportError):
        return error.message
    # The backend asked us to come back later, or failed for a moment.
    if isinstance(error, HttpError) and error.status in RETRIED_STATUSES:
        return f"HTTP {error.status}"
    # Anything else (bad request, auth, unreadable body) will fail again.
    return None


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Read a Retry-After header as seconds from ``now`` (a Unix time).

    Both forms of RFC 9110 section 10.2.3 are understood: delay-seconds and
    an HTTP-date. A date in the past means "now" (0). Anything else,
    including negative or non-finite numbers, is ignored (None).
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    from email.utils import mktime_tz, parsedate_tz  # rare: most servers send seconds

    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        when = mktime_tz(parsed)
    except (OverflowError, ValueError):
        return None
    return max(0.0, when - now)


class RetryBudget:
    """A token bucket that throttles retries when most attempts fail.

    It holds ``capacity`` tokens. A failed attempt takes one away, a
    successful call gives back 0.1, and a retry is allowed only while more
    than half the tokens are left. In a long outage that caps retries at a
    few per client instead of multiplying the load by ``max_retries + 1``
    (the retry throttling of gRPC). ``None`` means no budget.
    """

    def __init__(self, capacity: Optional[int]) -> None:
        self.capacity = capacity
        self._tokens = float(capacity or 0)
        self._lock = threading.Lock()
        _budgets.add(self)

    def record_success(self) -> None:
        if self.capacity is not None and self._tokens < self.capacity:
            with self._lock:
                self._tokens = min(float(self.capacity), self._tokens + 0.1)

    def record_failure(self) -> None:
        if self.capacity is not None:
            with self._lock:
                self._tokens = max(0.0, self._tokens - 1.0)

    def allows_retry(self) -> bool:
        return self.capacity is None or self._tokens > self.capacity / 2


#: Every live budget, so that a forked child can replace their locks: a
#: thread of the parent may have held one at the fork.
_budgets: MutableSet[RetryBudget] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for budget in list(_budgets):
        budget._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

Attempt = Callable[[Optional[float]], T]


def call_with_retries(
    attempt: Attempt[T],
    policy: RetryPolicy,
    budget: RetryBudget,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    random: Callable[[], float],
) -> T:
    """Run ``attempt(deadline_at)`` until it succeeds or may not try again.

    ``deadline_at`` is the ``clock()`` time by which the whole call must
    end, or None; the attempt clamps its own timeouts to it. The error that
    ends the call carries the number of attempts and the time spent.
    """
    start = clock()
    deadline_at = None if policy.deadline is None else start + policy.deadline
    attempts = 0
    while True:
        attempts += 1
        try:
            result = attempt(deadline_at)
        except OpenAppError as error:
            reason = retry_reason(error)
            if reason is not None:
                budget.record_failure()
            stop = _why_stop(error, reason, attempts, policy, budget)
            delay = 0.0
            if stop is None:
                delay = _delay(error, policy, attempts - 1, random)
                if deadline_at is not None and clock() + delay >= deadline_at:
                    stop = _past_deadline(error, delay, policy)
            if stop is not None:
                _finish(error, stop, attempts, clock() - start)
                raise
            logger.info(
                "attempt %d failed (%s); retrying in %.2fs", attempts, reason, delay
            )
            sleep(delay)
        else:
            budget.record_success()
            return result


def wait_until_up(
    attempt: Attempt[T],
    policy: RetryPolicy,
    timeout: float,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    random: Callable[[], float],
) -> T:
    """Probe until ``attempt`` succeeds or ``timeout`` seconds have passed.

    The startup gate: it ignores ``max_retries``, the deadline and the
    budget of the policy, backs off from ``initial_backoff`` to about one
    probe a second, and shortens its last wait so that a final probe still
    happens before ``timeout``. It stops at once on an error that waiting
    cannot fix.
    """
    start = clock()
    end = start + timeout
    probes = 0
    last = False
    while True:
        probes += 1
        try:
            result = attempt(end)
        except OpenAppError as error:
            now = clock()
            if retry_reason(error) is None:
                _finish(error, None, probes, now - start)
                raise
            left = end - now
            if left <= 0 or last:
                note = f"backend not up after waiting {timeout:g}s ({probes} probes)"
                _finish(error, note, probes, now - start)
                raise
            if probes == 1:
                logger.info(
                    "waiting up to %gs for the backend: %s", timeout, error.message
                )
            gate = _gate_policy(policy)
            delay = _delay(error, gate, probes - 1, random)
            if delay >= left:
                # Keep a moment for one last probe rather than sleep to the end.
                delay = max(0.0, left - min(left / 2, 0.1))
                last = True
            sleep(delay)
        else:
            if probes > 1:
                logger.info(
                    "backend up after %.2fs and %d probes", clock() - start, probes
                )
            return result


def _why_stop(
    error: OpenAppError,
    reason: Optional[str],
    attempts: int,
    policy: RetryPolicy,
    budget: RetryBudget,
) -> Optional[str]:
    """Return why the call must stop now ("" for a final error), or None."""
    if reason is None or attempts > policy.max_retries:
        return ""
    if not budget.allows_retry():
        return "retries stopped by the retry budget"
    return None


def _delay(
    error: OpenAppError,
    policy: RetryPolicy,
    retry: int,
    random: Callable[[], float],
) -> float:
    retry_after: Optional[float] = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    return backoff(policy, retry, random)


def _past_deadline(error: OpenAppError, delay: float, policy: RetryPolicy) -> str:
    if getattr(error, "retry_after", None) is not None:
        return (
            f"Retry-After of {delay:g}s reaches past the {policy.deadline:g}s deadline"
        )
    return f"no time left in the {policy.deadline:g}s deadline for another attempt"


def _gate_policy(policy: RetryPolicy) -> RetryPolicy:
    cap = min(policy.max_backoff, GATE_MAX_BACKOFF)
    return RetryPolicy(
        initial_backoff=min(policy.initial_backoff, cap),
        multiplier=policy.multiplier,
        max_backoff=cap,
        max_retry_after=policy.max_retry_after,
        jitter=policy.jitter,
    )


def _finish(
    error: OpenAppError, note: Optional[str], attempts: int, elapsed: float
) -> None:
    """Stamp the call's totals on the error that ends it."""
    error.attempts = attempts
    error.elapsed = elapsed
    if note:
        error.message = f"{error.message}; {note}"
        error.args = (error.message,)


def _check_int(value: object, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"RetryPolicy.{name} must be an integer >= {minimum}, got {value!r}"
        )


def _check_seconds(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"RetryPolicy.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"RetryPolicy.{name} must be finite and >= 0, got {value!r}")
