"""Analytic loss surfaces f(x, y) for watching optimizers race downhill.

Each surface gives its value and gradient in closed form, and the plotting range
``(x_min, x_max, y_min, y_max)`` on which start points are accepted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Surface:
    name: str
    value: Callable[[float, float], float]
    gradient: Callable[[float, float], tuple[float, float]]
    extent: tuple[float, float, float, float]
    minimum: tuple[float, float]  # one global minimum, for reference
    default_start: tuple[float, float]
    about: str

    def contains(self, x: float, y: float) -> bool:
        x0, x1, y0, y1 = self.extent
        return x0 <= x <= x1 and y0 <= y <= y1


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _rosenbrock_grad(x, y):
    return -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)


def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3


def _beale(x, y):
    a, b, c = _beale_terms(x, y)
    return a * a + b * b + c * c


def _beale_grad(x, y):
    a, b, c = _beale_terms(x, y)
    dx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
    return dx, dy


def _himmelblau(x, y):
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _himmelblau_grad(x, y):
    a, b = x * x + y - 11, x + y * y - 7
    return 4 * x * a + 2 * b, 2 * a + 4 * y * b


def _plateau(x, y):
    return 1 - math.exp(-(x * x + y * y) / 2)


def _plateau_grad(x, y):
    e = math.exp(-(x * x + y * y) / 2)
    return x * e, y * e


SURFACES = {s.name: s for s in (
    Surface("rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0, -1.0, 3.0), (1.0, 1.0), (-1.5, 2.0),
            "a curved valley: easy to find, slow to follow to the minimum at (1, 1)"),
    Surface("beale", _beale, _beale_grad, (-4.5, 4.5, -4.5, 4.5), (3.0, 0.5), (1.0, 1.5),
            "flat plains and steep walls; the minimum is at (3, 0.5)"),
    Surface("himmelblau", _himmelblau, _himmelblau_grad, (-5.0, 5.0, -5.0, 5.0), (3.0, 2.0), (0.0, 0.0),
            "four equal minima: where you start decides where you end"),
    Surface("saddle", lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y), (-2.0, 2.0, -2.0, 2.0),
            (0.0, 0.0), (-1.5, 0.01), "x^2 - y^2: a saddle point at the origin, no minimum"),
    Surface("ravine", lambda x, y: x * x / 20 + y * y, lambda x, y: (x / 10, 2 * y), (-10.0, 10.0, -3.0, 3.0),
            (0.0, 0.0), (-9.0, 2.0), "x^2/20 + y^2: a narrow canyon where plain SGD zig-zags"),
    Surface("plateau", _plateau, _plateau_grad, (-5.0, 5.0, -5.0, 5.0), (0.0, 0.0), (4.0, 3.0),
            "1 - exp(-(x^2+y^2)/2): almost flat far out, then a drop to the minimum at (0, 0)"),
)}
