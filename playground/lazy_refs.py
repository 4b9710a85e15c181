"""One server-side speed-up of Bokeh's message serializer, for pages that change every frame.

Every message the server sends a page (a frame: some patched columns and readout texts)
starts with Bokeh's ``Serializer`` building ``{id(model): model.ref}`` for every model the
page has (~400 here), in case the message mentions one: about 1 ms of server time per
frame, a tenth of a frame's cost in a full room, for a frame that mentions none. With
:func:`install`, the serializer keeps ``{id(model): model}`` and makes a model's reference
when asked (``get_ref``), with the same answers.

Leans on one internal of Bokeh 3 (``Serializer._references``, set in its ``__init__`` and
read through ``has_ref``/``get_ref``/``add_ref``): :func:`install` checks the shape it
expects and does nothing on another, and ``tests/test_lazy_refs.py`` compares messages
built with and without it.
"""
from __future__ import annotations

import inspect

from bokeh.core.serialization import Serializer
from bokeh.model import Model

_ORIGINAL_INIT = Serializer.__init__


class LazyRefs(dict):
    """``{id(obj): ref}`` whose entries may still be the models themselves; ``get`` turns
    one into its reference the first time it is read."""

    def get(self, key, default=None):
        value = dict.get(self, key, default)
        if isinstance(value, Model):
            value = self[key] = value.ref
        return value


def _lazy_init(self, *, references=frozenset(), deferred=True, check_circular=False):
    _ORIGINAL_INIT(self, references=(), deferred=deferred, check_circular=check_circular)
    self._references = LazyRefs((id(obj), obj) for obj in references)


def install() -> bool:
    """Make Bokeh's serializer build model references on demand; False (and nothing
    changed) if this Bokeh's serializer is not the one this was written for."""
    if Serializer.__init__ is _lazy_init:
        return True
    expected = ["self", "references", "deferred", "check_circular"]
    if list(inspect.signature(_ORIGINAL_INIT).parameters) != expected or not all(
            hasattr(Serializer, name) for name in ("has_ref", "get_ref", "add_ref")):
        return False
    probe = Serializer()
    if not isinstance(getattr(probe, "_references", None), dict):
        return False
    Serializer.__init__ = _lazy_init
    return True


def uninstall() -> None:
    Serializer.__init__ = _ORIGINAL_INIT
