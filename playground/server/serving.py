"""``nn-playground serve``: serve the app, one independent session per browser tab.

For a room: every tab is its own session; a closed tab's session is dropped after
UNUSED_SESSION_MS; a session left playing without a click pauses after
``idle_pause_minutes``, and a tab left without a click for ``session_timeout_minutes`` is
ended (see :mod:`playground.server.idle`). ``GET /stats`` answers this process's counts as JSON
(``{"pid", "sessions", "connections", "callbacks", "reclaim_pending", "playgrounds",
"python_blocks", "frames", "bokeh_compat"}``: ``playgrounds`` counts the playground objects not yet freed,
``python_blocks`` Python's allocated memory blocks (``sys.getallocatedblocks``: back where they
were once a room has left, whatever the process's size says), ``frames`` the frames sent
``{"message": n, "bokeh": m}``, see transport/frame_socket.py), ``bokeh_compat`` the Bokeh
and Panel versions and which of playground/bokeh_compat's patches took), for ``nn-playground bench --load``
and for a teacher's curiosity; it shows nothing of anyone's session.
"""
from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import math
import os
import secrets
import signal
import socket
import sys
import time
import weakref

import panel as pn
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from playground import bokeh_compat
from playground.bokeh_compat import panel_state, server_sockets, sessions
from playground.server.idle import IDLE_PAUSE_MINUTES, MAX_TABS_PER_ADDRESS, SESSION_TIMEOUT_MINUTES, IdleWatch
from playground.transport.frame_channel import FRAMES_SENT
from playground.ui.views.text import error_html
from playground.ui.views.upload import remove_stale_upload_folders

UNUSED_SESSION_MS = 5_000  # a closed tab's session is dropped after this long
FIRST_CONNECT_GRACE_S = 60.0  # a new page's session waits this long for its websocket
CHECK_UNUSED_MS = 1_000
# The largest websocket message a page may send: an uploaded session file of the largest size
# the app accepts (snapshot.MAX_BYTES), base64-encoded, with room to spare. A bigger message
# closes that page's connection (tornado's limit) instead of reaching the app's size check.
MAX_MESSAGE_BYTES = 30 * 1024 * 1024
# No route of the app takes a request body (files come over the websocket): tornado's default
# of 100 MB let each POST hold that much memory before its 405.
MAX_REQUEST_BODY_BYTES = 64 * 1024
# The page's style sheet (app.css_path), served beside the page; its URL is relative, so that
# a page behind a proxy's path prefix finds it too.
STYLESHEET_ROUTE = "nn-playground-static"
STYLESHEET_URL = f"{STYLESHEET_ROUTE}/playground.css"


def _fork_with_own_sockets(num_procs: int) -> int:
    """Fork ``num_procs`` server processes, each listening on its own socket bound with
    SO_REUSEPORT, so that the kernel spreads the connections evenly (by address and port).

    Bokeh's ``num_procs`` forks after binding one socket that every process accepts from:
    whichever process wakes first takes the connection, and a measured room of 16 had 14
    sessions in one process and 2 in the other. A websocket that reaches another process
    than its page's first request gets its session built there (Bokeh creates a session
    for a token it does not know), as with Bokeh's own forking. Returns 1: the number of
    processes each child serves with. The parent waits for the children (tornado's
    ``fork_processes``, which restarts one that crashes).
    """
    from tornado import process

    process.fork_processes(num_procs)  # returns in each child only
    _end_with_parent()
    if not server_sockets.install():
        raise RuntimeError("this Bokeh binds its sockets elsewhere: serve with --num-procs 1")
    return 1


def _end_with_parent() -> None:
    """Ask Linux to send this (forked) process SIGTERM when its parent ends (prctl
    PR_SET_PDEATHSIG): a room's server stopped with SIGTERM (a service manager, ``kill``)
    left its children listening on the port. Elsewhere, nothing is done."""
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(name, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent ended before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def session_secret() -> str:
    """The key that signs session ids: ``BOKEH_SECRET_KEY`` when set (several servers behind
    one address must share it), else a new random one for this server's life."""
    return os.environ.get("BOKEH_SECRET_KEY") or secrets.token_urlsafe(32)


def warm_up() -> None:
    """Load the compiled kernels (from Numba's cache) before the first page asks."""
    from playground.core.config import RunConfig
    from playground.core.session import Session

    session = Session(RunConfig(epochs=1))
    session.advance(1)
    session.neuron_maps()


class StatsHandler(RequestHandler):
    """``GET /stats``: this server process's session, connection and callback counts, and
    whether a memory reclaim is due (see MemoryReclaimer)."""

    def initialize(self, reclaimer=None):
        self.reclaimer = reclaimer

    def get(self):
        server = self.application  # bokeh's BokehTornado
        sessions = [s for path in server.app_paths for s in server.get_sessions(path)]
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps({
            "pid": os.getpid(), "sessions": len(sessions),
            "connections": sum(s.connection_count for s in sessions),
            "callbacks": sum(len(s.document.session_callbacks) for s in sessions if not s.destroyed),
            "reclaim_pending": bool(self.reclaimer and self.reclaimer.pending),
            "playgrounds": len(self.reclaimer.live) if self.reclaimer else None,
            "python_blocks": sys.getallocatedblocks(),  # Python's live small objects (leak or high-water?)
            "frames": {"message": FRAMES_SENT["message"], "bokeh": FRAMES_SENT["bokeh"]},
            "bokeh_compat": bokeh_compat.report()}))


class MemoryReclaimer:
    """Gives a closed tab's memory back once its session has ended.

    Panel and Bokeh objects form reference cycles, so an ended session's objects wait for
    Python's next full garbage collection, which a quiet server may not run for a long
    time; and glibc keeps freed heap pages unless asked (``malloc_trim``). After a session
    ends, this runs both, ``delay_s`` later and at most once every ``min_interval_s`` (a
    full collection pauses the event loop for a few hundred milliseconds: a room leaving
    at once pays it once). A playground still referenced when the collection ran (a frame
    in flight as its tab closed, a session Bokeh lets go of a few seconds late) is caught by
    one more, ``delay_s``, then twice and four times that later (``retries`` in all): done
    within 15 s, so that no collection comes long after the room left."""

    def __init__(self, delay_s: float = 2.0, min_interval_s: float = 10.0, retries: int = 3):
        self.delay_s, self.min_interval_s, self.retries = delay_s, min_interval_s, retries
        self.live = weakref.WeakSet()  # the playgrounds not yet freed (GET /stats counts them)
        self.open_sessions = 0  # tracked sessions not yet ended
        self.pending = False
        self._last = -math.inf
        self._retried = 0

    def track(self, app) -> None:
        """A new session's playground, to be freed after its session ends."""
        self.live.add(app)
        self.open_sessions += 1

    def session_destroyed(self, session_context) -> None:
        self.open_sessions = max(0, self.open_sessions - 1)
        self._retried = 0
        self._schedule()

    def _schedule(self, wait: float | None = None) -> None:
        if self.pending:
            return  # the collection already planned frees this session's objects too
        self.pending = True
        if wait is None:
            wait = max(self.delay_s, self._last + self.min_interval_s - time.monotonic())
        IOLoop.current().call_later(wait, self.reclaim)

    def reclaim(self) -> None:
        self._last = time.monotonic()
        gc.collect()
        name = ctypes.util.find_library("c")
        if name and "libc.so" in name:
            try:
                ctypes.CDLL(name).malloc_trim(0)
            except (OSError, AttributeError):
                pass
        self.pending = False
        if len(self.live) > self.open_sessions and self._retried < self.retries:
            self._schedule(self.delay_s * 2 ** self._retried)  # ended sessions' playgrounds left
            self._retried += 1


class AddressLimit:
    """How many tabs (sessions) of this process each client address holds, at most ``limit``:
    one client's bare requests cannot fill the server's memory with pages nobody sees."""

    def __init__(self, limit: int = MAX_TABS_PER_ADDRESS):
        self.limit = limit
        self.open: collections.Counter = collections.Counter()

    def admit(self, address: str) -> bool:
        """Count a new tab from ``address``; False (not counted) when it holds ``limit`` already."""
        if self.open[address] >= self.limit:
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


def too_many_tabs_page(limit: int):
    """The cheap page a client over its tab limit gets instead of a playground."""
    return pn.pane.HTML(error_html(f"Too many tabs of the playground are open from your address (at most "
                                   f"{limit}): close some, then reload this page."), margin=20)


def _stylesheet_folder() -> dict:
    from playground.ui.page import css_path

    path = css_path()
    return {STYLESHEET_ROUTE: str(path.parent)} if path else {}


def page_factory(idle_pause_minutes: float = IDLE_PAUSE_MINUTES,
                 session_timeout_minutes: float = SESSION_TIMEOUT_MINUTES, reclaimer: MemoryReclaimer | None = None,
                 hold_for_websocket: bool = True, address_limit: AddressLimit | None = None):
    """The function that builds a tab's playground, with the room's idle rules attached.

    ``hold_for_websocket``: keep a new session until its page connects (one server
    process; with several, the websocket may reach another one, and the held session
    would only wait there for nothing)."""
    from playground.ui.page import create_app, css_path

    reclaimer = reclaimer or MemoryReclaimer()
    address_limit = address_limit or AddressLimit()
    stylesheet_url = STYLESHEET_URL if css_path() else None  # once, not on every page

    def page():
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        if served:
            address = getattr(doc.session_context.request, "remote_ip", None) or "unknown"
            if not address_limit.admit(address):
                return too_many_tabs_page(address_limit.limit)
            pn.state.on_session_destroyed(lambda context: address_limit.release(address))
            sessions.use_local_panel_resources(doc)
            if hold_for_websocket:
                sessions.hold_until_connected(doc, FIRST_CONNECT_GRACE_S)
        app = create_app(stylesheet_url=stylesheet_url)
        if served:
            IdleWatch(app.state, 60 * idle_pause_minutes, 60 * session_timeout_minutes)
            reclaimer.track(app)
            pn.state.on_session_destroyed(panel_state.forget_views)
            pn.state.on_session_destroyed(reclaimer.session_destroyed)
            pn.state.onload(lambda: sessions.send_without_delay(doc))
        return app

    return page


def serve(port: int = 5006, address: str | None = None, show: bool = False, threaded: bool = False,
          num_procs: int = 1, allow_websocket_origin: list[str] = (),
          idle_pause_minutes: float = IDLE_PAUSE_MINUTES,
          session_timeout_minutes: float = SESSION_TIMEOUT_MINUTES,
          max_tabs_per_address: int = MAX_TABS_PER_ADDRESS):
    """Serve the playground at ``http://localhost:PORT/`` (and the race at ``/race``);
    blocks unless ``threaded``. ``num_procs`` > 1 forks that many server processes."""
    from playground.ui.page import TITLE
    from playground.ui.race import create_race

    one_process = num_procs == 1
    # Signed session ids: a page's session id and token are made and signed by this server,
    # so no one can choose a tab's id in a link (?bokeh-session-id=...) or forge a token to
    # connect to another person's session. Made before forking: every process checks alike.
    secret_key = session_secret()
    if num_procs > 1 and hasattr(socket, "SO_REUSEPORT"):
        num_procs = _fork_with_own_sockets(num_procs)
    bokeh_compat.install()
    print(bokeh_compat.summary(), file=sys.stderr, flush=True)  # what took, before 'Launching server'
    remove_stale_upload_folders()  # left by a server that crashed or was killed
    warm_up()
    origins = [f"localhost:{port}", f"127.0.0.1:{port}"] + ([f"{address}:{port}"] if address else [])
    origins += [o if ":" in o else f"{o}:{port}" for o in allow_websocket_origin]
    reclaimer = MemoryReclaimer()
    return pn.serve({"/": page_factory(idle_pause_minutes, session_timeout_minutes, reclaimer,
                                      hold_for_websocket=one_process,
                                      address_limit=AddressLimit(max_tabs_per_address)), "/race": create_race},
                    port=port, address=address, show=show, title=TITLE,
                    websocket_origin=origins, threaded=threaded, num_procs=num_procs,
                    unused_session_lifetime_milliseconds=UNUSED_SESSION_MS,
                    check_unused_sessions_milliseconds=CHECK_UNUSED_MS,
                    websocket_max_message_size=MAX_MESSAGE_BYTES,
                    http_server_kwargs={"max_body_size": MAX_REQUEST_BODY_BYTES},
                    static_dirs=_stylesheet_folder(),
                    sign_sessions=True, secret_key=secret_key, generate_session_ids=True,
                    extra_patterns=[(r"/stats", StatsHandler, {"reclaimer": reclaimer})])
