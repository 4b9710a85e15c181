"""``nn-playground bench --load N --seconds T``: a room of N pages against one server.

The server runs as ``nn-playground serve`` in its own process (so that its CPU time and
memory are measured apart from the clients'). N lightweight clients in this process each
behave like a browser tab, speaking Bokeh's websocket protocol directly (no browser, no
document model): load the page (an HTTP GET creates the session), pull the document, press
Play (the Play button's click event), say READY on the socket as the page's frame channel
does (frames then come as frame messages, see transport/frame_socket.py), and acknowledge the
frames the server asks it to, as the page does (the server sends a page no more frames than
it has drawn). Reported: frames per second of each session over T seconds,
the server's CPU milliseconds per frame, and its memory before the room came, while it
trains, and after every client left and its session expired (``GET /stats`` counts them).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from playground.transport.frame_socket import DRAWN, READY, decode

CHANNEL = "frame_channel"  # the data model whose `changes` carry each numbered frame, and `drawn` the page echoes
TOKEN = re.compile(r'"token"\s*:\s*"([^"]+)"')
SERVER_START_S = 120.0  # a cold Numba cache compiles for a while
ROOM_READY_S = 300.0  # every page loaded and its first frame shown, or the bench says which did not
# (30 pages opened at once on one process wait for each other: each takes ~1-2 s of server CPU)
EXPIRE_S = 30.0  # closed tabs' sessions must be gone by then (the server drops them after 5 s)
MEMORY_SAMPLE_S = 0.5
RECLAIM_S = 20.0  # the server collects ended sessions' objects within about 2 + 2 + 4 + 8 s


class LoadError(RuntimeError):
    """The load bench could not run (the server did not start, pages did not load)."""


# ---------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children() -> dict[int, list[int]]:
    """{parent pid: [child pids]} of every process, from /proc."""
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(name))
    return tree


class ServerProcess:
    """``nn-playground serve`` in a subprocess, measured with psutil when it is installed,
    else from /proc (Linux). Its output goes to a log file, read for tracebacks. It ends
    when this process ends (on Linux)."""

    def __init__(self, port: int, num_procs: int = 1, extra_args: tuple = (), extra_env: dict | None = None):
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix="nn-playground-serve-", suffix=".log", delete=False)
        command = [sys.executable, "-m", "playground.cli", "serve", "--address", "127.0.0.1",
                   "--port", str(port), "--num-procs", str(num_procs), *extra_args]
        root = str(Path(__file__).resolve().parents[2])  # the checkout holding playground/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               **(extra_env or {})}
        from playground.server.serving import _end_with_parent

        # Ends with this process, however it ends (a bench stopped by `timeout` or kill -9
        # left its server running, and training its forgotten pages).
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_end_with_parent)

    # ---------------------------------------------------------------- measuring
    def pids(self) -> list[int]:
        """The server and every process it forked (``--num-procs``)."""
        tree, found, todo = _children(), [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(tree.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far (all their threads)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            except (OSError, IndexError, ValueError):
                continue
        return total

    def memory_mb(self) -> float:
        """The server's memory in MB: the sum of its processes' proportional set sizes (PSS:
        pages shared by forked processes are split between them, not counted twice)."""
        try:
            import psutil
        except ImportError:
            psutil = None
        total = 0
        for pid in self.pids():
            try:
                if psutil is not None:
                    info = psutil.Process(pid).memory_full_info()
                    total += getattr(info, "pss", info.rss)
                    continue
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
            except Exception:  # a process that just ended; no smaps_rollup (old kernels)
                continue
        return total / 1e6

    # ---------------------------------------------------------------- talking to it
    async def stats(self, http, polls: int = 1) -> dict:
        """``GET /stats`` summed over the server's processes (each request reaches one
        process: with several, ask ``polls`` times and keep the latest answer of each)."""
        latest = {}
        for _ in range(polls):
            response = await http.fetch(f"http://127.0.0.1:{self.port}/stats", request_timeout=30)
            answer = json.loads(response.body)
            latest[answer["pid"]] = answer
        return {key: sum(a[key] or 0 for a in latest.values()) for key in (
            "sessions", "connections", "callbacks", "reclaim_pending", "playgrounds", "python_blocks")} | {
            "processes_seen": len(latest)}

    async def wait_ready(self, http, seconds: float = SERVER_START_S) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"the server exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                await self.stats(http)
                return
            except Exception:
                await asyncio.sleep(0.2)  # polling a starting process
        raise LoadError(f"the server did not answer within {seconds:.0f} s: {self.log_tail()}")

    def log_text(self) -> str:
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def log_tail(self, lines: int = 5) -> str:
        return " | ".join(self.log_text().strip().splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Tracebacks and ERROR lines in the server's log."""
        lines = self.log_text().splitlines()
        return [line for i, line in enumerate(lines) if "Traceback" in line or "ERROR" in line
                or (i and lines[i - 1].startswith("  ") and "Error" in line and not line.startswith(" "))]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if not self.log.closed:  # once: stop() may be called again
            self.log.close()
            os.unlink(self.log.name)


# ---------------------------------------------------------------------------- a page
class PageClient:
    """One tab, without a browser: Bokeh's websocket protocol, enough to play and pace.

    A Bokeh message is three text fragments (header, metadata, content) and, when the
    header's ``num_buffers`` says so, pairs of (buffer header, binary payload).
    """

    _ids = itertools.count()

    def __init__(self, base_url: str, query: str = ""):
        self.base_url = base_url.rstrip("/")
        self.query = query
        self.frames = 0  # frames received (and acknowledged) since Play
        self.frame_messages = 0  # of which as frame messages (the others as Bokeh changes)
        self.play_label = "Play"  # the Play button's label as the server last set it
        self.closed_by_server = False  # the server closed the websocket (an idle tab's end)
        self.first_frame_at: float | None = None
        self.error: str | None = None
        self.closed = False
        self._ws = None
        self._channel_id = None
        self._channel_token = None
        self._play_id = None

    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": f"c{next(self._ids)}", "msgtype": msgtype}
        for fragment in (json.dumps(header), "{}", json.dumps(content)):
            await self._ws.write_message(fragment)

    async def _receive(self):
        """The next whole message as (header, content text), a frame message as ("frame",
        its header); None when the socket closed."""
        header = await self._ws.read_message()
        if header is None:
            return None
        if isinstance(header, bytes):  # never a Bokeh message's first part
            frame = decode(header)
            if frame is None:
                raise LoadError("the server sent binary data that is not a frame message")
            return "frame", frame[0]
        metadata = await self._ws.read_message()
        content = await self._ws.read_message()
        if metadata is None or content is None:
            return None
        header = json.loads(header)
        for _ in range(2 * header.get("num_buffers", 0)):  # buffers (the boundary image): not needed
            if await self._ws.read_message() is None:
                return None
        return header, content

    async def open(self, http) -> None:
        """Load the page (this creates the server session), connect, pull the document."""
        from tornado.websocket import websocket_connect

        response = await http.fetch(f"{self.base_url}/{self.query}", request_timeout=ROOM_READY_S,
                                    connect_timeout=ROOM_READY_S)
        token = TOKEN.search(response.body.decode("utf-8", "replace"))
        if token is None:
            raise LoadError("the page carries no session token")
        from tornado.httpclient import HTTPRequest

        # A busy server (a room's pages being built) may take a while to answer the handshake.
        request = HTTPRequest(self.base_url.replace("http", "ws", 1) + "/ws", connect_timeout=ROOM_READY_S,
                              request_timeout=ROOM_READY_S)
        self._ws = await websocket_connect(request, subprotocols=["bokeh", token.group(1)],
                                           max_message_size=64 * 1024 * 1024)
        self._ws.protocol.set_nodelay(True)  # as browsers do: an acknowledgement leaves at once
        ack = await self._receive()
        if ack is None or ack[0]["msgtype"] != "ACK":
            raise LoadError(f"the server did not acknowledge the connection: {ack}")
        await self._send("PULL-DOC-REQ", {})
        while True:
            reply = await self._receive()
            if reply is None:
                raise LoadError("the connection closed before the document arrived")
            if reply[0]["msgtype"] == "PULL-DOC-REPLY":
                break
        self._find_models(json.loads(reply[1])["doc"])
        # As BokehJS does once the page is rendered: Panel holds periodic callbacks until then.
        await self._send_event("document_ready", [])
        await self._ws.write_message(READY + self._channel_token)  # as the frame channel's script does

    async def _send_event(self, name: str, entries: list) -> None:
        event = {"type": "event", "name": name, "values": {"type": "map", "entries": entries}}
        await self._send("PATCH-DOC", {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event",
                                                   "msg_data": event}]})

    def _find_models(self, doc) -> None:
        tokens = {}  # model id -> its token attribute
        for node in document_objects(doc):
            attributes = node.get("attributes", {})
            if "token" in attributes:
                tokens[node["id"]] = attributes["token"]
            if attributes.get("name") == CHANNEL:  # the component, or its data model
                data = attributes.get("data")
                self._channel_id = data["id"] if isinstance(data, dict) and "id" in data else node["id"]
            if attributes.get("label") == "Play" and node.get("name", "").endswith("Button"):
                self._play_id = node["id"]
        self._channel_token = tokens.get(self._channel_id)
        if self._channel_id is None or self._play_id is None or not self._channel_token:
            raise LoadError("the page has no frame channel (with its token) or no Play button")

    async def play(self) -> None:
        """Click Play, as the browser reports a button click."""
        await self._send_event("button_click", [["model", {"id": self._play_id}]])

    async def run(self) -> None:
        """Receive frames and acknowledge those the server asks for, until the socket closes."""
        marker, play = f'"{self._channel_id}"', f'"{self._play_id}"'
        while True:
            message = await self._receive()
            if message is None:
                self.closed_by_server = not self.closed
                return
            header, content = message
            if header == "frame":  # a frame message (transport/frame_socket.py)
                self.frame_messages += 1
                await self._received(content["frame"], content["ack"], DRAWN + str(content["frame"]))
                continue
            if header["msgtype"] != "PATCH-DOC" or (marker not in content and play not in content):
                continue
            for event in json.loads(content).get("events", ()):
                if event.get("kind") != "ModelChanged":
                    continue
                model, attr = event.get("model", {}).get("id"), event.get("attr")
                if model == self._channel_id and attr == "changes":  # a frame sent as a Bokeh change
                    frame, ack = _frame_and_ack(event["new"])
                    await self._received(frame, ack, {"events": [{"kind": "ModelChanged", "attr": "drawn",
                                                                  "model": {"id": self._channel_id}, "new": frame}]})
                elif model == self._play_id and attr == "label":
                    self.play_label = event["new"]

    async def _received(self, frame: int, ack: bool, answer: str | dict) -> None:
        """Count frame ``frame``; if ``ack``, send ``answer``: a frame_socket message (str),
        or the content of a Bokeh patch (dict), as the page answers."""
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = time.monotonic()
        if not ack:  # the page acknowledges only the frames the server asks it to
            return
        if isinstance(answer, str):
            await self._ws.write_message(answer)
        else:
            await self._send("PATCH-DOC", answer)

    async def session(self, http) -> None:
        """open, play, run; any failure is kept in ``error`` (the room goes on)."""
        try:
            await self.open(http)
            await self.play()
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - one page's failure is a result, not a crash
            if not self.closed:
                self.error = f"{type(err).__name__}: {err}"

    def close(self) -> None:
        self.closed = True
        if self._ws is not None:
            self._ws.close()


def document_objects(node):
    """Every model (``{"type": "object", "id", "name", "attributes"}``) in a pulled document's
    JSON, however deeply nested, parents before their children."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from document_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from document_objects(value)


def pull_document(base_url: str) -> str:
    """Open a page at ``base_url`` as :class:`PageClient` does and return its pulled document
    as JSON text (raises LoadError unless it has its Play button and frame channel)."""
    from tornado.httpclient import AsyncHTTPClient

    pulled = {}

    class Page(PageClient):
        def _find_models(self, doc) -> None:
            pulled["doc"] = json.dumps(doc)
            super()._find_models(doc)

    async def run() -> None:
        http = AsyncHTTPClient(force_instance=True)
        page = Page(base_url)
        try:
            await page.open(http)
        finally:
            page.close()
            http.close()

    asyncio.run(run())
    return pulled["doc"]


# ---------------------------------------------------------------------------- the room
@dataclass
class LoadResult:
    clients: int
    seconds: float  # the measured window
    num_procs: int
    frames_per_second: list = field(default_factory=list)  # per session, over the window
    server_cpu_ms_per_frame: float = float("nan")
    server_cpu_percent: float = float("nan")  # of one core, during the window
    idle_cpu_percent: float = float("nan")  # of one core, after the room left (quietest of 3 s)
    memory_mb: dict = field(default_factory=dict)  # before / during (peak) / after
    # Python's allocated blocks (sys.getallocatedblocks) before the room and after it left: the
    # objects a room leaves behind, whatever the process's size (an allocator's high-water) says
    python_blocks: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)  # server session counts: during / after
    seconds_to_expire: float = float("nan")  # from the last close to no session left
    ready_seconds: float = float("nan")  # from the first GET to every page's first frame
    frame_message_share: float = float("nan")  # of the frames received, the part as frame messages
    failed: list = field(default_factory=list)  # one line per page that failed
    server_errors: list = field(default_factory=list)

    def summary(self) -> dict:
        fps = sorted(self.frames_per_second)
        return {"min": fps[0] if fps else 0.0, "median": statistics.median(fps) if fps else 0.0,
                "max": fps[-1] if fps else 0.0}

    def to_json(self) -> dict:
        return {**asdict(self), "fps": self.summary()}


async def _room(n: int, seconds: float, num_procs: int, server_args: tuple, progress, rooms: int) -> LoadResult:
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient(force_instance=True, max_clients=max(10, n + 2))
    result = LoadResult(clients=n, seconds=seconds, num_procs=num_procs)
    server = ServerProcess(_free_port(), num_procs, server_args)
    try:
        await server.wait_ready(http)
        result.memory_mb["before"] = round(server.memory_mb(), 1)
        result.python_blocks["before"] = (await server.stats(http, 12 * num_procs if num_procs > 1 else 1)
                                          )["python_blocks"]
        progress(f"server ready (pid {server.process.pid}, {result.memory_mb['before']:.0f} MB)")
        for room in range(rooms):
            await _one_room(server, http, n, seconds, result, progress, last=room == rooms - 1)
            result.memory_mb.setdefault("after_each_room", []).append(result.memory_mb["after"])
    finally:
        http.close()
        result.server_errors = server.errors()
        server.stop()
    return result


async def _one_room(server, http, n, seconds, result, progress, last: bool) -> None:
    """N pages come, play for ``seconds`` (measured), and leave; fills ``result``."""
    # Each /stats request reaches one process: with several, ask often enough to hear from each.
    polls = 12 * result.num_procs if result.num_procs > 1 else 1
    base = f"http://127.0.0.1:{server.port}"
    clients = [PageClient(base) for _ in range(n)]
    started = time.monotonic()
    tasks = [asyncio.ensure_future(c.session(http)) for c in clients]
    try:
        deadline = started + ROOM_READY_S
        while time.monotonic() < deadline and not all(c.first_frame_at or c.error or t.done()
                                                       for c, t in zip(clients, tasks)):
            await asyncio.sleep(0.05)  # polling the clients' counters
        result.ready_seconds = round(time.monotonic() - started, 2)
        playing = [c for c in clients if c.first_frame_at]
        progress(f"{len(playing)} of {n} pages playing after {result.ready_seconds:.1f} s; measuring {seconds:g} s")

        frames0 = [c.frames for c in clients]
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        peak = server.memory_mb()
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(min(MEMORY_SAMPLE_S, max(0.0, seconds - (time.monotonic() - t0))))
            peak = max(peak, server.memory_mb())
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        window = t1 - t0
        frames = [c.frames - f0 for c, f0 in zip(clients, frames0)]
        stats = await server.stats(http, polls)
        result.sessions["during"] = stats["sessions"]
        result.sessions["processes_seen"] = stats["processes_seen"]
        result.frames_per_second = [round(f / window, 2) for f in frames]
        result.frame_message_share = round(sum(c.frame_messages for c in clients) / max(1, sum(c.frames for c in clients)), 3)
        result.server_cpu_ms_per_frame = round(1000 * (cpu1 - cpu0) / max(1, sum(frames)), 3)
        result.server_cpu_percent = round(100 * (cpu1 - cpu0) / window, 1)
        result.memory_mb["during"] = round(max(peak, result.memory_mb.get("during", 0.0)), 1)
        result.failed += [f"page {i}: {c.error or 'never showed a frame'}" for i, c in enumerate(clients)
                          if c.error or not c.first_frame_at]
    finally:
        for c in clients:  # the room leaves
            c.close()
        left = time.monotonic()
        await asyncio.wait(tasks, timeout=EXPIRE_S)
        for t in tasks:
            t.cancel()
    stats = await server.stats(http, polls)
    while (stats["sessions"] or stats["callbacks"]) and time.monotonic() - left < EXPIRE_S:
        await asyncio.sleep(0.25)  # polling the server's counts
        stats = await server.stats(http, polls)
    result.seconds_to_expire = round(time.monotonic() - left, 2)
    result.sessions["after"] = stats["sessions"]
    gone = time.monotonic()
    # The server collects ended sessions' objects shortly after (server.MemoryReclaimer).
    while ((stats["reclaim_pending"] or stats["playgrounds"] or time.monotonic() - gone < 0.5)
           and time.monotonic() - gone < RECLAIM_S):
        await asyncio.sleep(0.25)
        stats = await server.stats(http, polls)
    result.memory_mb["after"] = round(server.memory_mb(), 1)
    result.python_blocks["after"] = stats["python_blocks"]
    result.sessions["playgrounds_left"] = stats["playgrounds"]  # not freed after the room left: a leak
    settled = time.monotonic()
    while stats["reclaim_pending"] and time.monotonic() - settled < RECLAIM_S:
        await asyncio.sleep(0.25)  # a last planned collection (playgrounds left): not "running on"
        stats = await server.stats(http, polls)
    # Three quiet seconds, to show that nothing runs on: the quietest counts (work that runs on
    # shows in each; a one-off, such as one process's last collection, in one only).
    quiet = []
    for _ in range(3):
        cpu2, t2 = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(1.0)
        quiet.append(100 * (server.cpu_seconds() - cpu2) / (time.monotonic() - t2))
    result.idle_cpu_percent = round(min(quiet), 1)
    progress(f"room left; sessions gone after {result.seconds_to_expire:.1f} s; "
             f"server memory {result.memory_mb['after']:.0f} MB")


def run_load(n: int, seconds: float, num_procs: int = 1, server_args: tuple = (), progress=None,
             rooms: int = 1) -> LoadResult:
    """Run a room of ``n`` pages for ``seconds`` against a fresh server; see the module doc.

    ``rooms`` > 1: the same room comes and goes again, on the same server (memory after each
    room is in ``memory_mb["after_each_room"]``: a leak grows it room after room; the first
    room also pays for one-time caches). The figures of the last room are kept."""
    return asyncio.run(_room(n, seconds, num_procs, tuple(server_args), progress or (lambda text: None), rooms))


def report(result: LoadResult) -> str:
    fps = result.summary()
    memory = result.memory_mb
    seen = "" if result.num_procs == 1 else (f" (counted in the {result.sessions.get('processes_seen')} of "
                                             f"{result.num_procs} processes that answered /stats)")
    lines = [
        f"room: {result.clients} sessions for {result.seconds:g} s on {result.num_procs} server process"
        f"{'es' if result.num_procs > 1 else ''} (all playing after {result.ready_seconds:g} s)",
        f"frames/s per session: min {fps['min']:.1f}  median {fps['median']:.1f}  max {fps['max']:.1f}",
        f"frames sent as frame messages: {result.frame_message_share:.1%} (the others as Bokeh changes)",
        f"server CPU: {result.server_cpu_ms_per_frame:.2f} ms per frame ({result.server_cpu_percent:.0f}% of a core; "
        f"{result.idle_cpu_percent:.0f}% once the room left)",
        f"server memory (MB): before {memory.get('before', float('nan')):.0f}  during "
        f"{memory.get('during', float('nan')):.0f}  after {memory.get('after', float('nan')):.0f}"
        f"; Python objects {_blocks(result.python_blocks)}",
        f"server sessions: {result.sessions.get('during')} during{seen}"
        f", {result.sessions.get('after')} after "
        f"(gone {result.seconds_to_expire:g} s after the last tab closed; "
        f"{result.sessions.get('playgrounds_left')} playgrounds not freed)",
    ]
    lines += [f"failed: {line}" for line in result.failed]
    lines += [f"server log: {line}" for line in result.server_errors[:10]]
    return "\n".join(lines)


def _blocks(blocks: dict) -> str:
    """Before/after allocated blocks, as "731k blocks before, 760k after (+4.0%)"."""
    before, after = blocks.get("before"), blocks.get("after")
    if not before or after is None:
        return "not counted"
    return f"{before / 1000:.0f}k blocks before, {after / 1000:.0f}k after ({after / before - 1:+.1%})"


def _frame_and_ack(changes) -> tuple[int | None, bool]:
    """The frame number in a channel's ``changes`` as Bokeh sends it (a map: entries), and
    whether the page is to acknowledge it."""
    entries = dict(changes.get("entries", ())) if isinstance(changes, dict) else {}
    return entries.get("frame"), bool(entries.get("ack", True))
