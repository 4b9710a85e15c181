"""Bring your own data: upload a CSV of 2-D points with labels or regression targets.

The file is checked by the command line's own reader, :func:`playground.core.data.load_csv`
(the same header, number, class-count and split rules, and the same one-line messages),
and only then used: the session reads it through ``RunConfig.csv`` like ``train --csv``,
so changing the seed or the training ratio re-splits it as the CLI would. A bad file
changes nothing: the message says what to change, and the data set shown stays.

The browser sends the file's bytes; they are kept in a temporary folder of this
playground's own (removed with it), never under a name the user chose. A link cannot
carry uploaded data (``csv`` is not a link setting).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
import panel as pn
import param

from playground.core.config import RunConfig
from playground.core.data import DataError, DataSet, load_csv
from playground.ui.views.colors import DEFAULT_PALETTE
from playground.ui.views.data_picker import scatter_png
from playground.ui.views.text import as_text, error_html
from playground.ui.views.upload_limit import size_text

UPLOAD_FOLDER_PREFIX = "nn-playground-upload-"  # then the server's pid: see remove_stale_upload_folders
MAX_UPLOAD_BYTES = 2_000_000  # about 40,000 rows of ordinary numbers
MAX_UPLOAD_POINTS = RunConfig.param.points.bounds[1]  # what the app draws and trains at a good pace
PREVIEW_ROWS = 5
PREVIEW_THUMB = 72  # pixels
STYLE = """
.summary { font-size: 13px; }
.error { color: var(--pg-error, #b00020); font-weight: bold; font-size: 13px; }
table { border-collapse: collapse; font-size: 12px; font-family: monospace; }
th, td { padding: 0 6px; text-align: right; }
th { font-family: sans-serif; font-weight: normal; color: var(--pg-muted, #666); }
"""


def remove_stale_upload_folders(root: str | None = None) -> int:
    """Remove the upload folders of server processes that no longer run (a crash or a kill
    skips the clean-up at exit); returns how many. ``root``: the temp folder to look in."""
    removed = 0
    for folder in Path(root or tempfile.gettempdir()).glob(UPLOAD_FOLDER_PREFIX + "*"):
        pid = folder.name[len(UPLOAD_FOLDER_PREFIX):].split("-", 1)[0]
        if not pid.isdecimal() or not folder.is_dir():
            continue
        try:
            os.kill(int(pid), 0)  # still running (or not ours to signal): leave it
            continue
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def safe_file_name(name: str | None) -> str:
    """A plain file name from what the browser reports: letters, digits, ``._-`` only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).strip("._") or "data"
    return stem[:60] if stem.lower().endswith(".csv") else stem[:56] + ".csv"


class CsvUpload(pn.viewable.Viewer):
    """A file input, a one-line summary or error, and a preview of the data in use.

    On a good file it sets ``config.csv`` (the playground rebuilds its session, as for any
    new data set); ``dataset`` is then the file's data."""

    def __init__(self, config: RunConfig, **params):
        super().__init__(**params)
        self.config = config
        self.palette = DEFAULT_PALETTE
        self.dataset: DataSet | None = None
        self._path: Path | None = None  # the file config.csv points to, while it is ours
        self._uploads = 0
        self._loading = False  # True while this view sets config.csv
        self._folder = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_FOLDER_PREFIX}{os.getpid()}-"))
        weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        self.input = pn.widgets.FileInput(accept=".csv,text/csv", multiple=False, width=300,
                                          label="Your data: a CSV with columns x1, x2, label",
                                          description=(f"Up to {MAX_UPLOAD_POINTS:,} rows and "
                                                       f"{MAX_UPLOAD_BYTES // 1_000_000} MB. Whole-number labels "
                                                       "make classes (2 to 6); other numbers make a regression "
                                                       "target. An optional split column says train or test."))
        self.input.param.watch(self._on_file, "value")
        self.message = pn.pane.HTML("", css_classes=["upload-message"], margin=(0, 10), width=310,
                                    stylesheets=[STYLE])
        self.thumbnail = pn.pane.PNG(None, width=PREVIEW_THUMB, height=PREVIEW_THUMB, margin=(4, 10),
                                     alt_text="", visible=False)
        self.table = pn.pane.HTML("", css_classes=["upload-preview"], margin=(0, 5), stylesheets=[STYLE])
        self.preview = pn.Row(self.thumbnail, self.table, visible=False, margin=0)
        self._layout = pn.Column(self.input, self.message, self.preview, margin=0)
        config.param.watch(lambda *events: self._on_data_change(), ["csv", "seed", "train_ratio"])

    def __panel__(self):
        return self._layout

    # ------------------------------------------------------------------ loading
    def _on_file(self, event) -> None:
        if event.new is None:
            return
        self.load(event.new, self.input.filename)
        with param.parameterized.discard_events(self.input):
            self.input.value = None  # the same file chosen again (fixed, say) is news again

    @staticmethod
    def _too_big(name: str, n_bytes: int) -> str:
        return (f"{name} is {size_text(n_bytes)}; the playground takes files up to "
                f"{MAX_UPLOAD_BYTES // 1_000_000} MB (the command line takes any size)")

    def refuse_too_big(self, filename: str, n_bytes: int) -> None:
        """The page refused to send a file of ``n_bytes`` (see views/upload_limit.py): say why."""
        self._say(error_html(f"Not loaded: {self._too_big(safe_file_name(filename), n_bytes)}. "
                             "The data set shown stays."))

    def load(self, raw: bytes, filename: str | None) -> bool:
        """Check ``raw`` (the file's bytes) and use it; True when it is now the data set."""
        name = safe_file_name(filename)
        folder = self._folder / str(self._uploads + 1)
        try:
            if len(raw) > MAX_UPLOAD_BYTES:
                raise DataError(self._too_big(name, len(raw)))
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(raw)
            data = load_csv(path, train_ratio=self.config.train_ratio, seed=self.config.seed)
            if len(data.points) > MAX_UPLOAD_POINTS:
                raise DataError(f"{name} has {len(data.points):,} rows; the playground takes up to "
                                f"{MAX_UPLOAD_POINTS:,} (the command line takes any number)")
        except DataError as err:
            shutil.rmtree(folder, ignore_errors=True)
            self._say(error_html(f"Not loaded: {err}. The data set shown stays."))
            return False
        self._uploads += 1
        old, self._path, self.dataset = self._path, path, data
        self._loading = True
        try:
            self.config.csv = str(path)  # the playground rebuilds its session from the file
        finally:
            self._loading = False
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
        self._show_preview()
        return True

    def _on_data_change(self) -> None:
        if self._path is None or self._loading:
            return
        if self.config.csv != str(self._path):
            self.dataset, self._path = None, None  # a generated data set (or another file) took over
            self._say("")
            self.preview.visible = False
            return
        try:  # a new seed or training ratio splits the file anew, as the session does
            self.dataset = load_csv(self._path, train_ratio=self.config.train_ratio, seed=self.config.seed)
        except DataError:
            return
        self._show_preview()

    # ------------------------------------------------------------------ showing
    def _say(self, text: str) -> None:
        self.message.object = text

    def summary(self) -> str:
        """One line about the data in use, as HTML."""
        data = self.dataset
        kind = "a regression target" if data.is_regression else f"{data.n_classes} classes"
        n_train = int(data.is_train.sum())
        return (f"<div class='summary'>Using <b>{as_text(data.name)}</b>: {len(data.points):,} points, {kind}, "
                f"{n_train:,} for training and {len(data.points) - n_train:,} for testing. Export session keeps "
                f"these data; a copied link cannot carry them.</div>")

    def _show_preview(self) -> None:
        data = self.dataset
        self._say(self.summary())
        rows = "".join(
            f"<tr><td>{x1:.4g}</td><td>{x2:.4g}</td><td>{label:.4g}</td><td>{'train' if train else 'test'}</td></tr>"
            for (x1, x2), label, train in zip(data.points[:PREVIEW_ROWS].tolist(), data.labels[:PREVIEW_ROWS].tolist(),
                                              data.is_train[:PREVIEW_ROWS].tolist()))
        label = "target" if data.is_regression else "class"
        self.table.object = (f"<table><tr><th>x1</th><th>x2</th><th>{label}</th><th>split</th></tr>{rows}</table>"
                             f"<small>first {min(PREVIEW_ROWS, len(data.points))} of {len(data.points):,} rows</small>")
        self._draw_thumbnail()
        self.preview.visible = True

    def _draw_thumbnail(self) -> None:
        data = self.dataset
        low, high = data.points.min(axis=0), data.points.max(axis=0)
        pad = np.maximum((high - low) * 0.05, 1e-9)
        extent = (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])
        self.thumbnail.object = scatter_png(data.points, data.labels, data.n_classes, extent, PREVIEW_THUMB,
                                            self.palette)
        self.thumbnail.visible = True

    def set_palette(self, name: str) -> None:
        """Redraw the preview's thumbnail in palette ``name``."""
        self.palette = name
        if self.dataset is not None:
            self._draw_thumbnail()
