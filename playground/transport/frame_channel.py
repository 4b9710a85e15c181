"""One message per frame: a frame's updates to every chart of the page, sent together.

Bokeh sends each change of a model (a patched column, a moved axis range, a new readout
text) as its own event, and builds each on the server through its property machinery
(validation, change detection, callbacks). For a page that changes a dozen models twenty
times a second, in a room of thirty, that machinery was most of the server's time. So a
frame's changes go through a :class:`FrameChannel`: the server applies each to its own copy
of the model *quietly* (no event, see playground/bokeh_compat/quiet.py), collects them, and sends them all
together: as one binary message on the page's websocket once the page has said it reads
them (:mod:`.frame_socket`), else as one value of the channel's ``changes``. The channel's
script on the page applies them to the page's models exactly as Bokeh applies its own
events (``setv``, ``stream_to``, ``patch_to``, all with ``sync: false``, so nothing echoes
back).

Outside a frame (:meth:`FrameChannel.batch`) the same calls are plain Bokeh changes: views
need not know which they are in. :data:`DIRECT` is the writer for views not on a channel.

The channel also carries the frame pacing: each batch is numbered, and the page echoes the
number once it has painted that frame (a frame_socket message, or ``drawn``).

Ordering: a batch is sent after the Bokeh events made before it in the same message. Views
therefore change a model either through the writer during a frame or directly between
frames, never directly after a writer call within one frame.
"""
from __future__ import annotations

import collections
import contextlib
import secrets
from types import SimpleNamespace

import numpy as np
import param
from bokeh.model import Model
from panel.custom import JSComponent

from playground.bokeh_compat import panel_state
from playground.bokeh_compat.quiet import quietly
from playground.transport import frame_socket


class DirectWriter:
    """Changes Bokeh models the usual way: each call is a Bokeh change event."""

    def set(self, model: Model, **properties) -> None:
        """Set ``properties`` (name -> value) of ``model``."""
        model.update(**properties)

    def data(self, source, **columns) -> None:
        """Replace these columns (name -> list or array) of ``source``; the others stay."""
        source.data.update(columns)

    def stream(self, source, rows: dict, rollover: int | None = None) -> None:
        """Append ``rows`` (name -> list, one length) to ``source``, keeping at most ``rollover`` rows."""
        source.stream(rows, rollover=rollover)

    def patch(self, source, patches: dict) -> None:
        """Patch ``source``: ``patches`` = {name: [(index or slice, value(s)), ...]}, as Bokeh's ``patch``."""
        source.patch(patches)


DIRECT = DirectWriter()

# Frames this server process sent, by how: "message" (frame_socket) or "bokeh" (a change of
# ``FrameChannel.changes``); shown by the server's /stats.
FRAMES_SENT: collections.Counter = collections.Counter()

# dtypes sent packed (as the page's typed arrays), and how: 64-bit integers go as 32-bit,
# as Bokeh sends them (the page's typed arrays have no 64-bit integers it can draw). Keyed
# by the dtype itself (native byte order only): its ``.name`` is computed in Python, slowly.
_WIRE_DTYPES = {np.dtype(name): np.dtype(wire) for name, wire in {
    "float64": "float64", "float32": "float32", "uint8": "uint8", "int32": "int32", "int64": "int32",
    "uint32": "uint32", "int16": "int16", "uint16": "uint16", "int8": "int8"}.items()}
_WIRE_NAMES = {dtype: dtype.name for dtype in _WIRE_DTYPES.values()} | {np.dtype("float64"): "float64"}


class FrameChannel(JSComponent, DirectWriter):
    """Carries each frame's changes to the page as one message (a frame message, see
    :mod:`.frame_socket`, or one Bokeh event), and paces the frames.

    ``changes`` = (frame=number, ack=bool, ops=[[model id, kind, value, rollover], ...], arrays=bytes)
    with kind "set" (value: properties), "data" (columns to replace), "stream" (rows) or
    "patch" (Bokeh patches); arrays of numbers in them are parts of ``arrays`` (see
    :meth:`_packed`). The page applies them in order, then reports ``drawn`` if ``ack``.
    """

    # Bokeh walks a changed value, every list item, for models it may reference (~1 ms for
    # a frame's columns): a SimpleNamespace is sent as a plain object, and not walked.
    changes = param.Parameter(default=None, doc="a frame's changes (SimpleNamespace: frame, ack, ops, arrays); "
                                                "set on the page's models only, not here")
    drawn = param.Integer(default=0, doc="number of the last frame the browser painted")
    token = param.String(default="", doc="what the page says to have its frames as frame messages (frame_socket)")
    probe = param.Integer(default=0, doc="changed by the page once, to find its Bokeh websocket")

    def __init__(self, **params):
        params.setdefault("width", 0)
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        params.setdefault("token", secrets.token_hex(16))
        super().__init__(**params)
        frame_socket.install()
        frame_socket.register(self.token, self)
        self.page_socket: frame_socket.PageSocket | None = None  # set when the page says READY
        self.frames_sent = collections.Counter()  # this channel's FRAMES_SENT
        self._ops: list | None = None  # collecting a frame's changes while not None
        self._arrays: list[bytes] = []  # the collected changes' numbers, see _packed
        self._packed_bytes = 0
        self._drawn_callbacks = []

    @property
    def on_a_page(self) -> bool:
        """Whether the channel is shown on a page (its frames reach a browser)."""
        return bool(panel_state.rendered_models(self))

    # ------------------------------------------------------------------ a frame
    @contextlib.contextmanager
    def batch(self, frame: int, ack: bool = True):
        """Within this block, writer calls change the server's models quietly and are sent
        as frame ``frame`` when it ends (nested blocks join the outer one); ``ack``: the page
        reports ``drawn`` once it painted it (see playground.transport.pacing)."""
        if self._ops is not None:
            yield
            return
        self._ops, self._arrays, self._packed_bytes = [], [], 0
        try:
            yield
        finally:
            ops, self._ops = self._ops, None
            arrays, self._arrays = b"".join(self._arrays), []
            self._send(SimpleNamespace(frame=int(frame), ack=bool(ack), ops=ops, arrays=arrays))

    def _packed(self, value):
        """``value`` with each array of numbers (or list of them) moved into the frame's one
        binary buffer, leaving ``{"array": [byte offset, dtype, shape]}``: Bokeh sends each
        array as its own buffer and websocket message, with a per-array cost (~50 µs) that a
        frame of twenty arrays felt."""
        if isinstance(value, np.ndarray) and value.dtype in _WIRE_DTYPES:
            wire = _WIRE_DTYPES[value.dtype]
            if wire != value.dtype and value.size and np.abs(value).max() > np.iinfo(wire).max:
                wire = np.dtype("float64")  # too large for 32 bits
            array = np.ascontiguousarray(value, dtype=wire)
            offset = self._packed_bytes
            data = array.tobytes()
            padding = -len(data) % 8  # every array starts 8-byte aligned
            self._arrays.append(data + b"\0" * padding)
            self._packed_bytes += len(data) + padding
            return {"array": [offset, _WIRE_NAMES[wire], list(array.shape)]}
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            return [self._packed(item) for item in value]
        return value

    def _packed_columns(self, columns: dict) -> dict:
        return {name: self._packed(column) for name, column in columns.items()}

    @property
    def document(self):
        """The Bokeh document the channel is shown in (None if not on a page)."""
        for model in panel_state.rendered_models(self):
            return model.document
        return None

    def _send(self, changes: SimpleNamespace) -> None:
        """As a frame message on the page's socket if it said READY and nothing of Bokeh's
        waits to be written to it, else as a Bokeh change of ``changes`` (see frame_socket)."""
        models = panel_state.rendered_models(self)
        if not models:
            return  # not on a page yet: the page will get the models as they are now
        if self.page_socket is not None:
            message = frame_socket.encode(changes.frame, changes.ack, changes.ops, changes.arrays)
            if message is not None and self.page_socket.send(message, self.document):
                self._count("message")
                return
        self._count("bokeh")
        for model in models:
            panel_state.component_data(model).update(changes=changes)

    def _count(self, how: str) -> None:
        self.frames_sent[how] += 1
        FRAMES_SENT[how] += 1

    def set(self, model: Model, **properties) -> None:
        if self._ops is None:
            return super().set(model, **properties)
        quietly.set(model, properties)
        self._ops.append([model.id, "set", properties])

    def data(self, source, **columns) -> None:
        if self._ops is None:
            return super().data(source, **columns)
        quietly.data(source, columns)
        self._ops.append([source.id, "data", self._packed_columns(columns)])

    def stream(self, source, rows: dict, rollover: int | None = None) -> None:
        if self._ops is None:
            return super().stream(source, rows, rollover)
        quietly.stream(source, rows, rollover)
        self._ops.append([source.id, "stream", self._packed_columns(rows), rollover])

    def patch(self, source, patches: dict) -> None:
        if self._ops is None:
            return super().patch(source, patches)
        quietly.patch(source, patches)
        self._ops.append([source.id, "patch", {name: [(index, self._packed(value)) for index, value in changes]
                                                for name, changes in patches.items()}])

    # ------------------------------------------------------------------ the page's answer
    def on_drawn(self, callback) -> None:
        """Call ``callback(number)`` when the browser reports that it painted frame ``number``.

        Heard from the page's Bokeh model directly, not as a Panel parameter change: Panel's
        path for a change from the browser cost ~5 ms of server time a frame.
        """
        self._drawn_callbacks.append(callback)

    @property
    def _linked_properties(self) -> tuple[str, ...]:
        return tuple(name for name in super()._linked_properties if name not in ("changes", "drawn", "probe"))

    def _get_model(self, doc, root=None, parent=None, comm=None):
        model = super()._get_model(doc, root, parent, comm)
        model.data.on_change("drawn", self._heard_drawn)
        return model

    def _heard_drawn(self, attr, old, new) -> None:
        self.heard_drawn(int(new))

    def heard_drawn(self, number: int) -> None:
        """The page painted frame ``number`` (told by a Bokeh change or a frame_socket message)."""
        for callback in self._drawn_callbacks:
            callback(number)

    _esm = """
    export function render({ model, view }) {
      const { ndarray } = Bokeh.require('core/util/ndarray');
      const { Slice } = Bokeh.require('core/util/slice');
      const TYPED = { float64: Float64Array, float32: Float32Array, uint8: Uint8Array, int32: Int32Array,
                      uint32: Uint32Array, int16: Int16Array, uint16: Uint16Array, int8: Int8Array };
      // Bokeh decodes a dict with string keys into a plain object, any other into a Map.
      const entries = (value) => value instanceof Map ? [...value.entries()] : Object.entries(value);
      const isPlain = (value) => value != null && Object.getPrototypeOf(value) === Object.prototype;
      const only = (value, key) => Array.isArray(value[key]) && Object.keys(value).length === 1;
      // {array: [offset, dtype, shape]} -> the ndarray Bokeh itself would have decoded;
      // {slice: [start, stop, step]} (frame messages only) -> Bokeh's Slice
      const unpack = (value, arrays) => {
        if (Array.isArray(value)) return value.map((item) => unpack(item, arrays));
        if (!isPlain(value)) return value;
        if (only(value, 'array')) {
          const [offset, dtype, shape] = value.array;
          const Typed = TYPED[dtype];
          const length = shape.reduce((a, b) => a * b, 1);
          return ndarray(arrays.slice(offset, offset + length * Typed.BYTES_PER_ELEMENT), { dtype, shape });
        }
        if (only(value, 'slice')) {
          const [start, stop, step] = value.slice;
          return new Slice({ start, stop, step });
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unpack(v, arrays)]));
      };
      const apply = (ops, arrays) => {
        const document = view.model.document;
        for (const [id, kind, packed, rollover] of ops || []) {
          const target = document.get_model_by_id(id);
          if (target == null) continue;  // not on the page (a closed tab of the page's tabs)
          const value = unpack(packed, arrays);
          if (kind === 'set') {
            target.setv(Object.fromEntries(entries(value)), { sync: false });
          } else if (kind === 'data') {
            const data = target.data instanceof Map ? new Map(target.data) : { ...target.data };
            for (const [name, column] of entries(value)) {
              if (data instanceof Map) data.set(name, column); else data[name] = column;
            }
            target.setv({ data }, { sync: false, check_eq: false });
          } else if (kind === 'stream') {
            target.stream_to(target.properties.data, value, rollover ?? undefined, { sync: false });
          } else if (kind === 'patch') {
            target.patch_to(target.properties.data, value, { sync: false });
          }
        }
      };
      model.on('changes', () => {
        const { frame, ack, ops, arrays } = model.changes;
        apply(ops, arrays);
        if (ack) requestAnimationFrame(() => { model.drawn = frame; });
      });

      // Frame messages (frame_socket.py): find this page's Bokeh websocket, the one that
      // carries the next change of this model, and read them before Bokeh does.
      const send = WebSocket.prototype.send;
      let socket = null;
      WebSocket.prototype.send = function (data) { socket ??= this; return send.call(this, data); };
      try { model.probe = model.probe + 1; } finally { WebSocket.prototype.send = send; }
      if (socket == null || socket.protocol !== 'bokeh' || socket.readyState !== WebSocket.OPEN) return;
      const MAGIC = [...'nnpFrame'].map((c) => c.charCodeAt(0));
      const decoder = new TextDecoder();
      const isFrame = (data) => data instanceof ArrayBuffer && data.byteLength >= 12 &&
        new Uint8Array(data, 0, 8).every((byte, i) => byte === MAGIC[i]);
      const bokeh = socket.onmessage;
      socket.onmessage = (event) => {
        const data = event.data;
        if (!isFrame(data)) return bokeh.call(socket, event);
        const length = new DataView(data).getUint32(8, true);
        const { frame, ack, ops } = JSON.parse(decoder.decode(new Uint8Array(data, 12, length)));
        const start = 12 + length + ((8 - (12 + length) % 8) % 8);
        apply(ops, data.slice(start));
        if (ack) requestAnimationFrame(() => socket.send('nn-playground drawn ' + frame));
      };
      socket.send('nn-playground frames ' + model.token);
    }
    """
