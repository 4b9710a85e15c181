"""Server-side speed-ups of Bokeh's messages, for pages that change every frame.

Every message between the server and a page walks over every model of the page (~400
here), in case the message mentions one, although a frame's message mentions two or three:

- sending (``PATCH-DOC`` from the server): ``DocumentModelManager.synced_references``
  builds a set of all models, and the ``Serializer`` a ``{id(model): model.ref}`` of them;
- receiving (the page's ``PATCH-DOC``, e.g. the acknowledgement of each frame):
  ``Document.apply_json_patch`` builds a ``Deserializer`` with ``{model.id: model}``.

Together about 1.5 ms of server time a frame, a fifth of a frame's cost in a full room.
With :func:`install`, the set is a view of the document's models, the serializer makes a
model's reference when it meets one (``has_ref``/``get_ref``), and the deserializer looks
ids up in the document's own ``{id: model}``: the same answers, without the walks.

And one reply less: the server answers every ``PATCH-DOC`` from a page with an ``OK``
message, which BokehJS does not wait for and drops (its client session sends patches
without expecting a reply, and logs an OK it gets at trace level). For a page that
acknowledges each frame, that was a message a frame (~0.5 ms of server time). With
:func:`install` the patch is applied as before and no OK is sent; an error still is.

Leans on internals of Bokeh 3 (``Serializer._references`` and its three ``*_ref``
methods; ``DocumentModelManager._models``/``_new_models``; ``Deserializer._references``;
``Document.apply_json_patch`` creating its deserializer first; ``ServerSession._handle_patch``
returning the reply). :func:`install` checks the shapes it expects and changes nothing on
another Bokeh; ``tests/test_bokeh_speedups.py`` compares messages built and patches applied
with and without it.
"""
from __future__ import annotations

import collections
import collections.abc
import contextvars
import inspect

from bokeh.core.serialization import Deserializer, Serializer
from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.model import Model
from bokeh.server.session import ServerSession

VERIFIED_ON = "bokeh 3.9.2"

_ORIGINAL = {
    "synced_references": DocumentModelManager.synced_references,
    "serializer_init": Serializer.__init__,
    "has_ref": Serializer.has_ref,
    "get_ref": Serializer.get_ref,
    "deserializer_init": Deserializer.__init__,
    "apply_json_patch": Document.apply_json_patch,
    "handle_patch": ServerSession._handle_patch,
}

# The document whose patch is being applied, until its deserializer is made (one-shot).
_PATCHED_DOCUMENT: contextvars.ContextVar = contextvars.ContextVar("patched_document", default=None)


class SyncedModels(collections.abc.Set):
    """The document's models that the page already has (``synced_references``), as a view:
    membership is a dictionary lookup, not a set built from every model."""

    def __init__(self, manager: DocumentModelManager):
        self._manager = manager

    def __contains__(self, model) -> bool:
        manager = self._manager
        key = getattr(model, "id", None)
        return isinstance(key, str) and manager._models.get(key) is model and model not in manager._new_models

    def __iter__(self):
        new = self._manager._new_models
        return (model for model in list(self._manager._models.values()) if model not in new)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _synced_references(self) -> SyncedModels:
    return SyncedModels(self)


def _serializer_init(self, *, references=frozenset(), deferred=True, check_circular=False):
    synced = references if isinstance(references, SyncedModels) else None
    _ORIGINAL["serializer_init"](self, references=() if synced is not None else references,
                                 deferred=deferred, check_circular=check_circular)
    self._synced = synced


def _has_ref(self, obj) -> bool:
    if id(obj) in self._references:
        return True
    synced = getattr(self, "_synced", None)
    return synced is not None and isinstance(obj, Model) and obj in synced


def _get_ref(self, obj):  # called for every value the serializer meets: numbers, strings...
    ref = self._references.get(id(obj))
    if ref is None and isinstance(obj, Model):
        synced = getattr(self, "_synced", None)
        if synced is not None and obj in synced:
            ref = self._references[id(obj)] = obj.ref
    return ref


def _apply_json_patch(self, patch_json, *, setter=None):
    token = _PATCHED_DOCUMENT.set(self)
    try:
        return _ORIGINAL["apply_json_patch"](self, patch_json, setter=setter)
    finally:
        _PATCHED_DOCUMENT.reset(token)


def _deserializer_init(self, references=None, *, setter=None):
    document = _PATCHED_DOCUMENT.get()
    if document is None or not isinstance(references, list):
        return _ORIGINAL["deserializer_init"](self, references, setter=setter)
    _PATCHED_DOCUMENT.set(None)  # only apply_json_patch's own deserializer
    _ORIGINAL["deserializer_init"](self, None, setter=setter)
    # new models the patch brings go into the first map, never into the document's
    self._references = collections.ChainMap({}, document.models._models)


async def _handle_patch(self, message, connection):
    await _ORIGINAL["handle_patch"](self, message, connection)  # applied; its OK is dropped
    return None


def _shapes_expected() -> bool:
    try:
        serializer_args = list(inspect.signature(_ORIGINAL["serializer_init"]).parameters)
        deserializer_args = list(inspect.signature(_ORIGINAL["deserializer_init"]).parameters)
        apply_source = inspect.getsource(_ORIGINAL["apply_json_patch"])
        handle_source = inspect.getsource(_ORIGINAL["handle_patch"])
    except (TypeError, ValueError, OSError):
        return False
    document = Document()
    return (serializer_args == ["self", "references", "deferred", "check_circular"]
            and deserializer_args == ["self", "references", "setter"]
            and "Deserializer(list(self.models)" in apply_source
            and inspect.iscoroutinefunction(_ORIGINAL["handle_patch"])
            and "return connection.ok(message)" in handle_source
            and isinstance(getattr(Serializer(), "_references", None), dict)
            and isinstance(getattr(Deserializer(), "_references", None), dict)
            and isinstance(getattr(document.models, "_models", None), dict)
            and isinstance(getattr(document.models, "_new_models", None), set)
            and isinstance(DocumentModelManager.__dict__.get("synced_references"), property))


def install() -> bool:
    """Make Bokeh's messages find models without walking over all of them, and send no OK
    for a page's patch; False (and nothing changed) if this Bokeh is not the one this was
    written for."""
    if Serializer.__init__ is _serializer_init:
        return True
    if not _shapes_expected():
        return False
    DocumentModelManager.synced_references = property(_synced_references)
    Serializer.__init__ = _serializer_init
    Serializer.has_ref = _has_ref
    Serializer.get_ref = _get_ref
    Deserializer.__init__ = _deserializer_init
    Document.apply_json_patch = _apply_json_patch
    ServerSession._handle_patch = _handle_patch
    return True


def uninstall() -> None:
    DocumentModelManager.synced_references = _ORIGINAL["synced_references"]
    Serializer.__init__ = _ORIGINAL["serializer_init"]
    Serializer.has_ref = _ORIGINAL["has_ref"]
    Serializer.get_ref = _ORIGINAL["get_ref"]
    Deserializer.__init__ = _ORIGINAL["deserializer_init"]
    Document.apply_json_patch = _ORIGINAL["apply_json_patch"]
    ServerSession._handle_patch = _ORIGINAL["handle_patch"]
