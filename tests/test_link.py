"""The page's link (playground/ui/link.py): one table, one codec. Every value a page can be
in travels through its URL and back: run settings, the look, the layout and hidden controls;
anything else in a link is named in the notice and changes nothing."""
from __future__ import annotations

import itertools

import pytest

from playground.core.config import RunConfig
from playground.ui.link import (EMBED_PANELS, HIDABLE_CONTROLS, PAGE_PROPS, VIEW_PROPS, decode, encode)
from playground.ui.page import Playground, default_config

STATES = [
    dict(query={}),
    dict(query={"dataset": "spiral", "hidden": "8,8", "activation": "relu", "theme": "dark"}),
    dict(query={"colors": "colour-blind", "learning_rate": "0.1", "optimizer": "sgd", "hide": "optimizer,lesson"}),
    dict(query={"embed": "true", "panels": "network,loss", "dataset": "xor"}),
    dict(query={"dataset": "blobs", "classes": "3", "loss": "ce", "hide": "data,save,share", "theme": "dark",
                "colors": "colour-blind"}),
    dict(query={"show_test": "true", "discretize": "true", "dataset": "gauss"}),
]


def page_state(pg: Playground) -> dict:
    return {"run": pg.config.to_dict(), "theme": pg.appearance.theme, "colors": pg.appearance.colors,
            "show_test": pg.boundary.show_test, "discretize": pg.boundary.discretize, "embed": pg.embed, "panels": pg.panels if pg.embed else None, "hidden": pg.hidden}


@pytest.mark.parametrize("state", STATES, ids=lambda s: ",".join(s["query"]) or "defaults")
def test_a_page_reopens_from_its_own_link_as_it_was(state):
    first = Playground(query=state["query"])
    assert first.notice.object == "", first.notice.object
    again = Playground(query=first.link_query())
    assert page_state(again) == page_state(first)
    assert again.link_query() == first.link_query()


def test_every_link_value_has_one_owner():
    view, page = {p.key for p in VIEW_PROPS}, {p.key for p in PAGE_PROPS}
    run = set(RunConfig.setting_names()) - set(RunConfig.LINK_EXCLUDED)
    assert not (view & page) and not (view & run) and not (page & run)
    written = Playground(query={"theme": "dark", "colors": "colour-blind", "embed": "true", "hide": "lesson",
                                "dataset": "xor"}).link_query()
    assert set(written) <= view | page | run


def test_the_output_plots_checkboxes_travel_in_the_link():
    """Show test data and Discretize output, ticked on a page, are in its link; the page the
    link opens has them ticked, shows the test points and colours the output by class."""
    pg = Playground(dataset="xor")
    assert "show_test" not in pg.link_query() and not pg.boundary.test_renderer.visible
    pg.boundary.show_test = pg.boundary.discretize = True
    query = pg.link_query()
    assert query["show_test"] == "true" and query["discretize"] == "true"
    again = Playground(query=query)
    assert again.boundary.show_test and again.boundary.discretize and again.boundary.test_renderer.visible
    levels = again.boundary.image_levels(again.session.boundary())
    assert len(set(levels.ravel().tolist())) == 2  # two classes: two colours, no shades between


@pytest.mark.parametrize("query, loss", [({"dataset": "blobs", "classes": "4"}, "ce"),
                                         ({"classes": "5", "dataset": "blobs"}, "ce"),
                                         ({"dataset": "plane"}, "mse"), ({"dataset": "blobs"}, "bce"),
                                         ({"dataset": "blobs", "classes": "3", "loss": "ce"}, "ce")])
def test_a_link_that_names_the_data_but_not_the_loss_gets_the_datas_loss(query, loss):
    """``/?dataset=blobs&classes=4`` opened the default circle and blamed bce, which the link
    never set: the loss a link leaves out is the one that fits its data, as on the page."""
    pg = Playground(query=query)
    assert pg.notice.object == "", pg.notice.object
    assert pg.session.data.name == query["dataset"] and pg.session.loss == loss
    assert pg.session.n_classes == int(query.get("classes", 2)) if loss != "mse" else pg.session.n_classes == 0


def test_a_bad_link_value_is_named_and_the_rest_applies():
    pg = Playground(query={"theme": "neon", "panels": "boundary,sky", "hide": "everything", "embed": "maybe",
                           "dataset": "moons", "frobnicate": "1"})
    text = pg.notice.object
    for word in ("neon", "sky", "everything", "embed must be true or false", "frobnicate"):
        assert word in text, (word, text)
    assert pg.session.data.name == "moons" and pg.appearance.theme == "light" and not pg.embed
    assert pg.hidden == [] and pg.link_query() == {"dataset": "moons"}


def test_hidden_controls_are_left_out_of_the_page():
    pg = Playground(query={"hide": "optimizer,lesson,data,save"})
    assert not pg.controls.optimizer.visible and not pg.controls.lesson.visible
    assert not any(w.visible for w in pg.controls.hyper_widgets.values())  # the optimizer's own boxes go with it
    pg.config.optimizer = "sgd"
    assert not any(w.visible for w in pg.controls.hyper_widgets.values())
    assert not pg.data_picker.__panel__().visible and not pg.files.export_button.visible and not pg.files.import_input.visible
    assert pg.controls.learning_rate.visible and pg.controls.loss.visible  # only what the link named
    shown = Playground()
    assert all(w.visible for w in (shown.controls.optimizer, shown.controls.lesson, shown.files.export_button))


def test_every_hidable_control_can_be_hidden():
    pg = Playground(hide=list(HIDABLE_CONTROLS))
    assert pg.hidden == list(HIDABLE_CONTROLS)  # each name maps to controls the page has (else KeyError)


def test_encode_writes_only_what_differs_and_panels_only_with_embed():
    config = default_config()
    assert encode(config, default_config(), {"theme": "light", "colors": "default"},
                  {"embed": False, "panels": ["network"], "hide": []}) == {}
    assert encode(config, default_config(), {}, {"embed": True, "panels": ["boundary", "loss"], "hide": []}) == {
        "embed": "true", "panels": "boundary,loss"}


@pytest.mark.parametrize("panels", [list(p) for p in itertools.combinations(EMBED_PANELS, 2)])
def test_embedded_panels_round_trip(panels):
    link = decode(Playground(embed=True, panels=panels).link_query())
    assert link.page == {"embed": True, "panels": panels} and link.problems == []
