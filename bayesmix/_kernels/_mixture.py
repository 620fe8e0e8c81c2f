"""One pass of a Gaussian mixture over the data: log-densities, responsibilities
and weighted sufficient statistics, all in the same read of ``X``.

Layout
------
The data arrive *feature-major*: ``Xt`` has shape ``(n_features, n_samples)``
and is C-contiguous, so every inner loop runs over consecutive rows of one
feature and the compiler vectorises it across rows.  Rows are processed in
blocks of ``BLOCK`` rows (the working set stays in L1/L2) and blocks are grouped
into tasks of ``TASK`` rows.  Each task writes its own slot of the statistics
arrays; the caller reduces the slots in task order, so the result does not
depend on how tasks were spread over threads (bit-for-bit reproducible).

Components are described by three arrays shared by every engine:

``means`` (n_components, n_features)
    The centre of each component's quadratic form.
``prec`` (n_components, n_features, n_features) or (n_components, 1, n_features)
    Either the upper-triangular precision Cholesky factor ``U`` with
    ``Sigma^-1 = U U^T`` ("full" mode), or, when the middle axis has length 1,
    the per-feature square-root precisions ("diagonal" mode).
``log_const`` (n_components,)
    Everything additive: ``log pi_k + log|U_k| - D/2 log(2 pi)`` for EM, the
    expected versions for variational Bayes.

so that ``log p_k(x) = log_const[k] - 0.5 * ||(x - means[k])^T U_k||^2``.
A fourth array, ``dof`` (n_components,), switches a component to a
multivariate Student-t (the posterior predictive of the Bayesian engines):
``log p_k(x) = log_const[k] - (dof_k + D)/2 * log(1 + q / dof_k)``; ``inf``
keeps it Gaussian.

Statistics are accumulated around the current ``means`` (a per-component
shift): ``s1 = sum r (x - mu_k)`` and ``s2 = sum r (x - mu_k)(x - mu_k)^T``.
The M-step then forms ``mu_new = mu_k + s1/N`` and
``Sigma = s2/N - (s1/N)(s1/N)^T``, which has no cancellation problem because
``mu_k`` is already close to the new mean.  Statistics of a chunk of rows are
a function of that chunk alone, and chunks combine by plain summation.

How it is made fast
-------------------
* Features are padded to ``n_pad`` (2, 4 or a multiple of 4) inside the
  kernel: the quadratic form ``||U^T (x - mu)||^2`` and the second moments
  ``sum r d d^T`` are computed in 4 x 4 register tiles (16 multiply-adds per
  row for 8 loads), and with at most 4 features everything for one component
  is a single loop over rows with every intermediate in registers.
* The log-sum-exp needs no separate pass for the row maximum: every
  ``log p_k(x) <= log_const[k] <= M = max_k log_const[k]``, so
  ``exp(log p_k(x) - M)`` is taken as soon as ``log p_k(x)`` is known.  A row
  whose best component lies more than ``-RESCUE`` below ``M`` (an extreme
  outlier) is redone with its own maximum, so nothing underflows that matters.
* ``exp`` and ``log`` are polynomials on a reduced argument with the binary
  exponent set by integer arithmetic: they vectorise (``math.exp`` does not
  without SVML) and are accurate to a few ulp.

Numerical contract: ``exp_nonpositive`` is within 1e-15 relative of
``np.exp`` for arguments in [-708, 0] and returns exactly 0 below -708 (where
``np.exp`` is subnormal, < 3.3e-308); ``log_positive`` is within 1e-15
relative for normal positive numbers.  Log-likelihoods and responsibilities
agree with a textbook log-sum-exp to ~1e-15 relative (tested against scipy).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# No 'nnan' / 'ninf': log-weights of empty components are -inf and must stay so.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
BLOCK = 256
TASK = 2048
TILE = 4
RESCUE = -600.0  # rows whose best log p_k - M is lower are redone with their own maximum

_EXP_MIN = -708.0  # exp(-708) = 3.3e-308, the last normal double
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SQRT2 = 1.4142135623730951

_KERNEL = {"cache": True, "fastmath": FASTMATH, "nogil": True, "error_model": "numpy"}
# exp's argument reduction must not be reassociated (x - n*hi - n*lo is exact-ish
# only in that order); it has no reductions to vectorise, so it does without.
_NO_REASSOC = {
    "cache": True,
    "fastmath": {"nsz", "arcp", "contract"},
    "nogil": True,
    "error_model": "numpy",
}


# Padding classes of the kernels specialised at compile time (see _specialise).
ANY = 0


def _specialise(fn, pad):
    """Compile ``fn``, a kernel closed over its padding class ``pad``, with its own
    name and cache files.

    ``pad`` 2 or 4 (``TILE``): every component is a Gaussian and the features
    pad to that size; ``ANY``: anything (Student-t components, more than 4
    features).  numba reads ``pad`` as a constant and drops the branches of the
    other classes before compiling, so a fit compiles only the code it runs
    (the loops of a class are the same in every kernel that has them: the same
    results).  Compiling every branch into one kernel cost several seconds of
    a first fit.
    """
    fn.__qualname__ = fn.__name__ = f"{fn.__name__}_pad{pad}"
    return njit(**_KERNEL)(fn)


def pad_class(n_features: int, gaussian: bool) -> int:
    """The padding class of a pass over ``n_features`` features: 2 or 4 for
    Gaussian components with at most 4 features, else ``ANY``."""
    if not gaussian or n_features > TILE:
        return ANY
    return 2 if n_features <= 2 else TILE


@intrinsic
def _bits_as_float(typingctx, bits):
    """Reinterpret the 64 bits of an int64 as a float64 (no conversion)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_as_bits(typingctx, x):
    """Reinterpret the 64 bits of a float64 as an int64 (no conversion)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(**_NO_REASSOC)
def _exp(x):
    """``exp(x)`` for ``x <= 0``; 0 below -708.

    ``x = n log 2 + r`` with ``|r| <= log(2)/2``, a degree-10 polynomial
    (least-squares fit with ``p(0) = p'(0) = 1``, 6e-16 relative error) for
    ``exp(r)`` and ``2^n`` written straight into the exponent bits.
    """
    xc = x if x > _EXP_MIN else _EXP_MIN
    n = np.int64(xc * _LOG2E - 0.5)  # truncation towards 0 rounds x/log 2 to nearest
    nf = np.float64(n)
    r = (xc - nf * _LN2_HI) - nf * _LN2_LO
    p = 2.74239435460067e-07
    p = p * r + 2.7635425950917374e-06
    p = p * r + 2.4802098733271542e-05
    p = p * r + 0.0001984118416872035
    p = p * r + 0.001388888833036829
    p = p * r + 0.008333333371697869
    p = p * r + 0.04166666666898078
    p = p * r + 0.16666666666609564
    p = p * r + 0.4999999999999705
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _bits_as_float((n + 1023) << 52)
    return p * scale if x >= _EXP_MIN else 0.0


@njit(**_KERNEL)
def _log(y):
    """``log(y)`` for a normal positive float: ``y = 2^e m`` with
    ``m`` in [sqrt(1/2), sqrt(2)), ``log m = 2 atanh((m - 1)/(m + 1))`` by its
    odd series (11 terms, |s| <= 0.172)."""
    bits = _float_as_bits(y)
    e = (bits >> 52) - 1023
    m = _bits_as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    if m > _SQRT2:
        m = m * 0.5
        e = e + 1
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    p = p * z + 1.0
    return np.float64(e) * _LN2 + 2.0 * s * p


@njit(**_KERNEL)
def exp_nonpositive(a, m):
    """In-place ``a[:m] = exp(a[:m])`` for ``a <= 0``, in a form that vectorises.

    Relative error below 1e-15 against ``np.exp`` on [-708, 0]; arguments below
    -708 give exactly 0 (``np.exp`` would give a subnormal, < 3.3e-308).
    """
    for i in range(m):
        a[i] = _exp(a[i])


@njit(**_KERNEL)
def log_positive(a, m):
    """In-place ``a[:m] = log(a[:m])`` for normal positive ``a`` (vectorised)."""
    for i in range(m):
        a[i] = _log(a[i])


# ----------------------------------------------------------------------------- layout
@njit(cache=True, nogil=True)
def _n_pad(n_features):
    """Padded feature count: 2, 4, or the next multiple of ``TILE``."""
    if n_features <= 2:
        return 2
    return -(-n_features // TILE) * TILE


@njit(cache=True, nogil=True)
def _pad_means(means, n_pad):
    n_components, n_features = means.shape
    mu = np.zeros((n_components, n_pad))
    for k in range(n_components):
        for f in range(n_features):
            mu[k, f] = means[k, f]
    return mu


@njit(cache=True, nogil=True)
def _pad_prec(prec, n_features, n_pad):
    """Zero-padded precision factors: (K, n_pad, n_pad) upper triangular, except
    diagonal mode with more than 4 features, which stays (K, 1, n_pad).  At most 4
    features always use the triangular form (a diagonal is a triangle too)."""
    n_components = prec.shape[0]
    diagonal = prec.shape[1] == 1
    if diagonal and n_pad > TILE:
        up = np.zeros((n_components, 1, n_pad))
        for k in range(n_components):
            for f in range(n_features):
                up[k, 0, f] = prec[k, 0, f]
        return up
    up = np.zeros((n_components, n_pad, n_pad))
    for k in range(n_components):
        for f in range(n_features):
            if diagonal:
                up[k, f, f] = prec[k, 0, f]
            else:
                for g in range(f, n_features):
                    up[k, f, g] = prec[k, f, g]
    return up


@njit(cache=True, nogil=True)
def _copy_block(Xt, b0, m, xb):
    """Rows b0..b0+m of ``Xt`` into the padded block (rows >= n_features stay 0)."""
    for f in range(Xt.shape[0]):
        for i in range(m):
            xb[f, i] = Xt[f, b0 + i]


# ----------------------------------------------------------------------------- E-step
# Floating-point sums live in loops that store nothing.  LLVM versions a loop
# that stores (vector or scalar code, picked at run time from the arrays'
# addresses) and the versions add in different orders: a sum in such a loop
# changed in the last bit from one call to the next (seen in the tests).
@njit(**_KERNEL)
def _sum(a, m):
    """``sum(a[:m])`` in a store-free loop (one code path, one summation order)."""
    t = 0.0
    for i in range(m):
        t += a[i]
    return t


@njit(**_KERNEL)
def _expsum(m, lp, e, tot):
    """``e = exp(lp)`` and ``tot += e`` over one component's row of the block."""
    for i in range(m):
        ev = _exp(lp[i])
        e[i] = ev
        tot[i] += ev


@njit(**_KERNEL)
def _gauss2(xb, m, mu, u, c, lp, mx):
    """One Gaussian component, at most 2 features: ``lp[:m] = c - q / 2`` and the
    row maxima ``mx``, in one loop with every intermediate in registers."""
    m0 = mu[0]
    m1 = mu[1]
    u00 = u[0, 0]
    u01 = u[0, 1]
    u11 = u[1, 1]
    for i in range(m):
        x0 = xb[0, i] - m0
        x1 = xb[1, i] - m1
        y0 = u00 * x0
        y1 = u01 * x0 + u11 * x1
        v = c - 0.5 * (y0 * y0 + y1 * y1)
        lp[i] = v
        if v > mx[i]:
            mx[i] = v


@njit(**_KERNEL)
def _gauss4(xb, m, mu, u, c, lp, mx):
    """As :func:`_gauss2` for 3 or 4 features."""
    m0 = mu[0]
    m1 = mu[1]
    m2 = mu[2]
    m3 = mu[3]
    u00 = u[0, 0]
    u01 = u[0, 1]
    u11 = u[1, 1]
    u02 = u[0, 2]
    u12 = u[1, 2]
    u22 = u[2, 2]
    u03 = u[0, 3]
    u13 = u[1, 3]
    u23 = u[2, 3]
    u33 = u[3, 3]
    for i in range(m):
        x0 = xb[0, i] - m0
        x1 = xb[1, i] - m1
        x2 = xb[2, i] - m2
        x3 = xb[3, i] - m3
        y0 = u00 * x0
        y1 = u01 * x0 + u11 * x1
        y2 = u02 * x0 + u12 * x1 + u22 * x2
        y3 = u03 * x0 + u13 * x1 + u23 * x2 + u33 * x3
        v = c - 0.5 * (y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3)
        lp[i] = v
        if v > mx[i]:
            mx[i] = v


@njit(**_KERNEL)
def _centre(xb, m, mu, diff):
    for f in range(xb.shape[0]):
        c = mu[f]
        for i in range(m):
            diff[f, i] = xb[f, i] - c


@njit(**_KERNEL)
def _quad_generic(diff, m, u, y, out):
    """``out[:m] = ||U^T diff||^2`` one column of U at a time: any padded size
    (used for Student-t components with at most 4 features)."""
    n_pad = diff.shape[0]
    for i in range(m):
        out[i] = 0.0
    for j in range(n_pad):
        uj = u[j, j]
        for i in range(m):
            y[0, i] = uj * diff[j, i]
        for f in range(j):
            uf = u[f, j]
            for i in range(m):
                y[0, i] += uf * diff[f, i]
        for i in range(m):
            out[i] += y[0, i] * y[0, i]


@njit(**_KERNEL)
def _quad_tiles(diff, m, u, y, out):
    """``out[:m] = ||U^T diff||^2``, U upper triangular (n_pad, n_pad), n_pad a
    multiple of 4: 4 x 4 tiles of U against 4 rows of ``diff`` at a time, partial
    sums of 4 columns of ``U^T diff`` kept in ``y`` (4, BLOCK)."""
    n_pad = diff.shape[0]
    for j0 in range(0, n_pad, TILE):
        for f0 in range(0, j0, TILE):
            u00 = u[f0, j0]
            u10 = u[f0 + 1, j0]
            u20 = u[f0 + 2, j0]
            u30 = u[f0 + 3, j0]
            u01 = u[f0, j0 + 1]
            u11 = u[f0 + 1, j0 + 1]
            u21 = u[f0 + 2, j0 + 1]
            u31 = u[f0 + 3, j0 + 1]
            u02 = u[f0, j0 + 2]
            u12 = u[f0 + 1, j0 + 2]
            u22 = u[f0 + 2, j0 + 2]
            u32 = u[f0 + 3, j0 + 2]
            u03 = u[f0, j0 + 3]
            u13 = u[f0 + 1, j0 + 3]
            u23 = u[f0 + 2, j0 + 3]
            u33 = u[f0 + 3, j0 + 3]
            if f0 == 0:
                for i in range(m):
                    x0 = diff[f0, i]
                    x1 = diff[f0 + 1, i]
                    x2 = diff[f0 + 2, i]
                    x3 = diff[f0 + 3, i]
                    y[0, i] = u00 * x0 + u10 * x1 + u20 * x2 + u30 * x3
                    y[1, i] = u01 * x0 + u11 * x1 + u21 * x2 + u31 * x3
                    y[2, i] = u02 * x0 + u12 * x1 + u22 * x2 + u32 * x3
                    y[3, i] = u03 * x0 + u13 * x1 + u23 * x2 + u33 * x3
            else:
                for i in range(m):
                    x0 = diff[f0, i]
                    x1 = diff[f0 + 1, i]
                    x2 = diff[f0 + 2, i]
                    x3 = diff[f0 + 3, i]
                    y[0, i] += u00 * x0 + u10 * x1 + u20 * x2 + u30 * x3
                    y[1, i] += u01 * x0 + u11 * x1 + u21 * x2 + u31 * x3
                    y[2, i] += u02 * x0 + u12 * x1 + u22 * x2 + u32 * x3
                    y[3, i] += u03 * x0 + u13 * x1 + u23 * x2 + u33 * x3
        # the diagonal tile is itself upper triangular; it completes 4 columns
        u00 = u[j0, j0]
        u01 = u[j0, j0 + 1]
        u11 = u[j0 + 1, j0 + 1]
        u02 = u[j0, j0 + 2]
        u12 = u[j0 + 1, j0 + 2]
        u22 = u[j0 + 2, j0 + 2]
        u03 = u[j0, j0 + 3]
        u13 = u[j0 + 1, j0 + 3]
        u23 = u[j0 + 2, j0 + 3]
        u33 = u[j0 + 3, j0 + 3]
        if j0 == 0:
            for i in range(m):
                x0 = diff[0, i]
                x1 = diff[1, i]
                x2 = diff[2, i]
                x3 = diff[3, i]
                y0 = u00 * x0
                y1 = u01 * x0 + u11 * x1
                y2 = u02 * x0 + u12 * x1 + u22 * x2
                y3 = u03 * x0 + u13 * x1 + u23 * x2 + u33 * x3
                out[i] = y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3
        else:
            for i in range(m):
                x0 = diff[j0, i]
                x1 = diff[j0 + 1, i]
                x2 = diff[j0 + 2, i]
                x3 = diff[j0 + 3, i]
                y0 = y[0, i] + u00 * x0
                y1 = y[1, i] + u01 * x0 + u11 * x1
                y2 = y[2, i] + u02 * x0 + u12 * x1 + u22 * x2
                y3 = y[3, i] + u03 * x0 + u13 * x1 + u23 * x2 + u33 * x3
                out[i] += y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3


@njit(**_KERNEL)
def _quad_diag(xb, m, mu, p, out):
    """``out[:m] = sum_f ((x_f - mu_f) p_f)^2``, 4 features per pass."""
    n_pad = xb.shape[0]
    for f0 in range(0, n_pad, TILE):
        m0 = mu[f0]
        m1 = mu[f0 + 1]
        m2 = mu[f0 + 2]
        m3 = mu[f0 + 3]
        p0 = p[f0]
        p1 = p[f0 + 1]
        p2 = p[f0 + 2]
        p3 = p[f0 + 3]
        if f0 == 0:
            for i in range(m):
                t0 = (xb[0, i] - m0) * p0
                t1 = (xb[1, i] - m1) * p1
                t2 = (xb[2, i] - m2) * p2
                t3 = (xb[3, i] - m3) * p3
                out[i] = t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
        else:
            for i in range(m):
                t0 = (xb[f0, i] - m0) * p0
                t1 = (xb[f0 + 1, i] - m1) * p1
                t2 = (xb[f0 + 2, i] - m2) * p2
                t3 = (xb[f0 + 3, i] - m3) * p3
                out[i] += t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3


@njit(**_KERNEL)
def _finish(m, c, nu, h, lp, mx):
    """Turn the quadratic forms in ``lp[:m]`` into ``log p_k - M``; update row maxima."""
    if nu == np.inf:
        for i in range(m):
            v = c - 0.5 * lp[i]
            lp[i] = v
            if v > mx[i]:
                mx[i] = v
    else:
        for i in range(m):
            v = c - h * np.log1p(lp[i] / nu)
            lp[i] = v
            if v > mx[i]:
                mx[i] = v


def _block_e_for(pad):
    """The block E-step for components of padding class ``pad`` (see
    :func:`_specialise`)."""

    def _block_e(xb, m, mu, up, cshift, dof, n_features, diff, y, lp, e, mx, tot, sh):
        """E-step of one block: ``lp[k, i] = log p_k(x_i) - M``, ``e = exp(lp - sh)``,
        the row maxima ``mx``, row sums ``tot`` and shifts ``sh`` (0, or ``mx`` for
        rescued rows), so that ``log sum_k p_k(x_i) = M + sh_i + log tot_i``."""
        n_components = mu.shape[0]
        n_pad = xb.shape[0]
        diagonal = up.shape[1] == 1
        for i in range(m):
            mx[i] = -np.inf
            tot[i] = 0.0
        for k in range(n_components):
            c = cshift[k]
            nu = dof[k]
            gaussian = nu == np.inf
            if pad == 2 or (pad == ANY and gaussian and n_pad == 2):
                _gauss2(xb, m, mu[k], up[k], c, lp[k], mx)
            elif pad == TILE or (pad == ANY and gaussian and n_pad == TILE):
                _gauss4(xb, m, mu[k], up[k], c, lp[k], mx)
            else:
                if diagonal:
                    _quad_diag(xb, m, mu[k], up[k, 0], lp[k])
                else:
                    _centre(xb, m, mu[k], diff)
                    if n_pad > TILE:
                        _quad_tiles(diff, m, up[k], y, lp[k])
                    else:
                        _quad_generic(diff, m, up[k], y, lp[k])
                _finish(m, c, nu, 0.5 * (nu + n_features), lp[k], mx)
            _expsum(m, lp[k], e[k], tot)
        lowest = 0.0
        for i in range(m):
            sh[i] = 0.0
            lowest = min(lowest, mx[i])
        if lowest < RESCUE:
            for i in range(m):
                if mx[i] < RESCUE:
                    s = mx[i]
                    for k in range(n_components):
                        e[k, i] = _exp(lp[k, i] - s)
                    t = 0.0
                    for k in range(n_components):
                        t += e[k, i]
                    tot[i] = t
                    sh[i] = s

    return _specialise(_block_e, pad)


# ----------------------------------------------------------------------------- statistics
@njit(**_KERNEL)
def _stats2(xb, m, e, scale, mu, a1, a2):
    """Statistics of one component with at most 2 features; ``r = e * scale``.
    Returns ``sum r``."""
    m0 = mu[0]
    m1 = mu[1]
    a = 0.0
    b0 = 0.0
    b1 = 0.0
    c00 = 0.0
    c01 = 0.0
    c11 = 0.0
    for i in range(m):
        r = e[i] * scale[i]
        x0 = xb[0, i] - m0
        x1 = xb[1, i] - m1
        r0 = r * x0
        r1 = r * x1
        a += r
        b0 += r0
        b1 += r1
        c00 += r0 * x0
        c01 += r0 * x1
        c11 += r1 * x1
    a1[0] += b0
    a1[1] += b1
    a2[0, 0] += c00
    a2[0, 1] += c01
    a2[1, 1] += c11
    return a


@njit(**_KERNEL)
def _stats4(xb, m, e, scale, mu, a1, a2):
    """Statistics of one component with 3 or 4 features; returns ``sum r``."""
    m0 = mu[0]
    m1 = mu[1]
    m2 = mu[2]
    m3 = mu[3]
    a = 0.0
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    b3 = 0.0
    c00 = 0.0
    c01 = 0.0
    c02 = 0.0
    c03 = 0.0
    c11 = 0.0
    c12 = 0.0
    c13 = 0.0
    c22 = 0.0
    c23 = 0.0
    c33 = 0.0
    for i in range(m):
        r = e[i] * scale[i]
        x0 = xb[0, i] - m0
        x1 = xb[1, i] - m1
        x2 = xb[2, i] - m2
        x3 = xb[3, i] - m3
        r0 = r * x0
        r1 = r * x1
        r2 = r * x2
        r3 = r * x3
        a += r
        b0 += r0
        b1 += r1
        b2 += r2
        b3 += r3
        c00 += r0 * x0
        c01 += r0 * x1
        c02 += r0 * x2
        c03 += r0 * x3
        c11 += r1 * x1
        c12 += r1 * x2
        c13 += r1 * x3
        c22 += r2 * x2
        c23 += r2 * x3
        c33 += r3 * x3
    a1[0] += b0
    a1[1] += b1
    a1[2] += b2
    a1[3] += b3
    a2[0, 0] += c00
    a2[0, 1] += c01
    a2[0, 2] += c02
    a2[0, 3] += c03
    a2[1, 1] += c11
    a2[1, 2] += c12
    a2[1, 3] += c13
    a2[2, 2] += c22
    a2[2, 3] += c23
    a2[3, 3] += c33
    return a


@njit(**_KERNEL)
def _stats_diag(xb, m, r, mu, a1, a2):
    """Diagonal-mode statistics, 4 features per pass (``a2`` is (1, n_pad))."""
    n_pad = xb.shape[0]
    for f0 in range(0, n_pad, TILE):
        m0 = mu[f0]
        m1 = mu[f0 + 1]
        m2 = mu[f0 + 2]
        m3 = mu[f0 + 3]
        b0 = 0.0
        b1 = 0.0
        b2 = 0.0
        b3 = 0.0
        c0 = 0.0
        c1 = 0.0
        c2 = 0.0
        c3 = 0.0
        for i in range(m):
            ri = r[i]
            x0 = xb[f0, i] - m0
            x1 = xb[f0 + 1, i] - m1
            x2 = xb[f0 + 2, i] - m2
            x3 = xb[f0 + 3, i] - m3
            r0 = ri * x0
            r1 = ri * x1
            r2 = ri * x2
            r3 = ri * x3
            b0 += r0
            b1 += r1
            b2 += r2
            b3 += r3
            c0 += r0 * x0
            c1 += r1 * x1
            c2 += r2 * x2
            c3 += r3 * x3
        a1[f0] += b0
        a1[f0 + 1] += b1
        a1[f0 + 2] += b2
        a1[f0 + 3] += b3
        a2[0, f0] += c0
        a2[0, f0 + 1] += c1
        a2[0, f0 + 2] += c2
        a2[0, f0 + 3] += c3


@njit(**_KERNEL)
def _stats_full(xb, m, r, mu, diff, rdiff, a1, a2):
    """Full-mode statistics: centred rows ``d`` and ``r d``, then the upper
    triangle of ``sum r d d^T`` in 4 x 4 tiles (16 running sums per pass)."""
    n_pad = xb.shape[0]
    for f in range(n_pad):
        c = mu[f]
        for i in range(m):
            dv = xb[f, i] - c
            diff[f, i] = dv
            rdiff[f, i] = r[i] * dv
        a1[f] += _sum(rdiff[f], m)
    for f0 in range(0, n_pad, TILE):
        c00 = 0.0
        c01 = 0.0
        c02 = 0.0
        c03 = 0.0
        c11 = 0.0
        c12 = 0.0
        c13 = 0.0
        c22 = 0.0
        c23 = 0.0
        c33 = 0.0
        for i in range(m):
            a0 = rdiff[f0, i]
            a1_ = rdiff[f0 + 1, i]
            a2_ = rdiff[f0 + 2, i]
            a3 = rdiff[f0 + 3, i]
            x0 = diff[f0, i]
            x1 = diff[f0 + 1, i]
            x2 = diff[f0 + 2, i]
            x3 = diff[f0 + 3, i]
            c00 += a0 * x0
            c01 += a0 * x1
            c02 += a0 * x2
            c03 += a0 * x3
            c11 += a1_ * x1
            c12 += a1_ * x2
            c13 += a1_ * x3
            c22 += a2_ * x2
            c23 += a2_ * x3
            c33 += a3 * x3
        a2[f0, f0] += c00
        a2[f0, f0 + 1] += c01
        a2[f0, f0 + 2] += c02
        a2[f0, f0 + 3] += c03
        a2[f0 + 1, f0 + 1] += c11
        a2[f0 + 1, f0 + 2] += c12
        a2[f0 + 1, f0 + 3] += c13
        a2[f0 + 2, f0 + 2] += c22
        a2[f0 + 2, f0 + 3] += c23
        a2[f0 + 3, f0 + 3] += c33
        for g0 in range(f0 + TILE, n_pad, TILE):
            c00 = 0.0
            c01 = 0.0
            c02 = 0.0
            c03 = 0.0
            c10 = 0.0
            c11 = 0.0
            c12 = 0.0
            c13 = 0.0
            c20 = 0.0
            c21 = 0.0
            c22 = 0.0
            c23 = 0.0
            c30 = 0.0
            c31 = 0.0
            c32 = 0.0
            c33 = 0.0
            for i in range(m):
                a0 = rdiff[f0, i]
                a1_ = rdiff[f0 + 1, i]
                a2_ = rdiff[f0 + 2, i]
                a3 = rdiff[f0 + 3, i]
                x0 = diff[g0, i]
                x1 = diff[g0 + 1, i]
                x2 = diff[g0 + 2, i]
                x3 = diff[g0 + 3, i]
                c00 += a0 * x0
                c01 += a0 * x1
                c02 += a0 * x2
                c03 += a0 * x3
                c10 += a1_ * x0
                c11 += a1_ * x1
                c12 += a1_ * x2
                c13 += a1_ * x3
                c20 += a2_ * x0
                c21 += a2_ * x1
                c22 += a2_ * x2
                c23 += a2_ * x3
                c30 += a3 * x0
                c31 += a3 * x1
                c32 += a3 * x2
                c33 += a3 * x3
            a2[f0, g0] += c00
            a2[f0, g0 + 1] += c01
            a2[f0, g0 + 2] += c02
            a2[f0, g0 + 3] += c03
            a2[f0 + 1, g0] += c10
            a2[f0 + 1, g0 + 1] += c11
            a2[f0 + 1, g0 + 2] += c12
            a2[f0 + 1, g0 + 3] += c13
            a2[f0 + 2, g0] += c20
            a2[f0 + 2, g0 + 1] += c21
            a2[f0 + 2, g0 + 2] += c22
            a2[f0 + 2, g0 + 3] += c23
            a2[f0 + 3, g0] += c30
            a2[f0 + 3, g0 + 1] += c31
            a2[f0 + 3, g0 + 2] += c32
            a2[f0 + 3, g0 + 3] += c33


def _block_stats_for(pad):
    """The block statistics for padding class ``pad`` (see :func:`_specialise`)."""

    def _block_stats(xb, m, e, scale, mu, r, diff, rdiff, a0, a1, a2):
        """Add the statistics of one block, responsibilities times weights
        ``e[k, :m] * scale[:m]``, to the padded task sums a0 (K,), a1 (K, n_pad),
        a2 (K, n_pad, n_pad) or (K, 1, n_pad)."""
        n_components = mu.shape[0]
        n_pad = xb.shape[0]
        for k in range(n_components):
            if pad == 2 or (pad == ANY and n_pad == 2):
                a0[k] += _stats2(xb, m, e[k], scale, mu[k], a1[k], a2[k])
                continue
            if pad == TILE or (pad == ANY and n_pad == TILE):
                a0[k] += _stats4(xb, m, e[k], scale, mu[k], a1[k], a2[k])
                continue
            ek = e[k]
            for i in range(m):
                r[i] = ek[i] * scale[i]
            tot = _sum(r, m)
            if tot == 0.0:  # nothing of this component in the block
                continue
            a0[k] += tot
            if a2.shape[1] == 1:
                _stats_diag(xb, m, r, mu[k], a1[k], a2[k])
            else:
                _stats_full(xb, m, r, mu[k], diff, rdiff, a1[k], a2[k])

    return _specialise(_block_stats, pad)


_block_e0, _block_e2, _block_e4 = (_block_e_for(pad) for pad in (ANY, 2, TILE))
_block_stats0, _block_stats2, _block_stats4 = (_block_stats_for(pad) for pad in (ANY, 2, TILE))


@njit(cache=True, nogil=True)
def _store_task(t, a0, a1, a2, s0, s1, s2):
    """Copy a task's padded sums into slot ``t`` (upper triangle, zeros below, in
    full mode; the diagonal in diagonal mode)."""
    n_components = a0.shape[0]
    n_features = s1.shape[2]
    packed = a2.shape[1] == 1
    for k in range(n_components):
        s0[t, k] = a0[k]
        for f in range(n_features):
            s1[t, k, f] = a1[k, f]
        if s2.shape[2] == 1:
            for f in range(n_features):
                s2[t, k, 0, f] = a2[k, 0, f] if packed else a2[k, f, f]
        else:
            for f in range(n_features):
                for g in range(n_features):
                    s2[t, k, f, g] = a2[k, f, g] if g >= f else 0.0


@njit(cache=True, nogil=True)
def _accumulators(n_components, n_pad, packed):
    a0 = np.zeros(n_components)
    a1 = np.zeros((n_components, n_pad))
    a2 = np.zeros((n_components, 1 if packed else n_pad, n_pad))
    return a0, a1, a2


# ----------------------------------------------------------------------------- passes
def _mixture_pass_for(pad):
    """:func:`mixture_pass` for padding class ``pad`` (see :func:`_specialise`)."""

    def mixture_pass(
        Xt, w, means, prec, log_const, dof, row_lse, resp, s0, s1, s2, task_ll, task_lo, task_hi
    ):
        """E-step (and optionally the statistics of the M-step) over tasks [task_lo, task_hi).

        Parameters
        ----------
        Xt : (n_features, n_samples) float64, C-contiguous
        w : (n_samples,) float64 frequency weights
        means, prec, log_const : component description (module docstring)
        dof : (n_components,) Student-t degrees of freedom; ``inf`` for a Gaussian
        row_lse : (n_samples,) or (0,) output: ``log sum_k exp(log p_k(x_i))``
        resp : (n_samples, n_components) or (0, n_components) output: responsibilities
        s0 : (n_tasks, n_components) or (0, n_components) output: ``sum w r``
        s1 : (n_tasks, n_components, n_features) output: ``sum w r (x - mu)``
        s2 : (n_tasks, n_components, P, n_features) output, ``P`` = 1 (diagonal
            second moments) or n_features (upper triangle of the full ones, zeros below)
        task_ll : (n_tasks, 2) output: ``sum w lse`` and ``sum w log max_k r``
        task_lo, task_hi : int, the range of tasks (``TASK`` rows each) to do

        The statistics are skipped when ``s0`` has no rows.
        """
        n_features, n_samples = Xt.shape
        n_components = means.shape[0]
        want_stats = s0.shape[0] > 0
        want_lse = row_lse.shape[0] > 0
        want_resp = resp.shape[0] > 0
        n_pad = _n_pad(n_features)
        mu = _pad_means(means, n_pad)
        up = _pad_prec(prec, n_features, n_pad)
        big_m = -np.inf
        for k in range(n_components):
            big_m = max(big_m, log_const[k])
        cshift = np.empty(n_components)
        for k in range(n_components):
            cshift[k] = log_const[k] - big_m
        xb = np.zeros((n_pad, BLOCK))
        diff = np.zeros((n_pad, BLOCK))
        rdiff = np.zeros((n_pad, BLOCK))
        y = np.empty((TILE, BLOCK))
        lp = np.empty((n_components, BLOCK))
        e = np.empty((n_components, BLOCK))
        mx = np.empty(BLOCK)
        tot = np.empty(BLOCK)
        sh = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        wll = np.empty(BLOCK)
        wicl = np.empty(BLOCK)
        inv = np.empty(BLOCK)
        winv = np.empty(BLOCK)
        r = np.empty(BLOCK)
        # the statistics asked for (the shape of s2), not the density mode, set the layout
        a0, a1, a2 = _accumulators(n_components, n_pad, s2.shape[2] == 1 and n_pad > TILE)
        for t in range(task_lo, task_hi):
            ll = 0.0
            icl = 0.0
            a0[:] = 0.0
            a1[:] = 0.0
            a2[:] = 0.0
            r_end = min(n_samples, (t + 1) * TASK)
            for b0 in range(t * TASK, r_end, BLOCK):
                m = min(BLOCK, r_end - b0)
                _copy_block(Xt, b0, m, xb)
                if pad == 2:
                    _block_e2(xb, m, mu, up, cshift, dof, n_features, diff, y, lp, e, mx, tot, sh)
                elif pad == TILE:
                    _block_e4(xb, m, mu, up, cshift, dof, n_features, diff, y, lp, e, mx, tot, sh)
                else:
                    _block_e0(xb, m, mu, up, cshift, dof, n_features, diff, y, lp, e, mx, tot, sh)
                for i in range(m):
                    lt = _log(tot[i])
                    v = big_m + sh[i] + lt
                    lse[i] = v
                    wi = w[b0 + i]
                    # a row without weight adds nothing, even if its terms are not finite
                    wll[i] = wi * v if wi != 0.0 else 0.0
                    wicl[i] = wi * (mx[i] - sh[i] - lt) if wi != 0.0 else 0.0
                    iv = 1.0 / tot[i]
                    inv[i] = iv
                    winv[i] = wi * iv
                ll += _sum(wll, m)
                icl += _sum(wicl, m)
                if want_lse:
                    for i in range(m):
                        row_lse[b0 + i] = lse[i]
                if want_resp:
                    for i in range(m):
                        for k in range(n_components):
                            resp[b0 + i, k] = e[k, i] * inv[i]
                if want_stats:
                    if pad == 2:
                        _block_stats2(xb, m, e, winv, mu, r, diff, rdiff, a0, a1, a2)
                    elif pad == TILE:
                        _block_stats4(xb, m, e, winv, mu, r, diff, rdiff, a0, a1, a2)
                    else:
                        _block_stats0(xb, m, e, winv, mu, r, diff, rdiff, a0, a1, a2)
            if want_stats:
                _store_task(t, a0, a1, a2, s0, s1, s2)
            task_ll[t, 0] = ll
            task_ll[t, 1] = icl

    return _specialise(mixture_pass, pad)


def _resp_stats_for(pad):
    """:func:`resp_stats` for padding class ``pad`` (see :func:`_specialise`)."""

    def resp_stats(Xt, w, resp, shift, s0, s1, s2, task_lo, task_hi):
        """Weighted statistics for given responsibilities ``resp`` (n_samples, n_components),
        accumulated around ``shift`` (n_components, n_features); same outputs as
        :func:`mixture_pass`.  Used to start EM from an initial partition and by
        the engines that hold responsibilities themselves."""
        n_features, n_samples = Xt.shape
        n_components = resp.shape[1]
        n_pad = _n_pad(n_features)
        mu = _pad_means(shift, n_pad)
        packed = s2.shape[2] == 1 and n_pad > TILE
        xb = np.zeros((n_pad, BLOCK))
        diff = np.zeros((n_pad, BLOCK))
        rdiff = np.zeros((n_pad, BLOCK))
        e = np.empty((n_components, BLOCK))
        r = np.empty(BLOCK)
        a0, a1, a2 = _accumulators(n_components, n_pad, packed)
        for t in range(task_lo, task_hi):
            a0[:] = 0.0
            a1[:] = 0.0
            a2[:] = 0.0
            r_end = min(n_samples, (t + 1) * TASK)
            for b0 in range(t * TASK, r_end, BLOCK):
                m = min(BLOCK, r_end - b0)
                _copy_block(Xt, b0, m, xb)
                for i in range(m):
                    for k in range(n_components):
                        e[k, i] = resp[b0 + i, k]
                wb = w[b0 : b0 + m]
                if pad == 2:
                    _block_stats2(xb, m, e, wb, mu, r, diff, rdiff, a0, a1, a2)
                elif pad == TILE:
                    _block_stats4(xb, m, e, wb, mu, r, diff, rdiff, a0, a1, a2)
                else:
                    _block_stats0(xb, m, e, wb, mu, r, diff, rdiff, a0, a1, a2)
            _store_task(t, a0, a1, a2, s0, s1, s2)

    return _specialise(resp_stats, pad)


#: The passes by padding class: ``PASSES[pad]`` is ``(mixture_pass, resp_stats)``.
PASSES = {pad: (_mixture_pass_for(pad), _resp_stats_for(pad)) for pad in (ANY, 2, TILE)}
mixture_pass, resp_stats = PASSES[ANY]


# ----------------------------------------------------------------------------- M-step helper
@njit(cache=True, nogil=True, error_model="numpy")
def precision_cholesky(chol, out):
    """``out[k] = inv(chol[k])^T`` for a (K, D, D) stack of lower Cholesky factors of
    covariances: the upper-triangular precision factors ``U`` with
    ``Sigma^-1 = U U^T`` that :func:`mixture_pass` reads (scikit-learn's
    ``precisions_cholesky_``).  Forward substitution, ``O(D^3 / 6)`` per
    component, no BLAS: a BLAS call per component costs more than the
    arithmetic at small D, and BLAS threads fight the kernels' own."""
    n_components, n = chol.shape[0], chol.shape[1]
    for k in range(n_components):
        L = chol[k]
        U = out[k]
        for j in range(n):
            for i in range(j):
                U[j, i] = 0.0
            U[j, j] = 1.0 / L[j, j]
            for i in range(j + 1, n):
                s = 0.0
                for p in range(j, i):
                    s += L[i, p] * U[j, p]
                U[j, i] = -s / L[i, i]
