"""Measures a room of real browser pages on one server, in headless Chromium.

    python scripts/measure_room.py --pages 12 --seconds 20 [--num-procs 2] [--json]

Serves the app in its own process (``nn-playground serve``, CPU measured apart), opens
``--pages`` pages in one Chromium (each its own browser context: its own session), presses
Play on every one, and once all are training, measures for ``--seconds``:
- updates per second that each page received (epoch readout changes applied by the page),
  min / median / max (fair sharing: the slowest against the fastest);
- clicks answered while all train: on each page in turn, Pause -> the button reads "Play",
  then Play -> it reads "Pause", timed from the browser taking the click in (the mousedown
  event's timeStamp) to the label changing in the page (ms); also from before this driver
  sent the click, which adds its own round trips to the busy page and waits for CPU;
- page errors and console errors, and tracebacks in the server's log;
- the server's CPU (% of one core) during the window.

The pages run as an ordinary user's browser would: run as root (as in a container),
Chromium raises some of its threads to nice -8, which a user's browser cannot do (it needs
CAP_SYS_NICE), and on cores shared with the server those threads delay the server and the
other pages (on 2 cores, with 12 pages playing, an idle process beside them woke up to 260 ms
late, against 90 ms without the raised threads). So as root, Chromium starts without that
capability (through ``capsh``); ``--browser-priority root`` keeps it.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from playground.server.loadtest import ServerProcess, _free_port  # noqa: E402

CHROMIUM = os.environ.get("NN_PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]
READY_MS = 300_000

PROBE = r"""
window.room = (() => {
  const r = {received: 0, label: null, labelAt: 0, pressedAt: 0};
  // when the browser took the click in (a trusted event's timeStamp: its creation, before it
  // waited for the page's main thread), on the clock of performance.now()
  window.addEventListener('mousedown', (e) => { r.pressedAt = e.timeStamp; }, true);
  const doc = () => (window.Bokeh && Bokeh.documents && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  const model = (name) => { const d = doc(); return d ? d.get_model_by_name(name) : null; };
  const button = () => {
    const d = doc();
    return d ? Array.from(d.all_models || d._all_models.values())
      .find(x => x.type && x.type.endsWith('.Button') && ['Play', 'Pause'].includes(x.label)) : null;
  };
  r.ready = () => !!(model('epoch_readout') && model('boundary_source') && button());
  r.listen = () => {
    model('epoch_readout').properties.html.change.connect(() => { r.received++; });
    const b = button();
    r.label = b.label;
    b.properties.label.change.connect(() => { r.label = b.label; r.labelAt = performance.now(); });
  };
  return r;
})();
"""


def user_priority_browser(folder: str) -> tuple[str, str]:
    """(Chromium to launch, how it runs): as root, a script in ``folder`` that starts it
    without CAP_SYS_NICE, as a user's browser runs (see the module's docstring)."""
    capsh = shutil.which("capsh")
    if os.geteuid() != 0:
        return CHROMIUM, "as this user"
    if capsh is None:
        return CHROMIUM, "as root, with its raised thread priorities (no capsh here to drop them)"
    path = os.path.join(folder, "chromium")
    with open(path, "w") as script:
        script.write(f"#!/bin/sh\nexec {shlex.quote(capsh)} --drop=cap_sys_nice -- -c 'exec \"$0\" \"$@\"' "
                     f"{shlex.quote(CHROMIUM)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path, "as root without CAP_SYS_NICE, as a user's browser"


def measure(pages: int, seconds: float, num_procs: int, browser_priority: str = "user") -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
    from tornado.httpclient import HTTPClient

    server = ServerProcess(_free_port(), num_procs)
    url = f"http://127.0.0.1:{server.port}/"
    errors: list[str] = []
    folder = tempfile.TemporaryDirectory()
    executable, browser = (user_priority_browser(folder.name) if browser_priority == "user"
                           else (CHROMIUM, "as it starts itself"))
    try:
        deadline = time.monotonic() + 120
        while True:  # the server's /stats answers once it listens (a page request would build a session)
            try:
                HTTPClient().fetch(url + "stats", request_timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline or server.process.poll() is not None:
                    raise SystemExit(f"the server did not start: {server.log_tail()}")
                time.sleep(0.2)
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            tabs = []
            opened = time.monotonic()
            for i in range(pages):
                page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.on("pageerror", lambda err, i=i: errors.append(f"page {i}: {err}"))
                page.on("console", lambda msg, i=i: msg.type == "error" and errors.append(
                    f"page {i} console: {msg.text}"))
                page.on("requestfailed", lambda request, i=i: errors.append(
                    f"page {i} request failed: {request.url[:120]} ({request.failure})"))
                page.add_init_script(PROBE)
                page.goto(url, wait_until="commit")
                tabs.append(page)
            for page in tabs:
                page.wait_for_function("() => window.room && room.ready()", timeout=READY_MS)
                page.evaluate("room.listen()")
            loaded_s = time.monotonic() - opened

            def click_and_wait(page, label_before: str, label_after: str, driver: list | None = None) -> float:
                """Click, wait for the label; ms from the browser taking the click in to the
                label changing in the page (``driver``: also from before the test driver sent
                it, which adds this process's round trips to the busy page)."""
                button = page.get_by_role("button", name=label_before, exact=True)
                box = button.bounding_box()
                clicked = page.evaluate("performance.now()")
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_function(f"() => room.label === {json.dumps(label_after)}", timeout=30_000)
                label_at, pressed_at = page.evaluate("[room.labelAt, room.pressedAt]")
                if driver is not None:
                    driver.append(label_at - clicked)
                return label_at - (pressed_at if pressed_at >= clicked else clicked)

            for page in tabs:
                click_and_wait(page, "Play", "Pause")
            for page in tabs:  # every page shows training before the window opens
                start = page.evaluate("room.received")
                page.wait_for_function("n => room.received > n + 1", arg=start, timeout=60_000)

            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            counts0 = [page.evaluate("room.received") for page in tabs]
            time.sleep(seconds)  # the measuring window: the pages train meanwhile
            counts1 = [page.evaluate("room.received") for page in tabs]
            window = time.monotonic() - t0
            cpu = 100 * (server.cpu_seconds() - cpu0) / window
            rates = [(b - a) / window for a, b in zip(counts0, counts1)]

            pause_ms, play_ms, driver_ms = [], [], []
            for i, page in enumerate(tabs):  # while the others train
                for before, after, times in (("Pause", "Play", pause_ms), ("Play", "Pause", play_ms)):
                    try:
                        times.append(click_and_wait(page, before, after, driver_ms))
                    except PlaywrightTimeout:
                        errors.append(f"page {i}: a click on {before} was not answered within 30 s")
            chromium.close()
    finally:
        server_errors = server.errors()
        server.stop()
        folder.cleanup()
    return {"pages": pages, "seconds": seconds, "num_procs": num_procs, "browser": browser,
            "loaded_s": round(loaded_s, 1),
            "updates_per_s": [round(r, 2) for r in rates], "server_cpu_percent": round(cpu, 1),
            "pause_ms": [round(x) for x in pause_ms], "play_ms": [round(x) for x in play_ms],
            "with_driver_ms": [round(x) for x in driver_ms],
            "page_errors": errors, "server_errors": server_errors}


def summary(values) -> str:
    if not values:
        return "none"
    return f"min {min(values):.1f}  median {statistics.median(values):.1f}  max {max(values):.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--num-procs", type=int, default=1)
    parser.add_argument("--browser-priority", choices=("user", "root"), default="user",
                        help="user (default): Chromium cannot raise its threads' priority, as a "
                             "user's browser; root: as it starts itself when run as root")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.seconds <= 0 or args.num_procs < 1:
        print("measure_room: --pages and --num-procs must be >= 1 and --seconds > 0", file=sys.stderr)
        return 2
    r = measure(args.pages, args.seconds, args.num_procs, args.browser_priority)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['pages']} pages on {r['num_procs']} server process(es); all loaded after {r['loaded_s']} s")
    print(f"Chromium runs {r['browser']}")
    print(f"updates received per page per second: {summary(r['updates_per_s'])}")
    print(f"server CPU: {r['server_cpu_percent']:.0f}% of a core")
    print(f"Pause -> 'Play' (ms): {summary(r['pause_ms'])};  Play -> 'Pause' (ms): {summary(r['play_ms'])}")
    print(f"  the same clicks timed from before this driver sent them (ms): {summary(r['with_driver_ms'])}")
    print(f"page errors: {len(r['page_errors'])}; server log errors: {len(r['server_errors'])}")
    for line in (r["page_errors"] + r["server_errors"])[:10]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
