"""The size limit of the page's file inputs, enforced in the browser before a file is sent.

Bokeh's file input reads the whole chosen file and sends it, base64, in one websocket
message; a file past the server's message limit (``server.MAX_MESSAGE_BYTES``) closed the
page's connection ("The connection to the server was lost") before any check of ours could
say a word. :class:`UploadLimit` wraps the file input's ``load_files`` once per page: a file
larger than the limit for that input's ``accept`` is not read; the input is cleared and the
server hears only ``{accept, name, bytes}``, and says in words what the limit is. The server
checks sizes again on what arrives (a page can send anything).
"""
from __future__ import annotations

from typing import Callable

import param
from panel.custom import JSComponent

UPLOAD_LIMIT_JS = """
const pgUploadLimits = () => {
  if (window.__pg_upload_limits) return window.__pg_upload_limits;
  const guards = window.__pg_upload_limits = [];
  let cls = null;
  try { cls = Bokeh.Models.get('FileInput'); } catch (error) { cls = null; }
  const proto = cls && cls.prototype.default_view && cls.prototype.default_view.prototype;
  if (!proto || proto.__pg_limited) return guards;
  const load = proto.load_files;
  proto.load_files = async function (files) {
    const accept = typeof this.model.accept === 'string' ? this.model.accept : this.model.accept.join(',');
    const guard = guards.find((g) => g.root === this.root) || guards[0];
    const limit = guard ? guard.model.limits[accept] : undefined;
    const big = limit === undefined ? null : Array.from(files).find((file) => file.size > limit);
    if (big) {
      this.input_el.value = '';
      guard.model.send_msg({accept, name: String(big.name).slice(0, 200), bytes: big.size});
      return;
    }
    return load.call(this, files);
  };
  proto.__pg_limited = true;
  return guards;
};

export function render({ model, view }) {
  const guards = pgUploadLimits();
  const guard = {root: view.root, model};
  guards.push(guard);
  model.on('remove', () => guards.splice(guards.indexOf(guard), 1));
}
"""


class UploadLimit(JSComponent):
    """Refuses, in the browser, files over ``limits[accept]`` bytes for the page's file inputs
    with that ``accept``; ``on_refused(accept, name, n_bytes)`` runs on the server for each."""

    on_refused: "RefusedCallback | None"

    limits = param.Dict(default={}, doc="file input's accept (as given to it) -> largest file in bytes")

    _esm = UPLOAD_LIMIT_JS

    def __init__(self, on_refused: "RefusedCallback | None" = None, **params):
        self.on_refused = on_refused  # a plain attribute: parameters are sent to the page
        params.setdefault("height", 0)
        params.setdefault("width", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)

    def _handle_msg(self, msg) -> None:
        """A page's report of a refused file; anything malformed is ignored."""
        if not isinstance(msg, dict) or self.on_refused is None:
            return
        accept, name, size = msg.get("accept"), msg.get("name"), msg.get("bytes")
        if accept in self.limits and isinstance(name, str) and isinstance(size, int) and not isinstance(size, bool):
            self.on_refused(accept, name[:200], size)


def size_text(n_bytes: int) -> str:
    """``31457280`` -> ``"31.5 MB"``."""
    return f"{n_bytes / 1_000_000:.1f} MB"


RefusedCallback = Callable[[str, str, int], None]
