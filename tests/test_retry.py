"""The retry engine, tested without sockets: policy, backoff, decisions, loops."""

from __future__ import annotations

import email.utils
from typing import List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapp_status import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    GatewayError,
    HttpError,
    OpenAppError,
    ProtocolError,
    RedirectError,
    RetryPolicy,
    SerializationError,
    Timeout,
    TLSError,
)
from openapp_status._retry import (
    RetryBudget,
    backoff,
    call_with_retries,
    parse_retry_after,
    retry_reason,
    wait_until_up,
)


class FakeTime:
    """A clock that only moves when the code under test sleeps or works."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: List[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def http_error(status: int, retry_after: Optional[float] = None) -> HttpError:
    return HttpError(
        f"HTTP {status}", status=status, headers={}, retry_after=retry_after
    )


def gateway(status: int = 503, retry_after: Optional[float] = None) -> GatewayError:
    return GatewayError("gateway", status=status, headers={}, retry_after=retry_after)


# -- RetryPolicy ------------------------------------------------------------


def test_policy_defaults_match_the_contract() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_retries=3,
        initial_backoff=0.25,
        multiplier=2.0,
        max_backoff=8.0,
        deadline=30.0,
        max_retry_after=60.0,
        jitter=True,
        retry_budget=10,
    )


def test_policy_none_makes_no_retries() -> None:
    assert RetryPolicy.none().max_retries == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("initial_backoff", -0.1),
        ("initial_backoff", float("nan")),
        ("max_backoff", float("inf")),
        ("multiplier", 0.5),
        ("multiplier", float("nan")),
        ("deadline", 0),
        ("deadline", -1),
        ("deadline", float("inf")),
        ("max_retry_after", -1),
        ("jitter", "yes"),
        ("retry_budget", 0),
        ("retry_budget", 2.5),
    ],
)
def test_policy_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        RetryPolicy(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 5  # type: ignore[misc]


# -- backoff ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "bound"),
    [
        (0, 0.25),
        (1, 0.5),
        (2, 1.0),
        (3, 2.0),
        (4, 4.0),
        (5, 8.0),
        (6, 8.0),
        (5000, 8.0),
    ],
)
def test_backoff_without_jitter_is_the_exact_bound(retry: int, bound: float) -> None:
    """min(max_backoff, initial_backoff * multiplier ** n)"""
    policy = RetryPolicy(jitter=False)
    assert backoff(policy, retry, random=lambda: 0.5) == bound


@given(
    retry=st.integers(min_value=0, max_value=2000),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    initial=st.floats(min_value=0.0, max_value=5.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
)
def test_full_jitter_stays_within_zero_and_the_bound(
    retry: int, draw: float, initial: float, multiplier: float, cap: float
) -> None:
    policy = RetryPolicy(
        initial_backoff=initial, multiplier=multiplier, max_backoff=cap
    )
    exact = RetryPolicy(
        initial_backoff=initial, multiplier=multiplier, max_backoff=cap, jitter=False
    )
    bound = backoff(exact, retry, random=lambda: 0.0)
    assert 0.0 <= backoff(policy, retry, random=lambda: draw) <= bound <= cap


# -- the retry decision -----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectError("refused"), True),
        (Timeout("read timed out"), True),
        (ProtocolError("reset"), True),
        (gateway(502), True),
        (gateway(504), True),
        (TLSError("bad certificate"), False),
        (RedirectError("loop"), False),
        (http_error(408), True),
        (http_error(425), True),
        (http_error(429), True),
        (http_error(500), True),
        (http_error(502), True),
        (http_error(503), True),
        (http_error(504), True),
        (http_error(400), False),
        (http_error(404), False),
        (http_error(409), False),
        (http_error(501), False),
        (http_error(505), False),
        (AuthError("no", status=401, headers={}), False),
        (AuthError("no", status=403, headers={}), False),
        (ApiError("no", status=422, headers={}), False),
        (ApiError("busy", status=503, headers={}), True),
        (SerializationError("not json"), False),
        (ConfigError("bad"), False),
    ],
    ids=lambda value: type(value).__name__ + str(getattr(value, "status", "")),
)
def test_retry_decision(error: OpenAppError, retried: bool) -> None:
    assert (retry_reason(error) is not None) is retried


# -- Retry-After ------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("5", 5.0),
        ("  7 ", 7.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("-1", None),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 99 Foo 2015", None),
    ],
)
def test_retry_after_parsing(value: Optional[str], seconds: Optional[float]) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


# -- the retry budget -------------------------------------------------------


def test_budget_allows_retries_while_more_than_half_the_tokens_remain() -> None:
    budget = RetryBudget(10)
    allowed = []
    for _ in range(8):
        budget.record_failure()
        allowed.append(budget.allows_retry())
    assert allowed == [True, True, True, True, False, False, False, False]


def test_budget_refills_by_a_tenth_per_success() -> None:
    budget = RetryBudget(10)
    for _ in range(5):
        budget.record_failure()
    assert not budget.allows_retry()
    budget.record_success()
    assert budget.allows_retry()


def test_no_budget_always_allows() -> None:
    budget = RetryBudget(None)
    for _ in range(100):
        budget.record_failure()
    assert budget.allows_retry()


# -- one call ---------------------------------------------------------------


class Script:
    """An attempt function that fails as scripted, and spends clock time."""

    def __init__(self, time: FakeTime, outcomes: List[object], cost: float = 0.01):
        self.time = time
        self.outcomes = list(outcomes)
        self.cost = cost
        self.deadlines: List[Optional[float]] = []

    def __call__(self, deadline_at: Optional[float]) -> str:
        self.deadlines.append(deadline_at)
        self.time.now += self.cost
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)


def run(
    policy: RetryPolicy, script: Script, budget: Optional[RetryBudget] = None
) -> str:
    return call_with_retries(
        script,
        policy,
        budget or RetryBudget(policy.retry_budget),
        clock=script.time.clock,
        sleep=script.time.sleep,
        random=lambda: 1.0,
    )


def test_retries_then_succeeds_with_the_backoff_delays() -> None:
    time = FakeTime()
    script = Script(time, [ConnectError("refused"), http_error(503), "up"])
    assert run(RetryPolicy(), script) == "up"
    assert time.sleeps == [0.25, 0.5]
    assert script.deadlines == [1030.0] * 3


def test_final_error_carries_attempts_and_elapsed() -> None:
    time = FakeTime()
    script = Script(time, [ConnectError("refused")] * 10)
    with pytest.raises(ConnectError) as info:
        run(RetryPolicy(max_retries=2), script)
    assert info.value.attempts == 3
    assert info.value.elapsed == pytest.approx(0.03 + 0.25 + 0.5)
    assert "3 attempts" in str(info.value)


def test_final_errors_are_not_retried() -> None:
    time = FakeTime()
    script = Script(time, [http_error(404)])
    with pytest.raises(HttpError) as info:
        run(RetryPolicy(), script)
    assert info.value.attempts == 1
    assert time.sleeps == []


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    time = FakeTime()
    script = Script(time, [http_error(429, retry_after=3.0), gateway(retry_after=500)])
    run(RetryPolicy(deadline=None, max_retry_after=20), script)
    assert time.sleeps == [3.0, 20.0]


def test_retry_after_past_the_deadline_fails_at_once() -> None:
    time = FakeTime()
    script = Script(time, [http_error(503, retry_after=120.0)])
    with pytest.raises(HttpError) as info:
        run(RetryPolicy(deadline=10), script)
    assert time.sleeps == []
    assert info.value.retry_after == 120.0
    assert "past the 10s deadline" in str(info.value)


def test_a_wait_that_would_end_past_the_deadline_is_not_started() -> None:
    time = FakeTime()
    policy = RetryPolicy(initial_backoff=4, deadline=5, jitter=False)
    script = Script(time, [ConnectError("refused")] * 5, cost=0.5)
    with pytest.raises(ConnectError, match="no time left"):
        run(policy, script)
    assert time.sleeps == [4.0]
    assert time.now - 1000.0 <= 5


def test_budget_stops_retries_and_says_so() -> None:
    time = FakeTime()
    budget = RetryBudget(4)
    policy = RetryPolicy(max_retries=5, retry_budget=4, deadline=None)
    script = Script(time, [ConnectError("refused")] * 20)
    with pytest.raises(ConnectError, match="retry budget") as info:
        run(policy, script, budget)
    assert info.value.attempts == 2


def test_sustained_outage_adds_few_retries_with_a_budget() -> None:
    time = FakeTime()
    policy = RetryPolicy(initial_backoff=0, deadline=None)
    budget = RetryBudget(policy.retry_budget)
    script = Script(time, [ConnectError("down")] * 10_000)
    for _ in range(100):
        with pytest.raises(ConnectError):
            run(policy, script, budget)
    attempts = 10_000 - len(script.outcomes)
    assert attempts <= 110  # at most 10% more than one attempt per call


@settings(max_examples=200, deadline=None)
@given(
    deadline=st.floats(min_value=0.05, max_value=60),
    costs=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=12),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=90)),
    draw=st.floats(min_value=0, max_value=1),
)
def test_elapsed_never_exceeds_the_deadline(
    deadline: float, costs: List[float], retry_after: Optional[float], draw: float
) -> None:
    """Attempts respect the deadline they are given; the loop adds no overrun."""
    time = FakeTime()
    start = time.now

    def attempt(deadline_at: Optional[float]) -> str:
        assert deadline_at is not None
        cost = costs.pop(0) if costs else 0.0
        if time.now + cost >= deadline_at:
            time.now = deadline_at
            raise Timeout("deadline ran out")
        time.now += cost
        raise http_error(503, retry_after=retry_after)

    policy = RetryPolicy(max_retries=10, deadline=deadline, retry_budget=None)
    with pytest.raises((Timeout, HttpError)) as info:
        call_with_retries(
            attempt,
            policy,
            RetryBudget(None),
            clock=time.clock,
            sleep=time.sleep,
            random=lambda: draw,
        )
    assert time.now <= start + deadline
    assert info.value.elapsed <= deadline + 1e-9


# -- the startup gate -------------------------------------------------------


def gate(script: Script, timeout: float, policy: Optional[RetryPolicy] = None) -> str:
    return wait_until_up(
        script,
        policy or RetryPolicy(),
        timeout,
        clock=script.time.clock,
        sleep=script.time.sleep,
        random=lambda: 1.0,
    )


def test_gate_ignores_max_retries_and_caps_waits_near_a_second() -> None:
    time = FakeTime()
    script = Script(time, [ConnectError("refused")] * 12 + ["up"])
    assert gate(script, 60, RetryPolicy(max_retries=0)) == "up"
    assert time.sleeps[:4] == [0.25, 0.5, 1.0, 1.0]
    assert max(time.sleeps) == 1.0


def test_gate_makes_a_last_probe_before_its_timeout() -> None:
    time = FakeTime()
    script = Script(time, [ConnectError("refused")] * 100, cost=0.0)
    with pytest.raises(ConnectError, match=r"not up after waiting 2.6s") as info:
        gate(script, 2.6)
    assert time.now - 1000.0 <= 2.6
    assert time.now - 1000.0 > 2.4
    assert info.value.attempts == len(script.deadlines)
    assert script.deadlines[-1] == pytest.approx(1002.6)


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad"),
        AuthError("no", status=401, headers={}),
        http_error(404),
        TLSError("bad certificate"),
        SerializationError("not json"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_gate_fails_at_once_when_waiting_cannot_help(error: OpenAppError) -> None:
    time = FakeTime()
    script = Script(time, [error])
    with pytest.raises(type(error)):
        gate(script, 30)
    assert time.sleeps == []
    assert len(script.deadlines) == 1
