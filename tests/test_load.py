"""The room, without a browser: ``bench --load`` with a few light websocket clients against
a real ``nn-playground serve`` in its own process (see playground/server/loadtest.py).

Every wait is on a condition (a client's counters, the server's /stats) with a deadline;
speed is reported by the bench, never asserted as a time, except that every session must
advance and the slowest stay within 4x of the fastest (fair sharing).
"""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from playground.cli import main
from playground.server.loadtest import PageClient, ServerProcess, _free_port, run_load

CLIENTS = 3


@pytest.fixture(scope="module")
def room():
    """Three pages play for 5 s, leave, and come back once more (same server)."""
    return run_load(CLIENTS, 5, rooms=2)


def test_every_session_advances_fairly(room):
    assert not room.failed, room.failed
    assert not room.server_errors, room.server_errors
    assert len(room.frames_per_second) == CLIENTS
    assert min(room.frames_per_second) > 0, room.frames_per_second
    assert min(room.frames_per_second) >= max(room.frames_per_second) / 4, room.frames_per_second
    assert room.server_cpu_ms_per_frame > 0


def test_frames_travel_as_frame_messages(room):
    """The clients say READY as the page does: then the server sends frame messages."""
    assert room.frame_message_share > 0.9, room.frame_message_share


def test_closed_tabs_end_their_sessions_and_callbacks(room):
    assert room.sessions["during"] == CLIENTS
    assert room.sessions["after"] == 0, room.sessions
    assert room.seconds_to_expire < 15, room.seconds_to_expire  # dropped 5 s after the close
    assert room.idle_cpu_percent < 10, f"the server still works after the room left: {room.idle_cpu_percent}%"


def test_sessions_are_freed_and_memory_does_not_grow_room_after_room(room):
    memory = room.memory_mb
    first, second = memory["after_each_room"]
    footprint = memory["during"] - memory["before"]
    assert footprint > 0, memory
    # Every playground of the room was freed (the server counts the live ones)...
    assert room.sessions["playgrounds_left"] == 0, room.sessions
    # ...and its memory is reused by the next room: CPython keeps freed memory in its own
    # pools rather than returning it all, so the server plateaus instead of falling back to
    # its baseline; a session that is never freed would add its whole share room after room.
    assert second - first < footprint / 2, memory
    # In Python's own count of its objects the room is gone (one playground with its page is about 60,000):
    blocks = room.python_blocks
    assert blocks["after"] < blocks["before"] * 1.1, blocks


def test_bad_load_arguments_exit_2_with_one_line(capsys):
    for argv in (["--load", "0"], ["--load", "x"], ["--seconds", "5"], ["--load", "2", "--sweep"],
                 ["--load", "2", "--seconds", "-1"], ["--load", "2", "--num-procs", "0"]):
        assert main(["bench", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("nn-playground: error:") and "\n" not in err, (argv, err)


def test_idle_run_pauses_and_idle_tab_is_ended():
    """serve with an idle pause of 3 s and a timeout of 9 s: a page that plays and is
    left alone stops getting frames, is told why, and its session ends."""
    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port(), 1, ("--idle-pause-minutes", "0.05", "--session-timeout-minutes", "0.15"))
        try:
            await server.wait_ready(http)
            page = PageClient(f"http://127.0.0.1:{server.port}")
            await page.open(http)
            await page.play()
            task = asyncio.ensure_future(page.run())

            async def until(condition, seconds, what):
                deadline = time.monotonic() + seconds
                while not condition():
                    assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
                    await asyncio.sleep(0.1)  # polling the client's counters

            await until(lambda: page.frames > 0 and page.play_label == "Pause", 60, "the first frames")
            await until(lambda: page.play_label == "Play", 30, "the idle pause")
            paused_at = page.frames
            await until(lambda: task.done(), 40, "the server to end the idle tab")
            assert page.closed_by_server and page.error is None
            assert page.frames <= paused_at + 1  # no frames after the pause (one may have been under way)
            stats = await server.stats(http)
            deadline = time.monotonic() + 20
            while stats["sessions"] and time.monotonic() < deadline:
                await asyncio.sleep(0.25)  # polling the server's counts
                stats = await server.stats(http)
            assert stats["sessions"] == 0 and stats["callbacks"] == 0, stats
            return server.errors()
        finally:
            http.close()
            server.stop()

    assert asyncio.run(scenario()) == []


def test_two_server_processes_share_the_room_fairly():
    """--num-procs 2 (each process binds its own socket): both processes serve sessions, every
    session advances, none is starved, and nothing runs on after the room left."""
    room = run_load(6, 5, num_procs=2)
    assert not room.failed and not room.server_errors, (room.failed, room.server_errors)
    assert room.sessions["processes_seen"] == 2 and room.sessions["during"] == 6, room.sessions
    assert min(room.frames_per_second) >= max(room.frames_per_second) / 4, room.frames_per_second
    assert room.sessions["after"] == 0 and room.idle_cpu_percent < 10, (room.sessions, room.idle_cpu_percent)
    assert room.sessions["playgrounds_left"] == 0, room.sessions  # also those built twice (two processes)


def test_a_session_whose_page_never_connects_is_freed():
    """With several processes a page's websocket may reach another process than the page
    itself: the first session never connects. Once it ends, its playground is freed."""
    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port(), num_procs=2)
        try:
            await server.wait_ready(http)
            for _ in range(4):  # the page, without its websocket
                await http.fetch(f"http://127.0.0.1:{server.port}/", request_timeout=60)
            built = await server.stats(http, polls=24)
            deadline = time.monotonic() + 45  # ended after 5 s unused; collected 2, 4, 8 s later
            stats = built
            while stats["sessions"] or stats["reclaim_pending"] or stats["playgrounds"]:
                assert time.monotonic() < deadline, f"still held after 45 s: {stats}"
                await asyncio.sleep(0.5)  # polling the server's counts
                stats = await server.stats(http, polls=24)
            return built, stats, server.errors()
        finally:
            http.close()
            server.stop()

    built, stats, errors = asyncio.run(scenario())
    assert built["playgrounds"] >= 2, built  # (the first may have ended while the last was built)
    assert stats["processes_seen"] == 2 and not errors, (stats, errors)


def test_a_page_slow_to_connect_keeps_its_session_and_a_new_session_uses_local_style_sheets():
    """A page whose scripts take longer to load than the unused-session time still finds its
    session (no second build); a session that a websocket creates (another process, or an
    expired one) points its style sheets at this server, not at Panel's CDN (no internet in
    a room)."""
    from bokeh.util.token import generate_jwt_token, generate_session_id

    from playground.server.loadtest import TOKEN
    from playground.server.serving import CHECK_UNUSED_MS, UNUSED_SESSION_MS

    async def scenario():
        from tornado.httpclient import AsyncHTTPClient
        from tornado.websocket import websocket_connect

        http = AsyncHTTPClient(force_instance=True)
        secret = secrets.token_urlsafe(32)  # the server signs session ids with it
        server = ServerProcess(_free_port(), extra_env={"BOKEH_SECRET_KEY": secret})
        base = f"http://127.0.0.1:{server.port}"
        try:
            await server.wait_ready(http)
            page = await http.fetch(base + "/")
            assert TOKEN.search(page.body.decode())
            # past the unused-session time, the page's session is still there
            past = time.monotonic() + (UNUSED_SESSION_MS + 3 * CHECK_UNUSED_MS) / 1000
            while time.monotonic() < past:
                assert (await server.stats(http))["sessions"] == 1
                await asyncio.sleep(0.25)  # polling the server's count over the whole interval

            # a session this server never built (as another process of the room would have)
            token = generate_jwt_token(generate_session_id(secret_key=secret, signed=True),
                                       secret_key=secret, signed=True)
            ws = await websocket_connect(base.replace("http", "ws") + "/ws", subprotocols=["bokeh", token])
            client = PageClient(base)
            client._ws = ws
            assert (await client._receive())[0]["msgtype"] == "ACK"
            await client._send("PULL-DOC-REQ", {})
            reply = await client._receive()
            while reply[0]["msgtype"] != "PULL-DOC-REPLY":
                reply = await client._receive()
            document = reply[1]
            ws.close()
            assert (await server.stats(http))["sessions"] == 2
            return document
        finally:
            http.close()
            errors = server.errors()
            server.stop()
            assert not errors, errors

    document = asyncio.run(scenario())
    assert "static/extensions/panel/" in document and "cdn.holoviz.org" not in document


def test_the_forked_processes_end_with_their_parent():
    """``serve --num-procs 2`` stopped with SIGTERM to the parent (as a service manager does):
    its children end too, and nothing listens on the port any more."""
    import os
    import signal
    import socket

    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port(), num_procs=2)
        try:
            await server.wait_ready(http)
            children = [pid for pid in server.pids() if pid != server.process.pid]
            os.kill(server.process.pid, signal.SIGTERM)  # the parent only, not its group
            server.process.wait(20)
            deadline = time.monotonic() + 20
            alive = children
            while alive and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # polling the children's exit
                alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and
                         open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
            with socket.socket() as probe:
                listening = probe.connect_ex(("127.0.0.1", server.port)) == 0
            return children, alive, listening
        finally:
            http.close()
            server.stop()
            for pid in server.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    children, alive, listening = asyncio.run(scenario())
    assert len(children) == 2 and alive == [] and not listening, (children, alive, listening)


def test_a_killed_bench_takes_its_server_with_it():
    """The load test's server process ends when the process that started it is killed."""
    import os
    import subprocess
    import sys

    script = ("import time; from playground.server.loadtest import ServerProcess, _free_port; "
              "s = ServerProcess(_free_port()); print(s.process.pid, flush=True); time.sleep(600)")
    bench = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server_pid = int(bench.stdout.readline())
    bench.kill()  # SIGKILL: no finally, no atexit
    bench.wait(10)
    def running() -> bool:  # a zombie (ended, not yet reaped by init) has ended
        try:
            return open(f"/proc/{server_pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 20
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the server's exit
    if running():
        os.kill(server_pid, 9)
        raise AssertionError("the server outlived the bench that started it")


def test_one_address_cannot_open_more_tabs_than_its_limit():
    """Bare GETs from one client each built a session (~5 MB, most of a second, held a minute):
    past ``--max-tabs-per-address`` a client gets a short page that says so, and no session."""
    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port(), 1, ("--max-tabs-per-address", "2"))
        try:
            await server.wait_ready(http)
            bodies = [(await http.fetch(f"http://127.0.0.1:{server.port}/", request_timeout=60)).body.decode()
                      for _ in range(3)]
            return bodies, await server.stats(http), server.errors()
        finally:
            http.close()
            server.stop()

    bodies, stats, errors = asyncio.run(scenario())
    assert stats["sessions"] == 3 and stats["playgrounds"] == 2 and not errors, (stats, errors)


def test_the_page_over_the_limit_says_what_to_do():
    from playground.server.serving import too_many_tabs_page

    assert "Too many tabs of the playground are open from your address (at most 60): close some, then " \
           "reload this page." in too_many_tabs_page(60).object


def test_the_tab_count_of_an_address_goes_down_as_its_tabs_end():
    from playground.server.serving import AddressLimit

    limit = AddressLimit(2)
    assert limit.admit("a") and limit.admit("a") and not limit.admit("a") and limit.admit("b")
    limit.release("a")
    assert limit.admit("a") and not limit.admit("a")
    limit.release("b")
    assert "b" not in limit.open


def test_a_stopped_tab_holds_nobody_up_and_plays_again_when_it_wakes():
    """A tab that reads nothing for 5 s (a SIGSTOPped or frozen browser) while playing: the
    other page plays on meanwhile, and the stopped one gets frames again as soon as it reads."""
    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port())
        base = f"http://127.0.0.1:{server.port}"
        try:
            await server.wait_ready(http)
            stopped, other = PageClient(base), PageClient(base)
            for page in (stopped, other):
                await page.open(http)
                await page.play()
            running = [asyncio.ensure_future(other.run())]

            async def until(condition, seconds, what):
                deadline = time.monotonic() + seconds
                while not condition():
                    assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
                    await asyncio.sleep(0.05)  # polling the clients' counters

            await until(lambda: other.frames >= 10, 60, "the other page's first frames")
            before, started = other.frames, time.monotonic()
            await asyncio.sleep(5)  # the stopped tab's 5 s (the scenario, not a wait for something)
            other_rate = (other.frames - before) / (time.monotonic() - started)
            woke, buffered = time.monotonic(), stopped.frames
            running.append(asyncio.ensure_future(stopped.run()))
            await until(lambda: stopped.frames >= buffered + 10, 30, "the woken tab's frames")
            for page in (stopped, other):
                page.close()
            await asyncio.wait(running, timeout=10)
            return other_rate, time.monotonic() - woke, server.errors()
        finally:
            http.close()
            server.stop()

    other_rate, recovered_s, errors = asyncio.run(scenario())
    assert other_rate > 5, f"the other page got {other_rate:.1f} frames/s while a tab was stopped"
    assert recovered_s < 5, f"the woken tab waited {recovered_s:.1f} s for 10 frames"
    assert errors == []
