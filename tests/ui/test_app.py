"""The playground in a real browser: what a learner clicks, and what the page then shows.

Every wait is on a condition in the page (Playwright's expect, or wait_for_function over the
app's named Bokeh models); none sleeps for a fixed time. Numbers are read from the page.
"""
from __future__ import annotations

import math
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.ui

TRAINED_EPOCHS = 10  # circle, the default 2-4-2-1 tanh net, Adam 0.03: test loss 0.72 -> ~0.06
PROMPT_MS = 5_000  # how long a click may take to show its effect: generous for a loaded CI machine


def test_title_and_first_frame_before_play(app):
    page = app.page
    assert page.title() == "nn-playground"
    expect(app.button("Play")).to_be_visible()
    assert app.epoch() == 0
    assert "000,000" in app.text("epoch_readout")
    # The untrained losses are shown before any training: bce of a near-chance net is ~ln 2.
    test_loss, train_loss = app.js("[pg.testLoss(), pg.trainLoss()]")
    assert 0.3 < test_loss < 2.0 and 0.3 < train_loss < 2.0, (test_loss, train_loss)
    assert app.js("pg.column('loss_source', 'epoch')") == [0]
    status = app.text("status_readout")
    assert "steps/s" in status and "backend" in status and "2-4-2-1" in status
    assert app.js("pg.rows('neurons_source')") == 2 + 4 + 2 + 1
    assert app.js("pg.rows('edges_source')") == 2 * 4 + 4 * 2 + 2 * 1
    assert app.js("pg.rows('train_points')") > 0


def test_play_trains_then_pause_stops(app, artifacts):
    page = app.page
    untrained_loss = app.test_loss()
    untrained_boundary = app.js("pg.boundary().values")

    app.button("Play").click()
    expect(app.button("Pause")).to_be_visible()
    expect(app.button("Play")).to_have_count(0)
    # Only cheap conditions while it plays; the rest is read once it is paused.
    epoch, trained_loss = app.wait("([n, loss]) => pg.epoch() >= n && pg.testLoss() < loss "
                                   "&& [pg.epoch(), pg.testLoss()]", [TRAINED_EPOCHS, 0.5 * untrained_loss])
    assert epoch >= TRAINED_EPOCHS and trained_loss < 0.5 * untrained_loss

    app.button("Pause").click()
    try:
        expect(app.button("Play")).to_be_visible(timeout=PROMPT_MS)
    finally:  # the trained state (still playing, if Pause failed)
        page.screenshot(path=str(artifacts / "trained.png"), full_page=True)
    paused_epoch = app.epoch()
    quiet = app.assert_quiet()
    assert quiet == {}, f"updates arrived after Pause: {quiet}"
    assert app.epoch() == paused_epoch

    # The loss chart got a point per frame, and the boundary image is the trained net's.
    assert app.js("pg.rows('loss_source')") > 5
    trained_boundary = app.js("pg.boundary().values")
    assert len(trained_boundary) == 100 * 100
    changed = sum(a != b for a, b in zip(untrained_boundary, trained_boundary))
    assert changed > 1000, f"only {changed} of 10000 boundary pixels changed with training"
    assert app.test_loss() < 0.5 * untrained_loss
    assert "steps/s" in app.text("status_readout")


def test_step_trains_exactly_one_epoch_and_reset_returns_to_zero(app):
    untrained_loss = app.test_loss()
    app.button("Step").click()
    assert app.wait("() => pg.epoch() >= 1 && pg.epoch()") == 1
    app.button("Step").click()
    assert app.wait("() => pg.epoch() >= 2 && pg.epoch()") == 2
    # One loss point per epoch shown (its message may arrive just after the readout's).
    assert app.wait("() => pg.rows('loss_source') >= 3 && pg.column('loss_source', 'epoch')") == [0, 1, 2]
    expect(app.button("Play")).to_be_visible()
    stepped_loss = app.test_loss()
    assert stepped_loss < untrained_loss

    app.button("Reset").click()
    app.wait("() => pg.epoch() === 0")
    assert "000,000" in app.text("epoch_readout")
    assert app.wait("() => pg.rows('loss_source') === 1")
    # New untrained weights: the loss is back up, near chance.
    assert app.wait("loss => pg.testLoss() > loss", stepped_loss)
    expect(app.button("Play")).to_be_visible()


def test_step_after_pause_is_one_epoch_more_than_shown(app):
    app.button("Play").click()
    app.wait("() => pg.epoch() >= 5")
    app.button("Pause").click()
    expect(app.button("Play")).to_be_visible(timeout=PROMPT_MS)
    shown = app.epoch()
    app.js("pg.startCounting()")
    app.button("Step").click()
    app.wait("() => (pg.counted().epoch || 0) >= 1")
    assert app.epoch() == shown + 1, f"paused at epoch {shown}, Step showed {app.epoch()}"


def test_activation_of_layer_one_rebuilds_the_network(app):
    page = app.page
    loss_before = app.text("loss_readout")
    thumbnails_before = app.js("pg.column('neurons_source', 'image').map(im => Array.from(im))")
    app.button("Step").click()
    app.wait("() => pg.epoch() === 1")

    page.locator(".activation-1 select").select_option("relu")
    expect(page.locator(".notice")).to_contain_text("activation")
    expect(page.locator(".notice")).to_contain_text("epoch 0")
    app.wait("() => pg.epoch() === 0")
    app.wait("before => pg.text('loss_readout') !== before", loss_before)
    # The diagram is rebuilt with the choice kept, and layer 2 keeps its own activation.
    expect(page.locator(".activation-1 select")).to_have_value("relu")
    expect(page.locator(".activation-2 select")).to_have_value("tanh")
    thumbnails_after = app.js("pg.column('neurons_source', 'image').map(im => Array.from(im))")
    layer_one = slice(2, 6)  # 2 input features, then the 4 neurons of hidden layer 1
    assert thumbnails_after[layer_one] != thumbnails_before[layer_one]
    assert thumbnails_after[:2] == thumbnails_before[:2]  # the inputs are what they were


def test_optimizer_choice_changes_its_inputs_and_the_training(app, open_app):
    page = app.page
    app.open_more_settings()
    beta1 = page.get_by_role("textbox", name="Beta1", exact=True)
    momentum = page.get_by_role("textbox", name="Momentum", exact=True)
    expect(beta1).to_be_visible()
    expect(beta1).to_have_value("0.9")
    expect(momentum).to_be_hidden()

    app.select("Optimizer").select_option("sgd")
    expect(beta1).to_be_hidden()
    expect(momentum).to_be_hidden()
    expect(page.get_by_role("textbox", name="Weight decay", exact=True)).to_be_visible()
    app.select("Optimizer").select_option("momentum")
    expect(momentum).to_be_visible()
    expect(momentum).to_have_value("0.9")
    expect(beta1).to_be_hidden()
    app.select("Optimizer").select_option("sgd")
    expect(momentum).to_be_hidden()

    # The same net from the same weights, one epoch with sgd here and with adam in another tab.
    adam = open_app()
    for tab in (app, adam):
        tab.button("Step").click()
        tab.wait("() => pg.epoch() === 1")
    sgd_loss, adam_loss = app.test_loss(), adam.test_loss()
    assert math.isfinite(sgd_loss) and math.isfinite(adam_loss)
    assert sgd_loss != adam_loss, "sgd and adam trained to the same loss: the optimizer choice was ignored"


def test_add_layer_and_remove_neuron(app):
    page = app.page
    expect(page.get_by_text("2 hidden layers")).to_be_visible()
    # The "+"/"−" buttons show a symbol; screen readers (and so these role selectors) get their
    # tooltip as the name (see playground/ui/views/shortcuts.py).
    app.button("Add a hidden layer").click()
    expect(page.get_by_text("3 hidden layers")).to_be_visible()
    assert app.wait("() => pg.rows('neurons_source') === 2 + 4 + 2 + 2 + 1")
    expect(page.locator(".activation-3 select")).to_have_value("tanh")
    assert "2-4-2-2-1" in app.text("status_readout")

    app.button("Remove a neuron from layer 1").click()
    assert app.wait("() => pg.rows('neurons_source') === 2 + 3 + 2 + 2 + 1")
    assert app.js("pg.rows('edges_source')") == 2 * 3 + 3 * 2 + 2 * 2 + 2 * 1
    expect(page.get_by_text("3 neurons", exact=True)).to_be_visible()
    assert "2-3-2-2-1" in app.text("status_readout")


def test_spiral_data_set_replaces_the_points(app):
    before = app.js("pg.column('train_points', 'x')")
    app.button("spiral").click()
    app.wait("before => JSON.stringify(pg.column('train_points', 'x')) !== JSON.stringify(before)", before)
    expect(app.page.locator(".notice")).to_contain_text(re.compile(r"data ?set"))
    after = app.js("pg.column('train_points', 'x')")
    assert len(after) > 0 and after != before
    assert app.epoch() == 0
    expect(app.button("spiral")).to_have_class(re.compile(r"\bbk-btn-primary\b"))
    expect(app.button("circle")).not_to_have_class(re.compile(r"\bbk-btn-primary\b"))


def test_log_scale_switches_between_the_loss_charts(app):
    log_scale = app.checkbox("Log scale")
    shown = "() => [pg.drawn('loss_figure_linear'), pg.drawn('loss_figure_log')].join()"
    for checked, linear, log in ((True, False, True), (False, True, False), (True, False, True)):
        log_scale.click()
        expect(log_scale).to_be_checked(checked=checked)
        app.wait(f"want => ({shown})() === want", f"{str(linear).lower()},{str(log).lower()}",
                 timeout=PROMPT_MS, shows=f"want => 'linear,log on the page: ' + ({shown})()")


def test_divergence_is_caught_and_explained(app, artifacts):
    page = app.page
    app.button("plane").click()
    expect(app.select("Loss")).to_have_value("mse")
    app.select("Optimizer").select_option("sgd")
    app.select("Learning rate").select_option("10.0")
    app.button("Play").click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("diverged", timeout=15_000)
    expect(notice).to_contain_text("learning rate 10 is too big")
    expect(app.button("Play")).to_be_visible()
    stopped_at = app.epoch()
    assert app.assert_quiet() == {}
    assert app.epoch() == stopped_at
    page.screenshot(path=str(artifacts / "diverged.png"), full_page=True)
    # Play again: refused with what to do, and still no training.
    app.button("Play").click()
    expect(notice).to_contain_text("press Reset")
    expect(app.button("Play")).to_be_visible()
    assert app.epoch() == stopped_at
    # The exploded loss is shown as a number a person can read (like 1.05e+72), not as
    # 70-odd digits that push the page wider than the window.
    shown = re.search(r"Test loss\s*(\S+?)\s*Training", app.js("pg.text('loss_readout')")).group(1)
    assert len(shown) <= 12, f"the test loss reads {shown!r}"
    assert app.js("document.documentElement.scrollWidth <= window.innerWidth"), "the page grew a horizontal scroll"


def test_the_layers_tab_shows_the_trained_layer_when_opened(app):
    """The layer histograms are computed only while their tab is open: opened after
    training, they show the trained weights at once, and follow the next step."""
    app.button("Step").click()
    app.wait("() => pg.epoch() >= 1")
    assert app.js("pg.rows('weight_histogram')") is None  # its tab is closed: not on the page
    app.page.get_by_text("Layers", exact=True).first.click()
    # layer 1 of the default 2-4-2-1 net has 2 x 4 weights: the histogram counts all of them
    counts = app.wait("() => pg.rows('weight_histogram') && pg.column('weight_histogram', 'top')")
    assert sum(counts) == 2 * 4, counts
    # ... of the trained net (the diagram's first 2 x 4 edges are layer 1's weights)
    weights = app.js("pg.column('edges_source', 'weight')")[:2 * 4]
    low, high = app.js("[pg.column('weight_histogram', 'left')[0], pg.column('weight_histogram', 'right').at(-1)]")
    assert low == pytest.approx(min(weights)) and high == pytest.approx(max(weights)), (low, high, weights)
    assert "saturated" in app.js("Bokeh.documents[0].get_model_by_name('unit_readout').text")
    edges = app.js("pg.column('weight_histogram', 'left')")
    app.button("Step").click()
    app.wait("(edges) => JSON.stringify(pg.column('weight_histogram', 'left')) !== JSON.stringify(edges)", edges)
    assert sum(app.js("pg.column('weight_histogram', 'top')")) == 2 * 4
