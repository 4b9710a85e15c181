"""The app's logic without a browser: what a click or a setting does to the session and
to the data sources the browser draws from."""
import json
import logging

import numpy as np
import pytest

from playground.core.config import losses_for
from playground.ui.page import Playground
from playground.core.session import GRID_SIZE
from playground.ui.views.network import OFF_FILL


@pytest.fixture
def app():
    return Playground()


def image(app):
    return np.array(app.boundary.image_source.data["image"][0])


def test_first_frame_shows_the_untrained_network(app):
    assert "Test loss" in app.run_bar.loss_div.html and "Training loss" in app.run_bar.loss_div.html
    assert "000,000" in app.run_bar.epoch_div.html
    assert image(app).shape == (GRID_SIZE, GRID_SIZE) and image(app).dtype == np.uint8
    assert len(app.loss_chart.source.data["epoch"]) == 1
    assert "backend <b>cpu</b>" in app.run_bar.status_div.html


def test_step_trains_one_epoch_and_updates_every_view(app):
    before_image, before_widths = image(app), list(app.network.edges.data["width"])
    before_loss = app.session.last_frame.train_loss
    app.loop.step_once()
    assert app.session.epoch == 1
    assert "000,001" in app.run_bar.epoch_div.html
    assert app.session.last_frame.train_loss < before_loss
    assert not np.array_equal(image(app), before_image)
    assert app.network.edges.data["width"] != before_widths
    assert app.loss_chart.source.data["epoch"][-1] == 1


def test_learning_rate_changes_live_without_reset(app):
    app.loop.step_once()
    app.controls.learning_rate.value = 0.3
    assert app.config.learning_rate == 0.3
    assert app.session.epoch == 1  # no reset
    assert app.session.config.optimizer_settings().learning_rate == 0.3


def test_structural_change_resets_with_a_notice(app):
    app.loop.step_once()
    app.network.change_neurons(0, +1)
    assert app.session.spec.layer_sizes == (2, 5, 2, 1)
    assert app.session.epoch == 0
    assert "restarts at epoch 0" in app.notice.object
    assert len(app.network.edges.data["x0"]) == 2 * 5 + 5 * 2 + 2 * 1
    assert len(app.network.nodes.data["image"]) == 2 + 5 + 2 + 1


def test_deselecting_every_input_is_refused_and_the_inputs_show_again(app, caplog):
    """Click x1, then x2: the list showed none selected while the network kept x2 and trained
    on it, the server logged a ValueError and the user was told nothing."""
    app.config.features = ["x2"]
    before = app.session
    with caplog.at_level("ERROR"):
        app.network.toggle_feature(app.network.feature_at(0.0, -1.0))  # a click on x2, the last one in use
    assert app.session is before and app.session.X_train.shape[1] == 1
    assert app.config.features == ["x2"]
    boxes = app.network.feature_boxes.data
    assert [boxes["fill"][i] != OFF_FILL for i in range(len(boxes["name"]))] == [n == "x2" for n in boxes["name"]]
    assert "at least one" in app.notice.object and "goes on as it was" in app.notice.object
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    app.step()  # and it still trains
    assert app.session.epoch == 1


def test_layer_buttons_respect_bounds(app):
    for _ in range(10):
        app.network.add_layer()
    assert len(app.config.hidden) == 6
    for _ in range(10):
        app.network.remove_layer()
    assert app.config.hidden == [] and app.session.spec.layer_sizes == (2, 1)
    app.network.add_layer()
    for _ in range(10):
        app.network.change_neurons(0, +1)
    assert app.config.hidden == [8]


def test_activation_per_layer(app):
    app.network.change_activation(1, "relu")
    assert app.session.spec.activations == ("tanh", "relu")


def test_loss_choices_follow_the_data(app):
    assert app.controls.loss.options == losses_for(2) == ["bce", "ce", "mse"]
    app.config.dataset = "plane"
    assert app.controls.loss.options == ["mse"] and app.session.loss == "mse"
    app.config.dataset = "blobs"
    app.config.classes = 4
    assert app.controls.loss.options == ["ce"] and app.session.spec.layer_sizes[-1] == 4
    boundary = app.session.boundary()
    assert set(np.unique(boundary)) <= {0.0, 1.0, 2.0, 3.0}


def test_only_the_optimizers_own_hyperparameters_show(app):
    visible = lambda: {n for n, w in app.controls.hyper_widgets.items() if w.visible}
    assert visible() == {"beta1", "beta2", "eps", "weight_decay"}
    app.config.optimizer = "sgd"
    assert visible() == {"weight_decay"}
    app.config.optimizer = "momentum"
    assert visible() == {"momentum", "weight_decay"} and app.controls.hyper_widgets["momentum"].value == 0.9
    app.config.optimizer = "rmsprop"
    assert visible() == {"alpha", "eps", "momentum", "weight_decay"}


def test_bad_hyperparameter_is_refused_and_nothing_is_lost(app):
    app.config.optimizer = "momentum"
    app.controls.hyper_widgets["momentum"].value = 1.5
    assert "Momentum must be" in app.notice.object and app.config.momentum != 1.5


def test_divergence_stops_and_explains(app):
    app.config.dataset = "plane"
    app.config.optimizer = "sgd"
    app.controls.learning_rate.value = 10.0
    app.play()
    for _ in range(20):
        frame, maps = app.loop.compute(app.session, app.session.steps_per_epoch)
        app.loop.show(frame, maps)
        if frame.diverged:
            break
    assert frame.diverged
    assert not app.playing and app.run_bar.play_button.label == "Play"
    assert "learning rate" in app.notice.object.lower()
    app.play()  # refuses to continue a diverged run, and says what to do
    assert not app.playing and "Reset" in app.notice.object
    app.reset()
    assert app.session.epoch == 0 and not app.session.diverged


def test_play_pause_labels(app):
    app.play()
    assert app.run_bar.play_button.label == "Pause" and app.playing
    app.pause()
    assert app.run_bar.play_button.label == "Play" and not app.playing


def test_reset_draws_new_weights_at_epoch_zero(app):
    first = app.session.backend.get_params()
    app.loop.step_once()
    app.reset()
    assert app.session.epoch == 0
    assert not np.array_equal(app.session.backend.get_params(), first)  # new weights
    assert len(app.loss_chart.source.data["epoch"]) == 1


def test_discretize_and_test_points(app):
    app.loop.step_once()
    app.boundary.discretize = True
    levels = np.unique(image(app))
    assert set(levels) <= {0, 255}
    app.boundary.show_test = True
    assert app.boundary.test_renderer.visible
    n_test = int((~app.session.data.is_train).sum())
    assert len(app.boundary.test_source.data["x"]) == n_test


def test_sessions_are_independent():
    a, b = Playground(), Playground()
    a.network.add_layer()
    a.loop.step_once()
    assert b.session.spec.layer_sizes == (2, 4, 2, 1) and b.session.epoch == 0
    assert a.config is not b.config


def test_a_lesson_sets_everything_up_and_explains(app):
    app.loop.step_once()
    app.controls.lesson.value = "Vanishing gradients"
    assert app.session.spec.activations == ("sigmoid",) * 6 and app.session.epoch == 0
    assert app.controls.learning_rate.value == 0.1 and app.config.optimizer == "sgd"
    assert "Vanishing gradients" in app.notice.object and "gradient-norm chart" in app.notice.object
    assert sum(line.visible for line in app.gradient_chart.lines) == 7


def test_descent_path_on_the_loss_landscape(app):
    for _ in range(3):
        app.loop.step_once()
    path = app.landscape.path.data
    assert len(path["x"]) == 4  # the untrained point and three epochs
    # the newest point is the plane's origin, and the contours cover the path
    assert path["x"][-1] == pytest.approx(0.0, abs=1e-9) and path["y"][-1] == pytest.approx(0.0, abs=1e-9)
    x_range = app.landscape.figure.x_range
    assert x_range.start < min(path["x"]) and max(path["x"]) < x_range.end
    assert "of variance" in app.landscape.figure.title.text


def test_landscape_loss_matches_the_session_at_the_plane_origin(app):
    from playground.core.landscape import landscape

    for _ in range(2):
        app.loop.step_once()
    result = landscape(app.session, np.array(app.landscape.trajectory), resolution=5)
    # the origin (grid centre is not guaranteed) -- evaluate the nearest grid point exactly
    i = int(np.argmin(np.abs(result.ys)))
    j = int(np.argmin(np.abs(result.xs)))
    if abs(result.xs[j]) < 1e-12 and abs(result.ys[i]) < 1e-12:
        assert result.loss[i, j] == pytest.approx(app.session.last_frame.train_loss, rel=1e-9)
    # the trajectory's own points lie on the plane: projecting and lifting them back is exact
    lifted = result.center + result.path @ result.directions
    np.testing.assert_allclose(lifted, np.array(app.landscape.trajectory), atol=1e-9)


def test_layer_statistics_follow_the_chosen_layer(app):
    app.controls.lesson.value = "Vanishing gradients"
    app.loop.step_once()
    stats = app.layer_stats
    assert stats.param.layer.objects == [f"layer {i}" for i in range(1, 7)] + ["output"]
    assert sum(stats.weights.data["top"]) == 2 * 8  # layer 1: 2 inputs x 8 units
    gradients_first = np.mean(stats.gradients.data["left"])
    stats.layer = "layer 6"
    assert sum(stats.weights.data["top"]) == 8 * 8
    assert np.mean(stats.gradients.data["left"]) > gradients_first + 1  # 10x larger gradients, or more
    assert "sigmoid: saturated" in stats.units.text


def test_closed_layer_histograms_are_updated_in_place_for_when_their_tab_opens(app):
    """Panel renders an opened tab before the tab's watchers run: what its models hold then
    is what the page first shows. With the tab closed, the histograms are set in place,
    without change events (nothing on a page to send them to)."""
    stats = app.layer_stats
    events = []
    stats.weights.on_change("data", lambda attr, old, new: events.append(attr))
    app.loop.step_once()
    frame, fractions = stats._last
    weights = app.session.spec.layout().weights(app.session.last_frame.params, 0).ravel()
    stats.weights.data.update(left=[], right=[], top=[])  # a stale first draw
    events.clear()
    stats.show(frame, fractions, draw=False)
    assert stats.weights.data["left"][0] == pytest.approx(weights.min())
    assert stats.weights.data["right"][-1] == pytest.approx(weights.max())
    assert events == []


def test_a_link_opens_its_setup_and_bad_entries_fall_back():
    app = Playground(query={"dataset": "xor", "hidden": "3,3", "activation": "relu", "learning_rate": "0.1",
                            "noise": "900", "optimizer": "<script>alert(1)</script>", "csv": "/etc/passwd",
                            "bogus": "1"})
    assert app.session.data.name == "xor" and app.session.spec.layer_sizes == (2, 3, 3, 1)
    assert app.session.spec.activations == ("relu", "relu") and app.config.learning_rate == 0.1
    assert app.config.noise == 0 and app.config.optimizer == "adam" and app.config.csv is None
    notice = app.notice.object
    assert "noise" in notice and "bogus" in notice and "csv" in notice
    assert "<script>" not in notice  # shown as text, never as markup


def test_the_setup_round_trips_through_the_query():
    app = Playground(query={"dataset": "spiral", "hidden": "8,8", "learning_rate": "0.01"})
    query = app.config.query(Playground().config)
    assert query == {"dataset": "spiral", "hidden": "8,8", "learning_rate": "0.01"}
    again = Playground(query=query)
    assert again.config.to_dict() == app.config.to_dict()


def test_export_then_import_continues_at_the_same_epoch_and_weights():
    source = Playground(query={"dataset": "spiral", "hidden": "5,3", "optimizer": "rmsprop", "alpha": "0.9"})
    for _ in range(3):
        source.loop.step_once()
    exported = source.files.export_session().getvalue().encode()
    target = Playground()
    target.files.import_session(exported)
    assert target.session.epoch == 3 and target.session.spec.layer_sizes == (2, 5, 3, 1)
    np.testing.assert_array_equal(target.session.backend.get_params(), source.session.backend.get_params())
    assert target.config.optimizer == "rmsprop" and target.config.alpha == 0.9  # not reset to defaults
    assert target.controls.hyper_widgets["alpha"].value == 0.9
    assert "continuing at epoch 3" in target.notice.object
    assert len(target.loss_chart.source.data["epoch"]) == 4
    source.loop.step_once()
    target.loop.step_once()
    np.testing.assert_array_equal(target.session.backend.get_params(), source.session.backend.get_params())


def test_a_bad_import_changes_nothing(app):
    app.loop.step_once()
    before = app.session
    app.files.import_session(b"{not json")
    assert app.session is before and "Import failed" in app.notice.object
    app.files.import_session(json.dumps({"format": "nn-playground-session", "version": 1, "settings": {}}).encode())
    assert app.session is before and "Import failed" in app.notice.object


def test_loss_history_downloads_as_csv(app):
    app.loop.step_once()
    lines = app.files.history_csv().getvalue().strip().splitlines()
    assert lines[0] == "epoch,train_loss,test_loss" and len(lines) == 3
    assert float(lines[-1].split(",")[0]) == 1.0


def test_notebook_api_builds_from_settings_and_steps():
    from playground import Playground as Exported

    pg = Exported(dataset="spiral", hidden=[8, 8], learning_rate=0.03)
    assert pg.session.spec.layer_sizes == (2, 8, 8, 1)
    pg.step(20)
    assert pg.session.epoch == 20 and "000,020" in pg.run_bar.epoch_div.html
    with pytest.raises(Exception, match="noise"):
        Exported(noise=99)


def test_embed_layout_shows_only_the_chosen_panels():
    pg = Playground(embed=True, panels=["boundary", "nonsense"])
    assert pg.panels == ["boundary"]
    layout = pg.__panel__()
    assert pg.run_bar.play_button in layout.objects[0].objects
    shown = layout.objects[2].objects
    assert len(shown) == 1 and shown[0] is pg.boundary.__panel__()


def test_steps_per_second_restarts_after_a_reset(app):
    app.run_bar._rate_window = (0.0, 0)  # as if a second of training had passed
    app.loop.step_once()
    app.loop.step_once()
    assert app.run_bar.steps_per_second > 0
    app.reset()
    assert app.run_bar.steps_per_second == 0 and "-" not in app.run_bar.status_div.html.split("steps/s")[0]


@pytest.mark.parametrize("order", [("dataset", "classes", "loss"), ("loss", "dataset", "classes"),
                                   ("classes", "loss", "dataset")])
def test_a_link_applies_whatever_order_it_lists_settings_in(order):
    values = {"dataset": "blobs", "classes": "3", "loss": "ce", "learning_rate": "abc"}
    pg = Playground(query={**{k: values[k] for k in order}, "learning_rate": "abc"})
    assert (pg.config.dataset, pg.config.classes, pg.config.loss) == ("blobs", 3, "ce")
    assert pg.controls.loss.options == ["ce"]
    assert "learning_rate" in pg.notice.object and "loss" not in pg.notice.object  # only the bad entry


def test_a_frame_written_to_a_closed_tab_leaves_no_traceback_in_the_log(caplog):
    import asyncio
    import gc

    from tornado.websocket import WebSocketClosedError

    async def closed():
        raise WebSocketClosedError()

    async def broken():
        raise ValueError("a real error")

    async def main():
        asyncio.ensure_future(closed())
        asyncio.ensure_future(broken())
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
        gc.collect()
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "ValueError" in logged and "WebSocketClosedError" not in logged


def test_a_closed_tab_draws_nothing_more(app):
    """A tab closed while a frame was trained ahead: pause would show that frame, close must
    not (the page's models are being taken apart)."""
    steps, shown = app.loop.steps_per_frame(), app.loop.pacer.frames_sent
    app.state.playing = True
    app.state.ahead = app.loop.submit(app.session, steps, False)
    app.state.ahead.future.result()
    app.close()
    assert not app.playing and app.state.ahead is None and app.loop.pacer.frames_sent == shown
    app.pause()  # and a later pause has nothing left to show
    assert app.loop.pacer.frames_sent == shown


def _training_held_up(app, monkeypatch):
    """Make the app's frames wait in training until the returned event is set."""
    import threading

    release, started = threading.Event(), threading.Event()
    compute = app.loop.compute_locked

    def held(*args, **kwargs):
        started.set()
        assert release.wait(10), "the test never let the training go on"
        return compute(*args, **kwargs)

    monkeypatch.setattr(app.loop, "compute_locked", held)
    return release, started


def test_pause_while_a_frame_trains_shows_it_once_then_reads_play(app, monkeypatch):
    """The frame in flight is not under the document's lock while it trains (a click is
    answered meanwhile): Pause waits for the rest of its training and shows it, so the page
    shows where training stopped, and the frame itself then shows nothing more."""
    import asyncio
    import threading

    release, started = _training_held_up(app, monkeypatch)
    app.state.playing, shown = True, app.loop.pacer.frames_sent

    async def main():
        frame = asyncio.ensure_future(app.loop.run_frame())
        while not started.is_set():  # the frame is training in the pool
            await asyncio.sleep(0.005)
        threading.Timer(0.05, release.set).start()
        app.pause()  # as a click would, while the frame is in flight
        assert app.loop.pacer.frames_sent == shown + 1 and app.run_bar.play_button.label == "Play"
        await frame

    asyncio.run(main())
    assert app.loop.pacer.frames_sent == shown + 1  # not twice
    assert f"{app.session.epoch:07,.0f}</div>" in app.run_bar.epoch_div.html and app.session.epoch > 0


def test_pause_drops_a_frame_whose_training_has_not_started(app, monkeypatch):
    """A frame still queued behind other sessions' training when Pause comes is dropped:
    nothing is trained, nothing shown, and the pause does not wait for the queue."""
    import asyncio
    import threading

    from playground.ui.play_loop import EXECUTOR as _EXECUTOR

    busy, hold = threading.Event(), threading.Event()
    blockers = [_EXECUTOR.submit(lambda: (busy.set(), hold.wait(10))) for _ in range(_EXECUTOR._max_workers)]
    step, shown = app.session.step, app.loop.pacer.frames_sent
    app.state.playing = True

    async def main():
        frame = asyncio.ensure_future(app.loop.run_frame())
        await asyncio.sleep(0.02)
        assert app.state.in_flight is not None and not app.state.in_flight.future.running()  # queued
        app.pause()
        await frame

    try:
        asyncio.run(main())
    finally:
        hold.set()
        for blocker in blockers:
            blocker.result()
    assert app.session.step == step and app.loop.pacer.frames_sent == shown
    assert app.run_bar.play_button.label == "Play" and app.state.in_flight is None


def test_a_failing_frame_stops_only_its_own_session(monkeypatch, caplog):
    import asyncio

    broken, healthy = Playground(), Playground()

    def fail(*args, **kwargs):
        raise FloatingPointError("a kernel failed")

    monkeypatch.setattr(broken.session, "advance", fail)
    for pg in (broken, healthy):
        pg.state.playing = True
    with caplog.at_level(logging.ERROR, logger="playground.ui.play_loop"):
        asyncio.run(broken.loop.run_frame())
        asyncio.run(healthy.loop.run_frame())
    assert not broken.playing and "Training stopped" in broken.notice.object
    assert broken.run_bar.play_button.label == "Play"
    assert "a kernel failed" in caplog.text  # in the log for whoever runs the server
    assert healthy.playing and healthy.session.step > 0 and healthy.notice.object == ""


def test_a_frame_trains_with_the_settings_of_when_it_was_sent(app, monkeypatch):
    """The event loop may change the config while a frame trains in the pool (a learning
    rate picked mid-frame): the job trains with a frozen copy taken when it was sent, and
    the next frame with the new one."""
    import asyncio
    import threading

    seen = []
    compute = app.loop.compute_locked
    release, started = threading.Event(), threading.Event()

    def held(session, steps, secondary, settings):
        started.set()
        assert release.wait(10), "the test never let the training go on"
        seen.append(settings.optimizer.learning_rate)
        return compute(session, steps, secondary, settings)

    monkeypatch.setattr(app.loop, "compute_locked", held)
    app.state.playing = True
    before = app.config.optimizer_settings().learning_rate

    async def main():
        frame = asyncio.ensure_future(app.loop.run_frame())
        while not started.is_set():
            await asyncio.sleep(0.005)
        app.config.learning_rate = 0.3  # as the select would, while the frame trains
        release.set()
        await frame

    asyncio.run(main())
    assert seen[0] == before != 0.3
    assert app.state.ahead is not None  # the next frame, sent after the change
    app.state.ahead.future.result()
    assert seen[1] == 0.3
    app.pause()
