"""Save a training session to versioned JSON and load it to continue exactly where it
stopped: settings, the data, weights, optimizer state, the minibatch shuffle, history.

The app's Export/Import and the CLI's ``train --save FILE`` / ``--resume FILE`` use it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .config import MAX_HISTORY_POINTS, ConfigError, RunConfig, read_json_file
from .data import DataSet
from .session import Session

FORMAT = "nn-playground-session"
VERSION = 1
MAX_BYTES = 20_000_000  # refuse bigger files before parsing them


class SnapshotError(ValueError):
    """A session file that cannot be loaded; the message says what is wrong."""


def _floats(values) -> list:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def export_session(session: Session) -> dict:
    """Everything needed to continue ``session`` exactly, as JSON-ready values."""
    backend = session.backend
    data = session.data
    history = {k: [float(v) if math.isfinite(v) else None for v in vs] for k, vs in session.history.items()}
    return {
        "format": FORMAT, "version": VERSION,
        "settings": session.config.to_dict(),
        "data": {"name": data.name, "points": data.points.tolist(), "labels": data.labels.tolist(),
                 "is_train": data.is_train.tolist(), "n_classes": data.n_classes},
        "step": session.step, "optimizer_step": backend.step,
        "params": _floats(backend.get_params()), "state1": _floats(backend.state1),
        "state2": _floats(backend.state2),
        "batches": {"rng": session._batch_rng.bit_generator.state, "epoch_order": session._epoch_order.tolist(),
                    "batch_in_epoch": session._batch_in_epoch},
        "history": history, "diverged": session.diverged, "message": session.message,
    }


def _fail(what: str):
    raise SnapshotError(f"this session file {what}")


def import_session(snapshot: dict, backend: str | None = None, served: bool = False) -> Session:
    """A Session continuing a snapshot; ``backend`` overrides the saved one. ``served``: a
    file uploaded to the app, held to what a page may ask for (RunConfig.check_served)."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        _fail("is not an nn-playground session (no 'format': 'nn-playground-session')")
    if snapshot.get("version") != VERSION:
        _fail(f"has version {snapshot.get('version')!r}; this nn-playground reads version {VERSION}")
    settings = dict(snapshot.get("settings") or {})
    settings.pop("csv", None)  # the data travels inside the file
    if backend:
        settings["backend"] = backend
    try:
        config = RunConfig.from_values(settings, names_as="key")
        if served:
            config.check_served()
    except ConfigError as err:
        _fail(f"has a bad setting: {err}")
    try:
        raw = snapshot["data"]
        points = np.asarray(raw["points"], dtype=np.float64)
        n_classes = int(raw["n_classes"])
        labels = np.asarray(raw["labels"], dtype=np.int64 if n_classes else np.float64)
        data = DataSet(str(raw["name"]), points, labels, np.asarray(raw["is_train"], dtype=bool), n_classes)
    except (KeyError, TypeError, ValueError) as err:
        _fail(f"has no readable data set ({err})")
    if not np.all(np.isfinite(points)):
        _fail("has non-finite data points")
    max_points = RunConfig.param.points.bounds[1]
    if len(points) > max_points:
        _fail(f"has {len(points):,} data points; at most {max_points:,}")
    history = snapshot.get("history")
    if isinstance(history, dict) and any(isinstance(v, list) and len(v) > MAX_HISTORY_POINTS for v in history.values()):
        _fail(f"has a loss history of more than {MAX_HISTORY_POINTS:,} entries")
    session = Session(config, data=data)
    size = session.spec.layout().size
    arrays = {}
    for name in ("params", "state1", "state2"):
        try:
            array = np.asarray(snapshot[name], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            _fail(f"has no readable {name!r}")
        if array.shape != (size,):
            _fail(f"has {array.size} values in {name!r}; this network ({'-'.join(map(str, session.spec.layer_sizes))}) "
                  f"needs {size}")
        if not np.all(np.isfinite(array)):
            _fail(f"has non-finite values in {name!r}")
        arrays[name] = array
    try:
        batches = snapshot["batches"]
        order = np.asarray(batches["epoch_order"], dtype=np.int64)
        if sorted(order.tolist()) != list(range(len(session.X_train))):
            raise ValueError("the shuffle does not match the training set")
        session.backend.set_params(arrays["params"])
        session.backend.load_optimizer_state(arrays["state1"], arrays["state2"], int(snapshot["optimizer_step"]))
        session._batch_rng.bit_generator.state = batches["rng"]
        session._epoch_order = order
        session._batch_in_epoch = int(batches["batch_in_epoch"])
        session.step = int(snapshot["step"])
        history = snapshot["history"]
        session.history = {k: [float("nan") if v is None else float(v) for v in history[k]]
                           for k in ("epoch", "train_loss", "test_loss")}
    except (KeyError, TypeError, ValueError) as err:
        _fail(f"has a broken training state ({err})")
    session.diverged = bool(snapshot.get("diverged", False))
    session.message = str(snapshot.get("message", ""))
    session._initial_loss = session.history["train_loss"][0] if session.history["train_loss"] else None
    return session


def save(session: Session, path) -> None:
    Path(path).write_text(json.dumps(export_session(session)))


def load(path, backend: str | None = None) -> Session:
    """The session saved in ``path``; SnapshotError says what is wrong with the file."""
    return import_session(read_json_file(path, "session file", SnapshotError, MAX_BYTES), backend)
