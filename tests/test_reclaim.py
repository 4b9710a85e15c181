"""The server's memory reclaimer without a server: ended sessions' objects are collected,
again if one was still referenced when the collection ran."""
import asyncio
import gc

from playground.server.serving import MemoryReclaimer


class Thing:
    """Stands for a playground: cyclic, so only a full collection frees it."""

    def __init__(self):
        self.me = self


def test_a_playground_still_held_at_the_collection_is_collected_by_a_later_one():
    async def scenario():
        reclaimer = MemoryReclaimer(delay_s=0.01, min_interval_s=0.05, retries=3)
        held = Thing()
        reclaimer.track(held)
        reclaimer.track(Thing())
        gc.disable()  # only the reclaimer collects here
        try:
            reclaimer.session_destroyed(None)
            reclaimer.session_destroyed(None)
            assert reclaimer.pending and reclaimer.open_sessions == 0
            while reclaimer.pending and len(reclaimer.live) > 1:
                await asyncio.sleep(0.01)  # until the first collection ran
            assert len(reclaimer.live) == 1  # the held one: a retry is planned
            assert reclaimer.pending
            del held
            while reclaimer.pending:
                await asyncio.sleep(0.01)
            return len(reclaimer.live)
        finally:
            gc.enable()

    assert asyncio.run(scenario()) == 0


def test_retries_are_bounded_for_a_playground_that_stays_referenced():
    async def scenario():
        reclaimer = MemoryReclaimer(delay_s=0.0, min_interval_s=0.01, retries=2)
        kept = Thing()
        reclaimer.track(kept)
        reclaimer.session_destroyed(None)
        for _ in range(200):
            if not reclaimer.pending:
                break
            await asyncio.sleep(0.01)
        return reclaimer

    reclaimer = asyncio.run(scenario())
    assert not reclaimer.pending and reclaimer._retried == 2 and len(reclaimer.live) == 1
