"""The package layout is the architecture (docs/ARCHITECTURE.md): each layer imports only from
itself and the layers below it, ``kernels`` imports nothing from ``playground``, and the domain
(``playground.core``) imports neither Panel nor Bokeh. The imports are read from the source,
every ``import`` statement including those inside functions."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: a module may import from its own layer and from any layer before it.
LAYERS = ("kernels", "core", "bokeh_compat", "transport", "ui", "server", "cli")
ENTRY_POINTS = ("playground", "playground.app")  # the package's lazy export and `panel serve`'s file
WEB_LIBRARIES = ("panel", "bokeh", "tornado")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to, None for the entry points."""
    parts = module.split(".")
    if parts[0] == "kernels":
        return "kernels"
    if parts[0] == "playground" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from package import module` imports that module
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def source_files():
    return sorted(p for folder in ("playground", "kernels") for p in (ROOT / folder).rglob("*.py"))


def test_every_module_is_in_a_layer():
    strays = [module_name(p) for p in source_files()
              if layer_of(module_name(p)) is None and module_name(p) not in ENTRY_POINTS]
    assert not strays, f"modules outside the layers {LAYERS}: {strays}"


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    module = module_name(path)
    own = layer_of(module)
    if own is None:
        return  # an entry point may import any layer
    wrong = []
    for line, target in imported_modules(path):
        top = target.split(".")[0]
        if own == "kernels" and top == "playground":
            wrong.append(f"line {line}: {target} (kernels imports nothing from playground)")
        elif own == "core" and top in WEB_LIBRARIES:
            wrong.append(f"line {line}: {target} (the domain imports no web library)")
        elif top in ("playground", "kernels"):
            theirs = layer_of(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                wrong.append(f"line {line}: {target} ({own} may not import {theirs})")
    assert not wrong, f"{module} imports across the layers:\n" + "\n".join(wrong)


def test_the_check_sees_a_wrong_import(tmp_path, monkeypatch):
    """The rule reads function-level and relative imports: a core module that imports a view
    inside a function, or Panel, is caught."""
    fake = ROOT / "playground" / "core" / "_layer_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (
        "def f():\n    from ..ui.views import text\n    import panel\n" if self == fake
        else Path.read_bytes(self).decode()))
    with pytest.raises(AssertionError, match=r"core may not import ui(.|\n)*no web library"):
        test_imports_follow_the_layers(fake)
