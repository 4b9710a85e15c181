"""Slow step in a real browser: the four phases walked with Next, read from the page's caption,
and the network afterwards exactly where a normal Step puts it.

The pages open with ``?points=40&batch_size=20``: 20 training points in one batch, so that
Step (one epoch) is one minibatch step, the step a slow step shows. Every wait is on a
condition in the page; numbers are read from the app's named Bokeh models.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import App

pytestmark = pytest.mark.ui

ONE_STEP_AN_EPOCH = "?points=40&batch_size=20"
CAPTION = "() => pg.text('slow_step_caption')"
PHASES = [("1", "Forward")] * 3 + [("2", "Loss")] + [("3", "Backward")] * 3 + [("4", "Update")]  # 2-4-2-1 net
# Where a named source's row is drawn on the page: (x, y) in CSS pixels of the figure's canvas.
PIXEL_OF = """([figure, source, row, mid]) => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name(figure), data = doc.get_model_by_name(source).data;
  const view = Object.values(Bokeh.index).map(v => v.owner.find_one(fig)).find(v => v);
  const box = view.canvas_view.el.getBoundingClientRect();
  const x = mid ? (data.x0[row] + data.x1[row]) / 2 : data.x[row];
  const y = mid ? (data.y0[row] + data.y1[row]) / 2 : data.y[row];
  return [box.left + view.frame.x_scale.compute(x), box.top + view.frame.y_scale.compute(y)];
}"""


@pytest.fixture
def open_at(open_app):
    """Opens pages on fresh sessions (``open_app``: an optional URL query)."""
    return open_app


def caption(app: App) -> str:
    return app.js(CAPTION)


def next_caption(app: App, before: str) -> str:
    """Waits until the caption is no longer ``before``; returns it."""
    return app.wait(f"before => {{ const t = ({CAPTION})(); return t !== before && t; }}", before,
                    shows=f"() => 'caption: ' + ({CAPTION})()")


def displayed_number(text: str) -> float:
    return float(text.replace("−", "-"))


def test_slow_step_walks_four_phases_and_lands_where_step_does(open_at):
    slow = open_at(ONE_STEP_AN_EPOCH)
    untrained = slow.js("pg.column('edges_source', 'weight')")
    expect(slow.button("Next")).to_be_disabled()

    slow.button("Slow step").click()
    shown = slow.wait(f"() => {{ const t = ({CAPTION})(); return t.startsWith('Phase 1') && t; }}")
    captions, displayed_after = [], None
    while not shown.startswith("Done"):
        captions.append(shown)
        # Nothing is applied before the last click: the counter and the weights are as they were.
        assert slow.epoch() == 0 and slow.js("pg.column('edges_source', 'weight')") == untrained
        if "· Update" in shown:
            # Each edge's hover text ends with its weight before → after the step.
            infos = slow.js("pg.column('overlay_edges_source', 'info')")
            displayed_after = [displayed_number(re.search(r"→ <b>([^<]+)</b>", info).group(1)) for info in infos]
            slow.button("Apply").click()
        else:
            slow.button("Next").click()
        shown = next_caption(slow, shown)
    phases = [re.match(r"Phase (\d) of 4 · (\w+) — ", text).groups() for text in captions]
    assert phases == PHASES, captions
    assert "ŷ = " in captions[3] and "loss" in captions[3]  # the loss phase: prediction and its loss
    assert "Hover an edge" in captions[4]
    assert re.match(r"Done — step 1 applied \(epoch 0 → 1\)", shown), shown
    slow.wait("() => pg.epoch() === 1")
    expect(slow.button("Next")).to_be_disabled()
    expect(slow.button("Back")).to_be_disabled()

    # The same setup in a new tab (same seed: same weights), one normal Step.
    normal = open_at(ONE_STEP_AN_EPOCH)
    assert normal.js("pg.column('edges_source', 'weight')") == untrained
    normal.button("Step").click()
    normal.wait("() => pg.epoch() === 1")
    normal.wait("w => JSON.stringify(pg.column('edges_source', 'weight')) !== JSON.stringify(w)", untrained)
    for tab in (slow, normal):  # the neurons' biases arrive with the same frame as the weights
        tab.wait("() => pg.column('neurons_source', 'bias').slice(2).every(Number.isFinite)")
    after = slow.js("pg.column('edges_source', 'weight')")
    assert after != untrained
    assert after == normal.js("pg.column('edges_source', 'weight')")
    assert slow.js("pg.column('neurons_source', 'bias')") == normal.js("pg.column('neurons_source', 'bias')")
    assert slow.text("epoch_readout") == normal.text("epoch_readout")
    assert slow.text("loss_readout") == normal.text("loss_readout")
    # And what the update phase said each weight would become is what it became (5 digits shown).
    assert displayed_after is not None and len(displayed_after) == len(after)
    for shown_value, value in zip(displayed_after, after):
        assert shown_value == pytest.approx(value, rel=1e-4, abs=1e-6)


def test_auto_advance_runs_and_a_normal_step_cancels_a_half_done_slow_step(open_at):
    app = open_at(ONE_STEP_AN_EPOCH)
    app.button("Slow step").click()
    first = app.wait(f"() => {{ const t = ({CAPTION})(); return t.startsWith('Phase 1') && t; }}")
    assert app.js("pg.rows('overlay_edges_source')") == app.js("pg.rows('edges_source')")
    app.checkbox("Auto-advance").click()
    second = next_caption(app, first)  # nobody clicked: the slow step went on by itself
    assert second.startswith("Phase 1 of 4 · Forward — hidden layer 2")

    app.button("Step").click()  # a normal Step: the slow step is left, nothing of it applied
    app.wait("() => pg.epoch() === 1")
    app.wait(f"() => ({CAPTION})().includes('four phases') && pg.rows('overlay_edges_source') === 0")
    expect(app.button("Next")).to_be_disabled()
    assert app.js("new Set(pg.column('train_points', 'size')).size") == 1


def test_a_clicked_training_point_is_the_one_followed(open_at):
    app = open_at(ONE_STEP_AN_EPOCH)
    row = 5
    app.wait("() => pg.drawn('boundary_figure') && pg.drawn('network_figure')")
    x, y = app.js(PIXEL_OF, ["boundary_figure", "train_points", row, False])
    app.page.mouse.click(x, y)
    app.wait(f"() => ({CAPTION})().includes('Point #{row}')")
    app.wait("() => pg.rows('highlighted_point') === 1")
    app.button("Slow step").click()
    shown = app.wait(f"() => {{ const t = ({CAPTION})(); return t.startsWith('Phase 1') && t; }}")
    assert re.search(rf"point #{row}\b", shown), shown

    # Hovering an edge in the backward phase writes out its chain-rule product.
    for _ in range(4):
        app.button("Next").click()
        shown = next_caption(app, shown)
    assert shown.startswith("Phase 3 of 4 · Backward")
    last = app.js("pg.rows('overlay_edges_source')") - 1
    x, y = app.js(PIXEL_OF, ["network_figure", "overlay_edges_source", last, True])
    app.page.mouse.move(x, y)
    tooltip = app.page.locator(".bk-tooltip-content").filter(has_text="dL/dw = mean over the batch")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(f"point #{row}:")
