"""The loss landscape around the training path, in two dimensions.

The flat parameter vector moves through a space of hundreds of dimensions. To draw its
path, the trajectory is projected onto the plane of its two principal directions (PCA of
the trajectory, as Li et al. 2018 recommend for optimizer paths), and the training loss
is evaluated on a grid over that plane for the contours.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import losses, make_backend

from playground.core.session import Session

RESOLUTION = 21  # loss evaluations per side of the contour grid
MARGIN = 0.25  # the grid reaches this fraction of the path's span beyond it


@dataclass
class Landscape:
    """The path and the loss over its plane.

    ``path`` ``(T, 2)``: each recorded parameter vector in plane coordinates (origin at
    the newest point); ``xs``, ``ys`` ``(RESOLUTION,)`` grid coordinates; ``loss``
    ``(RESOLUTION, RESOLUTION)``, row i at ``ys[i]``; ``explained``: the share of the
    path's variance that the plane shows (0..1).
    """

    path: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    explained: float
    center: np.ndarray  # (P,) the plane's origin
    directions: np.ndarray  # (2, P) orthonormal


def principal_plane(trajectory: np.ndarray):
    """Centre (the newest point) and two orthonormal directions ``(2, P)`` of a
    trajectory ``(T, P)``; with fewer than 3 distinct points, any plane through them."""
    center = trajectory[-1]
    offsets = trajectory - center
    if len(trajectory) >= 3 and np.any(offsets):
        _, singular, vt = np.linalg.svd(offsets - offsets.mean(axis=0), full_matrices=False)
        directions = vt[:2]
        explained = float(np.sum(singular[:2] ** 2) / max(np.sum(singular ** 2), 1e-300))
        if len(directions) == 2:
            return center, directions, explained
    rng = np.random.default_rng(0)
    directions = np.linalg.qr(rng.normal(size=(trajectory.shape[1], 2)))[0].T
    return center, directions, 0.0


def landscape(session: Session, trajectory: np.ndarray, resolution: int = RESOLUTION) -> Landscape:
    """Project ``trajectory`` ``(T, P)`` and evaluate the training loss around it."""
    center, directions, explained = principal_plane(trajectory)
    path = (trajectory - center) @ directions.T
    low, high = path.min(axis=0), path.max(axis=0)
    span = np.maximum(high - low, 1e-3 * max(1.0, float(np.linalg.norm(center))))
    low, high = low - MARGIN * span, high + MARGIN * span
    xs, ys = np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    probe = make_backend("cpu", session.spec, center)  # a private copy: training goes on
    X, T = session.X_train.astype(np.float64), session.T_train.astype(np.float64)
    grid = np.empty((resolution, resolution))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            probe.params[:] = center + x * directions[0] + y * directions[1]
            grid[i, j] = losses.loss_value(probe.logits(X).astype(np.float64), T, session.loss)
    return Landscape(path, xs, ys, grid, explained, center, directions)
