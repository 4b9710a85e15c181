"""Sharing and comfort in a real browser: links (good and bad), embed mode, export then
import, CSV upload, the boundary as PNG, theme and colours, keyboard shortcuts, and names
for screen readers.

Every wait is on a condition in the page; none sleeps for a fixed time.
"""
from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect

from playground.core.data import generate, write_csv
from playground.ui.views.colors import class_colors

from .conftest import FIRST_FRAME_TIMEOUT_MS, App, watch_errors

pytestmark = pytest.mark.ui

EMBED_READY = "() => window.pg && pg.epoch() !== null && pg.boundary() !== null"
UPLOAD_LABEL = "Your data: a CSV with columns x1, x2, label"


@pytest.fixture
def open_url(shared_context, app_url, page_errors):
    """Opens ``app_url + query`` in a new page (a new app session), waiting for ``ready``
    (a JS function; by default the app's first frame); pages close after the test."""
    pages = []

    def _open(query: str = "", ready: str = "() => window.pg && pg.ready()") -> App:
        page = shared_context.new_page()
        pages.append(page)
        watch_errors(page, page_errors)
        page.on("dialog", lambda dialog: page_errors.append(f"dialog: {dialog.message}"))
        app = App(page, app_url + query)
        page.goto(app.url)
        page.wait_for_function(ready, timeout=FIRST_FRAME_TIMEOUT_MS)
        return app

    yield _open
    for page in pages:
        page.close()


def query_of(page) -> dict:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_for_query(app: App, **expected):
    """Waits until the page's URL query holds ``expected`` (as strings)."""
    app.page.wait_for_function(
        "want => { const q = new URLSearchParams(location.search);"
        " return Object.entries(want).every(([k, v]) => q.get(k) === v); }", arg=expected)
    return query_of(app.page)


def keys_ready(app: App) -> None:
    app.page.wait_for_function("() => window.__pg_key_listeners > 0")


def test_a_link_round_trips_the_setup(app, open_url):
    page = app.page
    app.button("spiral").click()
    app.select("Learning rate").select_option("0.1")
    app.select("Optimizer").select_option("momentum")
    app.button("Add a hidden layer").click()
    app.open_more_settings()
    app.select("Colours").select_option("Colour-blind safe")
    query = wait_for_query(app, dataset="spiral", learning_rate="0.1", optimizer="momentum", hidden="4,2,2",
                           colors="colour-blind")
    assert "csv" not in query and "theme" not in query
    points = app.js("pg.column('train_points', 'x')")

    again = open_url("?" + urlsplit(page.url).query)
    expect(again.select("Learning rate")).to_have_value("0.1")
    expect(again.select("Optimizer")).to_have_value("momentum")
    again.open_more_settings()
    expect(again.select("Colours")).to_have_value("Colour-blind safe")  # the option shows its label
    expect(again.page.get_by_text("3 hidden layers")).to_be_visible()
    expect(again.button("spiral")).to_have_class(re.compile(r"\bbk-btn-primary\b"))
    assert again.js("pg.column('train_points', 'x')") == points  # the same data set
    assert "2-4-2-2-1" in again.text("status_readout")
    assert set(again.js("pg.column('train_points', 'color')")) <= set(class_colors("colour-blind"))
    expect(again.page.locator(".notice")).not_to_contain_text("problems")


def test_a_bad_link_falls_back_with_a_notice_and_applies_the_rest(open_url, artifacts):
    query = ("?dataset=moons&noise=20&learning_rate=999&optimizer=%3Cscript%3Ealert(1)%3C/script%3E"
             "&hidden=4,abc&bogus=%3Cimg%20src=x%20onerror=alert(2)%3E&theme=neon")
    app = open_url(query)
    notice = app.page.locator(".notice")
    expect(notice).to_contain_text("This link had problems")
    for bad in ("learning_rate", "<script>alert(1)</script>", "hidden", "bogus", "neon"):
        expect(notice).to_contain_text(bad)  # shown as text...
    assert notice.locator("script, img").count() == 0  # ...never as markup
    # The good entries apply; the bad ones keep their defaults.
    expect(app.button("moons")).to_have_class(re.compile(r"\bbk-btn-primary\b"))
    expect(app.page.get_by_text("Noise: 20")).to_be_visible()
    expect(app.select("Learning rate")).to_have_value("0.03")
    expect(app.select("Optimizer")).to_have_value("adam")
    app.open_more_settings()
    expect(app.select("Theme")).to_have_value("Light")
    assert "2-4-2-1" in app.text("status_readout")
    app.page.screenshot(path=str(artifacts / "bad-link.png"), full_page=True)


def test_embed_mode_shows_only_the_chosen_panels_and_plays(open_url, artifacts):
    app = open_url("?embed=true&panels=boundary", ready=EMBED_READY)
    page = app.page
    app.wait("() => pg.drawn('boundary_figure')")
    assert not app.js("pg.drawn('loss_figure_linear') || pg.drawn('network_figure')")
    expect(app.select("Optimizer")).to_have_count(0)
    expect(app.button("Copy link")).to_have_count(0)
    expect(app.button("Step")).to_be_visible()
    before = app.js("pg.boundary().values")
    app.button("Play").click()
    expect(app.button("Pause")).to_be_visible()
    app.wait("() => pg.epoch() >= 3")
    app.button("Pause").click()
    expect(app.button("Play")).to_be_visible()
    app.wait("before => pg.boundary().values.some((v, i) => v !== before[i])", before)
    page.set_viewport_size({"width": 760, "height": 520})  # the iframe that Copy embed code suggests
    page.screenshot(path=str(artifacts / "embed.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "wider than the iframe"


def test_export_then_import_continues_at_the_same_epoch_and_weights(app, open_url, tmp_path):
    app.button("spiral").click()
    app.wait("() => pg.text('status_readout').includes('2-4-2-1') && pg.epoch() === 0")
    for epoch in (1, 2, 3):
        app.button("Step").click()
        app.wait("n => pg.epoch() === n", epoch)
    weights = app.js("pg.column('edges_source', 'weight')")
    with app.page.expect_download() as download:
        app.button("Export session").click()
    saved = tmp_path / "session.json"
    download.value.save_as(saved)

    other = open_url()
    assert other.epoch() == 0 and other.js("pg.column('edges_source', 'weight')") != weights
    other.page.get_by_label("Import a saved session").set_input_files(saved)
    expect(other.page.locator(".notice")).to_contain_text("continuing at epoch 3")
    other.wait("() => pg.epoch() === 3")
    assert other.js("pg.column('edges_source', 'weight')") == weights
    expect(other.button("spiral")).to_have_class(re.compile(r"\bbk-btn-primary\b"))
    # and it goes on from there, as the original would
    for tab in (app, other):
        tab.button("Step").click()
        tab.wait("() => pg.epoch() === 4")
    assert other.js("pg.column('edges_source', 'weight')") == app.js("pg.column('edges_source', 'weight')")


def _csv_file(path, dataset):
    with open(path, "w") as stream:
        write_csv(dataset, stream)
    return path


def test_csv_upload_good_then_bad(app, tmp_path, artifacts):
    page = app.page
    data = generate("blobs", n_points=90, classes=3, seed=7)
    good = _csv_file(tmp_path / "three blobs.csv", data)
    page.get_by_label(UPLOAD_LABEL).set_input_files(good)
    message = page.locator(".upload-message")
    expect(message).to_contain_text("Using three_blobs.csv: 90 points, 3 classes")
    app.wait("n => pg.rows('train_points') === n && pg.text('status_readout').includes('-3 ce')",
             int(data.is_train.sum()))
    expect(app.select("Loss")).to_have_value("ce")
    expect(page.locator(".upload-preview table tr")).to_have_count(1 + 5)  # header and the first rows
    expect(page.get_by_role("button", name="blobs", exact=True)).not_to_have_class(re.compile(r"\bbk-btn-primary\b"))
    page.screenshot(path=str(artifacts / "upload-good.png"), full_page=True)
    xs = app.js("pg.column('train_points', 'x')")
    assert sorted(xs) == sorted(data.points[data.is_train, 0].tolist())

    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,y\n" + "1,2,0\n" * 20)
    page.get_by_label(UPLOAD_LABEL).set_input_files(bad)
    expect(message).to_contain_text("Not loaded: bad.csv lacks column(s) label")
    expect(message).to_contain_text("The data set shown stays")
    page.screenshot(path=str(artifacts / "upload-bad.png"), full_page=True)
    assert app.js("pg.column('train_points', 'x')") == xs  # nothing lost
    app.button("Step").click()
    app.wait("() => pg.epoch() === 1")  # and it still trains the uploaded data


def test_boundary_downloads_as_png(app, tmp_path):
    with app.page.expect_download() as download:
        app.button("PNG").click()
    assert download.value.suggested_filename == "decision-boundary.png"
    path = tmp_path / "boundary.png"
    download.value.save_as(path)
    image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
    assert image.size[0] >= 300 and image.size[1] >= 300
    colors = {rgb for _, rgb in image.getcolors(maxcolors=1 << 20)}
    assert any(r > 200 and 120 < g < 170 and b < 80 for r, g, b in colors)  # orange points
    assert any(r < 40 and 100 < g < 140 and b > 170 for r, g, b in colors)  # blue points


def header_background(app) -> str:
    """The header's computed background: set by the app's style sheet (static/playground.css)."""
    return app.page.locator(".pg-header").first.evaluate("el => getComputedStyle(el).backgroundColor")


def test_dark_theme_and_colour_blind_palette_apply_live(app, artifacts):
    page = app.page
    assert header_background(app) == "rgb(238, 242, 244)"  # the style sheet reached the components
    app.button("Step").click()
    app.wait("() => pg.epoch() === 1")
    app.open_more_settings()
    app.select("Theme").select_option("Dark")
    page.wait_for_function("() => document.documentElement.classList.contains('pg-dark')")
    app.wait("() => pg.model('boundary_figure').background_fill_color !== '#ffffff'")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(33, 37, 41)"
    assert header_background(app) != "rgb(238, 242, 244)"  # the sheet's variables follow the theme
    app.select("Colours").select_option("Colour-blind safe")
    cvd = class_colors("colour-blind")
    app.wait("cvd => pg.column('train_points', 'color').every(c => cvd.includes(c))", list(cvd[:2]))
    wait_for_query(app, theme="dark", colors="colour-blind")
    assert app.epoch() == 1  # nothing was rebuilt
    page.screenshot(path=str(artifacts / "dark-colour-blind.png"), full_page=True)
    app.select("Theme").select_option("Light")
    page.wait_for_function("() => !document.documentElement.classList.contains('pg-dark')")
    app.wait("() => pg.model('boundary_figure').background_fill_color === '#ffffff'")


def test_keyboard_shortcuts(app):
    page = app.page
    keys_ready(app)
    page.keyboard.press("s")
    app.wait("() => pg.epoch() === 1")
    page.keyboard.press(" ")
    expect(app.button("Pause")).to_be_visible()
    app.wait("() => pg.epoch() >= 3")
    page.keyboard.press(" ")
    expect(app.button("Play")).to_be_visible()
    page.keyboard.press("r")
    app.wait("() => pg.epoch() === 0")
    page.keyboard.press("s")
    page.keyboard.press("s")
    app.wait("() => pg.epoch() === 2")
    # Keys typed into a field or a select are theirs: "r" there resets nothing (the Step after
    # them shows epoch 3, not 1). In a select, "r" picks the first option starting with r.
    app.open_more_settings()
    beta1 = page.get_by_role("textbox", name="Beta1", exact=True)
    beta1.click()
    page.keyboard.press("r")
    app.select("Optimizer").focus()
    page.keyboard.press("r")
    expect(app.select("Optimizer")).to_have_value("rmsprop")
    app.button("Step").click()
    app.wait("() => pg.epoch() >= 3")
    assert app.epoch() == 3
    expect(page.locator(".pg-keys")).to_contain_text("space Play/Pause")


def test_controls_have_accessible_names(app):
    page = app.page
    keys_ready(app)  # the names come with the same script
    app.open_more_settings()
    for role, name in (("checkbox", "Show test data"), ("checkbox", "Log scale"), ("checkbox", "Show gradients"),
                       ("slider", "Noise"), ("slider", "Batch size"), ("button", "Increase Seed"),
                       ("button", "Decrease Seed"), ("button", "Add a hidden layer"),
                       ("button", "Remove a neuron from layer 1"), ("button", UPLOAD_LABEL),
                       ("button", "Import a saved session"), ("combobox", "Theme"), ("combobox", "Colours")):
        expect(page.get_by_role(role, name=name, exact=True)).to_be_visible()
    # The named checkbox is the real one: checking it shows the test points.
    page.get_by_role("checkbox", name="Show test data", exact=True).check()
    app.wait("() => pg.rendererOf('test_points').visible")
