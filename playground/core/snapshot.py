"""Save a training session to versioned JSON and load it to continue exactly where it
stopped: settings, the data, weights, optimizer state, the minibatch shuffle, history.

The app's Export/Import and the CLI's ``train --save FILE`` / ``--resume FILE`` use it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from playground.core.config import MAX_HISTORY_POINTS, ConfigError, RunConfig
from playground.core.json_input import read_json_file
from playground.core.data import MAX_ABS_VALUE, MAX_CLASSES, DataError, DataSet
from playground.core.session import Session

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


MAX_STEPS = 10**12  # minibatch steps a session may have taken (years of frames)
MAX_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 1_000


def _fail(what: str):
    raise SnapshotError(f"this session file {what}")


def _whole(value, what: str, low: int, high: int) -> int:
    """``value`` if it is a JSON whole number within low..high, else SnapshotError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(f"has {what} {str(value)[:40]!r}; it must be a whole number from {low:,} to {high:,}")
    return value


def _number_list(values, what: str, allow_none: bool = False) -> np.ndarray:
    """A JSON list of finite numbers (or None, as NaN, where ``allow_none``) as float64 ``(n,)``."""
    if not isinstance(values, list):
        _fail(f"has no list of numbers in {what!r}")
    if any(isinstance(v, bool) or not (isinstance(v, (int, float)) or (allow_none and v is None)) for v in values):
        _fail(f"has something other than a number in {what!r}")
    try:
        array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:  # a whole number beyond float64 (JSON allows any length)
        _fail(f"has a number too large in {what!r}")
    if not np.all(np.isfinite(array) | (allow_none & np.isnan(array))):
        _fail(f"has a non-finite number (too large, or NaN) in {what!r}")
    return array


def _read_data(raw) -> DataSet:
    """The data set stored in a session file, every field checked; SnapshotError if not."""
    if not isinstance(raw, dict):
        _fail("has no data set")
    for key in ("name", "points", "labels", "is_train", "n_classes"):
        if key not in raw:
            _fail(f"has no {key!r} in its data set")
    name, n_classes = raw["name"], raw["n_classes"]
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        _fail(f"has a data set name that is not text of at most {MAX_NAME_CHARS} characters")
    if n_classes != 0:
        _whole(n_classes, "'n_classes'", 2, MAX_CLASSES)
    max_points = RunConfig.param.points.bounds[1]
    rows = raw["points"]
    if not isinstance(rows, list) or not all(isinstance(p, list) and len(p) == 2 for p in rows):
        _fail("has data points that are not pairs [x1, x2]")
    if len(rows) > max_points:
        _fail(f"has {len(rows):,} data points; at most {max_points:,}")
    points = _number_list([v for p in rows for v in p], "points").reshape(-1, 2)
    if np.any(np.abs(points) > MAX_ABS_VALUE):
        _fail(f"has data points beyond ±{MAX_ABS_VALUE:g}")
    labels = _number_list(raw["labels"], "labels")
    if n_classes and not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < n_classes)):
        _fail(f"has labels that are not classes 0 to {n_classes - 1}")
    is_train = raw["is_train"]
    if not isinstance(is_train, list) or not all(isinstance(v, bool) for v in is_train):
        _fail("has an 'is_train' that is not a list of true/false")
    if not len(points) == len(labels) == len(is_train):
        _fail(f"has {len(points)} points, {len(labels)} labels and {len(is_train)} train/test marks; "
              "they must be as many")
    if not any(is_train):
        _fail("has no training points")
    return DataSet(name, points, labels.astype(np.int64) if n_classes else labels,
                   np.array(is_train, dtype=bool), n_classes)


def _read_history(raw) -> dict:
    if not isinstance(raw, dict):
        _fail("has no loss history")
    history = {k: _number_list(raw.get(k), f"history.{k}", allow_none=True) for k in ("epoch", "train_loss", "test_loss")}
    lengths = {len(v) for v in history.values()}
    if len(lengths) != 1:
        _fail("has a loss history whose lists are not equally long")
    if lengths.pop() > MAX_HISTORY_POINTS:
        _fail(f"has a loss history of more than {MAX_HISTORY_POINTS:,} entries")
    return {k: v.tolist() for k, v in history.items()}


def _read_batches(raw, session: Session) -> tuple[dict, np.ndarray, int]:
    """(generator state, epoch order, batch in epoch), checked against the training set."""
    if not isinstance(raw, dict):
        _fail("has no minibatch state ('batches')")
    n_train = len(session.X_train)
    order = raw.get("epoch_order")
    if not isinstance(order, list) or len(order) != n_train or \
            any(isinstance(i, bool) or not isinstance(i, int) for i in order) or \
            sorted(order) != list(range(n_train)):
        _fail(f"has an epoch order that is not a shuffle of its {n_train} training points")
    batch = _whole(raw.get("batch_in_epoch"), "'batch_in_epoch'", 0, session.steps_per_epoch)
    rng = raw.get("rng")
    probe = np.random.default_rng(0)
    try:
        if not isinstance(rng, dict) or rng.get("bit_generator") != probe.bit_generator.state["bit_generator"]:
            raise ValueError
        probe.bit_generator.state = rng
        probe.permutation(3)
    except Exception:  # noqa: BLE001 - numpy raises several kinds for a bad state
        _fail("has a minibatch generator state ('batches.rng') that numpy cannot use")
    return rng, np.array(order, dtype=np.int64), batch


def import_session(snapshot: dict, backend: str | None = None, served: bool = False) -> Session:
    """A Session continuing a snapshot; ``backend`` overrides the saved one. ``served``: a
    file uploaded to the app, held to what a page may ask for (RunConfig.check_served).

    Every field is checked (types, ranges, lengths, and against the data and the network)
    before anything is used: a bad file raises SnapshotError saying what is wrong."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        _fail("is not an nn-playground session (no 'format': 'nn-playground-session')")
    if snapshot.get("version") != VERSION:
        _fail(f"has version {str(snapshot.get('version'))[:40]}; this nn-playground reads version {VERSION}")
    settings = snapshot.get("settings")
    if not isinstance(settings, dict):
        _fail("has no settings")
    settings = dict(settings)
    settings.pop("csv", None)  # the data travels inside the file
    if backend:
        settings["backend"] = backend
    try:
        config = RunConfig.from_values(settings, names_as="key")
        if served:
            config.check_served()
    except ConfigError as err:
        _fail(f"has a bad setting: {err}")
    data = _read_data(snapshot.get("data"))
    history = _read_history(snapshot.get("history"))
    step = _whole(snapshot.get("step"), "'step'", 0, MAX_STEPS)
    optimizer_step = _whole(snapshot.get("optimizer_step"), "'optimizer_step'", 0, MAX_STEPS)
    diverged, message = snapshot.get("diverged", False), snapshot.get("message", "")
    if not isinstance(diverged, bool):
        _fail("has a 'diverged' that is not true or false")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
        _fail(f"has a 'message' that is not text of at most {MAX_MESSAGE_CHARS} characters")
    try:
        session = Session(config, data=data)
    except (ConfigError, DataError) as err:
        _fail(f"does not fit its data: {err}")
    size = session.spec.layout().size
    arrays = {}
    for name in ("params", "state1", "state2"):
        array = _number_list(snapshot.get(name), name)
        if array.shape != (size,):
            _fail(f"has {array.size} values in {name!r}; this network ({'-'.join(map(str, session.spec.layer_sizes))}) "
                  f"needs {size}")
        arrays[name] = array
    rng, order, batch = _read_batches(snapshot.get("batches"), session)
    session.backend.set_params(arrays["params"])
    session.backend.load_optimizer_state(arrays["state1"], arrays["state2"], optimizer_step)
    session._batch_rng.bit_generator.state = rng
    session._epoch_order, session._batch_in_epoch = order, batch
    session.step = step
    session.history = history
    session.diverged, session.message = diverged, message
    session._initial_loss = session.history["train_loss"][0] if session.history["train_loss"] else None
    return session


def save(session: Session, path) -> None:
    Path(path).write_text(json.dumps(export_session(session)))


def load(path, backend: str | None = None) -> Session:
    """The session saved in ``path``; SnapshotError says what is wrong with the file."""
    return import_session(read_json_file(path, "session file", SnapshotError, MAX_BYTES), backend)
