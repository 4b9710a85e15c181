"""What the server answers to requests it did not invite: two of Panel's routes and two of
Bokeh's websocket messages, fenced.

- **A long number in the link.** Panel turns every all-digit value of the page's query into
  an ``int`` (``panel.util.parse_query``, called by ``panel.io.location``); one of 4,301 or
  more digits passes Python's int-digits limit, and the page answered HTTP 500 with a
  traceback. :func:`install` makes Panel's location parse such a value as the text it is;
  the app then says, in its notice, that the setting was refused.
- **``/components/<module>/...``.** Panel's ``ComponentResourceHandler`` imports any
  module named in the URL (``/components/this/x/_css/y`` printed the Zen of Python in the
  server's log) and answered ``/components/../../etc/passwd`` with a 500. With
  :func:`install` it serves the same files, but only from Panel's and Bokeh's own modules
  that the server has already imported; any other path is a 404, before anything is imported.

- **``PULL-DOC-REQ`` again and again.** A page asks for its document once, when it connects;
  each request costs the server a serialization of the whole page (about 0.1 s), so 150 on
  one socket took 4 s of CPU from everyone else. A connection may ask
  :data:`MAX_PULLS_PER_CONNECTION` times; the next request closes that connection (its page
  reconnects, and asks once more, on a new one).
- **``PUSH-DOC``.** A client may replace the server's document with one of its own making;
  BokehJS never does so for a served page, so it is refused with an error reply.

All apply to ``nn-playground serve`` and to ``panel serve playground/app.py`` (the app and
the race call :func:`install` when they build a page, before Panel reads the query).
Leans on Panel 1.x internals (``panel.io.location.parse_query``,
``panel.io.server.ComponentResourceHandler.parse_url_path``) and Bokeh 3.x ones
(``ServerSession.pull``/``push``, which each connection's ``ProtocolHandler`` looks up when
it is made); :func:`install` changes nothing on a Panel or Bokeh shaped otherwise, and
``tests/test_request_guard.py`` says when they change.
"""
from __future__ import annotations

import logging
import re
import sys

from bokeh.server.session import ServerSession
from panel.io import location as panel_location
from panel.io.server import ComponentResourceHandler
from panel.util import parse_query
from tornado.web import HTTPError

VERIFIED_ON = "bokeh 3.9.2, panel 1.9.4"

log = logging.getLogger(__name__)
MAX_PULLS_PER_CONNECTION = 3  # BokehJS asks once a connection; a few more are tolerated
_SERVED_MODULE = re.compile(r"(panel|bokeh)(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _parse_query_keeping_long_numbers(query: str) -> dict:
    """Panel's ``parse_query``; a value it cannot convert (over 4,300 digits) stays text."""
    try:
        return parse_query(query)
    except ValueError:
        from urllib.parse import parse_qsl, urlencode

        pairs = parse_qsl(query[1:])
        parsed = {}
        for key, value in pairs:
            try:
                parsed.update(parse_query("?" + urlencode({key: value})))
            except ValueError:
                parsed[key] = value
        return parsed


_ORIGINAL = {"parse_url_path": ComponentResourceHandler.parse_url_path,
             "pull": ServerSession.__dict__["pull"], "push": ServerSession.__dict__["push"]}


def _parse_url_path_of_served_modules(self, path: str) -> str:
    """Panel's ``parse_url_path``, for already-imported panel/bokeh modules only."""
    module = path.split("/", 1)[0]
    if not _SERVED_MODULE.fullmatch(module) or module not in sys.modules:
        raise HTTPError(404)
    return _ORIGINAL["parse_url_path"](self, path)


def _pull_a_few_times(cls, message, connection):
    """Bokeh's ``ServerSession.pull``, at most MAX_PULLS_PER_CONNECTION times a connection;
    the next request closes the connection instead of serializing the page again."""
    pulls = getattr(connection, "_nn_playground_pulls", 0) + 1
    connection._nn_playground_pulls = pulls
    if pulls > MAX_PULLS_PER_CONNECTION:
        log.warning("a connection asked for its document %d times: closed", pulls)
        connection._socket.close()
        return _no_reply()
    return _ORIGINAL["pull"].__func__(cls, message, connection)


def _refuse_push(cls, message, connection):
    """A client's whole document (``PUSH-DOC``) is never taken: an error reply, nothing changed."""
    log.warning("a connection tried to replace its document (PUSH-DOC): refused")
    return _replied(connection.error(message, "this server does not take documents from pages"))


async def _replied(reply):
    return reply


async def _no_reply():
    return None


def _bokeh_is_shaped_as_expected() -> bool:
    pull, push = ServerSession.__dict__.get("pull"), ServerSession.__dict__.get("push")
    return isinstance(pull, classmethod) and isinstance(push, classmethod)


def install() -> bool:
    """Guard the routes and messages; False (and nothing changed) on a Panel or Bokeh shaped
    otherwise."""
    if panel_location.parse_query is _parse_query_keeping_long_numbers:
        return True
    if getattr(panel_location, "parse_query", None) is not parse_query or \
            not hasattr(ComponentResourceHandler, "parse_url_path") or not _bokeh_is_shaped_as_expected():
        return False
    panel_location.parse_query = _parse_query_keeping_long_numbers
    ComponentResourceHandler.parse_url_path = _parse_url_path_of_served_modules
    ServerSession.pull = classmethod(_pull_a_few_times)
    ServerSession.push = classmethod(_refuse_push)
    return True


def uninstall() -> None:
    panel_location.parse_query = parse_query
    ComponentResourceHandler.parse_url_path = _ORIGINAL["parse_url_path"]
    ServerSession.pull = _ORIGINAL["pull"]
    ServerSession.push = _ORIGINAL["push"]
