"""The two Panel routes fenced in playground/request_guard.py, on a served app: a link with
a 4,301-digit number opens the page, and /components serves only Panel's own files. Also a
check that Panel is still shaped as the guard expects (it fails when Panel changes)."""
from __future__ import annotations

import urllib.error
import urllib.request

import panel as pn
import pytest

from playground import request_guard
from playground.server import serve


def test_the_guard_fits_this_panel():
    assert request_guard.install(), "Panel's location or component route changed: see playground/request_guard.py"
    from panel.io import location

    assert location.parse_query("?a=" + "1" * 5000 + "&b=2&c=x") == {"a": "1" * 5000, "b": 2, "c": "x"}
    assert tuple(int(p) for p in pn.__version__.split(".")[:2]) < (2, 0)


@pytest.fixture(scope="module")
def url():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = serve(port=port, threaded=True)
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)  # polling a socket
    yield f"http://127.0.0.1:{port}"
    server.stop()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("path", ["/?learning_rate=" + "1" * 4301, "/race?learning_rate=" + "1" * 4301,
                                  "/?hidden=" + "9" * 5000 + "&seed=" + "1" * 4400])
def test_a_link_with_a_very_long_number_opens_the_page(url, path):
    assert status(url + path) == 200


@pytest.mark.parametrize("path", ["/components/this/x/_css/y", "/components/../../../etc/passwd",
                                  "/components/antigravity/x/_css/y", "/components/panel.x/y/_css/z",
                                  "/static/../../../etc/passwd", "/components/panel/x/_css/y"])
def test_component_and_static_routes_refuse_what_is_not_panels(url, path, capsys):
    assert status(url + path) in (403, 404)
    assert "Beautiful is better than ugly" not in capsys.readouterr().out  # `this` was not imported
