"""The balancer alone: shares within a tier, caps and spill-over, circuits, on a fake clock."""

from __future__ import annotations

from collections import Counter

import pytest

from reconciler.chat.balance import (
    Balancer,
    CircuitPolicy,
    CircuitState,
    Full,
    Hold,
    Pick,
    Unavailable,
)
from reconciler.desired import DesiredInstance


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def inst(name: str, priority: int = 1, weight: int = 1, cap: int | None = None) -> DesiredInstance:
    return DesiredInstance(
        name=name, url=f"http://{name}", priority=priority, weight=weight, max_concurrent=cap
    )


A, B = inst("a"), inst("b")
LOW = inst("low", priority=5)
NO_LATENCY: dict[str, float | None] = {}


def start(balancer: Balancer, candidates: list[DesiredInstance], n: int) -> Counter[str]:
    """Start `n` requests that all stay outstanding; count where each went."""
    went: Counter[str] = Counter()
    for _ in range(n):
        choice = balancer.choose(candidates, NO_LATENCY)
        assert isinstance(choice, Pick)
        balancer.started(choice)
        went[choice.instance.name] += 1
    return went


def test_concurrent_requests_are_shared_evenly_within_the_best_tier() -> None:
    balancer = Balancer(FakeClock())
    assert start(balancer, [A, B, LOW], 24) == {"a": 12, "b": 12}


def test_the_previous_policy_sends_everything_to_the_best_instance() -> None:
    balancer = Balancer(FakeClock(), policy="first")
    assert start(balancer, [A, B, LOW], 24) == {"a": 24}


def test_weight_scales_the_share() -> None:
    balancer = Balancer(FakeClock())
    heavy = inst("heavy", weight=3)
    assert start(balancer, [heavy, A], 40) == {"heavy": 30, "a": 10}


def test_ties_go_to_the_faster_first_token_then_to_the_lower_probe_latency() -> None:
    clock = FakeClock()
    balancer = Balancer(clock)
    balancer.answered("a", 0.50)
    balancer.answered("b", 0.10)
    choice = balancer.choose([A, B], {"a": 1.0, "b": 9.0})
    assert isinstance(choice, Pick) and choice.instance is B
    even = Balancer(clock)
    choice = even.choose([A, B], {"a": 9.0, "b": 1.0})
    assert isinstance(choice, Pick) and choice.instance is B


def test_the_moving_average_follows_recent_samples() -> None:
    balancer = Balancer(FakeClock(), smoothing=0.5)
    balancer.answered("a", 1.0)
    balancer.answered("a", 3.0)
    assert balancer.load("a").ttft == pytest.approx(2.0)


def test_requests_beyond_the_caps_of_the_best_tier_spill_to_the_next() -> None:
    balancer = Balancer(FakeClock())
    capped = [inst("a", cap=2), inst("b", cap=1), LOW]
    assert start(balancer, capped, 5) == {"a": 2, "b": 1, "low": 2}


def test_when_every_tier_is_at_its_cap_the_request_must_wait() -> None:
    balancer = Balancer(FakeClock())
    capped = [inst("a", cap=1), inst("low", priority=5, cap=1)]
    start(balancer, capped, 2)
    assert isinstance(balancer.choose(capped, NO_LATENCY), Full)
    balancer.finished("low", trial=False)
    choice = balancer.choose(capped, NO_LATENCY)
    assert isinstance(choice, Pick) and choice.instance.name == "low"


def test_a_lower_tier_gets_nothing_while_the_best_tier_has_room() -> None:
    balancer = Balancer(FakeClock())
    went = start(balancer, [inst("a", cap=100), LOW], 100)
    assert went == {"a": 100}


def test_consecutive_failures_open_the_circuit_and_a_success_resets_the_count() -> None:
    clock = FakeClock()
    balancer = Balancer(clock, circuit_policy=CircuitPolicy(threshold=3))
    for _ in range(2):
        balancer.failed("a", "busy (HTTP 503)", at_once=False)
    balancer.answered("a", 0.1)
    for _ in range(2):
        balancer.failed("a", "busy (HTTP 503)", at_once=False)
    assert balancer.circuit("a").state(clock.now) is CircuitState.CLOSED
    balancer.failed("a", "busy (HTTP 503)", at_once=False)
    assert balancer.circuit("a").state(clock.now) is CircuitState.OPEN
    choice = balancer.choose([A, B], NO_LATENCY)
    assert isinstance(choice, Pick) and choice.instance is B
    assert [(i.name, reason) for i, reason in choice.open] == [
        ("a", "circuit open after 3 failures (last: busy (HTTP 503)); next trial in 1.0s")
    ]


def test_a_refused_connection_opens_the_circuit_at_once() -> None:
    clock = FakeClock()
    balancer = Balancer(clock)
    balancer.failed("a", "unreachable", at_once=True)
    assert isinstance(balancer.choose([A], NO_LATENCY), Unavailable)


def test_after_the_cool_down_exactly_one_trial_goes_and_its_success_closes() -> None:
    clock = FakeClock()
    balancer = Balancer(clock, circuit_policy=CircuitPolicy(cool_down=2.0))
    balancer.failed("a", "unreachable", at_once=True)
    clock.now += 2.0
    trial = balancer.choose([A, B], NO_LATENCY)
    assert isinstance(trial, Pick) and trial.instance is A and trial.trial
    balancer.started(trial)
    after = start(balancer, [A, B], 3)
    assert after == {"b": 3}  # nobody waits on the instance during its trial
    balancer.answered("a", 0.3)  # a request from before the circuit opened: no verdict
    assert balancer.circuit("a").state(clock.now) is CircuitState.OPEN
    balancer.answered("a", 0.2, trial=True)
    assert balancer.circuit("a").state(clock.now) is CircuitState.CLOSED
    assert start(balancer, [A, B], 2)["a"] >= 1


def test_a_failed_trial_reopens_with_a_longer_cool_down_up_to_the_maximum() -> None:
    clock = FakeClock()
    policy = CircuitPolicy(cool_down=1.0, max_cool_down=3.0, backoff=2.0)
    balancer = Balancer(clock, circuit_policy=policy)
    balancer.failed("a", "unreachable", at_once=True)
    waits = []
    for _ in range(3):
        circuit = balancer.circuit("a")
        waits.append(circuit.cool_down)
        clock.now += circuit.cool_down
        trial = balancer.choose([A], NO_LATENCY)
        assert isinstance(trial, Pick) and trial.trial
        balancer.started(trial)
        balancer.failed("a", "unreachable", at_once=True)
        balancer.finished("a", trial=True)
    assert waits == [1.0, 2.0, 3.0]
    assert balancer.circuit("a").cool_down == 3.0


def test_a_trial_that_ends_without_a_verdict_lets_another_one_go() -> None:
    clock = FakeClock()
    balancer = Balancer(clock)
    balancer.failed("a", "unreachable", at_once=True)
    clock.now += 1.0
    trial = balancer.choose([A], NO_LATENCY)
    assert isinstance(trial, Pick)
    balancer.started(trial)
    assert isinstance(balancer.choose([A], NO_LATENCY), Unavailable)
    balancer.finished("a", trial=True)  # e.g. the caller stopped reading, or HTTP 400
    again = balancer.choose([A], NO_LATENCY)
    assert isinstance(again, Pick) and again.trial


def test_the_snapshot_shows_load_and_circuits() -> None:
    clock = FakeClock()
    balancer = Balancer(clock)
    start(balancer, [inst("a", cap=8)], 3)
    balancer.failed("b", "timed out", at_once=False)
    shown = balancer.snapshot([inst("a", cap=8), B])
    assert (shown["a"].outstanding, shown["a"].limit, shown["a"].circuit) == (3, 8, "closed")
    assert (shown["b"].failures, shown["b"].last_failure) == (1, "timed out")


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0}, {"cool_down": 0}, {"cool_down": 5, "max_cool_down": 1}]
)
def test_unusable_circuit_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitPolicy(**kwargs)  # type: ignore[arg-type]


# The adaptive policy: windows learned from answers, the rest held within the best tier.


def adaptive(clock: FakeClock | None = None) -> Balancer:
    return Balancer(clock or FakeClock(), policy="adaptive")


def go(balancer: Balancer, candidates: list[DesiredInstance]) -> tuple[str, int]:
    choice = balancer.choose(candidates, NO_LATENCY)
    assert isinstance(choice, Pick)
    return choice.instance.name, balancer.started(choice)


def test_adaptive_sends_one_chat_per_unmeasured_instance_then_holds_in_the_best_tier() -> None:
    balancer = adaptive()
    assert start(balancer, [A, B, LOW], 2) == {"a": 1, "b": 1}
    assert isinstance(balancer.choose([A, B, LOW], NO_LATENCY), Hold)  # not the lower tier


def test_adaptive_fills_a_window_as_it_widens() -> None:
    balancer = adaptive()
    name, in_flight = go(balancer, [A])
    assert balancer.answered(name, 0.02, in_flight=in_flight) == 1  # window 1 -> 2
    assert go(balancer, [A]) == ("a", 2)
    assert isinstance(balancer.choose([A], NO_LATENCY), Hold)


def test_adaptive_still_spills_past_maxconcurrent_to_the_next_tier() -> None:
    balancer = adaptive()
    capped = inst("a", cap=1)
    assert go(balancer, [capped, LOW]) == ("a", 1)
    assert go(balancer, [capped, LOW]) == ("low", 1)  # at its cap: full, not held
    assert isinstance(balancer.choose([capped, LOW], NO_LATENCY), Hold)  # low at its window


def test_adaptive_prefers_the_instance_with_the_least_expected_completion_time() -> None:
    balancer = adaptive()
    for name, seconds in (("a", 0.4), ("b", 0.2)):
        balancer.pace(name).window = 4
        balancer.replied(name, seconds)
    # b: twice as fast, so it takes chats until its drain time passes a's
    went = start(balancer, [A, B], 6)
    assert went == {"b": 4, "a": 2}


def test_adaptive_weight_tilts_the_choice_among_instances_with_room() -> None:
    balancer = adaptive()
    heavy = inst("heavy", weight=3)
    for name in ("a", "heavy"):
        balancer.pace(name).window = 8
    assert start(balancer, [A, heavy], 8) == {"heavy": 6, "a": 2}


def test_adaptive_shows_windows_and_pace_in_the_snapshot() -> None:
    balancer = adaptive()
    balancer.pace("a").window = 12
    balancer.replied("a", 0.5)
    shown = balancer.snapshot([inst("a", cap=8), B])
    assert (shown["a"].window, shown["a"].seconds_per_reply) == (8, 0.5)  # capped for show
    assert (shown["b"].window, shown["b"].seconds_per_reply) == (1, None)
    static = Balancer(FakeClock()).snapshot([A])["a"]
    assert (static.window, static.seconds_per_reply) == (None, None)


def test_a_busy_answer_narrows_the_window_under_any_policy() -> None:
    balancer = adaptive()
    balancer.pace("a").window = 6
    balancer.busy("a", in_flight=3)
    assert balancer.pace("a").window == 2
