"""Every lesson preset must actually show its effect: each is run headless and its claim
checked in numbers."""
import numpy as np

from playground.core.config import RunConfig
from playground.core.lessons import LESSONS
from playground.core.session import Session


def session_for(title, **override):
    config = RunConfig()
    config.update_checked({**LESSONS[title].config_values(), **override}, names_as="key")
    return Session(config)


def losses_by_epoch(session, epochs):
    session.frame(boundary=False)
    return [session.run_epochs(1).train_loss for _ in range(epochs)]


def test_every_lesson_is_a_valid_config_with_a_short_text():
    for lesson in LESSONS.values():
        session_for(lesson.title)
        sentences = lesson.text.count(". ") + 1
        assert 2 <= sentences <= 4, lesson.title


def test_learning_rate_too_big_diverges_and_says_why():
    session = session_for("Learning rate too big")
    for _ in range(100):
        frame = session.run_epochs(1)
        if frame.diverged:
            break
    assert frame.diverged and "learning rate" in frame.message.lower()


def test_learning_rate_too_small_crawls():
    slow = losses_by_epoch(session_for("Learning rate too small"), 50)
    normal = losses_by_epoch(session_for("Learning rate too small", learning_rate=0.03), 50)
    start = session_for("Learning rate too small").frame(boundary=False).train_loss
    assert (start - slow[-1]) / start < 0.01  # under 1% in 50 epochs
    assert (start - normal[-1]) / start > 0.3


def test_momentum_beats_plain_sgd_at_the_same_rate():
    momentum = losses_by_epoch(session_for("Momentum vs plain SGD"), 100)[-1]
    sgd = losses_by_epoch(session_for("Momentum vs plain SGD", optimizer="sgd"), 100)[-1]
    assert momentum < 0.9 * sgd


def test_adam_learns_the_spiral_sgd_does_not():
    adam = session_for("Adam vs SGD").run_epochs(300)
    sgd = session_for("Adam vs SGD", optimizer="sgd").run_epochs(300)
    assert adam.test_accuracy >= 0.9 and sgd.test_accuracy < 0.8


def test_vanishing_gradients_sigmoid_vs_relu():
    sigmoid = session_for("Vanishing gradients").diagnostics()["layer_grad_norms"]
    relu = session_for("Vanishing gradients", activation=["relu"], initialization="he").diagnostics()[
        "layer_grad_norms"]
    assert sigmoid[0] / sigmoid[-1] < 1e-2 < relu[0] / relu[-1]


def test_cross_entropy_sharpens_mse_aims_at_plus_minus_one():
    margins = {}
    for loss in ("bce", "mse"):
        session = session_for("MSE vs cross-entropy", loss=loss)
        frame = session.run_epochs(100)
        assert frame.train_accuracy > 0.95
        margins[loss] = float(np.mean(np.abs(session.backend.logits(session.X_train))))
    assert margins["bce"] > 3.0 and abs(margins["mse"] - 1.0) < 0.3


def test_plateau_is_flat_then_drops():
    losses = losses_by_epoch(session_for("Plateaus"), 150)
    first = losses[0]
    assert abs(losses[40] - first) / first < 0.02  # flat for 40 epochs
    assert losses[-1] < 0.2 * first  # then learns
