"""Where the playground's parts sit on the page, on the screens people have.

The full page (:func:`full_layout`), after the TensorFlow Playground:

- a header of one row with the essentials (Reset, Play, Step, Slow step, the epoch, the
  learning rate, the optimizer, the loss, the lessons) and a **More settings** button that
  opens a second row with the rest (the optimizer's own boxes, regularization, speed,
  sharing, appearance). Nothing before the lessons changes size, so nothing in the header
  moves when the optimizer changes;
- the columns, left to right in the order the data flows: Data, Network, Output, and the
  secondary charts. They sit in one wrapping flex box: at 1280 px Data, Network and Output
  share the first row and the charts wrap under them; at 1920 px all four share it; on a
  phone each takes the whole width, one under the other. A wide or deep network scrolls
  inside its own column instead of pushing the output off the screen;
- one line under each column heading saying what it is for, and the colour legend under
  the diagram and under the output (views/legend.py).

The embedded page (:func:`embedded_layout`) is the compact one for an iframe in a course
page: the run buttons and the chosen panels. The page's ``<head>`` gets the viewport meta
tag (:func:`set_viewport`), so a phone lays the page out at its own width.
"""
from __future__ import annotations

import panel as pn

# The Bokeh document's template: Panel's own page with the viewport meta tag added (Panel
# renders a string template as ``{% extends base %}`` + it: io/server.py).
VIEWPORT_TEMPLATE = ("{% block postamble %}{{ super() }}"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{% endblock %}")
DATA_WORDS = "Which data do you want the network to learn? Each point's colour is its class."
NETWORK_WORDS = ("The inputs on the left feed the hidden layers; each line is a weight. Click an input to use "
                 "it or not; + and − add layers and neurons.")
OUTPUT_WORDS = "The network's answer at every point, with the data on top. The loss says how wrong it is."
CHARTS_WORDS = "How the training goes inside the network, layer by layer."
HEADING_CSS = """
h3 { margin: 8px 0 2px 0; text-transform: uppercase; font-size: 13px; letter-spacing: 1px;
     color: var(--pg-heading, #555); }
.pg-words { font-size: 12px; color: var(--pg-muted, #555); line-height: 1.35; margin-bottom: 2px; }
"""


def column_heading(title: str, words: str) -> pn.pane.HTML:
    """A column's heading and the line under it that says what the column is for."""
    return pn.pane.HTML(f"<h3>{title}</h3><div class='pg-words'>{words}</div>", margin=(0, 5),
                        sizing_mode="stretch_width", css_classes=["pg-heading"], stylesheets=[HEADING_CSS])


def full_layout(page) -> pn.viewable.Viewable:
    """The whole page for ``page`` (a :class:`~playground.ui.page.Playground`)."""
    bar, c = page.run_bar, page.controls
    more = pn.FlexBox(
        *c.hyper_widgets.values(), c.regularization, c.reg_rate, c.speed,
        pn.Row(page.copy_link, page.copy_embed, margin=(18, 0, 0, 0)),
        page.appearance, pn.Column(page.shortcuts, margin=(24, 0, 0, 0)),
        pn.pane.HTML("<a href='./race' target='_blank'>Optimizer race →</a>", margin=(28, 10)),
        css_classes=["pg-more"], sizing_mode="stretch_width", margin=0, align_items="flex-start")
    more.visible = False
    # Opens the optimizer's own settings, regularization, speed, sharing and the look.
    more_button = pn.widgets.Toggle(label="More settings ▾", width=130, margin=(23, 10, 0, 10),
                                    css_classes=["more-settings"])

    def open_or_close(event):
        more.visible = event.new
        more_button.label = "More settings ▴" if event.new else "More settings ▾"

    more_button.param.watch(open_or_close, "value")
    header = pn.FlexBox(
        pn.Row(bar.reset_button, bar.play_button, bar.step_button, page.slow_step.button, margin=(18, 0, 0, 0),
               styles={"flex-wrap": "wrap", "max-width": "100%"}),  # on a phone: two rows
        bar.epoch_div, c.learning_rate, c.optimizer, c.loss, c.lesson, more_button,
        css_classes=["pg-header"], sizing_mode="stretch_width", margin=0, align_items="flex-start")
    data_column = pn.Column(
        column_heading("Data", DATA_WORDS), page.data_picker, page.upload, c.classes, c.train_ratio,
        c.noise, c.batch_size, pn.Row(c.seed, c.regenerate), c.initialization,
        column_heading("Save", "Keep this run in a file, or go on from one."),
        pn.Row(page.files.export_button, page.files.history_download), page.files.import_input,
        width=330, css_classes=["pg-column", "pg-data"])
    network_column = pn.Column(
        column_heading("Network", NETWORK_WORDS),
        page.network,
        page.network_legend, page.slow_step,
        css_classes=["pg-column", "pg-network"], styles={"flex": "1 1 420px", "overflow-x": "auto", "min-width": "0"})
    output_column = pn.Column(
        column_heading("Output", OUTPUT_WORDS), bar.loss_div, page.boundary, page.output_legend,
        page.loss_chart, bar.status_div,
        css_classes=["pg-column", "pg-output"], styles={"flex": "0 0 auto"})
    charts_column = pn.Column(column_heading("Inside the network", CHARTS_WORDS), page.secondary_tabs,
                              sizing_mode="stretch_width",
                              css_classes=["pg-column", "pg-charts"], styles={"flex": "1 1 420px"})
    body = pn.FlexBox(data_column, network_column, output_column, charts_column, flex_wrap="wrap",
                      align_items="flex-start", sizing_mode="stretch_width", css_classes=["pg-body"], margin=0)
    return pn.Column(header, more, page.notice, body, page.channel, page.files.upload_limit,
                     sizing_mode="stretch_width")


def embedded_layout(page) -> pn.viewable.Viewable:
    """Compact, for an iframe in a course page: the run controls and the chosen pictures."""
    bar, c = page.run_bar, page.controls
    pictures = {
        "boundary": page.boundary, "loss": pn.Column(bar.loss_div, page.loss_chart),
        "network": page.network, "gradients": page.gradient_chart, "landscape": page.landscape,
        "controls": pn.Column(c.learning_rate, c.optimizer, c.lesson),
    }
    controls = pn.Row(bar.reset_button, bar.play_button, bar.step_button,
                      bar.epoch_div, pn.Column(page.shortcuts, page.appearance.page_theme, margin=(30, 0, 0, 0)))
    return pn.Column(controls, page.notice, pn.FlexBox(*[pictures[p] for p in page.panels]), page.channel,
                     css_classes=["pg-embed"])


def set_viewport(doc) -> None:
    """Give the page served for ``doc`` (a Bokeh document) the viewport meta tag."""
    if doc is not None:
        doc.template = VIEWPORT_TEMPLATE
