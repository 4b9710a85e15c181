"""The page on the screens people have (#18): a classroom laptop (1280×720), a monitor
(1920×1080) and a phone (390×844), with the default network and with six layers of eight.

What is checked is what a user sees: no sideways scroll of the page; at 1280×720 the Play
button, the network diagram and the boundary plot inside the viewport (their bounding boxes);
the header one row that stays put when the optimizer changes; a network wider than its
column scrolls inside it; the inputs on the diagram toggle when clicked. Screenshots go to
test-artifacts/ to be looked at.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from playground.core.data import FEATURES
from playground.ui.views.network import COLUMN_WIDTH, LABEL_ROOM, ROW_HEIGHT

SCREENS = {"laptop": (1280, 720), "monitor": (1920, 1080), "phone": (390, 844)}
DEEP = "?hidden=8,8,8,8,8,8"


def box(app, selector: str) -> dict:
    locator = app.page.locator(selector)
    expect(locator).to_have_count(1)
    return locator.bounding_box()


def inside(b: dict, width: int, height: int) -> bool:
    return b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width + 0.5 and b["y"] + b["height"] <= height + 0.5


def page_scroll_width(app) -> dict:
    return app.js("() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth})")


@pytest.mark.parametrize("query", ["", DEEP], ids=["default", "six-layers-of-eight"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_the_page_fits_the_screen(open_app, artifacts, screen, query):
    width, height = SCREENS[screen]
    app = open_app(query)
    app.page.set_viewport_size({"width": width, "height": height})
    app.page.wait_for_function("w => innerWidth === w", arg=width)
    app.wait("() => document.documentElement.scrollWidth <= innerWidth",
             shows="() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth})")
    app.page.screenshot(path=str(artifacts / f"layout-{screen}-{'deep' if query else 'default'}.png"))
    assert app.js("() => document.querySelector('meta[name=viewport]')?.content") == \
        "width=device-width, initial-scale=1"
    if screen != "laptop":
        return
    play, boundary = box(app, ".play-button button"), box(app, ".boundary-figure")
    network_column = box(app, ".pg-network")
    assert inside(play, width, height) and inside(boundary, width, height), (play, boundary)
    diagram = box(app, ".network-figure")
    assert diagram["y"] + diagram["height"] <= height, diagram  # the diagram's bottom is on screen
    assert network_column["x"] + network_column["width"] <= box(app, ".pg-output")["x"] + 0.5
    if query:  # wider than its column: it scrolls there, the output stays where it is
        assert diagram["width"] > network_column["width"]
        assert app.page.locator(".pg-network").evaluate("el => el.scrollWidth > el.clientWidth")
    else:
        assert inside(diagram, width, height), diagram


def test_the_header_is_one_row_that_stays_put(app):
    """Essentials in one row; the optimizer's own boxes come and go in More settings, and
    nothing in the header moves (the Lessons menu moved when they were in it)."""
    app.page.set_viewport_size({"width": 1280, "height": 720})
    app.page.wait_for_function("() => innerWidth === 1280")
    places = {"play": app.button("Play"), "lessons": app.select("Lessons"),
              "more": app.page.locator(".more-settings button")}
    assert abs(places["play"].bounding_box()["y"] - places["more"].bounding_box()["y"]) < 2  # one row
    app.open_more_settings()
    before = {name: place.bounding_box() for name, place in places.items()}
    shows = {"momentum": "Momentum", "sgd": "Weight decay", "rmsprop": "Alpha"}  # a box of its own
    for optimizer, own_box in shows.items():
        app.select("Optimizer").select_option(optimizer)
        expect(app.page.get_by_role("textbox", name=own_box, exact=True)).to_be_visible()
        if optimizer == "sgd":
            expect(app.page.get_by_role("textbox", name="Momentum", exact=True)).to_be_hidden()
        for name, place in places.items():
            assert place.bounding_box() == before[name], (optimizer, name)


def test_an_input_on_the_diagram_toggles_when_clicked(app):
    """Click x1² on the diagram: the network takes a third input; click it again: two."""
    def click_x1_squared():
        figure = box(app, ".network-figure")
        row = FEATURES.index("x1^2")
        app.page.mouse.click(figure["x"] + (0.5 + LABEL_ROOM) * COLUMN_WIDTH, figure["y"] + (row + 0.5) * ROW_HEIGHT)

    click_x1_squared()
    app.wait("() => (pg.text('status_readout') || '').includes('3-4-2-1')",
             shows="() => pg.text('status_readout')")
    click_x1_squared()
    app.wait("() => (pg.text('status_readout') || '').includes('2-4-2-1')",
             shows="() => pg.text('status_readout')")
