"""One-click lessons: each sets the playground up to show one idea, and says in plain
words what to look at. ``tests/test_lessons.py`` runs every lesson headless and checks
that its effect really shows, in numbers."""
from __future__ import annotations

from dataclasses import dataclass, field

BASE = dict(dataset="circle", noise=0.0, train_ratio=50.0, points=500, seed=0, features=["x1", "x2"],
            hidden=[4, 2], activation=["tanh"], initialization="xavier", loss="auto", regularization="none",
            reg_rate=0.0, optimizer="adam", learning_rate=0.03, momentum=None, beta1=None, beta2=None, eps=None,
            alpha=None, weight_decay=None, batch_size=10, classes=2, csv=None)


@dataclass(frozen=True)
class Lesson:
    title: str
    text: str  # two or three plain sentences: what to look at
    settings: dict = field(default_factory=dict)  # RunConfig values over BASE

    def config_values(self) -> dict:
        return {**BASE, **self.settings}


LESSONS = {lesson.title: lesson for lesson in (
    Lesson("Learning rate too big",
           "Plain SGD with a learning rate of 3: each step jumps past the bottom of the loss, further every "
           "time. Press Play and watch the loss bounce, then blow up; the playground stops and says so.",
           dict(optimizer="sgd", learning_rate=3.0, loss="mse")),
    Lesson("Learning rate too small",
           "The same network with a learning rate of 0.00001: every step is tiny. Press Play: the loss "
           "crawls and the boundary hardly moves. Now pick 0.03 and see the difference.",
           dict(optimizer="sgd", learning_rate=0.00001)),
    Lesson("Momentum vs plain SGD",
           "Momentum keeps a running velocity, so steps that agree add up and zig-zags cancel. Train this "
           "spiral with momentum, then switch the optimizer to sgd at the same learning rate: it lags.",
           dict(dataset="spiral", hidden=[8, 8], optimizer="momentum", learning_rate=0.01)),
    Lesson("Adam vs SGD",
           "Adam scales every weight's step by its own gradient history (Kingma & Ba, 2014). On the spiral "
           "it finds the boundary in a few hundred epochs; switch to sgd at the same rate and it stalls.",
           dict(dataset="spiral", hidden=[8, 8], optimizer="adam", learning_rate=0.03)),
    Lesson("Vanishing gradients",
           "Six sigmoid layers: each one multiplies the gradient by at most 0.25 on its way back, so the "
           "first layers barely learn. Turn on Show gradients and read the gradient-norm chart; then pick "
           "relu with he initialization for every layer and compare.",
           dict(hidden=[8, 8, 8, 8, 8, 8], activation=["sigmoid"], optimizer="sgd", learning_rate=0.1)),
    Lesson("MSE vs cross-entropy",
           "Cross-entropy keeps rewarding confident right answers, so the boundary sharpens; MSE aims every "
           "output at exactly -1 or +1 and penalises being 'too right'. Train with bce, then with mse, and "
           "compare the boundary.",
           dict(dataset="gauss", hidden=[], loss="bce", optimizer="sgd", learning_rate=0.03)),
    Lesson("Plateaus",
           "Three sigmoid layers with plain SGD: the loss sits flat for dozens of epochs while the weights "
           "slowly line up, then drops suddenly. Patience (or momentum, or Adam) gets you off a plateau.",
           dict(hidden=[4, 4, 4], activation=["sigmoid"], optimizer="sgd", learning_rate=0.3, loss="bce")),
)}
