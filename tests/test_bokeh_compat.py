"""The fence around Bokeh's and Panel's internals (playground/bokeh_compat): the installed
versions are the ones the tests cover, pyproject.toml says the same bounds, every module in
the fence installs on them, names the versions it was verified on, and no module outside the
fence touches an internal that the fence owns."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from playground import bokeh_compat

ROOT = Path(__file__).resolve().parents[1]
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def pyproject_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {r.name: str(r.specifier) for r in requirements if r.name in bokeh_compat.SUPPORTED}


@pytest.mark.skipif(tomllib is None, reason="tomllib is Python 3.11's")
def test_pyproject_bounds_are_the_supported_versions():
    bounds = pyproject_bounds()
    assert {name: str(spec) for name, spec in bokeh_compat.SUPPORTED.items()} == bounds
    assert all("<" in spec for spec in bounds.values()), "bokeh and panel need an upper bound"


def test_installed_versions_are_supported():
    found = bokeh_compat.installed_versions()
    outside = {name: v for name, v in found.items() if v not in bokeh_compat.SUPPORTED[name]}
    assert not outside, (f"installed {outside}, outside {bokeh_compat.SUPPORTED}: run the suite on them, "
                         "check each bokeh_compat module, then widen SUPPORTED and pyproject.toml together")


def test_every_module_installs_and_names_its_versions():
    results = bokeh_compat.install()
    assert set(results) == set(bokeh_compat.PATCHES)
    assert all(results.values()), f"declined on this Bokeh/Panel: {bokeh_compat.summary(results)}"
    modules = {p.stem for p in (ROOT / "playground" / "bokeh_compat").glob("*.py")} - {"__init__"}
    assert modules == set(bokeh_compat.PATCHES), "every module of the fence is installed (or checked)"
    report = bokeh_compat.report()
    for name, entry in report["patches"].items():
        assert entry["verified_on"].split()[0] in ("bokeh", "panel"), name
    assert report["supported"] is True and report["versions"] == bokeh_compat.installed_versions()


def test_a_declined_module_is_said(monkeypatch, caplog):
    """A shape check that fails (here: the speed-ups on a Bokeh without the expected
    serializer) is a False in the results and a warning that names it."""
    from playground.bokeh_compat import speedups

    monkeypatch.setattr(speedups, "install", lambda: False)
    with caplog.at_level("WARNING", logger="playground.bokeh_compat"):
        results = bokeh_compat.install()
    assert results["speedups"] is False
    assert "declined: speedups" in caplog.text
    monkeypatch.undo()
    assert bokeh_compat.install()["speedups"] is True


# Names only Bokeh's and Panel's internals have: an attribute, a private import, a module.
INTERNAL_ATTRIBUTES = {"_property_values", "_held_events", "_pending_writes", "_models", "_views", "_design",
                       "_instantiate_design", "_template_variables", "_subscribed_connections", "_socket",
                       "_document", "write_lock", "_get_css_value", "bind_sockets", "_WRITE_MSGS", "_WRITE_BLOCK",
                       "_session", "_handle_patch", "_event_coroutine"}
INTERNAL_MODULES = ("bokeh.server.views", "bokeh.server.session", "bokeh.server.connection", "bokeh.server.tornado",
                    "bokeh.server.server", "bokeh.protocol", "bokeh.document", "bokeh.core.serialization",
                    "panel.io.document", "panel.io.server", "panel.io.resources", "panel.reactive")


def internal_uses(path: Path) -> list[str]:
    """Where ``path`` reaches a Bokeh/Panel internal: ``x._models`` on something not its own
    (``self``), ``getattr(x, "_private")`` on something not its own, a private name imported,
    or an internal module."""
    found = []
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in INTERNAL_ATTRIBUTES:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names]
            for target in ([module] if module else names):
                if target and target.startswith(INTERNAL_MODULES):
                    found.append(f"line {node.lineno}: import {target}")
            if module and module.startswith(("bokeh", "panel")) and any(n.startswith("_") for n in names):
                found.append(f"line {node.lineno}: a private name from {module}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and str(node.args[1].value).startswith("_")
              and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "_get_css_value" in node.value:
            found.append(f"line {node.lineno}: a BokehJS internal in page script")
    return found


def test_no_internal_is_touched_outside_the_fence():
    outside = {}
    for path in sorted((ROOT / "playground").rglob("*.py")):
        if "bokeh_compat" in path.parts:
            continue
        uses = internal_uses(path)
        if uses:
            outside[str(path.relative_to(ROOT))] = uses
    assert not outside, f"Bokeh/Panel internals outside playground/bokeh_compat: {outside}"


def test_the_fence_check_sees_an_internal(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from panel.io.document import _WRITE_MSGS\n"
                     "def f(pane, doc):\n    return pane._models, doc.callbacks._held_events\n"
                     "JS = 'visual._get_css_value = () => 1'\n"
                     "def g(context, self_):\n    return getattr(context, '_session', None), getattr(self, '_own', 0)\n")
    assert len(internal_uses(probe)) == 6
    inside = internal_uses(ROOT / "playground" / "bokeh_compat" / "websocket.py")
    assert inside, "the fence's own modules are what the check would find"


def test_a_served_room_says_what_took_at_start_up_and_on_stats():
    """``nn-playground serve`` prints the fence's summary before it serves, and ``GET /stats``
    reports each module's outcome and the versions it was verified on."""
    import asyncio
    import json

    from playground.server.loadtest import ServerProcess, _free_port

    async def scenario():
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True)
        server = ServerProcess(_free_port())
        try:
            await server.wait_ready(http)
            response = await http.fetch(f"http://127.0.0.1:{server.port}/stats", request_timeout=30)
            return json.loads(response.body)["bokeh_compat"], server.log_text()
        finally:
            http.close()
            server.stop()

    report, log = asyncio.run(scenario())
    assert report["supported"] is True
    assert {name: entry["installed"] for name, entry in report["patches"].items()} == dict.fromkeys(
        bokeh_compat.PATCHES, True)
    assert report["patches"]["speedups"]["verified_on"] == bokeh_compat.speedups.VERIFIED_ON
    startup = [line for line in log.splitlines() if line.startswith("bokeh_compat: ")]
    assert startup == [bokeh_compat.summary(dict.fromkeys(bokeh_compat.PATCHES, True))], log[-2000:]
