"""Hostile input in a real browser (issues 16 and 22): markup in a session file, a CSV and a
link shows as text and never runs; a file over its input's limit is refused by the page,
with a message, and the connection stays.

Every wait is on a condition in the page; none sleeps for a fixed time.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from playground.core.config import RunConfig
from .conftest import App
from playground.core.session import Session
from playground.core.snapshot import export_session

pytestmark = pytest.mark.ui

UPLOAD_LABEL = "Your data: a CSV with columns x1, x2, label"


def markup(n: int) -> str:
    """A tag that, if rendered, sets window.__pg_xss to ``n``."""
    return f"<img src=x onerror=window.__pg_xss={n}>"


# Any element of the page (shadow roots included) made from outside markup: an <img src=x>.
RENDERED_TAGS = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') found.push(el.outerHTML);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return {found, ran: window.__pg_xss === undefined ? null : window.__pg_xss};
}"""


def assert_nothing_rendered(app):
    assert app.js(RENDERED_TAGS) == {"found": [], "ran": None}


def test_markup_from_a_session_file_a_csv_and_a_link_shows_as_text(open_app, tmp_path):
    app = open_app("?dataset=" + quote(markup(1)))
    expect(app.page.locator(".notice")).to_contain_text("This link had problems")
    expect(app.page.locator(".notice")).to_contain_text(markup(1))  # the characters, as typed

    session = Session(RunConfig(epochs=1, dataset="xor"))
    session.advance(3)
    snapshot = export_session(session)
    snapshot.update(diverged=True, message=markup(2))
    snapshot["data"]["name"] = markup(3)
    saved = tmp_path / "session.json"
    saved.write_text(json.dumps(snapshot))
    app.page.get_by_label("Import a saved session").set_input_files(saved)
    expect(app.page.locator(".notice")).to_contain_text(markup(2))
    assert_nothing_rendered(app)

    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n" + "1,2,0\n" * 10 + f"1,2,{markup(4)}\n")
    app.page.get_by_label(UPLOAD_LABEL).set_input_files(bad)
    expect(app.page.locator(".upload-message")).to_contain_text(markup(4))
    good = tmp_path / "good.csv"
    good.write_text("x1,x2,label," + markup(5).replace(",", " ") + "\n" + "".join(
        f"{i % 5},{i % 3},{i % 2},x\n" for i in range(20)))
    app.page.get_by_label(UPLOAD_LABEL).set_input_files(good)
    expect(app.page.locator(".upload-message")).to_contain_text("Using good.csv")
    assert_nothing_rendered(app)


def test_a_file_over_its_limit_is_refused_by_the_page_and_the_page_stays(app, tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as stream:
        stream.write(b"{" + b" " * 21_000_000 + b"}")  # 21 MB: over the 20 MB a session file may be
    app.page.get_by_label("Import a saved session").set_input_files(big)
    expect(app.page.locator(".notice")).to_contain_text(
        "Import failed: big.json is 21.0 MB; a session file may be up to 20 MB.")
    big_csv = tmp_path / "big.csv"
    big_csv.write_bytes(b"x1,x2,label\n" + b"1,2,0\n" * 500_000)  # 3 MB
    app.page.get_by_label(UPLOAD_LABEL).set_input_files(big_csv)
    expect(app.page.locator(".upload-message")).to_contain_text("Not loaded: big.csv is 3.0 MB")
    app.button("Step").click()  # still connected, and still training
    app.wait("() => pg.epoch() === 1")


def test_a_lost_connection_leaves_play_reading_play_and_stops_training(shared_context, app_url):
    """The page's websocket is cut while playing (and every reconnection refused): its Play
    button reads Play and is greyed out, and the server paused that run at once (before the
    session's end, a few seconds later, would have stopped it)."""
    import gc
    import time
    import weakref

    from playground.ui.page import Playground

    sockets = []

    def route(ws):
        if sockets:  # Bokeh trying to reconnect: refused, as by a server that went away
            ws.close()
            return
        sockets.append(ws)
        ws.connect_to_server()

    others = weakref.WeakSet(p for p in gc.get_objects() if isinstance(p, Playground))  # other tests' (one process)
    page = shared_context.new_page()
    script_errors = []
    page.on("pageerror", lambda err: script_errors.append(str(err)))
    try:
        page.route_web_socket("**/ws", route)
        app = App(page, app_url).open()
        app.button("Play").click()
        app.wait("() => pg.epoch() >= 2")
        playing = [p for p in gc.get_objects() if isinstance(p, Playground) and p.playing and p not in others]
        assert len(playing) == 1  # this page's (the server runs in this process)
        sockets[0].close()
        expect(app.button("Play")).to_be_disabled()
        app.wait("() => pg.playLabel() === 'Play'")
        deadline = time.monotonic() + 15
        while playing[0].playing and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the server's state
        assert not playing[0].playing, "the server kept training for a page that was gone"
        assert not playing[0].channel.document.session_context.destroyed  # paused by the loss, not the end
        assert not script_errors
    finally:
        page.close()
