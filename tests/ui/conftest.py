"""Fixtures for the Playwright UI suite: one app server per test session, a fresh browser
page (and so a fresh app session) per test, and a check that neither a page nor the server
logged an error.

The browser is Debian's Chromium, launched through Playwright (Playwright cannot download
its own browsers on these machines). A missing Chromium fails the suite: it never skips.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from playground.transport.pacing import FRAME_INTERVAL_S

CHROMIUM = os.environ.get("NN_PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 1000}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FIRST_FRAME_TIMEOUT_MS = 30_000  # a cold Numba cache or a loaded CI machine is slow
# A rebuilt network or data set takes a loaded CI machine a few seconds to show; tests that
# are about promptness (Pause) pass their own, shorter timeout.
expect.set_options(timeout=10_000)

# Helpers the tests call inside the page as pg.<name>(...). They read the app's named Bokeh
# models (see playground/ui/page.py and playground/ui/views/*), so the tests read what the browser
# received, not what the server meant to send.
PAGE_HELPERS = """
window.pg = (() => {
  const doc = () => (window.Bokeh && Bokeh.documents && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  const model = (name) => { const d = doc(); return d ? d.get_model_by_name(name) : null; };
  const textOf = (name) => {
    const m = model(name);
    if (!m) return null;
    const el = document.createElement('div');
    el.innerHTML = m.html || '';
    return el.textContent;
  };
  const number = (text, label) => {
    if (text === null) return null;
    const r = new RegExp(label + '\\\\s*([-+0-9.eE,]+|\\u2014)').exec(text);
    if (!r) return null;
    return r[1] === '\\u2014' ? NaN : parseFloat(r[1].replace(/,/g, ''));
  };
  const counts = {};
  let frames = 0, started = null;
  const pg = {
    model,
    text: textOf,
    epoch: () => number(textOf('epoch_readout'), 'Epoch'),
    testLoss: () => number(textOf('loss_readout'), 'Test loss'),
    trainLoss: () => number(textOf('loss_readout'), 'Training loss'),
    // The glyph renderer that draws a named data source (renderers have no names).
    rendererOf: (source) => {
      const d = doc(), s = model(source);
      const all = d.all_models || d._all_models.values();
      return Array.from(all).find(m => m.data_source === s) || null;
    },
    // True when the named model is on the page (has a view), not merely in the document.
    drawn: (name) => {
      const m = model(name);
      return !!m && Object.values(Bokeh.index).some(v => v.owner.find_one(m) != null);
    },
    column: (source, column) => { const s = model(source); return s ? Array.from(s.data[column] || []) : null; },
    rows: (source) => { const s = model(source); return s ? s.get_length() : null; },
    boundary: () => {
      const s = model('boundary_source');
      if (!s || !s.data.image || !s.data.image.length) return null;
      const im = s.data.image[0];
      return {shape: Array.from(im.shape || []), values: Array.from(im)};
    },
    ready: () => {
      const b = pg.boundary();
      return pg.epoch() !== null && Number.isFinite(pg.testLoss()) && b !== null
        && b.shape.join('x') === '100x100';
    },
    // Count every update the page receives from now on: the epoch text, the boundary image,
    // streamed loss points. Also count painted frames, so a quiet interval is shown to be live.
    startCounting: () => {
      for (const k of Object.keys(counts)) delete counts[k];
      const bump = (k) => () => { counts[k] = (counts[k] || 0) + 1; };
      const epoch = model('epoch_readout'), boundary = model('boundary_source'), loss = model('loss_source');
      epoch.properties.html.change.connect(bump('epoch'));
      boundary.change.connect(bump('boundary'));
      boundary.properties.data.change.connect(bump('boundary'));
      boundary.patching.connect(bump('boundary'));
      loss.streaming.connect(bump('loss'));
      frames = 0; started = performance.now();
      const tick = () => { frames++; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    },
    counted: () => ({...counts}),
    playLabel: () => {
      const d = doc();
      const b = Array.from(d.all_models || d._all_models.values())
        .find(m => m.type && m.type.endsWith('.Button') && ['Play', 'Pause'].includes(m.label));
      return b ? b.label : null;
    },
    framesSince: () => frames,
    msSince: () => performance.now() - started,
  };
  return pg;
})();
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int, seconds: float) -> bool:
    """Whether something accepts connections on ``port`` within ``seconds`` (a socket check:
    an HTTP request would build a whole app session)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)  # polling a socket, not waiting on the UI
    return False


@pytest.fixture(scope="session")
def app_url():
    """Serves the playground in a thread for the whole test session; its base URL."""
    from playground.server.serving import serve

    port = _free_port()
    server = serve(port=port, threaded=True)
    # The address, not "localhost": on a loaded machine Chromium's name lookup of localhost
    # can fail (net::ERR_NAME_NOT_RESOLVED on some of a page's resources).
    url = f"http://127.0.0.1:{port}/"
    if not _listening(port, seconds=60):
        server.stop()
        pytest.fail(f"the app server did not listen on port {port} within 60 s")
    yield url
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless; fail (never skip) when it is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        pytest.fail(
            f"Chromium not found at {CHROMIUM} (which chromium: {found}). The UI tests need Debian's "
            "chromium: run `bash scripts/setup-tests.sh` (or `apt-get install -y chromium`), or set "
            "NN_PLAYGROUND_CHROMIUM to its path.", pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


class App:
    """One browser page on a fresh app session, with helpers that read the page."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url

    def open(self) -> "App":
        self.page.goto(self.url)
        self.page.wait_for_function("() => window.pg && pg.ready()", timeout=FIRST_FRAME_TIMEOUT_MS)
        return self

    # ---------------------------------------------------------------- reading
    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def epoch(self) -> int:
        return self.js("pg.epoch()")

    def test_loss(self) -> float:
        return self.js("pg.testLoss()")

    def text(self, name: str) -> str:
        return self.js("name => pg.text(name)", name)

    def wait(self, predicate: str, arg=None, timeout: float = 15_000, shows: str | None = None):
        """Waits until the JS function ``predicate(arg)`` is truthy; returns its value.

        On a timeout, fails with what the page shows: the JS function ``shows`` (by default
        the epoch, the test loss and the Play button's label)."""
        try:
            return self.page.wait_for_function(predicate, arg=arg, timeout=timeout).json_value()
        except PlaywrightTimeoutError:
            shown = self.js(shows or "() => ({epoch: pg.epoch(), test_loss: pg.testLoss(), "
                                     "play_button: pg.playLabel()})", arg)
            raise AssertionError(f"waited {timeout / 1000:g} s for {predicate} with {arg!r}; "
                                 f"the page shows {shown}") from None

    # ---------------------------------------------------------------- controls
    def open_more_settings(self) -> None:
        """Open the header's More settings row (the optimizer's boxes, speed, sharing, the look)."""
        button = self.page.locator(".more-settings button")
        if "▾" in button.inner_text():
            button.click()
        expect(self.page.locator(".pg-more")).to_be_visible()

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def select(self, name: str):
        return self.page.get_by_role("combobox", name=name, exact=True)

    def checkbox(self, label: str):
        # Bokeh's Checkbox puts no <label> around its input; the page names it for screen
        # readers (playground/ui/views/shortcuts.py), so the role selector finds it.
        return self.page.get_by_role("checkbox", name=label, exact=True)

    # ---------------------------------------------------------------- checks
    def assert_quiet(self) -> dict:
        """Shows that nothing updates any more, honestly: counts every update the page receives
        while (1) the server answers two round trips ("Show test data" on and off: the server
        shows and hides the test points' renderer; the websocket keeps messages in order, so
        whatever the server sent before its answer has arrived), and (2) at least 10 of the
        app's frame periods pass, with at least 20 frames painted. A training loop that still
        ran would send an update every frame period. Returns the counts (``{}``: none)."""
        self.js("pg.startCounting()")
        show_test = self.checkbox("Show test data")
        for expected in (True, False):
            show_test.click()
            self.wait("v => pg.rendererOf('test_points').visible === v", expected)
        self.page.wait_for_function(
            "ms => pg.framesSince() >= 20 && pg.msSince() >= ms", arg=10 * 1000 * FRAME_INTERVAL_S, polling="raf",
            timeout=15_000)
        return self.js("pg.counted()")


class _ServerErrors(logging.Handler):
    """Collects ERROR records (tracebacks of failed callbacks) that the app server logs."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    @staticmethod
    def _closed_tab(record) -> bool:
        """Tornado and Bokeh log these when a tab closes while a message is in flight (a test's
        page closing, often the previous test's): the connection's noise, not the app's error."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (asyncio.CancelledError, WebSocketClosedError, StreamClosedError)):
            return True
        text = record.getMessage()
        return "Task exception was never retrieved" in text and "WebSocketClosedError" in text

    def emit(self, record):
        if self._closed_tab(record):
            return
        self.records.append(f"server: {record.name}: {record.getMessage()}"
                            + (f"\n{self.format(record)}" if record.exc_info else ""))


@pytest.fixture
def page_errors():
    """Errors logged by any page of the test, and by the app server meanwhile (it runs in this
    process); the test fails when there are any: a user never meets a traceback, even unseen."""
    errors: list[str] = []
    server = _ServerErrors()
    logging.getLogger().addHandler(server)
    try:
        yield errors
    finally:
        logging.getLogger().removeHandler(server)
    errors += server.records
    assert not errors, "errors were logged:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def shared_context(browser, browser_context_args):
    """One browser context for the test session, so that the app's scripts come from its HTTP
    cache (about 1 s less per page here). Every test still opens its own page, and every page
    is its own app session; the app keeps no state in cookies or storage."""
    context = browser.new_context(**browser_context_args)
    context.add_init_script(PAGE_HELPERS)
    yield context
    context.close()


def record_console_error(msg, errors: list) -> None:
    """A page's console error is a test failure, except a resource on another host whose name
    does not resolve (no network here): the app itself loads nothing from elsewhere, and
    such a failure is printed with its address instead, to be looked into."""
    if msg.type != "error":
        return
    where = (msg.location or {}).get("url", "")
    if "ERR_NAME_NOT_RESOLVED" in msg.text:  # a name lookup: never the app server's address
        print(f"\nnot counted: {msg.text} ({where or 'no address'})", file=sys.stderr)
        return
    errors.append(f"console.{msg.type}: {msg.text}")


def watch_errors(page, errors: list) -> None:
    """Counts ``page``'s script errors and console errors (see record_console_error)."""
    page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
    page.on("console", lambda msg: record_console_error(msg, errors))


@pytest.fixture
def open_app(shared_context, app_url, page_errors):
    """Opens a page on a new app session at ``app_url + query``; the pages still open are
    closed (ending their sessions) after the test."""
    pages = []

    def _open(query: str = "") -> App:
        page = shared_context.new_page()
        pages.append(page)
        watch_errors(page, page_errors)
        return App(page, app_url + query).open()

    yield _open
    for page in pages:
        if not page.is_closed():
            page.close()


@pytest.fixture
def app(open_app) -> App:
    """A fresh page on a fresh app session, showing its first frame."""
    return open_app()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
