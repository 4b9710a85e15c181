"""Frame pacing without a server: a fake clock and a scheduler that runs what is due."""
import asyncio

import pytest

from playground.transport.pacing import FramePacer


class FakeLoop:
    """A clock and a scheduler in one: ``run_until(t)`` runs the callbacks due by ``t``."""

    def __init__(self):
        self.now = 0.0
        self.timers = []  # [due, callback]; cancelled ones are removed

    def clock(self):
        return self.now

    def later(self, seconds, callback):
        timer = [self.now + max(0.0, seconds), callback]
        self.timers.append(timer)
        return timer

    def cancel(self, timer):
        if timer in self.timers:
            self.timers.remove(timer)

    def run_until(self, t):
        while True:
            due = sorted((timer for timer in self.timers if timer[0] <= t), key=lambda timer: timer[0])
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            self.now = timer[0]
            asyncio.run(timer[1]())
        self.now = t


@pytest.fixture
def loop():
    return FakeLoop()


def make_pacer(loop, **kw):
    starts = []

    async def run_frame():
        starts.append(loop.now)
        pacer.sent()

    pacer = FramePacer(run_frame, clock=loop.clock, **kw)
    pacer.start(loop)
    return pacer, starts


def test_a_page_that_draws_every_frame_gets_the_capped_rate(loop):
    pacer, starts = make_pacer(loop, interval_s=0.1, in_flight=1)
    for step in range(1, 11):
        loop.run_until(step * 0.1 - 0.05)
        pacer.drawn(pacer.frames_sent)  # drawn 50 ms after it was sent
    loop.run_until(1.0)
    assert starts[0] == 0.0
    assert starts == pytest.approx([0.1 * i for i in range(len(starts))])
    assert len(starts) == 11 and not any(t[0] < loop.now - 0.1 for t in loop.timers)


def test_a_slow_page_gets_no_more_frames_than_it_draws(loop):
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=2, ack_timeout_s=10.0, rest=0.0)
    loop.run_until(1.0)
    assert len(starts) == 2  # two in flight, none drawn: nothing more
    pacer.drawn(1)
    loop.run_until(1.5)
    assert len(starts) == 2  # it took 1 s to paint a frame: now one at a time
    pacer.drawn(2)
    loop.run_until(1.6)
    assert len(starts) == 3 and starts[2] == pytest.approx(1.5)  # at once on the acknowledgement
    pacer.drawn(2)  # an old number again changes nothing
    loop.run_until(2.0)
    assert len(starts) == 3


def test_a_page_that_never_acknowledges_still_advances_after_the_timeout(loop):
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=2, ack_timeout_s=2.0)
    loop.run_until(5.0)
    assert starts == pytest.approx([0.0, 0.01, 2.01, 4.01])  # one more frame every timeout


def test_stop_cancels_the_next_frame_and_start_begins_at_once(loop):
    pacer, starts = make_pacer(loop, interval_s=0.5, in_flight=2)
    loop.run_until(0.1)
    pacer.stop()
    loop.run_until(3.0)
    assert len(starts) == 1 and not loop.timers
    pacer.start(loop)
    loop.run_until(3.0)
    assert starts[-1] == 3.0


def test_an_acknowledgement_while_a_frame_is_running_does_not_start_a_second(loop):
    pacer = None
    running = []

    async def run_frame():
        running.append(1)
        assert len(running) == 1
        pacer.sent()
        pacer.drawn(pacer.frames_sent)  # the page answers before run_frame returns
        running.pop()

    pacer = FramePacer(run_frame, clock=loop.clock, interval_s=0.1, in_flight=2)
    pacer.start(loop)
    loop.run_until(0.35)
    assert pacer.frames_sent == 4 and len(loop.timers) == 1


def test_a_slow_page_gets_one_frame_at_a_time_and_a_fast_one_two(loop):
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=2, ack_timeout_s=10.0, rest=0.0)
    t = 0.0
    for _ in range(20):  # the page paints each frame 0.3 s after it was sent
        t += 0.3
        loop.run_until(t)
        pacer.drawn(pacer.frames_drawn + 1)
    assert pacer.in_flight == 1
    assert pacer.frames_sent - pacer.frames_drawn <= 1
    for _ in range(30):  # it became fast: 20 ms
        t += 0.02
        loop.run_until(t)
        pacer.drawn(pacer.frames_drawn + 1)
    assert pacer.in_flight == 2


def test_a_fast_page_acknowledges_every_second_frame_and_never_waits_for_one_not_asked(loop):
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=3, ack_timeout_s=10.0, rest=0.0)
    asked = []
    t = 0.0
    for _ in range(100):  # the page paints a frame 20 ms after it was sent; echoes the asked ones
        t += 0.005
        loop.run_until(t)
        for number in range(pacer.frames_drawn + 1, pacer.frames_sent + 1):
            if number not in asked and pacer.wants_ack(number) and loop.now - pacer._sent_at.get(number, -1) >= 0.02:
                asked.append(number)
                pacer.drawn(number)
    assert len(starts) >= 0.7 * 50  # near the capped rate (10 ms: 50 in 0.5 s), never stalled
    assert max(b - a for a, b in zip(starts, starts[1:])) < 0.05
    assert len(asked) <= 0.6 * len(starts)  # about every second frame

    # it becomes slow (300 ms to paint): one frame at a time, each asked; the pacer never
    # waits for an echo of a frame it did not ask about (that would stall until the timeout)
    slow_from = len(starts)
    for _ in range(100):
        t += 0.05
        loop.run_until(t)
        for number in range(pacer.frames_drawn + 1, pacer.frames_sent + 1):
            if pacer.wants_ack(number) and loop.now - pacer._sent_at.get(number, -1) >= 0.3:
                pacer.drawn(number)
    assert pacer.in_flight == 1
    later = starts[slow_from:]
    assert len(later) >= 8 and max(b - a for a, b in zip(later, later[1:])) < 1.0, later


def test_a_slow_page_rests_between_frames_so_that_it_can_answer_clicks(loop):
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=1, ack_timeout_s=10.0, rest=2.0)
    loop.run_until(0.3)
    pacer.drawn(1)  # 300 ms from sending to painting: a slow page, idle for 2 x 300 ms
    loop.run_until(0.899)
    assert len(starts) == 1
    loop.run_until(0.901)
    assert len(starts) == 2 and starts[1] == pytest.approx(0.9)
    loop.run_until(3.901)
    pacer.drawn(2)  # 3 s: smoothed to 1.11 s, but it rests 1 s at most
    loop.run_until(4.899)
    assert len(starts) == 2
    loop.run_until(4.902)
    assert len(starts) == 3 and starts[2] == pytest.approx(4.901)
    loop.run_until(5.0)
    pacer.drawn(3)  # resting now; Pause and Play again: the first frame comes at once
    pacer.stop()
    pacer.start(loop)
    loop.run_until(5.001)
    assert len(starts) == 4 and starts[3] == pytest.approx(5.0)
    for _ in range(12):  # it draws fast again (20 ms after sending): its rest shrinks to none
        loop.run_until(starts[-1] + 0.02)
        pacer.drawn(pacer.frames_sent)
        loop.run_until(loop.now + pacer.rest_s() + 0.001)
    assert pacer.draw_s <= 0.2 and pacer.rest_s() == 0.0
    loop.run_until(starts[-1] + 0.02)
    pacer.drawn(pacer.frames_sent)
    loop.run_until(loop.now + 0.001)
    assert starts[-1] == pytest.approx(loop.now - 0.001)  # at once on the acknowledgement


def test_a_frame_waiting_for_its_training_does_not_hold_the_document_lock():
    """A scheduled frame runs without the document's lock, so that a click on the same page
    (Bokeh runs it under that lock) is answered while the frame waits for the training pool;
    what the frame changes runs through ``Scheduler.locked``, which does take the lock."""
    from types import SimpleNamespace

    from playground.transport.pacing import Scheduler

    class Context:  # as Bokeh's BokehSessionContext: one lock per document
        def __init__(self):
            self.lock = asyncio.Lock()

        async def with_locked_document(self, func):
            async with self.lock:
                result = func(doc)
                if asyncio.iscoroutine(result):
                    await result

    doc = SimpleNamespace(session_context=Context())
    order = []

    async def main():
        scheduler = Scheduler(doc)
        trained = asyncio.Event()

        async def frame():  # as Playground._run_frame: train, then show under the lock
            order.append("frame starts training")
            await trained.wait()
            await scheduler.locked(lambda: order.append(("frame shown", doc.session_context.lock.locked())))

        scheduler.later(0, frame)
        await asyncio.sleep(0.01)
        try:  # a frame holding the lock meanwhile would hold the click up: a timeout here
            await asyncio.wait_for(doc.session_context.with_locked_document(
                lambda _: order.append("click answered")), timeout=2)
        finally:
            trained.set()
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert order == ["frame starts training", "click answered", ("frame shown", True)]


def test_a_page_that_was_away_is_not_judged_slow_when_it_wakes(loop):
    """A tab stopped for 5 s acknowledges its old frames late: it draws as fast as before."""
    pacer, starts = make_pacer(loop, interval_s=0.01, in_flight=2, ack_timeout_s=2.0)
    t = 0.0
    for _ in range(10):  # a fast page: 20 ms a frame
        t += 0.02
        loop.run_until(t)
        pacer.drawn(pacer.frames_sent)
    assert pacer.in_flight == 2
    t += 5.0  # stopped: it paints nothing, the pacer sends a frame every timeout
    loop.run_until(t)
    pacer.drawn(pacer.frames_sent)  # woken: it paints what it was sent
    assert pacer.in_flight == 2 and pacer.rest_s() == 0.0
    sent = pacer.frames_sent
    for _ in range(10):  # and it gets frames at its pace again at once
        t += 0.02
        loop.run_until(t)
        pacer.drawn(pacer.frames_sent)
    assert pacer.frames_sent >= sent + 10
