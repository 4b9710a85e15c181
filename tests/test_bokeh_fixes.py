"""A page closed just before Bokeh's keep-alive ping: its last messages and its on_close are
handled without error (see playground.bokeh_fixes)."""

import pytest
from bokeh.server.connection import ServerConnection
from bokeh.server.session import ServerSession
from bokeh.server.tornado import BokehTornado
from bokeh.server.views.ws import WSHandler
from tornado.websocket import WebSocketClosedError

from playground import bokeh_fixes


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
