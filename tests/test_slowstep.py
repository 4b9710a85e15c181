"""Tests for playground.core.slow_step_numbers: the four phases of one step, worked out apart from the
fast kernels, agree with the reference backend, with finite differences and with what a
normal step of the session then does."""
from __future__ import annotations

import numpy as np
import pytest

from kernels import OPTIMIZERS, losses, make_backend
from kernels.activations import activate
from playground.core import slow_step_numbers as slowstep
from playground.core.config import RunConfig
from playground.core.session import Session
from tests.test_session import record_batches

# Data sets with each loss that fits them (blobs: 3 classes, softmax cross-entropy).
DATA_AND_LOSS = [("circle", "bce"), ("circle", "mse"), ("blobs", "ce"), ("plane", "mse")]


def make_session(**settings) -> Session:
    """A small session on the cpu kernels: 60 points, 30 for training, batches of 8
    (4 steps an epoch, the last of 6 points)."""
    values = dict(dataset="circle", points=60, batch_size=8, seed=3, backend="cpu", learning_rate=0.03,
                  hidden=[3, 2], activation=["tanh"], classes=3)
    values.update(settings)
    return Session(RunConfig(**values))


def twins(**settings) -> tuple[Session, Session]:
    return make_session(**settings), make_session(**settings)


def reference_backend(session: Session, params=None):
    return make_backend("reference", session.spec,
                        session.backend.get_params() if params is None else params)


def batch_objective(session: Session, params: np.ndarray, batch: np.ndarray) -> float:
    """Mean loss over ``batch`` + penalty at ``params``, from kernels.losses (what a step descends)."""
    X = np.asarray(session.X_train, np.float64)[batch]
    T = np.asarray(session.T_train, np.float64)[batch]
    logits = reference_backend(session, params).logits(X)
    mask = session.spec.layout().weight_mask()
    return (losses.loss_value(logits, T, session.loss)
            + losses.regularization_value(params[mask], session.config.regularization, session.config.reg_rate))


# ------------------------------------------------------------------------------ the batch

def test_peek_batch_is_the_batch_the_next_step_trains_on():
    session = make_session()
    batches = record_batches(session)
    peeked = []
    for _ in range(11):  # across two epoch ends (4 steps an epoch), each a new shuffle
        peeked.append(session.peek_batch())
        assert np.array_equal(session.peek_batch(), peeked[-1])  # peeking consumes nothing
        session.advance(1, boundary=False)
    assert [len(b) for b in peeked[:4]] == [8, 8, 8, 6]
    for got, trained in zip(peeked, batches):
        assert np.array_equal(got, trained)
    untouched = make_session()
    untouched.advance(11, boundary=False)
    assert np.array_equal(untouched.backend.get_params(), session.backend.get_params())


def test_optimizer_state_is_fresh_after_an_optimizer_change():
    session = make_session(optimizer="adam")
    session.advance(3, boundary=False)
    state1, state2, step = session.optimizer_state()
    assert step == 3 and np.any(state1 != 0) and np.any(state2 != 0)
    session.config.optimizer = "momentum"
    state1, state2, step = session.optimizer_state()
    assert step == 0 and not np.any(state1) and not np.any(state2)


def test_boundary_of_given_params_is_the_network_boundary():
    session = make_session(loss="bce")
    session.advance(5, boundary=False)
    params = session.backend.get_params()
    np.testing.assert_allclose(session.boundary(params), session.boundary(), rtol=1e-12, atol=1e-14)
    other = session.boundary(params * 0.5)
    assert not np.allclose(other, session.boundary())
    assert np.array_equal(session.backend.get_params(), params)  # drawing it changed nothing


# ------------------------------------------------------------------------------ phase 1: forward

@pytest.mark.parametrize("hidden, activation", [([3, 2], ["tanh"]), ([4], ["relu"]), ([], ["tanh"]),
                                                ([2, 3, 2], ["sigmoid", "elu", "gelu"])])
@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_forward_pass_of_the_point_is_the_reference_backend(hidden, activation, dataset, loss):
    session = make_session(hidden=hidden, activation=activation, dataset=dataset, loss=loss)
    session.advance(2, boundary=False)
    data = slowstep.compute(session)
    assert data.point == data.batch[0] and data.point_in_batch
    x = np.asarray(session.X_train, np.float64)[data.point: data.point + 1]
    reference = reference_backend(session)
    outputs = reference.layer_outputs(x)
    assert len(data.forward.zs) == len(hidden) + 1
    np.testing.assert_array_equal(data.forward.inputs[0], x)
    names = tuple(session.spec.activations) + ("linear",)
    for layer, (z, a) in enumerate(zip(data.forward.zs, outputs)):
        np.testing.assert_allclose(activate(names[layer], z), a, rtol=1e-12, atol=1e-15)
        if layer + 1 < len(data.forward.inputs):
            np.testing.assert_allclose(data.forward.inputs[layer + 1], a, rtol=1e-12, atol=1e-15)
    logits = reference.logits(x)
    np.testing.assert_allclose(data.forward.zs[-1], logits, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(data.prediction, losses.output(logits, loss)[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(data.target, session.T_train[data.point])


def test_a_chosen_point_outside_the_batch_is_spelled_out():
    session = make_session()
    batch = session.peek_batch()
    outside = int(np.setdiff1d(np.arange(len(session.X_train)), batch)[0])
    data = slowstep.compute(session, point=outside)
    assert data.point == outside and not data.point_in_batch
    np.testing.assert_array_equal(data.features, session.X_train[outside])
    logits = reference_backend(session).logits(np.asarray(session.X_train[outside: outside + 1], np.float64))
    np.testing.assert_allclose(data.forward.zs[-1], logits, rtol=1e-12)
    # The gradient is still the batch's: the chosen point is only what is spelled out.
    np.testing.assert_array_equal(data.gradient, slowstep.compute(session).gradient)
    with pytest.raises(slowstep.SlowStepRefused, match="not a training point"):
        slowstep.compute(session, point=len(session.X_train))


# ------------------------------------------------------------------------------ phase 2: loss

@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_point_losses_are_each_points_loss(dataset, loss):
    session = make_session(dataset=dataset, loss=loss)
    session.advance(3, boundary=False)
    data = slowstep.compute(session)
    X, T = np.asarray(session.X_train, np.float64), np.asarray(session.T_train, np.float64)
    logits = reference_backend(session).logits(X)
    assert data.point_losses.shape == (len(X),)
    expected = [losses.loss_value(logits[k: k + 1], T[k: k + 1], loss) for k in range(len(X))]
    np.testing.assert_allclose(data.point_losses, expected, rtol=1e-12)
    assert data.point_loss == pytest.approx(expected[data.point], rel=1e-12)
    assert data.batch_loss == pytest.approx(losses.loss_value(logits[data.batch], T[data.batch], loss), rel=1e-12)
    assert np.all(data.point_losses >= 0)
    assert data.loss_formula == slowstep.LOSS_FORMULAS[loss]


def test_cross_entropy_punishes_a_confident_mistake_more_than_mse():
    """The comparison the loss phase is for: one point, confidently wrong (z = −4 for class 1)."""
    z, y_pm, y01 = np.array([[-4.0]]), np.array([[1.0]]), np.array([[1.0]])
    ce = slowstep.per_point_losses(z, y01, "bce")[0]
    assert ce == pytest.approx(np.log1p(np.exp(4.0)), rel=1e-12)  # −log σ(−4)
    mse_of_probability = (losses.sigmoid(-4.0) - 1.0) ** 2  # at most 1 however wrong
    assert ce > 4 * mse_of_probability
    assert slowstep.per_point_losses(np.array([[-0.2]]), y_pm, "mse")[0] == pytest.approx(1.44)


@pytest.mark.parametrize("regularization", ["l1", "l2"])
def test_loss_formula_and_penalty_name_the_regularization(regularization):
    session = make_session(regularization=regularization, reg_rate=0.03)
    data = slowstep.compute(session)
    assert data.loss_formula.endswith(slowstep.PENALTY_FORMULAS[regularization])
    mask = session.spec.layout().weight_mask()
    assert data.penalty == pytest.approx(
        losses.regularization_value(session.backend.get_params()[mask], regularization, 0.03), rel=1e-12)
    assert data.penalty > 0


# ------------------------------------------------------------------------------ phase 3: backward

@pytest.mark.parametrize("regularization", ["none", "l1", "l2"])
@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_gradient_is_the_reference_backends(dataset, loss, regularization):
    session = make_session(dataset=dataset, loss=loss, regularization=regularization, reg_rate=0.01)
    session.advance(5, boundary=False)
    data = slowstep.compute(session)
    X = np.asarray(session.X_train, np.float64)[data.batch]
    T = np.asarray(session.T_train, np.float64)[data.batch]
    expected = reference_backend(session).gradient(X, T, regularization, 0.01)
    np.testing.assert_allclose(data.gradient, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(data.data_gradient + data.penalty_gradient, data.gradient, rtol=1e-15, atol=0)
    # The penalty is on the weights only; the biases' gradient is the loss's alone.
    biases = ~session.spec.layout().weight_mask()
    assert not np.any(data.penalty_gradient[biases])


@pytest.mark.parametrize("hidden", [[3, 2], []])
@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_displayed_gradient_agrees_with_finite_differences(dataset, loss, hidden):
    session = make_session(dataset=dataset, loss=loss, hidden=hidden, activation=["tanh"],
                           regularization="l2", reg_rate=0.01)
    session.advance(2, boundary=False)
    data = slowstep.compute(session)
    params = session.backend.get_params()
    h = 1e-6
    # The largest gradients of the first and the last weight layer, and a bias.
    layout = session.spec.layout()
    first = int(layout.w_offsets[0] + np.argmax(np.abs(layout.weights(data.gradient, 0))))
    last = int(layout.w_offsets[-1] + np.argmax(np.abs(layout.weights(data.gradient, session.spec.n_layers - 1))))
    bias = int(layout.b_offsets[-1] + np.argmax(np.abs(layout.bias(data.gradient, session.spec.n_layers - 1))))
    for index in sorted({first, last, bias}):
        up, down = params.copy(), params.copy()
        up[index] += h
        down[index] -= h
        estimate = (batch_objective(session, up, data.batch) - batch_objective(session, down, data.batch)) / (2 * h)
        assert abs(data.gradient[index]) > 1e-4, "a gradient this small checks nothing"
        assert data.gradient[index] == pytest.approx(estimate, rel=1e-5), index


@pytest.mark.parametrize("hidden, activation", [([3, 2], ["tanh"]), ([4], ["relu"]), ([], ["tanh"])])
@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_chain_rule_factors_multiply_to_each_gradient(dataset, loss, hidden, activation):
    session = make_session(dataset=dataset, loss=loss, hidden=hidden, activation=activation,
                           regularization="l2", reg_rate=0.02)
    session.advance(3, boundary=False)
    data = slowstep.compute(session)
    layout, sizes = session.spec.layout(), session.spec.layer_sizes
    B = len(data.batch)
    names = tuple(session.spec.activations) + ("linear",)
    for layer in range(session.spec.n_layers):
        W_grad = layout.weights(data.gradient, layer)
        for i in range(sizes[layer]):
            for j in range(sizes[layer + 1]):
                rule = slowstep.chain_rule(data, layer, i, j)
                assert rule.products.shape == (B,)
                np.testing.assert_allclose(rule.products, rule.upstream * rule.slope * rule.inputs, rtol=1e-15)
                assert rule.mean == pytest.approx(rule.products.sum() / B, rel=1e-12)
                assert rule.total == pytest.approx(W_grad[i, j], rel=1e-10, abs=1e-15)
                assert rule.penalty == pytest.approx(0.02 * layout.weights(session.backend.get_params(), layer)[i, j])
                if layer == session.spec.n_layers - 1:  # output: dL/dz of each point, f' folded in
                    assert np.all(rule.slope == 1.0)
                else:  # f'(z) of unit j, from its pre-activation over the batch
                    z = data.batch_pass.zs[layer][:, j]
                    h = 1e-6
                    slope = (activate(names[layer], z + h) - activate(names[layer], z - h)) / (2 * h)
                    np.testing.assert_allclose(rule.slope, slope, rtol=1e-5, atol=1e-7)
    # The output layer's upstream gradient is each point's own dL/dz: ŷ − y (bce, ce), 2(ŷ − y) (mse).
    out = data.batch_pass
    factor = 2.0 if loss == "mse" else 1.0
    T = np.asarray(session.T_train, np.float64)[data.batch]
    np.testing.assert_allclose(out.upstream[-1], factor * (out.outputs - T), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------ phase 4: update

@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dataset, loss", DATA_AND_LOSS)
def test_slow_step_leaves_the_session_where_a_normal_step_does(optimizer, dataset, loss):
    """Two identical sessions, a few steps in (optimizer state built up, mid-epoch); one takes
    the slow step, the other a normal one: then they are the same in every respect."""
    slow, normal = twins(optimizer=optimizer, dataset=dataset, loss=loss, regularization="l1", reg_rate=0.001)
    for session in (slow, normal):
        session.advance(3, boundary=False)  # the next step ends the epoch; the one after reshuffles
    for _ in range(2):
        data = slowstep.compute(slow)
        assert data.step_before == normal.step and data.step_after == normal.step + 1
        frame = slowstep.apply(slow, data, boundary=False)
        normal.advance(1, boundary=False)
        assert (slow.step, slow.epoch) == (normal.step, normal.epoch) == (frame.step, frame.epoch)
        assert frame.epoch == data.epoch_after
        np.testing.assert_array_equal(slow.backend.get_params(), normal.backend.get_params())
        np.testing.assert_array_equal(slow.backend.state1, normal.backend.state1)
        np.testing.assert_array_equal(slow.backend.state2, normal.backend.state2)
        assert slow.backend.step == normal.backend.step == data.update.step
        assert np.array_equal(slow.peek_batch(), normal.peek_batch())
        assert slow.history == normal.history
        # And the phase numbers, worked out apart from the kernels, are what the step did.
        actual = slow.backend.get_params()
        scale = np.abs(data.update.before).max()
        np.testing.assert_allclose(data.update.after, actual, rtol=1e-12, atol=1e-14 * scale)
        if optimizer != "sgd":
            np.testing.assert_allclose(data.update.new_state1, slow.backend.state1, rtol=1e-12,
                                       atol=1e-14 * np.abs(slow.backend.state1).max())
        assert not np.array_equal(data.update.after, data.update.before)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adam_update_is_written_out_with_bias_correction(optimizer):
    session = make_session(optimizer=optimizer, learning_rate=0.01)
    session.advance(2, boundary=False)
    m0, v0, step = session.optimizer_state()
    data = slowstep.compute(session)
    u, s = data.update, data.update.settings
    t = step + 1
    assert u.step == t == 3
    g = data.gradient
    m = s.beta1 * m0 + (1 - s.beta1) * g  # Kingma & Ba, Algorithm 1
    v = s.beta2 * v0 + (1 - s.beta2) * g * g
    np.testing.assert_allclose(u.new_state1, m, rtol=1e-12)
    np.testing.assert_allclose(u.new_state2, v, rtol=1e-12)
    assert u.bias_correction1 == pytest.approx(1 - s.beta1 ** 3) and u.bias_correction2 == pytest.approx(1 - s.beta2 ** 3)
    np.testing.assert_allclose(u.m_hat, m / (1 - s.beta1 ** t), rtol=1e-12)
    np.testing.assert_allclose(u.v_hat, v / (1 - s.beta2 ** t), rtol=1e-12)
    decayed = u.before * (1 - s.learning_rate * s.weight_decay) if optimizer == "adamw" else u.before
    np.testing.assert_allclose(u.after, decayed - s.learning_rate * u.m_hat / (np.sqrt(u.v_hat) + s.eps), rtol=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_sgd_and_momentum_updates_are_written_out(optimizer):
    session = make_session(optimizer=optimizer, learning_rate=0.05)
    session.advance(2, boundary=False)
    velocity0, _, _ = session.optimizer_state()
    data = slowstep.compute(session)
    u, lr, mu = data.update, 0.05, data.update.settings.momentum
    if optimizer == "sgd":
        np.testing.assert_allclose(u.after, u.before - lr * data.gradient, rtol=1e-12)
        return
    velocity = mu * velocity0 + data.gradient
    np.testing.assert_allclose(u.new_state1, velocity, rtol=1e-12)
    direction = data.gradient + mu * velocity if optimizer == "nesterov" else velocity
    np.testing.assert_allclose(u.after, u.before - lr * direction, rtol=1e-12)


def test_an_optimizer_changed_before_the_step_starts_fresh():
    slow, normal = twins(optimizer="adam")
    for session in (slow, normal):
        session.advance(3, boundary=False)
        session.config.optimizer = "momentum"
        session.config.momentum = 0.9
    data = slowstep.compute(slow)
    assert data.update.step == 1 and not np.any(data.update.state1)
    slowstep.apply(slow, data, boundary=False)
    normal.advance(1, boundary=False)
    np.testing.assert_array_equal(slow.backend.get_params(), normal.backend.get_params())
    np.testing.assert_allclose(data.update.after, slow.backend.get_params(), rtol=1e-12)


def test_zero_hidden_layers_still_has_four_phases():
    slow, normal = twins(hidden=[], activation=["tanh"], optimizer="adam", loss="bce")
    data = slowstep.compute(slow)
    assert data.layer_sizes == (2, 1)
    assert len(data.forward.zs) == 1 and len(data.batch_pass.deltas) == 1
    w = slow.backend.get_params()[:2]
    b = slow.backend.get_params()[2]
    z = data.features @ w + b  # logistic regression, written out
    assert data.forward.zs[0][0, 0] == pytest.approx(z, rel=1e-12)
    assert data.prediction[0] == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-12)
    rule = slowstep.chain_rule(data, 0, 1, 0)
    assert rule.total == pytest.approx(data.gradient[1], rel=1e-12)
    slowstep.apply(slow, data)
    normal.advance(1)
    np.testing.assert_array_equal(slow.backend.get_params(), normal.backend.get_params())


def test_morph_runs_from_the_old_boundary_to_the_new():
    session = make_session(optimizer="sgd", learning_rate=1.0, loss="bce")
    before = session.boundary()
    data = slowstep.compute(session)
    frames = slowstep.morph_frames(session, data, n_frames=5)
    assert len(frames) == 5
    np.testing.assert_allclose(frames[0], before, rtol=1e-12, atol=1e-14)
    slowstep.apply(session, data)
    np.testing.assert_allclose(frames[-1], session.boundary(), rtol=1e-9, atol=1e-12)
    assert not np.allclose(frames[0], frames[-1])
    middle = slowstep.interpolated_params(data, 0.5)
    np.testing.assert_allclose(middle, (data.update.before + data.update.after) / 2, rtol=1e-12)


# ------------------------------------------------------------------------------ refusals

def test_a_diverged_run_is_refused_with_what_to_do():
    session = make_session(dataset="plane", optimizer="sgd", learning_rate=50)
    session.advance(200, boundary=False)
    assert session.diverged
    with pytest.raises(slowstep.SlowStepRefused, match="Reset"):
        slowstep.compute(session)


def test_a_stale_slow_step_is_refused():
    session = make_session()
    data = slowstep.compute(session)
    session.config.learning_rate = 0.1  # another step now: the update shown is not it
    assert not data.is_current(session)
    with pytest.raises(slowstep.SlowStepRefused, match="changed"):
        slowstep.apply(session, data)
    session.config.learning_rate = 0.03
    assert data.is_current(session)
    session.advance(1, boundary=False)  # a normal step meanwhile
    with pytest.raises(slowstep.SlowStepRefused):
        slowstep.apply(session, data)
    assert session.step == 1


def test_float32_sessions_work_to_float32_rounding():
    slow, normal = twins(dtype="float32", optimizer="adam")
    data = slowstep.compute(slow)
    slowstep.apply(slow, data)
    normal.advance(1)
    np.testing.assert_array_equal(slow.backend.get_params(), normal.backend.get_params())
    np.testing.assert_allclose(data.update.after, slow.backend.get_params(), rtol=1e-5, atol=1e-6)


def test_describe_number_reads_well():
    assert slowstep.describe_number(0.0012345) == "0.00123"
    assert slowstep.describe_number(-1.5) == "−1.50"
    assert slowstep.describe_number(123456.0) == "1.23e+05"
    assert slowstep.describe_number(0.0) == "0"
    assert slowstep.describe_number(float("nan")) == "—"


# ------------------------------------------------------------------------------ the app's Slow step

def walk(app) -> list[tuple[str, str]]:
    """Press Slow step, then Next until the step is applied; (phase, caption) of each stop."""
    import re

    seen = []
    app.slow_step.button.clicks += 1
    while True:
        seen.append((app.slow_step.phase, re.sub("<[^>]+>", "", app.slow_step.caption.html)))
        if app.slow_step.phase == "done":
            return seen
        assert not app.slow_step.next_button.disabled
        app.slow_step.next_button.clicks += 1


def weights_shown(app) -> list[float]:
    return list(app.network.edges.data["weight"])


@pytest.mark.parametrize("settings", [dict(), dict(hidden=[], activation=["tanh"]),
                                      dict(dataset="blobs", classes=3, loss="ce", optimizer="momentum"),
                                      dict(dataset="plane", loss="mse", optimizer="sgd", regularization="l2",
                                           reg_rate=0.01)])
def test_app_slow_step_walks_four_phases_and_lands_where_a_step_does(settings):
    from playground.ui.page import Playground

    # 20 training points in batches of 20: Step (one epoch) is one minibatch step.
    values = dict(points=40, batch_size=20, **settings)
    slow, normal = Playground(**values), Playground(**values)
    assert slow.session.steps_per_epoch == 1
    seen = walk(slow)
    n_layers = slow.session.spec.n_layers
    assert [phase for phase, _ in seen] == (["forward"] * n_layers + ["loss"] + ["backward"] * n_layers
                                            + ["update", "done"])
    for phase, caption in seen[:-1]:
        number = {"forward": 1, "loss": 2, "backward": 3, "update": 4}[phase]
        assert caption.startswith(f"Phase {number} of 4 · {phase.capitalize()}"), caption
    assert seen[-1][1].startswith("Done — step 1 applied")
    normal.run_bar.step_button.clicks += 1
    assert (slow.session.step, slow.session.epoch) == (normal.session.step, normal.session.epoch) == (1, 1)
    np.testing.assert_array_equal(slow.session.backend.get_params(), normal.session.backend.get_params())
    assert weights_shown(slow) == weights_shown(normal)
    assert slow.run_bar.epoch_div.html == normal.run_bar.epoch_div.html and slow.run_bar.loss_div.html == normal.run_bar.loss_div.html
    # Afterwards the diagram is the normal one again.
    assert len(slow.network.overlay_edges.data["x0"]) == 0 and not any(slow.network.overlay_labels.data["text"])
    assert slow.network._edge_renderer.visible


def test_app_slow_step_draws_each_phase_on_the_diagram_and_data_plot():
    from playground.ui.page import Playground

    app = Playground()
    n_train = len(app.session.X_train)
    app.slow_step.start()
    data = app.slow_step.data
    overlay, labels = app.network.overlay_edges.data, app.network.overlay_labels.data
    assert len(overlay["x0"]) == len(app.network.edges.data["x0"]) and not app.network._edge_renderer.visible
    # Forward, first layer: the inputs and the first hidden layer carry z and a, the rest nothing yet.
    assert labels["text"][:2] == [f"x1 = {slowstep.describe_number(data.features[0])}",
                                  f"x2 = {slowstep.describe_number(data.features[1])}"]
    assert all(t.startswith("z ") for t in labels["text"][2:6]) and not any(labels["text"][6:9])
    assert app.boundary.highlight_source.data["x"] == [app.boundary.train_source.data["x"][data.point]]
    outlines = app.boundary.train_source.data["outline"]
    assert sum(o != "white" for o in outlines) == len(data.batch)
    for _ in range(3):
        app.slow_step.next()
    assert app.slow_step.phase == "loss"
    sizes = np.array(app.boundary.train_source.data["size"])
    assert len(sizes) == n_train
    from playground.ui.views.slow_step import SIZE_BASE, SIZE_MAX, SIZE_PER_LOSS
    np.testing.assert_allclose(sizes, np.clip(SIZE_BASE + SIZE_PER_LOSS * data.point_losses, SIZE_BASE, SIZE_MAX))
    assert SIZE_PER_LOSS > 0 and np.ptp(sizes) > 0  # bigger loss, bigger dot
    app.slow_step.next()  # backward, output layer: its edges show dL/dw and hover the chain rule
    info = app.network.overlay_edges.data["info"]
    assert all("dL/dw = mean over the batch" in t for t in info[-2:]) and not any(info[:-2])
    for _ in range(3):
        app.slow_step.next()
    assert app.slow_step.phase == "update"
    info = app.network.overlay_edges.data["info"]
    after = data.update.after[app.network.edge_parameter_index]
    for text, w in zip(info, after):
        assert f"→ <b>{slowstep.describe_number(w, 5)}</b>" in text
        assert "bias correction at step t = 1" in text  # adam, its first step
    # Without a page to animate, the boundary jumps to the new weights' one.
    new_boundary = app.boundary.image_levels(app.session.boundary(data.update.after))
    assert np.array_equal(app.boundary.image_source.data["image"][0], new_boundary)
    assert app.session.step == 0  # nothing applied yet
    app.slow_step.back()
    assert app.slow_step.phase == "backward"  # the network's own boundary is back
    assert np.array_equal(app.boundary.image_source.data["image"][0],
                          app.boundary.image_levels(app.session.boundary()))


@pytest.mark.parametrize("button", ["step_button", "reset_button", "play_button"])
def test_step_play_or_reset_cancel_a_half_done_slow_step(button):
    from playground.ui.page import Playground

    app = Playground()
    app.slow_step.start()
    app.slow_step.next()
    app.slow_step.next()
    assert app.slow_step.active
    getattr(app.run_bar, button).clicks += 1
    app.pause()
    assert not app.slow_step.active and app.slow_step.phase is None
    assert len(app.network.overlay_edges.data["x0"]) == 0 and app.network._edge_renderer.visible
    assert set(app.boundary.train_source.data["size"]) == {6}
    assert "four phases" in app.slow_step.caption.html
    expected_step = app.session.steps_per_epoch if button == "step_button" else 0
    assert app.session.step == expected_step  # the normal step only, nothing of the slow one


def test_a_new_network_cancels_the_slow_step():
    from playground.ui.page import Playground

    app = Playground()
    app.slow_step.start()
    app.slow_step.next()
    app.network.change_neurons(0, +1)
    assert not app.slow_step.active
    assert not any(app.network.overlay_labels.data["text"])


def test_a_learning_rate_changed_mid_step_shows_the_new_update_before_applying():
    from playground.ui.page import Playground

    app, twin = Playground(), Playground()
    app.slow_step.start()
    while app.slow_step.phase != "update":
        app.slow_step.next()
    app.config.learning_rate = 0.1
    app.slow_step.next()  # shows the update again, with the new learning rate
    assert app.slow_step.phase == "update" and "lr = 0.1" in app.slow_step.caption.html
    app.slow_step.next()
    assert app.slow_step.phase == "done"
    twin.config.learning_rate = 0.1
    twin.session.advance(1)
    np.testing.assert_array_equal(app.session.backend.get_params(), twin.session.backend.get_params())


def test_a_clicked_point_is_followed():
    from playground.ui.page import Playground

    app = Playground()
    app.slow_step.choose_point(7)
    assert "Point #7" in app.slow_step.caption.html
    assert app.boundary.highlight_source.data["x"] == [app.boundary.train_source.data["x"][7]]
    app.slow_step.start()
    assert app.slow_step.data.point == 7 and "point #7" in app.slow_step.caption.html
    app.slow_step.choose_point(3)  # mid-way: the same step, another point spelled out
    assert app.slow_step.data.point == 3 and app.slow_step.phase == "forward"


def test_a_diverged_run_gets_a_message_not_a_slow_step():
    from playground.ui.page import Playground

    app = Playground(dataset="plane", loss="mse", optimizer="sgd", learning_rate=10.0)
    for _ in range(20):
        app.step(1)
        if app.session.diverged:
            break
    assert app.session.diverged
    app.slow_step.start()
    assert not app.slow_step.active
    assert "diverged" in app.slow_step.caption.html and "Reset" in app.slow_step.caption.html
