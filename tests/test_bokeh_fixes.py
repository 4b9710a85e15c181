"""A page closed just before Bokeh's keep-alive ping: its last messages and its on_close are
handled without error (see playground.bokeh_compat.fixes)."""

import pytest
from bokeh.server.connection import ServerConnection
from bokeh.server.session import ServerSession
from bokeh.server.tornado import BokehTornado
from bokeh.server.views.ws import WSHandler
from tornado.websocket import WebSocketClosedError

from playground.bokeh_compat import fixes as bokeh_fixes


class RecordingSession:
    """Stands in for a ServerSession: records what its connection tells it."""

    def __init__(self):
        self.heard = []

    def subscribe(self, connection):
        self.heard.append("subscribed")

    def unsubscribe(self, connection):
        self.heard.append("unsubscribed")

    def notify_connection_lost(self):
        self.heard.append("connection lost")

    def _handle_patch(self, message, connection):
        self.heard.append(f"patch {message}")


class ClosedSocket:
    def ping(self, data):
        raise WebSocketClosedError()


def a_closed_page(close_code: int):
    """(server, connection, session, websocket handler) of a page whose websocket closed."""
    session = RecordingSession()
    app = object.__new__(BokehTornado)
    connection = ServerConnection(None, ClosedSocket(), None, session)
    app._clients = {connection}
    handler = object.__new__(WSHandler)
    handler.connection, handler.application = connection, app
    handler.close_code, handler.close_reason = close_code, None
    return app, connection, session, handler


def close_during_keep_alive():
    """A connection whose websocket closed: the keep-alive job pings it, a message that
    arrived before the close is handled, then tornado runs the websocket's on_close."""
    app, connection, session, handler = a_closed_page(1001)
    app._keep_alive()
    ServerSession.patch("drawn=4", connection)
    WSHandler.on_close(handler)
    return app, connection, session


@pytest.fixture
def fixed():
    assert bokeh_fixes.install()
    yield
    bokeh_fixes.uninstall()


def test_a_page_closed_before_the_keep_alive_ping_is_let_go_cleanly(fixed):
    app, connection, session = close_during_keep_alive()
    assert session.heard == ["subscribed", "patch drawn=4", "connection lost", "unsubscribed"]
    assert app._clients == set() and connection._session is None


def test_without_the_fix_bokeh_fails_on_that_page():
    bokeh_fixes.uninstall()
    with pytest.raises(AssertionError):
        close_during_keep_alive()


def test_a_page_closed_normally_is_let_go_as_bokeh_does(fixed):
    app, connection, session, handler = a_closed_page(1000)
    WSHandler.on_close(handler)
    assert session.heard == ["subscribed", "connection lost", "unsubscribed"]
    assert app._clients == set() and connection._session is None


# ------------------------------------------------------------------ a click while a change waits (issue 22, item 6)
def _served_page_models(doc) -> dict:
    """The ids of the page's Step button, Theme select and three checkboxes, from its document."""
    from playground.server.loadtest import document_objects

    found = {}
    for node in document_objects(doc):
        attributes = node.get("attributes", {})
        if attributes.get("label") == "Step" and node.get("name", "").endswith("Button"):
            found["Step"] = node["id"]
        if attributes.get("title") == "Theme":
            found["Theme"] = node["id"]
        if attributes.get("label") in ("Log scale", "Show test data", "Show gradients"):
            found[attributes["label"]] = node["id"]
    return found


def _play_changes(bursts) -> list[str]:
    """Serve the app (in its own process), open a page with the load test's client, send each
    burst (a list of ("change", name, attr, value) and ("click", name)) in one go, a third
    of a second apart (each change's debounce has passed when the next burst comes); the
    server's logged errors once it has handled them all."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient

    from playground.server.loadtest import PageClient, ServerProcess, _free_port

    class Page(PageClient):
        def _find_models(self, doc):
            super()._find_models(doc)
            self.models = _served_page_models(doc)

    async def run():
        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port())
        try:
            await server.wait_ready(http)
            page = Page(f"http://127.0.0.1:{server.port}")
            await page.open(http)
            for burst in bursts:
                changes = [{"kind": "ModelChanged", "model": {"id": page.models[name]}, "attr": attr, "new": value}
                           for kind, name, attr, value in (e for e in burst if e[0] == "change")]
                if changes:
                    await page._send("PATCH-DOC", {"events": changes})
                for _, name in (e for e in burst if e[0] == "click"):
                    await page._send_event("button_click", [["model", {"id": page.models[name]}]])
                await asyncio.sleep(0.3)  # the next burst once this one is (mostly) handled
            await page._send("PULL-DOC-REQ", {})  # answered under the document's lock, after the rest
            while (message := await asyncio.wait_for(page._receive(), 60)) is not None:
                if message[0] != "frame" and message[0]["msgtype"] == "PULL-DOC-REPLY":
                    break
            page.close()
            return server.errors()
        finally:
            http.close()
            server.stop()

    return asyncio.run(run())


def test_clicking_step_while_theme_and_checkbox_changes_wait_logs_no_error():
    bursts = [[("change", "Theme", "value", "dark" if i % 2 == 0 else "light"),
               ("change", "Log scale", "active", i % 2 == 0), ("change", "Show test data", "active", i % 2 == 0),
               ("change", "Show gradients", "active", i % 2 == 0), ("click", "Step")] for i in range(16)]
    assert _play_changes(bursts) == []


def test_log_scale_turns_off_after_a_theme_change():
    bursts = [[("change", "Theme", "value", "dark")], [("change", "Log scale", "active", True)],
              [("change", "Log scale", "active", False)]]
    assert _play_changes(bursts) == []
