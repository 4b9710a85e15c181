"""Every use of a Bokeh or Panel internal, in one fenced place (see docs/ARCHITECTURE.md).

Each module here patches or reads something that is not Bokeh's or Panel's public API, says
in ``VERIFIED_ON`` which versions it was verified on, and has an ``install()`` (a check, for
those that patch nothing) that answers False, changing nothing, where the library is not
shaped as expected. :func:`install` runs them all; :func:`report` says what took, for the
server's start-up line and ``GET /stats``. pyproject.toml bounds bokeh and panel to
:data:`SUPPORTED`, the versions the tests cover (``tests/test_bokeh_compat.py`` fails on an
installed version outside them): upgrading is a deliberate change, never a silent one.

| module | what it touches | what it is for |
|---|---|---|
| ``speedups`` | Bokeh's serializer, deserializer, document model manager, patch reply | a frame's message without a walk over every model |
| ``fixes`` | ``BokehTornado.client_lost``, ``WSHandler.on_close``, Panel's event coroutine | two races (a page closing at the keep-alive ping; a click while a change waits) |
| ``request_guard`` | Panel's location and component routes, ``ServerSession.pull``/``push`` | hostile links and websocket floods |
| ``websocket`` | ``WSHandler.on_message``, its ``write_lock``, Panel's write queues | the frame messages (playground/transport/frame_socket.py) |
| ``quiet`` | ``HasProps._property_values``, a source's column dict | a frame's changes applied to the server's models without events |
| ``panel_state`` | ``Reactive._models``, ``model.data``, ``Viewable._design``, ``pn.state._views`` | the models of a component, the theme, an ended session's views |
| ``sessions`` | a session context's ``_session``, connections' ``_socket``, ``_template_variables`` | TCP_NODELAY, a new page's session kept until it connects |
| ``server_sockets`` | ``bokeh.server.server.bind_sockets`` | one listening socket per forked process |
| ``browser`` | BokehJS's ``VisualProperties._get_css_value``, ``PlotView.base_font_size`` | two style lookups per label per frame, on the page |
"""
from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet

# The versions the tests cover; pyproject.toml says the same (tests/test_bokeh_compat.py).
SUPPORTED = {"bokeh": SpecifierSet(">=3.9,<3.10"), "panel": SpecifierSet(">=1.9,<1.10")}
# module -> the function that installs it (or checks it, for those that patch nothing);
# server_sockets is only checked here: it is installed in a forked server process.
PATCHES = {"speedups": "install", "fixes": "install", "request_guard": "install", "websocket": "install",
           "quiet": "install", "panel_state": "install", "sessions": "install",
           "server_sockets": "check", "browser": "install"}
CHECKS_ONLY = {"quiet", "panel_state", "sessions", "server_sockets", "browser"}  # patch nothing here

log = logging.getLogger(__name__)
_last: dict[str, bool] = {}


def installed_versions() -> dict[str, str]:
    """{"bokeh": "3.9.2", "panel": "1.9.4"}: what this Python has."""
    found = {}
    for name in SUPPORTED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def versions_supported() -> bool:
    """Whether the installed bokeh and panel lie within :data:`SUPPORTED`."""
    return all(found in SUPPORTED[name] for name, found in installed_versions().items() if found != "missing")


def install() -> dict[str, bool]:
    """Install (or check) every module of :data:`PATCHES`; {module: whether it took}. Logs
    the outcome when it changes: a warning naming what declined, else one info line."""
    results = {}
    for name, function in PATCHES.items():
        if name in CHECKS_ONLY and name in _last:
            results[name] = _last[name]  # a shape check: once per process (pages are built often)
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        try:
            results[name] = bool(getattr(module, function)())
        except Exception:  # noqa: BLE001 - a shape check that fails is a False, with its traceback
            log.exception("bokeh_compat.%s could not be installed", name)
            results[name] = False
    if results != _last:
        _last.clear()
        _last.update(results)
        if all(results.values()) and versions_supported():
            log.info(summary(results))
        else:
            log.warning(summary(results))
    return results


def summary(results: dict[str, bool] | None = None) -> str:
    """One line: the versions, whether they are supported, and each module's outcome."""
    results = _last if results is None else results
    versions = ", ".join(f"{name} {found}" for name, found in installed_versions().items())
    bounds = "" if versions_supported() else (
        " (outside the tested " + ", ".join(f"{n}{s}" for n, s in SUPPORTED.items()) + ")")
    declined = [name for name, took in results.items() if not took]
    outcome = (f"declined: {', '.join(declined)} (the page works, slower or with the races those fix)"
               if declined else f"all {len(results)} installed")
    return f"bokeh_compat: {versions}{bounds}; {outcome}"


def report() -> dict:
    """For ``GET /stats``: versions, whether they are supported, and each module's outcome
    and the versions it was verified on."""
    results = _last or install()
    return {"versions": installed_versions(), "supported": versions_supported(),
            "patches": {name: {"installed": took,
                               "verified_on": importlib.import_module(f"{__name__}.{name}").VERIFIED_ON}
                        for name, took in results.items()}}
