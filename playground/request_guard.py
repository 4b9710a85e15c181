"""What the server answers to requests it did not invite: two of Panel's routes, fenced.

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

Both apply to ``nn-playground serve`` and to ``panel serve playground/app.py`` (the app and
the race call :func:`install` when they build a page, before Panel reads the query).
Leans on Panel 1.x internals (``panel.io.location.parse_query``,
``panel.io.server.ComponentResourceHandler.parse_url_path``); :func:`install` changes
nothing on a Panel shaped otherwise, and ``tests/test_request_guard.py`` says when they change.
"""
from __future__ import annotations

import re
import sys

from panel.io import location as panel_location
from panel.io.server import ComponentResourceHandler
from panel.util import parse_query
from tornado.web import HTTPError

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


_ORIGINAL = {"parse_url_path": ComponentResourceHandler.parse_url_path}


def _parse_url_path_of_served_modules(self, path: str) -> str:
    """Panel's ``parse_url_path``, for already-imported panel/bokeh modules only."""
    module = path.split("/", 1)[0]
    if not _SERVED_MODULE.fullmatch(module) or module not in sys.modules:
        raise HTTPError(404)
    return _ORIGINAL["parse_url_path"](self, path)


def install() -> bool:
    """Guard both routes; False (and nothing changed) on a Panel shaped otherwise."""
    if panel_location.parse_query is _parse_query_keeping_long_numbers:
        return True
    if getattr(panel_location, "parse_query", None) is not parse_query or \
            not hasattr(ComponentResourceHandler, "parse_url_path"):
        return False
    panel_location.parse_query = _parse_query_keeping_long_numbers
    ComponentResourceHandler.parse_url_path = _parse_url_path_of_served_modules
    return True


def uninstall() -> None:
    panel_location.parse_query = parse_query
    ComponentResourceHandler.parse_url_path = _ORIGINAL["parse_url_path"]
