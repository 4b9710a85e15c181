"""The two Panel routes fenced in playground/bokeh_compat/request_guard.py, on a served app: a link with
a 4,301-digit number opens the page, and /components serves only Panel's own files. Also a
check that Panel is still shaped as the guard expects (it fails when Panel changes)."""
from __future__ import annotations

import urllib.error
import urllib.request

import panel as pn
import pytest

from playground.bokeh_compat import request_guard
from playground.server.serving import serve


def test_the_guard_fits_this_panel():
    assert request_guard.install(), "Panel's location or component route changed: see playground/bokeh_compat/request_guard.py"
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


# ------------------------------------------------------------------ sessions (issue 22, item 3)
def _websocket(url: str, token: str, origin: str | None = None):
    """Connect to the app's websocket with ``token``; the HTTP status it is refused with, or
    None when it was accepted (and then closed again)."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    async def connect():
        headers = {"Origin": origin or url}
        request = HTTPRequest(url.replace("http", "ws") + "/ws", headers=headers)
        try:
            socket = await websocket_connect(request, subprotocols=["bokeh", token])
        except HTTPClientError as err:
            return err.code
        message = await socket.read_message()  # Bokeh sends ACK first, or closes a bad session
        socket.close()
        return None if message is not None else "closed"

    return asyncio.run(connect())


def _page_token(url: str) -> str:
    import re

    with urllib.request.urlopen(url + "/", timeout=60) as response:
        return re.search(r'"token"\s*:\s*"([^"]+)"', response.read().decode()).group(1)


def test_a_tab_id_chosen_in_the_link_is_refused(url):
    assert status(url + "/?bokeh-session-id=chosen-by-someone") == 403


def test_a_forged_session_token_is_refused_and_a_real_one_accepted(url):
    from bokeh.util.token import generate_jwt_token

    assert _websocket(url, _page_token(url)) is None  # the page's own token connects
    forged = generate_jwt_token("someone-elses-session", signed=False)
    assert _websocket(url, forged) in (403, "closed")
    other_key = generate_jwt_token("someone-elses-session", signed=True, secret_key="x" * 44)
    assert _websocket(url, other_key) in (403, "closed")


def test_a_websocket_from_a_foreign_origin_is_refused(url):
    assert _websocket(url, _page_token(url), origin="http://evil.example") == 403


# ------------------------------------------------------------------ websocket messages (issue 22, item 9)
async def _a_new_page_opens(url: str, http) -> None:
    """Open a page and pull its document (raises if the server no longer serves pages)."""
    from playground.server.loadtest import PageClient

    newcomer = PageClient(url)
    await newcomer.open(http)
    newcomer.close()


def _after_open(url: str, act):
    """Open a page as the load test's client does (GET, connect, pull once), then ``act(page)``;
    its result, and whether a second page could open and pull its document after it."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient

    from playground.server.loadtest import PageClient

    async def run():
        http = AsyncHTTPClient(force_instance=True)
        page = PageClient(url)
        try:
            await page.open(http)
            result = await act(page)
            await _a_new_page_opens(url, http)
            return result
        finally:
            page.close()
            http.close()

    return asyncio.run(run())


def test_a_connection_that_asks_for_its_document_again_and_again_is_closed(url):
    from playground.bokeh_compat.request_guard import MAX_PULLS_PER_CONNECTION

    async def pull_many(page):
        import asyncio

        replies = 1  # open() pulled once
        for _ in range(20):
            await page._send("PULL-DOC-REQ", {})
        try:
            while (message := await asyncio.wait_for(page._receive(), 30)) is not None:
                replies += message[0] != "frame" and message[0]["msgtype"] == "PULL-DOC-REPLY"
        except asyncio.TimeoutError:
            return replies, "still open"
        return replies, "closed"

    assert _after_open(url, pull_many) == (MAX_PULLS_PER_CONNECTION, "closed")


def test_a_document_pushed_by_a_client_is_refused(url):
    async def push(page):
        import asyncio

        await page._send("PUSH-DOC", {"doc": {"roots": [], "title": "mine", "version": "3.9.2"}})
        while (message := await asyncio.wait_for(page._receive(), 30)) is not None:
            if message[0] != "frame" and message[0]["msgtype"] in ("ERROR", "OK"):
                return message[0]["msgtype"], message[1]

    kind, content = _after_open(url, push)
    assert kind == "ERROR" and "does not take documents" in content


# ------------------------------------------------------------------ malformed messages (issue 16: what held)
def _bokeh_message(msgtype: str, content: dict, **header) -> list[str]:
    import json

    return [json.dumps({"msgid": "probe", "msgtype": msgtype, **header}), "{}", json.dumps(content)]


MALFORMED = {
    "text that is no message": ["hello"],
    "a header that is not JSON": ["{not json", "{}", "{}"],
    "an unknown message type": _bokeh_message("NOPE", {}),
    "a header that promises buffers": _bokeh_message("PATCH-DOC", {}, num_buffers=3),
    "binary bytes": [b"\x00" * 1000],
    "9 MB of text": ["x" * (9 * 1024 * 1024)],
    "a change to a model that does not exist": _bokeh_message(
        "PATCH-DOC", {"events": [{"kind": "ModelChanged", "model": {"id": "nope"}, "attr": "value", "new": 1}]}),
    "a drawn-frame number of 30 digits": ["nn-playground drawn " + "9" * 30],
    "a negative drawn-frame number": ["nn-playground drawn -5"],
    "a drawn-frame number far ahead": ["nn-playground drawn 123456"],
    "a forged ready token": ["nn-playground frames forged-token"],
}


def test_a_malformed_message_ends_at_most_its_own_socket(url):
    """Another page keeps playing while a page sends each malformed message in turn (on its
    own socket), and a new page still opens afterwards."""
    import asyncio
    import time

    from tornado.httpclient import AsyncHTTPClient

    from playground.server.loadtest import PageClient

    async def run():
        http = AsyncHTTPClient(force_instance=True)
        watcher = PageClient(url)
        frames_meanwhile = {}
        try:
            await watcher.open(http)
            await watcher.play()
            watching = asyncio.ensure_future(watcher.run())
            for name, fragments in MALFORMED.items():
                prober = PageClient(url)
                await prober.open(http)
                for fragment in fragments:
                    await prober._ws.write_message(fragment, binary=isinstance(fragment, bytes))
                before, deadline = watcher.frames, time.monotonic() + 30
                while watcher.frames < before + 5 and time.monotonic() < deadline and not watching.done():
                    await asyncio.sleep(0.05)  # polling the other page's frame count
                frames_meanwhile[name] = watcher.frames - before
                prober.close()
            await _a_new_page_opens(url, http)
            return frames_meanwhile
        finally:
            watcher.close()
            http.close()

    frames = asyncio.run(run())
    assert all(n >= 5 for n in frames.values()), frames


def test_a_50_mb_post_is_refused_before_it_is_read(url):
    """No route takes a body: a POST that announces 50 MB is answered (closed) after its
    headers, without the server waiting for, and holding, its body."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    for path in ("/", "/ws", "/stats"):
        with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Length: {50 * 1024 * 1024}"
                         "\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + b"x" * 1024)
            try:
                answer = sock.recv(4096)  # the server waiting for the rest would time out here
            except ConnectionResetError:
                answer = b""
            except TimeoutError:
                answer = None
        assert answer is not None, f"POST {path}: the server waited for a 50 MB body"
        assert answer == b"" or answer.split(b" ")[1] in (b"400", b"413"), (path, answer[:80])
    assert status(url + "/stats") == 200


def test_the_page_links_its_style_sheet_once_instead_of_copying_it_into_every_component(url):
    """The style sheet's text was copied into each of 134 components (a third of the page's
    document); now each links it, and the server serves it."""
    import json

    from playground.ui.page import css_path
    from playground.server.loadtest import pull_document
    from playground.server.serving import STYLESHEET_URL

    css = css_path().read_text()
    with urllib.request.urlopen(f"{url}/{STYLESHEET_URL}", timeout=60) as response:
        assert response.read().decode() == css
    doc = pull_document(url)
    first_line = json.dumps(css.splitlines()[0])[1:-1]
    assert first_line not in doc and STYLESHEET_URL in doc
