"""`nn-playground descend`: the engine's update rules on analytic surfaces, against paths
that torch.optim took (tests/golden/descent.json, made by scripts/make_descent_golden.py)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from kernels.surfaces import SURFACES
from playground.cli import main
from playground.core.config import RunConfig
from playground.core.descend import descend

GOLDEN = json.loads((Path(__file__).parent / "golden" / "descent.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"{c['surface']}-{c['optimizer']}")
def test_paths_match_torch(case, capsys):
    flags = []
    for name, value in case["hyper"].items():
        flags += [f"--{name.replace('_', '-')}", repr(value)]
    start = ",".join(repr(v) for v in case["start"])
    code = main(["descend", "--surface", case["surface"], "--optimizer", case["optimizer"],
                 "--steps", str(case["steps"]), "--start", start, "--json", *flags])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(result["path"]) == case["steps"] + 1
    assert result["path"][0] == case["start"]
    # closed-form gradients vs torch's autograd differ in the last bits only
    np.testing.assert_allclose(result["path"], case["path"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result["loss"], case["loss"], rtol=1e-8, atol=1e-12)


def test_a_wrong_hyperparameter_would_not_match():
    case = GOLDEN["cases"][0]
    settings = RunConfig.from_values({"optimizer": case["optimizer"], **{
        k: v for k, v in case["hyper"].items()}}).optimizer_settings()
    wrong = type(settings)(**{**settings.__dict__, "beta2": 0.99})
    path = descend(case["surface"], wrong, case["start"], case["steps"]).path
    assert not np.allclose(path, case["path"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(SURFACES))
def test_gradients_match_finite_differences(name):
    surface = SURFACES[name]
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = surface.extent
    for x, y in zip(rng.uniform(x0, x1, 5), rng.uniform(y0, y1, 5)):
        h = 1e-6
        dx = (surface.value(x + h, y) - surface.value(x - h, y)) / (2 * h)
        dy = (surface.value(x, y + h) - surface.value(x, y - h)) / (2 * h)
        gx, gy = surface.gradient(x, y)
        assert gx == pytest.approx(dx, rel=1e-5, abs=1e-6) and gy == pytest.approx(dy, rel=1e-5, abs=1e-6)
        assert surface.value(*surface.minimum) <= surface.value(x, y) or name == "saddle"


def test_divergence_stops_the_path_and_says_so(capsys):
    code = main(["descend", "--surface", "rosenbrock", "--optimizer", "sgd", "--learning-rate", "0.1",
                 "--steps", "100", "--json"])
    result = json.loads(capsys.readouterr().out.strip())
    assert code == 0 and result["stopped"]
    assert len(result["path"]) < 101 and all(math.isfinite(v) for p in result["path"] for v in p)
    assert "learning rate" in result["message"]


@pytest.mark.parametrize("args, hint", [
    (["--start", "5,5"], "off the rosenbrock surface"),
    (["--surface", "everest"], "unknown surface"),
    (["--steps", "-3"], "--steps"),
    (["--start", "1"], "two numbers"),
    (["--start", "nan,1"], "two numbers"),
    (["--optimizer", "lbfgs"], "unknown optimizer"),
    (["--learning-rate", "0"], "--learning-rate"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, hint):
    assert main(["descend", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and hint in err and "Traceback" not in err
