"""The waiting room: held chats, wake-ups one at a time in arrival order, capacity waits."""

from __future__ import annotations

import asyncio

from reconciler.chat.admission import Admission, Lease
from reconciler.chat.balance import Balancer
from reconciler.desired import DesiredInstance

NO_LATENCY: dict[str, float | None] = {}


def clock() -> float:
    return 1000.0


def inst(name: str, priority: int = 1, cap: int | None = None) -> DesiredInstance:
    return DesiredInstance(name=name, url=f"http://{name}", priority=priority, max_concurrent=cap)


A, B, LOW = inst("a"), inst("b"), inst("low", priority=5)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Counting(Balancer):
    """A balancer that counts how often it is asked: each ask is one waiting chat woken."""

    asked: int = 0

    def choose(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        self.asked += 1
        return super().choose(*args, **kwargs)  # type: ignore[arg-type]


async def test_held_chats_go_in_arrival_order_and_a_release_wakes_only_one() -> None:
    balancer = Counting(clock, policy="adaptive")
    admission = Admission(balancer, wait_limit=0.0)  # holding is not bounded by the wait limit
    first = await admission.admit([A], NO_LATENCY, ())
    assert isinstance(first, Lease)
    order: list[int] = []
    leases: list[Lease] = []

    async def chat(number: int) -> None:
        lease = await admission.admit([A], NO_LATENCY, ())
        assert isinstance(lease, Lease)
        order.append(number)
        leases.append(lease)

    held = [asyncio.create_task(chat(n)) for n in range(50)]
    await settle()
    assert admission.waiting == 50 and order == []
    asked = balancer.asked
    admission.release(first)
    await settle()
    assert order == [0]
    assert balancer.asked - asked == 1  # one wake-up, not fifty
    for _ in range(49):
        admission.release(leases[-1])
        await settle()
    assert order == list(range(50))
    await asyncio.gather(*held)


async def test_a_widened_window_wakes_as_many_held_chats() -> None:
    balancer = Balancer(clock, policy="adaptive")
    admission = Admission(balancer)
    lease = await admission.admit([A], NO_LATENCY, ())
    assert isinstance(lease, Lease)
    held = [asyncio.create_task(admission.admit([A], NO_LATENCY, ())) for _ in range(5)]
    await settle()
    gained = balancer.answered("a", 0.02, in_flight=lease.in_flight)  # window 1 -> 2
    admission.widened(gained)
    await settle()
    assert [t.done() for t in held] == [True, False, False, False, False]
    second = held[0].result()
    assert isinstance(second, Lease) and second.in_flight == 2
    gained = balancer.answered("a", 0.02, in_flight=2)  # window 2 -> 4
    admission.widened(gained)
    await settle()
    assert [t.done() for t in held] == [True, True, True, False, False]
    for task in held[3:]:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)
    assert admission.waiting == 0


async def test_a_woken_chat_that_cannot_use_the_place_passes_it_on() -> None:
    balancer = Balancer(clock, policy="adaptive")
    admission = Admission(balancer)
    on_a = await admission.admit([A, B], NO_LATENCY, ())
    on_b = await admission.admit([A, B], NO_LATENCY, ())
    assert isinstance(on_a, Lease) and isinstance(on_b, Lease)
    # the first waiting chat already tried a and waits for b; the second may go anywhere
    only_b = asyncio.create_task(admission.admit([A, B], NO_LATENCY, ("a",)))
    any_one = asyncio.create_task(admission.admit([A, B], NO_LATENCY, ()))
    await settle()
    admission.release(on_a)
    await settle()
    assert not only_b.done()
    got = any_one.result()
    assert isinstance(got, Lease) and got.instance is A
    admission.release(on_b)
    await settle()
    got = only_b.result()
    assert isinstance(got, Lease) and got.instance is B


async def test_a_cancelled_chat_that_was_just_woken_passes_the_wake_on() -> None:
    balancer = Balancer(clock, policy="adaptive")
    admission = Admission(balancer)
    lease = await admission.admit([A], NO_LATENCY, ())
    assert isinstance(lease, Lease)
    doomed = asyncio.create_task(admission.admit([A], NO_LATENCY, ()))
    patient = asyncio.create_task(admission.admit([A], NO_LATENCY, ()))
    await settle()
    admission.release(lease)  # wakes `doomed` ...
    doomed.cancel()  # ... which is cancelled before it runs
    await settle()
    assert doomed.cancelled()
    assert isinstance(patient.result(), Lease)


async def test_at_capacity_chats_still_give_up_after_the_wait_limit() -> None:
    balancer = Balancer(clock, policy="adaptive")
    admission = Admission(balancer, wait_limit=0.01)
    lease = await admission.admit([inst("a", cap=1)], NO_LATENCY, ())
    assert isinstance(lease, Lease)
    passed = await admission.admit([inst("a", cap=1)], NO_LATENCY, ())
    assert isinstance(passed, list)
    assert [p.reason for p in passed] == [
        "at capacity: 1 of 1 requests in flight for 0.01s (maxConcurrent)"
    ]
    assert admission.waiting == 0
