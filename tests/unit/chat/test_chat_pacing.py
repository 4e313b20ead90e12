"""Learning an instance's window and pace from its answers: pure, no clock."""

from __future__ import annotations

import pytest

from reconciler.chat.pacing import INITIAL_WINDOW, QUEUE_MARGIN, WIDEN_AFTER, Pace, queued

PROMPT = 0.02  # the first token of a chat that did not queue


def test_slow_start_doubles_the_window_at_each_prompt_answer_at_the_window() -> None:
    pace = Pace()
    assert pace.window == INITIAL_WINDOW == 1
    pace.first_token(PROMPT, in_flight=1)
    assert pace.window == 2
    pace.first_token(PROMPT, in_flight=2)
    assert pace.window == 4
    pace.first_token(PROMPT, in_flight=3)  # below the window: proves nothing new
    assert pace.window == 4


def test_a_queued_first_token_narrows_the_window_below_its_place_and_ends_slow_start() -> None:
    pace = Pace()
    for in_flight in (1, 2, 4):
        pace.first_token(PROMPT, in_flight)
    assert pace.window == 8
    pace.first_token(0.2, in_flight=5)  # waited for a slot: the server has fewer than 5
    assert (pace.window, pace.slow_start) == (4, False)
    pace.first_token(0.3, in_flight=8)  # a later report of an earlier, deeper queue
    assert pace.window == 4


def test_after_slow_start_some_windows_worth_of_prompt_answers_widen_by_one() -> None:
    pace = Pace()
    pace.first_token(PROMPT, 1)
    pace.first_token(PROMPT, 2)
    pace.first_token(0.5, 4)
    assert pace.window == 3
    for _ in range(WIDEN_AFTER * 3 - 1):
        pace.first_token(PROMPT, 3)
        pace.first_token(PROMPT, 2)  # below the window: no evidence either way
    assert pace.window == 3
    pace.first_token(PROMPT, 3)
    assert pace.window == 4


def test_the_window_never_drops_below_one() -> None:
    pace = Pace()
    pace.first_token(PROMPT, 1)
    pace.busy(in_flight=1)  # refused with nothing else in flight: other clients fill it
    pace.first_token(9.0, in_flight=1)
    assert pace.window == 1


def test_a_busy_answer_narrows_like_a_queued_one() -> None:
    pace = Pace()
    for in_flight in (1, 2, 4):
        pace.first_token(PROMPT, in_flight)
    pace.busy(in_flight=7)
    assert (pace.window, pace.slow_start) == (6, False)


def test_a_reply_handed_over_whole_still_shows_its_queue_at_the_end() -> None:
    """Through a buffering proxy the first token comes with the last: the time to first token
    then hides the queue; the reply time less the generation time the server reports shows it."""
    pace = Pace()
    pace.first_token(0.20, in_flight=1)  # whole replies: 0.02 s wait + 0.18 s generation
    pace.replied(0.20, generating=0.18, in_flight=1, smoothing=0.5)
    pace.first_token(0.21, in_flight=2)
    pace.replied(0.21, generating=0.18, in_flight=2, smoothing=0.5)
    assert pace.window == 4
    pace.first_token(0.38, in_flight=3)  # not late by the first token alone (2 x 0.2 + margin)
    assert pace.window == 4
    pace.replied(0.38, generating=0.18, in_flight=3, smoothing=0.5)  # waited 0.2 s, not 0.02
    assert (pace.window, pace.slow_start) == (2, False)
    assert pace.reply == pytest.approx(0.2)  # its time in the queue is not the instance's pace


def test_without_a_reported_generation_time_only_the_pace_is_learned() -> None:
    pace = Pace()
    pace.replied(1.0, generating=None, in_flight=3, smoothing=0.5)
    pace.replied(3.0, generating=None, in_flight=3, smoothing=0.5)
    assert pace.reply == pytest.approx(2.0)
    assert (pace.window, pace.least_wait) == (INITIAL_WINDOW, None)


@pytest.mark.parametrize(
    ("wait", "least", "late"),
    [
        (0.5, None, False),  # nothing to compare with yet
        (2 * 0.1 + QUEUE_MARGIN, 0.1, False),
        (2 * 0.1 + QUEUE_MARGIN + 0.001, 0.1, True),
        (QUEUE_MARGIN + 0.001, 0.0, True),
    ],
)
def test_late_means_over_twice_the_least_wait_plus_a_margin(
    wait: float, least: float | None, late: bool
) -> None:
    assert queued(wait, least) is late
