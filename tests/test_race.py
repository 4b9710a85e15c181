"""The optimizer race page, without a browser."""
from types import SimpleNamespace

import numpy as np

from kernels.optimizers import OPTIMIZERS
from kernels.surfaces import SURFACES
from playground.ui.race import OptimizerRace


def test_every_optimizer_races_from_the_start():
    race = OptimizerRace()
    assert set(race.paths) == set(OPTIMIZERS)
    for name, result in race.paths.items():
        assert result.path[0] == list(SURFACES["ravine"].default_start)
        assert len(race.sources[name].data["x"]) == race.steps + 1
    # momentum crosses the ravine far sooner than plain SGD at the same rate
    assert race.paths["momentum"].loss[-1] < race.paths["sgd"].loss[-1]


def test_click_moves_the_start_and_reruns():
    race = OptimizerRace()
    race._on_tap(SimpleNamespace(x=5.0, y=-1.0))
    assert race.start == (5.0, -1.0)
    assert race.paths["adam"].path[0] == [5.0, -1.0]
    assert race.sources["adam"].data["x"][0] == 5.0
    race._on_tap(SimpleNamespace(x=50.0, y=0.0))  # off the surface: ignored
    assert race.start == (5.0, -1.0)


def test_hyperparameters_reach_their_own_optimizers():
    race = OptimizerRace()
    before = race.paths["adam"].path[-1]
    sgd_before = race.paths["sgd"].path[-1]
    race.beta1 = 0.5
    assert race.paths["adam"].path[-1] != before
    assert race.paths["sgd"].path[-1] == sgd_before  # sgd has no beta1


def test_animation_grows_the_paths_with_gradient_arrows():
    race = OptimizerRace()
    race.show_until(0)
    assert all(len(s.data["x"]) == 1 for s in race.sources.values())
    race._tick()
    assert all(len(s.data["x"]) == 4 for s in race.sources.values())
    # each arrow points downhill: against the gradient at its optimizer's head
    arrows = race.arrows.data
    for x0, y0, x1, y1 in zip(arrows["x0"], arrows["y0"], arrows["x1"], arrows["y1"]):
        gx, gy = SURFACES["ravine"].gradient(x0, y0)
        assert (x1 - x0) * gx + (y1 - y0) * gy < 0


def test_a_diverging_optimizer_stops_and_says_so():
    race = OptimizerRace(surface="rosenbrock")
    race.learning_rate = 0.3
    assert race.paths["sgd"].stopped and "sgd stopped" in race.messages.object
    path = np.array(race.sources["sgd"].data["x"])
    assert np.all(np.isfinite(path))
