"""What one instance can take, learned from its answers: its window of chats, and its pace.

Pure bookkeeping without a clock: the caller reports, for each chat, how many chats of this
process were in flight on the instance when it went out (itself included), its time to first
token, and the time of its whole reply. All 200 chats of a burst arrive before any of this is
known, so the `adaptive` policy (chat/balance.py) holds the chats beyond each instance's window in
the fleet and gives each to the instance that frees a place first: a twice faster instance frees
places twice as often and so takes twice the chats, whatever the weights say.

- **Window**: the chats to keep in flight on an instance, an estimate of how many it generates for
  at once (a server's generation slots, OLLAMA_NUM_PARALLEL). Beyond them a server queues, and a
  chat queued on a slow instance waits there while a fast one may already be free.
  - A chat that went out as the n-th in flight and was not queued proves n slots; a queued one,
    or a busy answer (HTTP 429/503), proves fewer than n: the window becomes at most n - 1, and
    never less than 1.
  - Queued means it waited more than `QUEUE_FACTOR` times the least wait seen on the instance
    plus `QUEUE_MARGIN` seconds (a queued chat waits for another's whole reply). The wait is
    judged twice: at the first token (its time), and at the end of the reply (its time less the
    generation time the server reports, `eval_duration`), which still tells when a proxy or
    transport hands the reply over in one piece, first token and all at the end.
  - Start: the window is `INITIAL_WINDOW`; until the first queued chat, each first token at the
    window doubles it (slow start), so a server with 4 slots is found in three answers. After
    that a window's worth of first tokens at the window widens it by one, to find slots that were
    busy with other clients' chats.
- **Pace**: a moving average of the seconds of a whole reply.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_WINDOW = 1
"""Chats in flight on an instance before its first answer."""

WIDEN_AFTER = 8
"""After slow start, prompt answers at the window, in windows, before it widens by one."""

QUEUE_FACTOR = 2.0
QUEUE_MARGIN = 0.05
"""A first token later than QUEUE_FACTOR x the fastest seen + QUEUE_MARGIN seconds was queued."""


@dataclass(slots=True)
class Pace:
    """The window and pace of one instance; see the module docstring."""

    window: int = INITIAL_WINDOW
    slow_start: bool = True
    streak: int = 0  # prompt answers at the window since it last changed (after slow start)
    fastest: float | None = None  # the quickest first token seen: no queue in front of it
    least_wait: float | None = None  # the least reply time less generation time seen
    reply: float | None = None  # moving average of the seconds of a whole reply

    def first_token(self, seconds: float, in_flight: int) -> None:
        """A chat that went out as the `in_flight`-th got its first token after `seconds`."""
        if queued(seconds, self.fastest):
            self.narrow(in_flight)
        elif in_flight >= self.window:
            self._widen(in_flight)
        self.fastest = seconds if self.fastest is None else min(self.fastest, seconds)

    def replied(
        self, seconds: float, generating: float | None, in_flight: int | None, smoothing: float
    ) -> None:
        """A chat that went out as the `in_flight`-th got its whole reply after `seconds`, of
        which the server reports `generating` seconds of generation (None: not reported)."""
        took = seconds
        if generating is not None and in_flight is not None:
            wait = max(0.0, seconds - generating)
            if self.least_wait is not None:
                took -= max(0.0, wait - self.least_wait)
            if queued(wait, self.least_wait):
                self.narrow(in_flight)
            self.least_wait = wait if self.least_wait is None else min(self.least_wait, wait)
        self.reply = took if self.reply is None else _blend(self.reply, took, smoothing)

    def busy(self, in_flight: int) -> None:
        """A chat that went out as the `in_flight`-th was refused as busy: too many at once."""
        self.narrow(in_flight)

    def narrow(self, in_flight: int) -> None:
        """The instance could not take `in_flight` chats at once."""
        self.window = max(1, min(self.window, in_flight - 1))
        self.slow_start = False
        self.streak = 0

    def _widen(self, in_flight: int) -> None:
        # in_flight is at most the instance's maxConcurrent, which caps the window in use anyway
        if self.slow_start:
            self.window = max(self.window, 2 * in_flight)
            return
        self.streak += 1
        if self.streak >= WIDEN_AFTER * self.window:
            self.window += 1
            self.streak = 0


def queued(wait: float, least: float | None) -> bool:
    """Whether a chat that waited `wait` seconds, where the least wait seen is `least`, queued."""
    return least is not None and wait > QUEUE_FACTOR * least + QUEUE_MARGIN


def _blend(average: float, sample: float, smoothing: float) -> float:
    return (1 - smoothing) * average + smoothing * sample
