"""The rules of kernels/rules.py compiled for the CPU with Numba, once for every user.

- :data:`RULES`: every rule on libm's ``math.exp``, for element-by-element code;
- :data:`FAST_RULES`: the same rules on :func:`exp`, a polynomial exp without branches or
  calls that LLVM vectorises: the activation loops of cpu.py run tanh and sigmoid of 160
  values at ~2 ns each instead of ~6 (libm's tanh costs ~30 ns here, exp ~5 ns, so tanh is
  written with one exp). Element-by-element code keeps libm's, a call: inlining the
  polynomial there too made the first compile ~15% slower.

Each is compiled ``inline="always"`` into its callers (cpu.py's kernels, optimizers'
``apply_update``), which Numba caches; the rules themselves are never compiled alone, and
:func:`drop_stale_caches` keeps those caches from outliving a change of the rules.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import rules

# error_model="numpy": a float division by zero gives inf/nan as in NumPy, instead of a
# ZeroDivisionError check before every division, which stops loops from vectorising.
INLINE = dict(inline="always", nogil=True, error_model="numpy")


# --- bit casts (numba has no spelling for these) -----------------------------------------
@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_of(typingctx, x):
    """The IEEE-754 bit pattern of the float64 ``x``, as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


# --- a vectorisable exp ------------------------------------------------------------------
# libm's exp is a call, so a loop over it runs one element at a time (~5 ns each here);
# this one lets LLVM run 4 at a time with AVX2: tanh of 160 values ~2 ns each instead of ~6.
_LOG2_E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND rounds x to an integer in the low bits
_EXP_MAX = 708.0  # beyond +-708, 2**k below would leave the normal floats
# 1/k! for k = 2..13: the Taylor polynomial of e**r to degree 13 errs < 1e-17 for |r| <= ln2/2
_F2, _F3, _F4, _F5, _F6, _F7, _F8, _F9, _F10, _F11, _F12, _F13 = (
    1.0 / math.factorial(k) for k in range(2, 14))


@njit(**INLINE)
def exp(x):
    """e**x within 1 ulp for |x| <= 708; inf above 708, 0 below -708, NaN for NaN.

    (libm's exp is finite up to 709.78 and subnormal down to -745; tanh and sigmoid,
    the users here, are saturated long before either end.) x = k ln2 + r with integer k
    and |r| <= ln2/2, e**x = 2**k e**r; 2**k is built from its bits. No branches, no
    calls: a loop over it vectorises.
    """
    y = _EXP_MAX if x > _EXP_MAX else x  # clamped; comparisons keep NaN
    y = -_EXP_MAX if y < -_EXP_MAX else y
    shifted = y * _LOG2_E + _ROUND
    k = shifted - _ROUND
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = _F13
    p = p * r + _F12
    p = p * r + _F11
    p = p * r + _F10
    p = p * r + _F9
    p = p * r + _F8
    p = p * r + _F7
    p = p * r + _F6
    p = p * r + _F5
    p = p * r + _F4
    p = p * r + _F3
    p = p * r + _F2
    p = p * r + 1.0
    p = p * r + 1.0
    # the low bits of `shifted` hold k; the exponent field of 2**k is k + 1023
    y = p * _float_from_bits((_bits_of(shifted) + 1023) << 52)
    y = math.inf if x > _EXP_MAX else y
    return 0.0 if x < -_EXP_MAX else y


@njit(**INLINE)
def tanh(z):
    """tanh through libm's exp: libm's own tanh costs ~30 ns here, its exp ~5 ns."""
    return 1.0 - 2.0 / (math.exp(2.0 * z) + 1.0)


@njit(**INLINE)
def fast_tanh(z):
    """tanh through the vectorising :func:`exp`."""
    return 1.0 - 2.0 / (exp(2.0 * z) + 1.0)


def drop_stale_caches(folder: Path = Path(__file__).parent) -> bool:
    """Numba checks a cached function against its own file only, and cpu.py's kernels (and
    cuda.py's) carry the rules inlined: after rules.py, this file or optimizers.py changed,
    their cached code would be the old rules'. A fingerprint of those files, kept beside
    Numba's cache in ``__pycache__``, drops every cached kernel of this package then (they
    compile again, once). True if it dropped them."""
    sources = ("rules.py", "cpu_rules.py", "optimizers.py")
    fingerprint = hashlib.sha256(b"".join((folder / name).read_bytes() for name in sources)).hexdigest()
    cache = folder / "__pycache__"
    stamp = cache / "rules.fingerprint"
    try:
        if stamp.read_text() == fingerprint:
            return False
    except OSError:
        pass  # no stamp yet
    for cached in cache.glob("*.nb[ic]"):
        cached.unlink(missing_ok=True)
    try:
        cache.mkdir(exist_ok=True)
        stamp.write_text(fingerprint)
    except OSError:
        pass  # a read-only install: Numba caches elsewhere, and the install's files change together
    return True


drop_stale_caches()
RULES = rules.compile_scalar_rules(njit(**INLINE), math.exp, tanh)
FAST_RULES = rules.compile_scalar_rules(njit(**INLINE), exp, fast_tanh)
