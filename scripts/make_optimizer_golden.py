"""Write tests/golden/optimizers.json: optimizer trajectories computed by ``torch.optim``.

Run ``python scripts/make_optimizer_golden.py`` after ``pip install torch`` (the CPU
wheel is enough: ``pip install "torch==2.13.0+cpu"``); it rewrites
``tests/golden/optimizers.json``. Torch is needed only here, never by the tests.

For every optimizer of :mod:`kernels.optimizers` and a few hyper-parameter sets each,
torch (float64, ``foreach=False``: the single-tensor path) minimises a fixed function of a
7-value parameter vector for ``STEPS`` steps. The gradient at each step is a function of
the current parameters, so a wrong rule compounds instead of cancelling out. The file
keeps, per case, the hyper-parameters in the engine's names, the function, the initial
parameters and the parameters after every step, all floats at full precision (repr).

The function (``x``: ``(7,)``; ``center``, ``curvature``, ``quartic``: ``(7,)``; ``coupling``
a scalar), with ``d = x - center``::

    f(x) = sum(curvature * d**2 / 2 + quartic * d**4 / 4) + coupling * sum(diff(x)**2) / 2

    grad = curvature * d + quartic * d*d*d,  then  grad[:-1] -= coupling * diff(x)
                                              and  grad[1:]  += coupling * diff(x)

The gradient is computed in closed form with exactly those element-wise operations (so
the tests can repeat it bit for bit in NumPy) and checked here against autograd.
"""
from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path

import torch

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "optimizers.json"
STEPS = 25

# The function every case minimises: a narrow-canyon quadratic (curvatures 0.2 .. 3.5)
# plus a quartic, with neighbouring values coupled.
FUNCTION = dict(
    center=[0.5, -0.25, 1.0, 0.0, -0.75, 0.3, 0.125],
    curvature=[3.5, 0.2, 1.0, 2.25, 0.5, 1.5, 0.8],
    quartic=[0.3, 0.6, 0.0, 0.45, 0.2, 0.1, 0.5],
    coupling=0.35,
)
INITIAL = [1.3, -0.7, 0.25, -1.1, 0.8, 0.05, -0.45]

# Each optimizer's hyper-parameters, in the engine's names (weight_decay for all).
OWN = {
    "sgd": ("learning_rate", "weight_decay"),
    "momentum": ("learning_rate", "momentum", "weight_decay"),
    "nesterov": ("learning_rate", "momentum", "weight_decay"),
    "rmsprop": ("learning_rate", "alpha", "eps", "momentum", "weight_decay"),
    "adagrad": ("learning_rate", "eps", "weight_decay"),
    "adam": ("learning_rate", "beta1", "beta2", "eps", "weight_decay"),
    "adamw": ("learning_rate", "beta1", "beta2", "eps", "weight_decay"),
}
TORCH_CLASS = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "rmsprop": "RMSprop",
               "adagrad": "Adagrad", "adam": "Adam", "adamw": "AdamW"}
# The project's "momentum" and "nesterov" are torch's SGD with momentum 0.9 unless given.
SGD_MOMENTUM = 0.9

# (optimizer, label, overrides in the engine's names); "defaults" overrides nothing.
CASES = [
    ("sgd", "defaults", {}),
    ("sgd", "lr", {"learning_rate": 0.1}),
    ("sgd", "weight_decay", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("momentum", "defaults", {}),
    ("momentum", "lr", {"learning_rate": 0.02}),
    ("momentum", "momentum", {"learning_rate": 0.05, "momentum": 0.5}),
    ("momentum", "weight_decay", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("nesterov", "defaults", {}),
    ("nesterov", "lr", {"learning_rate": 0.02}),
    ("nesterov", "momentum", {"learning_rate": 0.05, "momentum": 0.5}),
    ("nesterov", "weight_decay", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("rmsprop", "defaults", {}),
    ("rmsprop", "lr", {"learning_rate": 0.003}),
    ("rmsprop", "momentum", {"learning_rate": 0.002, "momentum": 0.9}),
    ("rmsprop", "alpha", {"alpha": 0.9}),
    ("rmsprop", "eps", {"eps": 0.1}),
    ("rmsprop", "weight_decay", {"weight_decay": 0.1, "momentum": 0.5}),
    ("adagrad", "defaults", {}),
    ("adagrad", "lr", {"learning_rate": 0.1}),
    ("adagrad", "eps", {"learning_rate": 0.1, "eps": 0.1}),
    ("adagrad", "weight_decay", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("adam", "defaults", {}),
    ("adam", "lr", {"learning_rate": 0.05}),
    ("adam", "betas", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99}),
    # beta1 < 0.5 takes the other branch of torch's lerp (weight 1 - beta1 >= 0.5).
    ("adam", "low_betas", {"learning_rate": 0.02, "beta1": 0.3, "beta2": 0.5}),
    ("adam", "eps", {"learning_rate": 0.02, "eps": 0.1}),
    ("adam", "weight_decay", {"learning_rate": 0.02, "weight_decay": 0.1}),
    ("adamw", "defaults", {}),
    ("adamw", "lr", {"learning_rate": 0.05}),
    ("adamw", "weight_decay", {"learning_rate": 0.02, "weight_decay": 0.5}),
    ("adamw", "no_decay", {"learning_rate": 0.02, "weight_decay": 0.0}),
    ("adamw", "low_betas", {"learning_rate": 0.02, "beta1": 0.3, "beta2": 0.5}),
    ("adamw", "eps", {"learning_rate": 0.02, "eps": 0.1}),
]


def gradient(x: torch.Tensor, fn: dict) -> torch.Tensor:
    """Closed-form gradient of the test function at ``x`` ``(7,)``; see the module docstring."""
    center, curvature, quartic = (torch.tensor(fn[k], dtype=torch.float64)
                                  for k in ("center", "curvature", "quartic"))
    d = x - center
    g = curvature * d + quartic * d * d * d
    diff = x[1:] - x[:-1]
    g[:-1] -= fn["coupling"] * diff
    g[1:] += fn["coupling"] * diff
    return g


def autograd_gradient(x: torch.Tensor, fn: dict) -> torch.Tensor:
    """The same gradient through autograd, to check the closed form."""
    x = x.detach().clone().requires_grad_(True)
    center, curvature, quartic = (torch.tensor(fn[k], dtype=torch.float64)
                                  for k in ("center", "curvature", "quartic"))
    d = x - center
    f = (curvature * d**2 / 2 + quartic * d**4 / 4).sum() \
        + fn["coupling"] * ((x[1:] - x[:-1]) ** 2).sum() / 2
    f.backward()
    return x.grad


def torch_kwargs(name: str, hyper: dict) -> dict:
    """torch.optim keyword arguments for engine-named ``hyper``."""
    kwargs = {"foreach": False, "differentiable": False}
    if "learning_rate" in hyper:
        kwargs["lr"] = hyper["learning_rate"]
    for key in ("momentum", "eps", "alpha", "weight_decay"):
        if key in hyper:
            kwargs[key] = hyper[key]
    if "beta1" in hyper or "beta2" in hyper:
        default1, default2 = torch_defaults(name)[1]
        kwargs["betas"] = (hyper.get("beta1", default1), hyper.get("beta2", default2))
    if name in ("momentum", "nesterov"):
        kwargs.setdefault("momentum", SGD_MOMENTUM)
        kwargs["nesterov"] = name == "nesterov"
    return kwargs


def torch_defaults(name: str) -> tuple[dict, tuple]:
    """torch's own defaults for ``name``'s class, in the engine's names, and its betas."""
    signature = inspect.signature(getattr(torch.optim, TORCH_CLASS[name]).__init__)
    values = {k: p.default for k, p in signature.parameters.items()
              if p.default is not inspect.Parameter.empty}
    betas = values.get("betas", (None, None))
    engine = {"learning_rate": values["lr"]}
    for key in ("momentum", "eps", "alpha", "weight_decay"):
        if key in values:
            engine[key] = values[key]
    if "betas" in values:
        engine["beta1"], engine["beta2"] = betas
    return {k: float(v) for k, v in engine.items()}, betas


def engine_hyper(name: str, group: dict) -> dict:
    """The hyper-parameters torch actually used (its param group), in the engine's names."""
    mapped = {"learning_rate": group["lr"], "momentum": group.get("momentum"),
              "eps": group.get("eps"), "alpha": group.get("alpha"),
              "weight_decay": group["weight_decay"]}
    if "betas" in group:
        mapped["beta1"], mapped["beta2"] = group["betas"]
    return {key: float(mapped[key]) for key in OWN[name]}


def check_torch_options(name: str, group: dict) -> None:
    """The torch options the engine does not model must be at their neutral values."""
    neutral = dict(maximize=False, foreach=False, differentiable=False, dampening=0,
                   centered=False, lr_decay=0, initial_accumulator_value=0, amsgrad=False,
                   capturable=False, fused=None)
    for key, value in neutral.items():
        if key in group:
            assert group[key] == value, (name, key, group[key])
    if name in ("momentum", "nesterov"):
        assert group["nesterov"] == (name == "nesterov")


def run_case(name: str, overrides: dict) -> dict:
    """One trajectory: ``STEPS`` torch.optim steps from ``INITIAL``."""
    x = torch.tensor(INITIAL, dtype=torch.float64)
    kwargs = torch_kwargs(name, overrides)
    optimizer = getattr(torch.optim, TORCH_CLASS[name])([x], **kwargs)
    group = optimizer.param_groups[0]
    check_torch_options(name, group)
    trajectory = []
    for _ in range(STEPS):
        g = gradient(x.detach(), FUNCTION)
        assert torch.allclose(g, autograd_gradient(x, FUNCTION), rtol=1e-12, atol=1e-14)
        x.grad = g
        optimizer.step()
        values = x.detach().tolist()
        assert all(math.isfinite(v) for v in values), (name, overrides)
        trajectory.append(values)
    return {
        "hyper": engine_hyper(name, group),
        "torch_call": f"torch.optim.{TORCH_CLASS[name]}([x], "
                      + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")",
        "trajectory": trajectory,
    }


def main() -> None:
    torch.set_default_dtype(torch.float64)  # the step counters too
    cases = []
    for name, label, overrides in CASES:
        assert set(overrides) <= set(OWN[name]), (name, overrides)
        result = run_case(name, overrides)
        cases.append({"optimizer": name, "label": label, "overrides": overrides,
                      "hyper": result["hyper"], "torch_call": result["torch_call"],
                      "function": FUNCTION, "initial": INITIAL, "steps": STEPS,
                      "trajectory": result["trajectory"]})
    golden = {
        "description": "torch.optim trajectories (float64, foreach=False) for the engine's "
                       "optimizer rules; written by scripts/make_optimizer_golden.py",
        "torch_version": torch.__version__,
        "torch_defaults": {name: torch_defaults(name)[0] for name in OWN},
        "cases": cases,
    }
    text = json.dumps(golden, indent=1)  # floats as repr: shortest exact round trip
    # One line per list of numbers, so the file stays small and readable.
    text = re.sub(r"\[\s*([-+0-9.eE,\s]+?)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text + "\n")
    print(f"wrote {OUTPUT} ({len(text) // 1024} kB, {len(cases)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
