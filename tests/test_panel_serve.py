"""`panel serve playground/app.py`, the README's other way to serve the app: it serves a
working playground (with its style sheet copied into the page, as no route serves it)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from playground.ui.page import css_path
from playground.server.loadtest import _free_port, pull_document

ROOT = Path(__file__).resolve().parents[1]


def test_panel_serve_of_the_app_file_serves_a_playground():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "panel", "serve", "playground/app.py", "--port", str(port),
                               "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)  # polling the server's socket
        doc = pull_document(f"http://127.0.0.1:{port}/app")  # raises unless it has Play and its channel
        assert json.dumps(css_path().read_text().splitlines()[0])[1:-1] in doc
    finally:
        server.terminate()
        server.wait(20)
