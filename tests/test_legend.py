"""The colour legends say the one colour rule in the palette's own colours and words."""
from playground.ui.page import Playground
from playground.ui.views.colors import _hex, palette


def test_the_legends_follow_the_palette_and_the_classes():
    app = Playground(dataset="circle")
    for legend in (app.network_legend, app.output_legend):
        assert _hex(palette("default").positive) in legend.pane.object and "Blue" in legend.pane.object
    app.appearance.colors = "colour-blind"
    for legend in (app.network_legend, app.output_legend):
        text = legend.pane.object
        assert _hex(palette("colour-blind").positive) in text and "Purple" in text and "Blue" not in text
    app.config.param.update(dataset="blobs", classes=4)
    text = app.output_legend.pane.object
    assert "class 3" in text and "class 4" not in text and "Each class has its colour" in text
