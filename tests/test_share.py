"""Sharing and comfort without a browser: palettes, theme and colours in links, CSV upload
through the CLI's reader, the keyboard shortcuts' wiring. (tests/ui/test_share.py clicks
the same things in a real browser.)"""
import io
import itertools

import numpy as np
import pytest

from playground.ui.page import Playground
from playground.core.data import generate, write_csv
from playground.ui.link import decode
from playground.ui.views.colors import PALETTES, class_colors, diverging_palette, point_colors, rgb
from playground.ui.views.shortcuts import KEYS, KeyboardShortcuts
from playground.ui.views.upload import MAX_UPLOAD_BYTES, MAX_UPLOAD_POINTS, safe_file_name

# Machado, Oliveira and Fernandes (2009), severity 1: linear-RGB matrices that simulate
# the three kinds of dichromacy.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _lab(color: str, matrix) -> np.ndarray:
    """CIELAB (D65) of ``color`` as seen through ``matrix`` (a dichromacy simulation)."""
    c = np.array(rgb(color)) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    seen = np.clip(np.asarray(matrix) @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ seen
    xyz /= (0.95047, 1.0, 1.08883)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colors, matrix) -> float:
    return min(np.linalg.norm(_lab(a, matrix) - _lab(b, matrix)) for a, b in itertools.combinations(colors, 2))


@pytest.mark.parametrize("kind", DICHROMACY)
def test_colour_blind_palette_keeps_every_class_apart(kind):
    assert _closest_pair(class_colors("colour-blind"), DICHROMACY[kind]) >= 15
    # ... where the default one does not (so the option is worth having)
    assert min(_closest_pair(class_colors("default"), m) for m in DICHROMACY.values()) < 10


def test_colour_blind_diverging_ends_differ_in_lightness_too():
    scale = diverging_palette(name="colour-blind")
    negative, positive = _lab(scale[0], np.eye(3)), _lab(scale[-1], np.eye(3))
    assert abs(negative[0] - positive[0]) > 20  # apart even in grey
    assert scale[0] == class_colors("colour-blind")[0] and scale[-1] == class_colors("colour-blind")[1]


def test_default_palette_is_the_tensorflow_playgrounds():
    assert class_colors("default")[:2] == ("#f59322", "#0877bd")
    assert point_colors(np.array([0, 1, 1]), 2) == ["#f59322", "#0877bd", "#0877bd"]
    assert len(diverging_palette()) == 256 and set(PALETTES) == {"default", "colour-blind"}


def test_palette_recolours_boundary_points_edges_and_thumbnails():
    pg = Playground(dataset="blobs", classes=4, loss="ce", hidden=[3])
    before_edges = list(pg.network.edges.data["color"])
    before_thumb = pg.data_picker.thumbnails["circle"].object
    pg.appearance.colors = "colour-blind"
    colors = set(pg.boundary.train_source.data["color"])
    assert colors <= set(class_colors("colour-blind")) and len(colors) == 4
    assert pg.boundary.mapper.palette[0] != "#f5b97a"
    assert list(pg.network.edges.data["color"]) != before_edges
    assert set(pg.network.edges.data["color"]) <= set(diverging_palette(name="colour-blind"))
    assert pg.data_picker.thumbnails["circle"].object != before_thumb
    pg.appearance.colors = "default"
    assert set(pg.boundary.train_source.data["color"]) <= set(class_colors("default"))


def test_theme_and_colours_travel_in_the_link_but_not_in_the_run():
    pg = Playground(query={"dataset": "xor", "theme": "dark", "colors": "colour-blind"})
    assert (pg.appearance.theme, pg.appearance.colors) == ("dark", "colour-blind")
    assert pg.session.data.name == "xor" and pg.notice.object == ""
    assert pg.link_query() == {"dataset": "xor", "theme": "dark", "colors": "colour-blind"}
    assert "theme" not in pg.config.to_dict() and "colors" not in pg.config.to_dict()
    assert pg.loss_chart.figures["linear"].renderers[0].glyph.line_color != "#333333"  # light on dark


def test_bad_theme_or_colours_in_a_link_fall_back_with_a_notice():
    pg = Playground(query={"theme": "<script>x</script>", "colors": "rainbow", "dataset": "spiral"})
    assert (pg.appearance.theme, pg.appearance.colors) == ("light", "default")
    assert pg.session.data.name == "spiral"
    assert "theme" in pg.notice.object and "rainbow" in pg.notice.object and "<script>" not in pg.notice.object


def test_embedded_link_keeps_embed_and_panels():
    pg = Playground(embed=True, panels=["boundary"], query={"colors": "colour-blind"})
    assert pg.link_query() == {"embed": "true", "panels": "boundary", "colors": "colour-blind"}


def test_the_link_accepts_panels_own_theme_name():
    link = decode({"theme": "default", "dataset": "xor"})
    assert link.problems == [] and link.run == {"dataset": "xor"} and link.view == {"theme": "light"}
    assert Playground(query={"theme": "default"}).link_query() == {}


def _csv_bytes(dataset) -> bytes:
    stream = io.StringIO()
    write_csv(dataset, stream)
    return stream.getvalue().encode()


def test_csv_upload_uses_the_cli_reader_and_fits_the_loss():
    pg = Playground()
    pg.step(2)
    data = generate("blobs", n_points=120, classes=3, seed=4)
    assert pg.upload.load(_csv_bytes(data), "three blobs.csv")
    assert pg.session.data.name == "three_blobs.csv" and pg.session.n_classes == 3
    assert pg.session.loss == "ce" and pg.session.spec.layer_sizes[-1] == 3 and pg.session.epoch == 0
    np.testing.assert_array_equal(pg.session.data.points, data.points)
    assert "120 points, 3 classes" in pg.upload.message.object
    assert pg.upload.preview.visible and pg.upload.thumbnail.object.startswith(b"\x89PNG")
    assert "<table>" in pg.upload.table.object
    pg.step(1)
    assert pg.session.epoch == 1  # it trains
    pg.data_picker._choose("xor")  # back to a generated set
    assert pg.session.data.name == "xor" and pg.session.loss == "bce" and not pg.upload.preview.visible


@pytest.mark.parametrize("raw, says", [
    (b"x1,x2,label\n1,2,0\n", "at least 10"),
    (b"x1;x2;label\n" + b"1;2;0\n" * 12, "separated by commas"),
    (b"x1,x2,label\n" + b"1,2,5\n" * 12, "only one class"),
    (b"x1,x2,label\n" + b"".join(b"%d,1,%d\n" % (i, i) for i in range(12)), "at most 6"),
    (b"x1,x2,label\n" + b"1,nan,0\n" * 12, "finite"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"x1,x2,label\n" + b"1,2,0\n" * (MAX_UPLOAD_BYTES // 6), "MB"),
    (b"x1,x2,label\n" + b"".join(b"%d,1,%d\n" % (i, i % 2) for i in range(MAX_UPLOAD_POINTS + 1)), "rows"),
])
def test_a_bad_csv_is_explained_and_the_data_set_stays(raw, says):
    pg = Playground(dataset="spiral")
    pg.step(3)
    session = pg.session
    assert not pg.upload.load(raw, "mine.csv")
    message = pg.upload.message.object
    assert says in message and "Not loaded" in message and "stays" in message
    assert pg.session is session and pg.session.epoch == 3 and pg.config.csv is None


def test_upload_file_names_are_made_safe():
    assert safe_file_name("../../etc/passwd") == "passwd.csv"
    assert safe_file_name("my <b>data</b> (1).CSV") == "b_1_.CSV"  # after the last slash, plain characters
    assert safe_file_name("my data (1).csv") == "my_data_1_.csv"
    assert safe_file_name("notes.txt") == "notes.txt.csv"
    assert safe_file_name(None) == "data.csv"


def test_a_second_good_upload_replaces_the_first_and_a_bad_one_keeps_it():
    pg = Playground()
    assert pg.upload.load(_csv_bytes(generate("moons", n_points=50)), "a.csv")
    assert pg.upload.load(_csv_bytes(generate("plane", n_points=40)), "b.csv")
    assert pg.session.data.name == "b.csv" and pg.session.n_classes == 0 and pg.session.loss == "mse"
    assert not pg.upload.load(b"nonsense", "c.csv")
    assert pg.session.data.name == "b.csv"
    pg.config.seed = 5  # re-split as the CLI would; still the file
    assert pg.session.data.name == "b.csv" and "40 points" in pg.upload.message.object


def test_shortcuts_name_the_buttons_the_app_has():
    pg = Playground()
    labels = {pg.run_bar.play_button.label, pg.run_bar.step_button.label, pg.run_bar.reset_button.label}
    assert {label for key in KEYS.values() for label in key} >= labels
    assert isinstance(pg.shortcuts, KeyboardShortcuts) and "space" in pg.shortcuts.help
