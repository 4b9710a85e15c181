"""Tests for playground.core.session: stepping, batches, history, reset, live changes, frames."""
from __future__ import annotations

import numpy as np
import pytest

from kernels import make_backend
from playground.core.config import RunConfig
from playground.core.session import GRID_SIZE, Session

BACKENDS = ["reference", "cpu"]


def make_session(**settings) -> Session:
    """A small, quick session: 100 circle points, 50 for training, batches of 16 (4 a epoch)."""
    values = dict(dataset="circle", points=100, batch_size=16, seed=0, backend="reference",
                  learning_rate=0.03)
    values.update(settings)
    return Session(RunConfig(**values))


def record_batches(session: Session) -> list[np.ndarray]:
    """Wrap the session's backend so that every minibatch it trains on is appended to the
    returned list (row indices into ``session.X_train``)."""
    batches = []
    train = session.backend.train

    def recording_train(X, targets, sample_order, batch_bounds, *args, **kwargs):
        assert X is session.X_train
        for start, stop in zip(batch_bounds[:-1], batch_bounds[1:]):
            batches.append(np.array(sample_order[start:stop]))
        return train(X, targets, sample_order, batch_bounds, *args, **kwargs)

    session.backend.train = recording_train
    return batches


def network_outputs(session: Session, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Logits ``(n, n_outputs)`` of the session's network with ``params``, computed apart
    from the session by a fresh reference backend."""
    return make_backend("reference", session.spec, params).logits(np.asarray(X, np.float64))


# ------------------------------------------------------------------------------ stepping

@pytest.mark.parametrize("backend", BACKENDS)
def test_advance_moves_step_and_epoch(backend):
    session = make_session(backend=backend)
    assert session.steps_per_epoch == 4  # ceil(50 / 16)
    assert (session.step, session.epoch) == (0, 0)
    frame = session.advance(3, boundary=False)
    assert (session.step, session.epoch) == (3, 0.75)
    assert (frame.step, frame.epoch) == (3, 0.75)
    frame = session.advance(6, boundary=False)
    assert (frame.step, frame.epoch) == (9, 2.25)
    frame = session.run_epochs(1)
    assert (frame.step, frame.epoch) == (13, 3.25)
    frame = session.advance(0, boundary=False)
    assert (frame.step, frame.epoch) == (13, 3.25)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_cover_each_training_point_once_per_epoch(backend):
    session = make_session(backend=backend)
    batches = record_batches(session)
    for n in (1, 3, 7, 2, 11):  # 24 steps = 6 epochs, cut across epoch ends
        session.advance(n, boundary=False)
    assert len(batches) == 24
    n_train = len(session.X_train)
    orders = []
    for epoch in range(6):
        in_epoch = batches[4 * epoch: 4 * epoch + 4]
        assert [len(b) for b in in_epoch] == [16, 16, 16, 2]
        order = np.concatenate(in_epoch)
        assert np.array_equal(np.sort(order), np.arange(n_train))
        orders.append(order)
    assert any(not np.array_equal(orders[0], o) for o in orders[1:])  # reshuffled each epoch


@pytest.mark.parametrize("batch_size, steps", [(50, 1), (7, 8), (1, 50)])
def test_steps_per_epoch_follows_batch_size(batch_size, steps):
    session = make_session(batch_size=batch_size)
    batches = record_batches(session)
    session.run_epochs(2)
    assert session.steps_per_epoch == steps and session.step == 2 * steps
    for epoch in range(2):
        order = np.concatenate(batches[epoch * steps: (epoch + 1) * steps])
        assert np.array_equal(np.sort(order), np.arange(50))


def test_loss_history_grows_and_matches_frames():
    session = make_session(optimizer="adam")
    frames = [session.advance(4, boundary=False) for _ in range(5)]
    history = session.history
    assert history["epoch"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # the untrained loss first
    assert len(history["train_loss"]) == len(history["test_loss"]) == 6
    assert history["train_loss"][1:] == [f.train_loss for f in frames]
    assert history["test_loss"][1:] == [f.test_loss for f in frames]
    assert history["train_loss"][-1] < history["train_loss"][0]  # it learns
    session.advance(0, boundary=False)  # nothing trained: no new point
    assert len(history["epoch"]) == 6


# --------------------------------------------------------------------------------- reset

@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_restores_the_initial_weights(backend):
    session = make_session(backend=backend)
    initial = session.backend.get_params()
    first_run = session.advance(10, boundary=False).params
    assert not np.allclose(first_run, initial)

    session.reset()
    assert (session.step, session.epoch, session.diverged) == (0, 0, False)
    assert session.history["epoch"] in ([], [0.0])
    assert np.array_equal(session.backend.get_params(), initial)
    assert np.array_equal(make_session(backend=backend).backend.get_params(), initial)
    # Same weights, same batches, fresh optimizer state: the same run again.
    assert np.array_equal(session.advance(10, boundary=False).params, first_run)

    session.reset(reseed=1)
    reseeded = session.backend.get_params()
    assert session.step == 0
    assert reseeded.shape == initial.shape and not np.allclose(reseeded, initial)


# --------------------------------------------------------------------- live config changes

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_learning_rate_change_takes_effect_without_reset(backend, optimizer):
    """Two identical runs; one doubles its learning rate mid-run. The next update of
    sgd (lr * g) and of adam (lr * m / sqrt(v), same state) is then exactly twice as big."""
    kept = make_session(backend=backend, optimizer=optimizer, learning_rate=0.01)
    changed = make_session(backend=backend, optimizer=optimizer, learning_rate=0.01)
    kept.advance(5, boundary=False)
    before = changed.advance(5, boundary=False).params
    changed.config.learning_rate = 0.02
    kept_step = kept.advance(1, boundary=False).params - before
    changed_frame = changed.advance(1, boundary=False)
    assert changed_frame.step == 6  # carried on, no reset
    changed_step = changed_frame.params - before
    assert np.abs(kept_step).max() > 1e-6
    np.testing.assert_allclose(changed_step, 2 * kept_step, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_changing_optimizer_clears_its_state(backend):
    """After adam, a first momentum step is plain lr * gradient (torch: buffer = g on the
    first step), not a step that uses adam's moments or step count."""
    session = make_session(backend=backend, optimizer="adam", learning_rate=0.01)
    session.advance(6, boundary=False)
    before = session.backend.get_params()
    batches = record_batches(session)
    session.config.optimizer = "momentum"
    after = session.advance(1, boundary=False).params
    assert session.step == 7  # the weights and the step count carry on
    batch = batches[-1]
    gradient = make_backend("reference", session.spec, before).gradient(
        session.X_train[batch], session.T_train[batch])
    assert np.abs(gradient).max() > 1e-6
    np.testing.assert_allclose(after, before - 0.01 * gradient, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------- boundary

def grid_point(session: Session, row: int, column: int) -> np.ndarray:
    """The plane point ``(x1, x2)`` of boundary cell (row, column): row is x2, column x1."""
    x1_min, x1_max, x2_min, x2_max = session.extent
    return np.array([[np.linspace(x1_min, x1_max, GRID_SIZE)[column],
                      np.linspace(x2_min, x2_max, GRID_SIZE)[row]]])


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_two_class_boundary_is_a_probability_grid(loss):
    session = make_session(dataset="gauss", loss=loss, optimizer="adam")
    frame = session.advance(60)
    boundary = frame.boundary
    assert boundary.shape == (GRID_SIZE, GRID_SIZE) == (100, 100)
    assert boundary.min() >= 0 and boundary.max() <= 1
    # gauss: class 1 around (2, 2), class 0 around (-2, -2); the net has learned it.
    assert boundary[-1, -1] > 0.8 and boundary[0, 0] < 0.2
    # Orientation: cell (row, column) is the network at (x1 = column, x2 = row).
    for row, column in [(10, 80), (80, 10), (30, 55)]:
        logit = network_outputs(session, frame.params, grid_point(session, row, column))[0, 0]
        expected = 1 / (1 + np.exp(-logit)) if loss == "bce" else (np.clip(logit, -1, 1) + 1) / 2
        assert boundary[row, column] == pytest.approx(expected, abs=1e-9)


def test_boundary_is_only_made_when_asked():
    session = make_session()
    assert session.advance(1, boundary=False).boundary is None
    assert session.advance(1).boundary.shape == (GRID_SIZE, GRID_SIZE)


@pytest.mark.parametrize("classes", [3, 5])
def test_blobs_with_ce_boundary_holds_class_numbers(classes):
    session = make_session(dataset="blobs", classes=classes, loss="ce", optimizer="adam",
                           hidden=[8], points=200)
    assert session.spec.layer_sizes[-1] == classes
    boundary = session.advance(15 * session.steps_per_epoch).boundary
    assert boundary.shape == (GRID_SIZE, GRID_SIZE)
    assert np.array_equal(boundary, np.round(boundary))
    assert set(np.unique(boundary).astype(int)) == set(range(classes))


# ----------------------------------------------------------------------------- divergence

@pytest.mark.parametrize("backend", BACKENDS)
def test_diverged_session_stops_advancing(backend):
    session = make_session(backend=backend, dataset="plane", optimizer="sgd", learning_rate=50)
    frame = None
    for _ in range(20):
        frame = session.advance(2, boundary=False)
        if frame.diverged:
            break
    assert frame.diverged and session.diverged
    assert "learning rate 50" in frame.message and "smaller" in frame.message
    step, params, points = session.step, frame.params, len(session.history["epoch"])
    later = session.advance(10)
    assert later.diverged and later.step == step and session.step == step
    assert np.array_equal(later.params, params, equal_nan=True)
    assert later.message == frame.message
    assert len(session.history["epoch"]) == points


def test_small_learning_rate_does_not_diverge():
    session = make_session(dataset="plane", optimizer="sgd", learning_rate=0.01)
    frame = session.advance(40, boundary=False)
    assert not frame.diverged and frame.message == "" and frame.step == 40


def test_reset_clears_divergence():
    session = make_session(dataset="plane", optimizer="sgd", learning_rate=50)
    session.advance(20, boundary=False)
    assert session.diverged
    session.config.learning_rate = 0.01
    session.reset()
    frame = session.advance(4, boundary=False)
    assert not frame.diverged and frame.step == 4 and frame.message == ""


# ------------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("settings", [
    dict(dataset="circle", loss="bce"),
    dict(dataset="circle", loss="mse"),
    dict(dataset="blobs", classes=3, loss="ce", noise=30),
], ids=["bce", "mse", "ce"])
def test_frame_accuracy_matches_predictions(settings):
    session = make_session(optimizer="adam", **settings)
    frame = session.advance(8, boundary=False)  # part-trained: some right, some wrong
    data = session.data
    for X, labels, reported in [(session.X_train, data.train_labels, frame.train_accuracy),
                                (session.X_test, data.test_labels, frame.test_accuracy)]:
        logits = network_outputs(session, frame.params, X)
        if session.loss == "ce":
            predicted = logits.argmax(axis=1)
        else:  # bce: logit > 0 is class 1; mse: output > 0 (targets are -1 and +1)
            predicted = (logits[:, 0] > 0).astype(int)
        assert reported == pytest.approx(np.mean(predicted == labels), abs=1e-12)


def test_regression_frame_has_no_accuracy():
    frame = make_session(dataset="plane").advance(2)
    assert frame.train_accuracy is None and frame.test_accuracy is None
    assert frame.boundary.shape == (GRID_SIZE, GRID_SIZE)


def test_a_session_trains_with_the_settings_it_is_given_not_the_config_changed_meanwhile():
    from playground.core.config import RunConfig
    from playground.core.session import Session

    config, twin_config = (RunConfig(dataset="xor", learning_rate=0.03, batch_size=10) for _ in range(2))
    session, twin = Session(config), Session(twin_config)
    settings = session.training_settings()
    config.param.update(learning_rate=1.0, regularization="l2", reg_rate=0.1, batch_size=3)
    session.advance(20, settings=settings)
    twin.advance(20)
    np.testing.assert_array_equal(session.backend.get_params(), twin.backend.get_params())
    assert session.steps_per_epoch == twin.steps_per_epoch  # the minibatch size is the session's own
