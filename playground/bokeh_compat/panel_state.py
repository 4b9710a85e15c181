"""What Panel keeps about rendered components and sessions, reached in one place.

- :func:`rendered_models`: the Bokeh models that Panel made for a component, one per page
  it is shown on (``Reactive._models``: ``{ref: (model, parent)}``);
- :func:`component_data`: the data model that carries a ``JSComponent``'s parameters on
  its Bokeh model (``model.data``);
- :func:`native_design`, :func:`apply_design`: a Panel design (theme) made and applied to a page already shown, and to the
  components added to it later (``Viewable._design``, ``Design.apply(..., isolated=True)``);
- :func:`forget_views`: an ended session's entries in ``pn.state._views``;
- :func:`stored_values`: param's own dict of an object's parameter values
  (``_param__private.values``), written without param's event machinery.
"""
from __future__ import annotations

import panel as pn
from panel.viewable import Viewable

VERIFIED_ON = "panel 1.9.4, param 2.4.2"


def rendered_models(component) -> list:
    """The Bokeh models Panel rendered for ``component`` (one per page showing it)."""
    return [model for model, _ in list(component._models.values())]


def component_data(model):
    """The data model of a ``JSComponent``'s Bokeh ``model``: setting its attributes changes
    the component's parameters on that page."""
    return model.data


def native_design(theme: str):
    """Panel's native design in ``theme`` ("default" or "dark"), as Panel makes one for a page."""
    from panel.theme.native import Native

    return Viewable._instantiate_design(Native, theme)


def apply_design(root, design) -> None:
    """Give every component under ``root`` the Panel ``design`` (children added later take
    their parent's), and restyle the pages that already show ``root``."""
    for viewable in root.select(Viewable):
        viewable._design = design
    for model in rendered_models(root):
        design.apply(root, model, isolated=True)  # stylesheets, and the figures' Bokeh theme


def forget_views(session_context) -> None:
    """Drop what Panel still keeps of an ended session's document in ``pn.state._views``.

    Panel removes its page's entry there when a session ends, but not the entry of the
    page's notification area when the page never connected (its websocket reached another
    server process, or never came): that entry holds the document, and the document the
    whole playground, for as long as the server runs (with ``--num-procs 2``, 27 of a room
    of 30 were never freed)."""
    doc = session_context._document
    for ref, view in list(pn.state._views.items()):
        if view[2] is doc:
            del pn.state._views[ref]


def stored_values(parameterized) -> dict | None:
    """The dict in which param keeps ``parameterized``'s instance values, None where param
    keeps them otherwise (callers then take the public, slower way)."""
    values = getattr(getattr(parameterized, "_param__private", None), "values", None)
    return values if isinstance(values, dict) else None


def install() -> bool:
    """Nothing to patch: True if Panel still keeps what these functions read."""
    import inspect

    from panel.theme.base import Design

    return (isinstance(getattr(pn.state, "_views", None), dict)
            and isinstance(getattr(pn.pane.Markdown(""), "_models", None), dict)
            and "isolated" in inspect.signature(Design.apply).parameters
            and callable(getattr(Viewable, "_instantiate_design", None)))
