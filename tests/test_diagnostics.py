"""Per-layer gradient norms, saturation and dead units (`train --json` and Session)."""
import json

import numpy as np

from kernels import make_backend
from playground.cli import main
from playground.core.config import RunConfig
from playground.core.session import Session


def test_gradient_norms_are_the_reference_gradients_norms():
    session = Session(RunConfig.from_values({"hidden": "5,3", "activation": "sigmoid", "regularization": "l2",
                                             "reg_rate": "0.01"}))
    session.advance(7)
    reference = make_backend("reference", session.spec, session.backend.get_params())
    grad = reference.gradient(session.X_train, session.T_train, "l2", 0.01)
    layout = session.spec.layout()
    expected = [np.linalg.norm(layout.weights(grad, l)) for l in range(3)]
    np.testing.assert_allclose(session.diagnostics()["layer_grad_norms"], expected, rtol=1e-10)


def _diagnose(activation, init, capsys):
    code = main(["train", "--dataset", "circle", "--hidden", "8,8,8,8,8,8", "--activation", activation,
                 "--initialization", init, "--epochs", "0", "--json"])
    assert code == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_deep_sigmoid_starves_its_first_layer_relu_does_not(capsys):
    sigmoid = _diagnose("sigmoid", "xavier", capsys)
    relu = _diagnose("relu", "he", capsys)
    assert sigmoid["epochs"] == 0 and len(sigmoid["layer_grad_norms"]) == 7
    ratio = lambda d: d["layer_grad_norms"][0] / d["layer_grad_norms"][-1]
    assert ratio(sigmoid) < 1e-2 < ratio(relu)  # vanishing vs. not
    assert len(relu["dead_fraction"]) == len(relu["saturated_fraction"]) == 6


def test_dead_and_saturated_units_are_counted():
    session = Session(RunConfig.from_values({"hidden": "4,4", "activation": "relu,tanh"}))
    params = session.backend.get_params()
    layout = session.spec.layout()
    layout.bias(params, 0)[:2] = -1e3  # two relu units can never switch on
    layout.weights(params, 1)[:] = 0.0
    layout.bias(params, 1)[:] = [10.0, -10.0, 0.0, 0.0]  # two tanh units pinned at +-1
    session.backend.set_params(params)
    found = session.diagnostics()
    assert found["dead_fraction"] == [0.5, 0.0]
    assert found["saturated_fraction"] == [0.0, 0.5]
