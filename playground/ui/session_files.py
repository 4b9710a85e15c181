"""Saving and opening a run: Export session, Loss history (CSV), Import a saved session.

An exported session is versioned JSON (core/snapshot.py). An imported file is read with the
same checks as any file from a user (size, nesting, every field against the data and the
network: core/json_input.py, core/snapshot.py); a bad one changes nothing and is explained in
the tab's notice. Files over an input's limit are refused by the page before they are sent
(views/upload_limit.py), with a message, instead of dropping the connection.
"""
from __future__ import annotations

import io
import json
import logging
from typing import Callable

import panel as pn

from playground.core.config import ConfigError
from playground.core.data import DataError
from playground.core.json_input import parse_json
from playground.core.session import Session
from playground.core.snapshot import MAX_BYTES as MAX_SNAPSHOT_BYTES
from playground.core.snapshot import SnapshotError, export_session, import_session
from playground.ui.tab_state import TabState
from playground.ui.views.text import error_html
from playground.ui.views.upload import MAX_UPLOAD_BYTES, CsvUpload
from playground.ui.views.upload_limit import UploadLimit, size_text


class SessionFiles:
    """The Save section's widgets for ``state``; an imported session goes to ``continue_with``.

    ``upload``: the data column's CSV upload, whose size limit the page enforces with ours.
    """

    def __init__(self, state: TabState, upload: CsvUpload, continue_with: Callable[[Session], None]):
        self.state, self.upload, self.continue_with = state, upload, continue_with
        self.export_button = pn.widgets.FileDownload(callback=self.export_session, filename="nn-playground-session.json",
                                                     label="Export session", width=150)
        self.history_download = pn.widgets.FileDownload(callback=self.history_csv, filename="loss-history.csv",
                                                        label="Loss history (CSV)", width=150)
        self.import_input = pn.widgets.FileInput(accept=".json", width=200, multiple=False,
                                                 label="Import a saved session")
        self.import_input.param.watch(
            lambda e: (state.param.trigger("acted"), e.new is not None and self.import_session(e.new)), "value")
        self.upload_limit = UploadLimit(limits={self.import_input.accept: MAX_SNAPSHOT_BYTES,
                                                upload.input.accept: MAX_UPLOAD_BYTES},
                                        on_refused=self.refuse_file)

    def hidable(self) -> dict:
        return {"save": [self.export_button, self.history_download, self.import_input]}

    def history_csv(self) -> io.StringIO:
        """The loss history as CSV: epoch,train_loss,test_loss."""
        history = self.state.session.history
        rows = ["epoch,train_loss,test_loss"] + [f"{e!r},{a!r},{b!r}" for e, a, b in zip(
            history["epoch"], history["train_loss"], history["test_loss"])]
        return io.StringIO("\n".join(rows) + "\n")

    def export_session(self) -> io.StringIO:
        """The session as versioned JSON, for the Export download."""
        return io.StringIO(json.dumps(export_session(self.state.session)))

    def refuse_file(self, accept: str, name: str, n_bytes: int) -> None:
        """The page did not send a file over its input's limit (see views/upload_limit.py)."""
        if accept == self.import_input.accept:
            self.state.notice = error_html(f"{name} is {size_text(n_bytes)}; a session file may be up to "
                                           f"{MAX_SNAPSHOT_BYTES // 1_000_000} MB.", prefix="Import failed: ")
        else:
            self.upload.refuse_too_big(name, n_bytes)

    def import_session(self, raw: bytes) -> None:
        """Continue a session from an exported file; a bad file changes nothing."""
        try:
            if not isinstance(raw, (bytes, str)):
                raise SnapshotError("this file did not arrive as one file")
            snapshot = parse_json(raw, "this file", SnapshotError, MAX_SNAPSHOT_BYTES)
            session = import_session(snapshot, served=True)
        except (SnapshotError, ConfigError, DataError) as err:
            self.state.notice = error_html(err, prefix="Import failed: ")
            return
        except Exception:  # noqa: BLE001 - a file no check foresaw: say so, keep the session
            logging.getLogger(__name__).exception("import of a session file failed")
            self.state.notice = error_html("this file could not be read as a session.", prefix="Import failed: ")
            return
        self.continue_with(session)
