"""Regenerate tests/golden/descent.json: optimizer paths on the analytic surfaces, by
torch.optim in float64 (foreach=False). Run after `pip install torch`:

    python scripts/make_descent_golden.py

The tests replay these races with the engine's own update rules (`nn-playground
descend`) and compare every point, so torch is never a test dependency.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "descent.json"
STEPS = 150


def value(name, p):
    x, y = p[0], p[1]
    if name == "rosenbrock":
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2
    if name == "beale":
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2
    if name == "himmelblau":
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2
    if name == "saddle":
        return x * x - y * y
    if name == "ravine":
        return x * x / 20 + y * y
    if name == "plateau":
        return 1 - torch.exp(-(x * x + y * y) / 2)
    raise ValueError(name)


def make(name, hyper):
    lr = hyper["learning_rate"]
    common = dict(lr=lr, foreach=False)
    wd = hyper.get("weight_decay", 0.0)
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, weight_decay=wd, **common)
    if name in ("momentum", "nesterov"):
        return lambda p: torch.optim.SGD(p, momentum=hyper["momentum"], nesterov=name == "nesterov",
                                         weight_decay=wd, **common)
    if name == "rmsprop":
        return lambda p: torch.optim.RMSprop(p, alpha=hyper["alpha"], eps=hyper["eps"],
                                             momentum=hyper["momentum"], weight_decay=wd, **common)
    if name == "adagrad":
        return lambda p: torch.optim.Adagrad(p, eps=hyper["eps"], weight_decay=wd, **common)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return lambda p: cls(p, betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"], weight_decay=wd, **common)


CASES = [
    # surface, start, optimizer, hyper-parameters (engine names)
    ("rosenbrock", (-1.5, 2.0), "adam", dict(learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("rosenbrock", (-1.5, 2.0), "sgd", dict(learning_rate=0.0005)),
    ("rosenbrock", (-1.0, 1.5), "momentum", dict(learning_rate=0.0002, momentum=0.9)),
    ("beale", (1.0, 1.5), "adagrad", dict(learning_rate=0.1, eps=1e-10)),
    ("beale", (1.0, 1.5), "rmsprop", dict(learning_rate=0.01, alpha=0.99, eps=1e-8, momentum=0.0)),
    ("himmelblau", (0.0, 0.0), "nesterov", dict(learning_rate=0.005, momentum=0.8)),
    ("himmelblau", (-1.0, 1.0), "adamw", dict(learning_rate=0.05, beta1=0.9, beta2=0.999, eps=1e-8,
                                              weight_decay=0.01)),
    ("saddle", (-1.5, 0.01), "sgd", dict(learning_rate=0.05)),
    ("ravine", (-9.0, 2.0), "momentum", dict(learning_rate=0.1, momentum=0.9)),
    ("ravine", (-9.0, 2.0), "rmsprop", dict(learning_rate=0.01, alpha=0.9, eps=1e-8, momentum=0.5)),
    ("plateau", (4.0, 3.0), "adam", dict(learning_rate=0.1, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("plateau", (4.0, 3.0), "sgd", dict(learning_rate=0.5, weight_decay=0.001)),
]


def main():
    torch.set_default_dtype(torch.float64)
    cases = []
    for surface, start, optimizer, hyper in CASES:
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = make(optimizer, hyper)([p])
        path, loss = [p.detach().tolist()], [float(value(surface, p.detach()))]
        for _ in range(STEPS):
            opt.zero_grad()
            value(surface, p).backward()
            opt.step()
            path.append(p.detach().tolist())
            loss.append(float(value(surface, p.detach())))
        cases.append(dict(surface=surface, start=list(start), optimizer=optimizer, hyper=hyper,
                          steps=STEPS, path=path, loss=loss))
    OUT.write_text(json.dumps(dict(torch_version=torch.__version__, cases=cases), indent=1))
    print(f"wrote {len(cases)} races to {OUT}")


if __name__ == "__main__":
    main()
