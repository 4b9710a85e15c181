"""The numeric engine: one :class:`Backend` interface, several implementations.

``reference`` is plain NumPy (the specification), ``cpu`` is fused Numba; ``auto``
picks the fastest one available here.
"""
from __future__ import annotations

from .backend import Backend
from .spec import ACTIVATIONS, INITIALIZATIONS, LOSSES, NetworkSpec, initial_parameters
from .optimizers import OPTIMIZERS, OptimizerSettings

BACKENDS = ("auto", "reference", "cpu")


class BackendUnavailable(RuntimeError):
    """The asked-for backend cannot run here; the message says what to use instead."""


def resolve_backend(name: str) -> str:
    """The concrete backend that ``name`` means here (``auto`` -> ``cpu``)."""
    if name == "auto":
        return "cpu"
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def available_backends() -> list[str]:
    """Backends that can run on this machine, ``auto`` first."""
    return list(BACKENDS)


def make_backend(name: str, spec: NetworkSpec, params, dtype="float64") -> Backend:
    """A backend of kind ``name`` holding ``params`` (flat, float64) as ``dtype``."""
    name = resolve_backend(name)
    if name == "reference":
        from .reference import ReferenceBackend
        return ReferenceBackend(spec, params, dtype)
    from .cpu import CpuBackend
    return CpuBackend(spec, params, dtype)


__all__ = ["ACTIVATIONS", "BACKENDS", "Backend", "BackendUnavailable", "INITIALIZATIONS",
           "LOSSES", "NetworkSpec", "OPTIMIZERS", "OptimizerSettings", "available_backends", "initial_parameters",
           "make_backend", "resolve_backend"]
