"""Several pages on one server at once, as in a workshop: pages reload and close while others
train, and bad values typed into widgets or links reach the server. Each test asserts that
the other pages keep training, that the server drops the sessions of gone pages (its
``/stats``), and, through the ``page_errors`` fixture, that neither a page nor the server
logged an error. Every wait is on a condition; none sleeps for a fixed time.
"""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from .conftest import App

pytestmark = pytest.mark.ui

EXPIRY_S = 20  # a gone page's session is dropped 5 s after its websocket closes; generous for CI


@pytest.fixture
def pages(open_app):
    """Opens pages on fresh sessions (``open_app``: an optional URL query)."""
    return open_app


def server_stats(app_url: str) -> dict:
    with urllib.request.urlopen(app_url + "stats", timeout=10) as response:
        return json.load(response)


def wait_for_stats(app_url: str, condition, what: str, seconds: float = EXPIRY_S) -> dict:
    """Polls the server's /stats until ``condition(stats)``; fails saying what it waited for."""
    deadline = time.monotonic() + seconds
    stats = server_stats(app_url)
    while not condition(stats):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}; the server has {stats}"
        time.sleep(0.2)  # polling the server's counts, not waiting on the UI
        stats = server_stats(app_url)
    return stats


def play(app: App) -> None:
    app.button("Play").click()
    expect(app.button("Pause")).to_be_visible()


def advances(app: App, beyond: float | None = None, timeout: float = 30_000) -> float:
    """Waits until the page's epoch passes ``beyond`` (its current epoch by default)."""
    start = app.epoch() if beyond is None else beyond
    return app.wait("n => pg.epoch() > n && pg.epoch()", start, timeout=timeout)


def test_pages_reload_and_close_while_others_train(pages, app_url):
    first, second, third = pages(), pages(), pages()
    # Earlier tests' pages were closed; their sessions end within seconds: then only ours are left.
    wait_for_stats(app_url, lambda s: s["sessions"] == 3, "the server to hold just this test's 3 sessions")
    for app in (first, second, third):
        play(app)
    for app in (first, second, third):
        advances(app, 1)

    # One page reloads: it starts clean on a new session; another closes mid-training.
    second.page.reload()
    second.page.wait_for_function("() => window.pg && pg.ready()", timeout=30_000)
    expect(second.button("Play")).to_be_visible()
    assert second.epoch() == 0
    third.page.close()

    # The server drops the two gone sessions (the reloaded page's old one and the closed one)
    # and stops their callbacks, while the first page keeps training.
    before = first.epoch()
    stats = wait_for_stats(app_url, lambda s: s["sessions"] == 2, "the gone pages' 2 sessions to end")
    assert stats["connections"] == 2, stats
    advances(first, before)

    # The reloaded page trains again, side by side with the first.
    play(second)
    advances(second, 0)
    advances(first)


def test_bad_links_and_bad_values_get_a_message_and_others_keep_training(pages, app_url):
    trainer = pages()
    play(trainer)
    advances(trainer, 1)

    # A link with bad, unknown and forbidden entries: a message, the rest applied, no error.
    linked = pages("?hidden=99,x&learning_rate=-1&points=abc&wide=true&csv=/etc/passwd&dataset=xor&noise=10")
    notice = linked.page.locator(".notice")
    expect(notice).to_contain_text("This link had problems")
    for entry in ("'wide' cannot be set from a link", "'csv' cannot be set from a link", "points"):
        expect(notice).to_contain_text(entry)
    assert "2-4-2-1" in linked.text("status_readout")  # hidden=99,x refused: the default net
    play(linked)
    advances(linked, 0)

    # A value out of bounds typed into a widget: a message saying what to change; the page
    # goes on with its last good setting, and keeps training.
    linked.open_more_settings()
    beta1 = linked.page.get_by_role("textbox", name="Beta1", exact=True)
    beta1.fill("1")
    beta1.press("Enter")
    expect(notice).to_contain_text("Beta1 must be")  # named as the box is, not as a CLI flag
    expect(notice).to_contain_text("less than 1")
    expect(notice).to_contain_text("training goes on with 0.9")
    expect(beta1).to_have_value("0.9")  # the box shows the value in use again
    advances(linked)

    # Text where a number belongs, in a link for the same widget: refused with a message.
    typed = pages("?beta1=abc&optimizer=adam")
    expect(typed.page.locator(".notice")).to_contain_text("beta1")

    # None of it reached the page that was training all along.
    advances(trainer)
    expect(trainer.page.locator(".notice")).not_to_contain_text("problems")


def test_a_page_whose_server_goes_away_says_so(browser, browser_context_args):
    """A dropped connection (the server stopped, the wifi went): the page says, in words,
    that it lost the server and how to start again, instead of freezing silently."""
    from playground.server.loadtest import ServerProcess, _free_port

    server = ServerProcess(_free_port())
    context = browser.new_context(**browser_context_args)
    try:
        url = f"http://127.0.0.1:{server.port}/"
        deadline = time.monotonic() + 120
        while True:  # the server's /stats answers once it listens
            try:
                server_stats(url)
                break
            except OSError:
                assert time.monotonic() < deadline and server.process.poll() is None, server.log_tail()
                time.sleep(0.2)  # polling the port, not waiting on the UI
        page = context.new_page()
        page.goto(url)
        page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
        expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
        server.stop()
        notice = page.get_by_text("The connection to the server was lost").first
        expect(notice).to_be_visible(timeout=30_000)
        assert "reload the page" in notice.inner_text()
    finally:
        context.close()
        server.stop()


def test_a_playing_page_gets_its_frames_as_frame_messages(app, app_url):
    """The page's frame channel finds its websocket and says READY (views/frame_socket.py):
    its frames then leave the server as frame messages, not as Bokeh changes."""
    before = server_stats(app_url)["frames"]
    play(app)
    advances(app, 30)
    app.button("Pause").click()
    expect(app.button("Play")).to_be_visible()
    after = server_stats(app_url)["frames"]
    as_messages, as_bokeh = after["message"] - before["message"], after["bokeh"] - before["bokeh"]
    assert as_messages >= 30 and as_bokeh <= as_messages / 10, (as_messages, as_bokeh)
