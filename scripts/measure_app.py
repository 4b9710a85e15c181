"""Measures the playground as a user meets it, in headless Chromium.

    python scripts/measure_app.py                     # serves the app in this process
    python scripts/measure_app.py --url http://localhost:5006/   # an app served elsewhere
    python scripts/measure_app.py --json              # one JSON object instead of text

Prints:
- first frame: ms from navigation start until the page holds the epoch readout (with a
  number), a finite test loss and the 100x100 boundary image, seen in a requestAnimationFrame
  callback, i.e. in the frame that paints them.
- playing at the default speed for --play-seconds: how many updates the page *received*
  (Bokeh change events on the epoch readout), how many it *showed* (animation frames in which
  the epoch text, or the text or the boundary image, differ from the previous animation frame:
  what a user can see, at most one per painted frame), painted frames/s (and, for comparison,
  idle before Play), epochs shown per second, the browser's main-thread time in long tasks
  (>50 ms), and websocket messages and bytes.
- latency while training, median (and max) over --repeats tries, from the moment this
  script issues the input until the page shows its effect: Pause -> the button reads "Play"
  (and how many more epochs the page showed after the click: the backlog); Play -> it reads
  "Pause", and the epoch moves again; Noise slider (one arrow-key step) -> new training
  points; Speed select (1 -> 5 epochs per frame) -> an epoch step of 5 in the readout. The
  learning-rate select has no effect of its own on the page, so for it the figure is the
  time until the next frame arrives (a lower bound). Clicks go to the button's position at
  once (page.mouse.click), as a user's would, without Playwright's wait for an idle page.
  Effects are timed by Bokeh change listeners: when the browser applied the server's message,
  just before that frame paints. The input time is this machine's clock mapped onto the
  page's (performance.timeOrigin), so a busy page's input queueing is counted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time

CHROMIUM = os.environ.get("NN_PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]

INSTRUMENT = r"""
window.pgm = (() => {
  const m = {firstFrame: null, events: [], counting: false};
  const doc = () => (window.Bokeh && Bokeh.documents && Bokeh.documents.length) ? Bokeh.documents[0] : null;
  const model = (name) => { const d = doc(); return d ? d.get_model_by_name(name) : null; };
  const plain = (html) => { const el = document.createElement('div'); el.innerHTML = html || ''; return el.textContent; };
  m.model = model;
  m.epoch = () => {
    const e = model('epoch_readout');
    const r = e && /Epoch\s*([0-9,.]+)/.exec(plain(e.html));
    return r ? parseFloat(r[1].replace(/,/g, '')) : null;
  };
  m.testLoss = () => {
    const e = model('loss_readout');
    const r = e && /Test loss\s*([-+0-9.eE]+)/.exec(plain(e.html));
    return r ? parseFloat(r[1]) : null;
  };
  m.ready = () => {
    const s = model('boundary_source');
    const im = s && s.data.image && s.data.image[0];
    return m.epoch() !== null && Number.isFinite(m.testLoss()) && !!im && !!im.shape
      && im.shape[0] === 100 && im.shape[1] === 100;
  };
  m.button = (labels) => {
    const d = doc();
    return Array.from(d.all_models || d._all_models.values())
      .find(x => x.type && x.type.endsWith('.Button') && labels.includes(x.label)) || null;
  };
  // long tasks on the main thread
  m.longTaskMs = 0;
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries()) m.longTaskMs += e.duration; })
      .observe({type: 'longtask', buffered: true});
  } catch (err) {}
  // one rAF loop: the first frame, then per-frame sampling while counting
  let lastEpochText = null, lastImage = null;
  m.resetCounts = () => {
    m.frames = 0; m.visible = 0; m.visibleEpoch = 0; m.received = 0; m.start = performance.now();
    m.startEpoch = m.epoch(); m.startLongTaskMs = m.longTaskMs;
  };
  const tick = () => {
    const now = performance.now();
    if (m.firstFrame === null && doc() && m.ready()) m.firstFrame = now;
    if (m.counting) {
      m.frames++;
      const e = model('epoch_readout'), s = model('boundary_source');
      const text = e ? e.html : null, image = s ? s.data.image[0] : null;
      if (text !== lastEpochText || image !== lastImage) m.visible++;
      if (text !== lastEpochText) m.visibleEpoch++;
      lastEpochText = text; lastImage = image;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  m.listen = () => {  // Bokeh change listeners: when the browser applies what the server sent
    const log = (kind, value) => m.events.push([kind, performance.now(), value]);
    const e = model('epoch_readout');
    e.properties.html.change.connect(() => { m.received++; log('epoch', m.epoch()); });
    const play = m.button(['Play', 'Pause']);
    play.properties.label.change.connect(() => log('label', play.label));
    const points = model('train_points');
    points.change.connect(() => log('points', null));
    points.properties.data.change.connect(() => log('points', null));
  };
  return m;
})();
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_here():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from playground.server.serving import serve

    port = _free_port()
    server = serve(port=port, threaded=True)
    url = f"http://localhost:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a socket check: an HTTP request would build a session
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return server, url
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the app did not listen at {url}")


class Probe:
    def __init__(self, page, timeout_ms: float):
        self.page = page
        self.timeout_ms = timeout_ms
        self.origin = None

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)

    def wait(self, predicate, arg=None, timeout=None):
        return self.page.wait_for_function(predicate, arg=arg, timeout=timeout or self.timeout_ms,
                                           polling="raf").json_value()

    def now(self) -> float:
        """Now on the page's clock (ms since its navigation start), from this machine's clock."""
        if self.origin is None:
            self.origin = self.js("performance.timeOrigin")
        return time.time() * 1000 - self.origin

    def effect(self, kind: str, since: float, test: str = "() => true", arg=None):
        """ms from ``since`` (page clock) to the first ``kind`` event after it that passes
        ``test``; None after the timeout."""
        script = """([kind, since, test, arg]) => {
            const f = eval(test);
            const e = pgm.events.find(e => e[0] === kind && e[1] >= since && f(e[2], arg));
            return e ? e[1] - since : null; }"""
        try:
            return self.wait(script, [kind, since, test, arg])
        except Exception:  # noqa: BLE001 - a timeout is a figure too
            return None

    def mark(self):
        self.js("pgm.events.length = 0")


def measure(url: str, play_seconds: float, repeats: int, timeout_ms: float, serving_here: bool) -> dict:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium "
                         "(or set NN_PLAYGROUND_CHROMIUM)")
    results: dict = {"url": url}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        traffic = {"messages": 0, "bytes": 0}

        def on_socket(ws):
            def received(payload):
                traffic["messages"] += 1
                traffic["bytes"] += len(payload)
            ws.on("framereceived", received)
        page.on("websocket", on_socket)
        probe = Probe(page, timeout_ms)

        # ---------------------------------------------------------------- first frame
        page.goto(url)
        probe.wait("() => pgm.firstFrame !== null", timeout=60_000)
        results["first_frame_ms"] = round(probe.js("pgm.firstFrame"), 1)
        nav = probe.js("(() => { const n = performance.getEntriesByType('navigation')[0];"
                       " return {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd}; })()")
        results.update({k: round(v, 1) for k, v in nav.items()})
        probe.js("pgm.listen()")

        play = page.get_by_role("button", name="Play", exact=True)

        # ---------------------------------------------------------------- idle, for comparison
        probe.js("pgm.resetCounts(); pgm.counting = true")
        probe.wait("() => performance.now() - pgm.start >= 1000")
        results["idle_painted_fps"] = round(probe.js(
            "(() => { pgm.counting = false; return pgm.frames / ((performance.now() - pgm.start) / 1000); })()"), 1)

        box = play.bounding_box()  # the header does not move: click there while the page is busy
        play_xy = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

        # ---------------------------------------------------------------- playing
        play.click()
        probe.wait("() => pgm.events.some(e => e[0] === 'epoch')")  # training is on screen
        bytes0, messages0 = traffic["bytes"], traffic["messages"]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        probe.js("pgm.resetCounts(); pgm.counting = true")
        probe.wait("ms => performance.now() - pgm.start >= ms", play_seconds * 1000,
                   timeout=play_seconds * 1000 + 60_000)
        stats = probe.js("""(() => { pgm.counting = false; const s = (performance.now() - pgm.start) / 1000;
            return {seconds: s, received_per_s: pgm.received / s, visible_per_s: pgm.visible / s,
                    visible_epoch_per_s: pgm.visibleEpoch / s,
                    painted_fps: pgm.frames / s, epochs_per_s: (pgm.epoch() - pgm.startEpoch) / s,
                    long_task_fraction: (pgm.longTaskMs - pgm.startLongTaskMs) / 1000 / s}; })()""")
        seconds = stats["seconds"]
        if serving_here:  # this process is the server (plus a thin Playwright client)
            stats["server_cpu_fraction"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        stats["ws_messages_per_s"] = (traffic["messages"] - messages0) / seconds
        stats["ws_kbytes_per_s"] = (traffic["bytes"] - bytes0) / 1024 / seconds
        results["playing"] = {k: round(v, 2) for k, v in stats.items()}

        # ---------------------------------------------------------------- clicks while training
        latency = {"pause_to_label_ms": [], "play_to_label_ms": [], "play_to_training_ms": [],
                   "epochs_shown_after_pause_click": [], "noise_slider_to_points_ms": [],
                   "speed_select_to_effect_ms": [], "learning_rate_select_to_next_frame_ms": []}

        def training():  # wait until the epoch moves again (a try is still made after a timeout)
            probe.mark()
            try:
                probe.wait("() => pgm.events.some(e => e[0] === 'epoch')")
            except Exception:  # noqa: BLE001
                results.setdefault("notes", []).append("training did not resume within the timeout")

        def click(xy):  # at once, as a user would: no waiting for the page to be idle first
            since = probe.now()
            page.mouse.click(*xy)
            return since

        paused = "() => pgm.button(['Play', 'Pause']).label === 'Play'"
        for _ in range(repeats):
            training()
            probe.mark()
            shown = probe.js("pgm.epoch()")
            since = click(play_xy)  # it reads "Pause"
            latency["pause_to_label_ms"].append(probe.effect("label", since, "v => v === 'Play'"))
            try:  # the next figures mean something only once it is paused
                probe.wait(paused, timeout=max(timeout_ms, 180_000))
            except Exception:  # noqa: BLE001
                results.setdefault("notes", []).append("Pause never took effect; Play/Pause tries stopped")
                break
            latency["epochs_shown_after_pause_click"].append(probe.js("pgm.epoch()") - shown)
            probe.mark()  # everything queued before the label has arrived: later epochs are new
            since = click(play_xy)
            latency["play_to_label_ms"].append(probe.effect("label", since, "v => v === 'Pause'"))
            latency["play_to_training_ms"].append(probe.effect("epoch", since))

        noise = page.get_by_role("slider").nth(1)  # ratio, noise, batch size (no accessible names)
        for i in range(repeats):
            training()
            probe.mark()
            noise.focus()
            since = probe.now()
            page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
            latency["noise_slider_to_points_ms"].append(probe.effect("points", since))

        more = page.locator(".more-settings button")  # Speed sits under More settings
        if more.count() and "▾" in more.inner_text():
            more.click()
        speed = page.get_by_role("combobox", name="Speed (per frame)", exact=True)
        rate = page.get_by_role("combobox", name="Learning rate", exact=True)
        for i in range(repeats):
            training()
            probe.mark()
            seen = probe.js("pgm.epoch()")
            since = probe.now()
            speed.select_option("5 epochs")
            latency["speed_select_to_effect_ms"].append(
                probe.effect("epoch", since, "(v, seen) => v - seen >= 4.5", seen))
            speed.select_option("1 epoch")
            training()
            probe.mark()
            since = probe.now()
            rate.select_option(["0.01", "0.03"][i % 2])
            latency["learning_rate_select_to_next_frame_ms"].append(probe.effect("epoch", since))
        click(play_xy)
        try:
            probe.wait("() => pgm.button(['Play', 'Pause']).label === 'Play'")
        except Exception:  # noqa: BLE001 - reported as a timeout above already
            pass

        def summary(values):
            done = [v for v in values if v is not None]
            return {"median": round(statistics.median(done), 1) if done else None,
                    "max": round(max(done), 1) if done else None,
                    "n": len(done), "timeouts": len(values) - len(done)}

        results["latency"] = {k: summary(v) for k, v in latency.items()}
        results["page_errors"] = errors
        context.close()
        browser.close()
    return results


def print_text(r: dict) -> None:
    p = r["playing"]
    print(f"app: {r['url']}")
    print(f"first frame: {r['first_frame_ms']:.0f} ms after navigation start "
          f"(DOMContentLoaded {r['dom_content_loaded_ms']:.0f} ms, load {r['load_ms']:.0f} ms)")
    print(f"playing {p['seconds']:.1f} s at the default speed:")
    print(f"  epoch readout updates received {p['received_per_s']:.1f}/s, seen changing in "
          f"{p['visible_epoch_per_s']:.1f} painted frames/s; frames with any change (readout or boundary) "
          f"{p['visible_per_s']:.1f}/s")
    print(f"  frames painted {p['painted_fps']:.1f}/s (idle, before Play: {r['idle_painted_fps']:.1f}/s); "
          f"epochs shown {p['epochs_per_s']:.1f}/s (1 epoch per frame; the server sends at most 30 frames/s)")
    if "server_cpu_fraction" in p:
        print(f"  server process CPU {p['server_cpu_fraction']:.0%} of one core")
    print(f"  browser main thread in long tasks {p['long_task_fraction']:.0%}; websocket "
          f"{p['ws_messages_per_s']:.1f} messages/s, {p['ws_kbytes_per_s']:.0f} kB/s")
    print("click latency while training (median / max over tries, ms):")
    for name, s in r["latency"].items():
        extra = f", {s['timeouts']} timed out" if s["timeouts"] else ""
        print(f"  {name:40s} {s['median']} / {s['max']}  (n={s['n']}{extra})")
    for note in r.get("notes", []):
        print(f"note: {note}")
    print(f"page errors: {len(r['page_errors'])}" + "".join(f"\n  {e}" for e in r["page_errors"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an app already served (default: serve one in this process)")
    parser.add_argument("--play-seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5, help="tries per latency figure")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one effect")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    server = None
    url = args.url
    if url is None:
        server, url = _serve_here()
    try:
        results = measure(url, args.play_seconds, args.repeats, args.timeout * 1000, server is not None)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(results))
    else:
        print_text(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
