"""One pass of a Gaussian mixture over the data: log-densities, responsibilities
and weighted sufficient statistics, all in the same read of ``X``.

Layout
------
The data arrive *feature-major*: ``Xt`` has shape ``(n_features, n_samples)``
and is C-contiguous, so every inner loop runs over consecutive rows of one
feature and the compiler vectorises it across rows.  Rows are processed in
blocks of ``BLOCK`` rows (the working set stays in L1) and blocks are grouped
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
"""

from __future__ import annotations

import numpy as np
from numba import njit

# No 'nnan' / 'ninf': log-weights of empty components are -inf and must stay so.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
BLOCK = 128
TASK = 2048

_EXP_CENTRE = -0.18215 # centre of the reduced range [-746/2048, 0]
_EXP_SCALE = np.exp(_EXP_CENTRE)
_INV_FACT = np.array([1.0 / np.prod(np.arange(1, j + 1, dtype=np.float64)) for j in range(12)])


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def exp_nonpositive(a, m):
    """In-place ``a[:m] = exp(a[:m])`` for ``a <= 0``, in a form that vectorises.

    ``exp(x) = (exp(x / 2048)) ** 2048``: the reduced argument lies in
    [-0.3643, 0], where a degree-11 Taylor series about its centre is exact to
    a few ulp, and eleven squarings undo the reduction.  The relative error is
    below 1e-12 (tested against ``np.exp``); arguments below -746 give 0, as
    ``np.exp`` does.  Scalar ``math.exp`` does not vectorise without SVML and
    costs several times more in the hot loop of every engine.
    """
    c = _INV_FACT
    scale = _EXP_SCALE
    for i in range(m):
        x = a[i]
        if x < -746.0:
            x = -746.0
        u = x * (1.0 / 2048.0) - _EXP_CENTRE
        p = c[11]
        p = p * u + c[10]
        p = p * u + c[9]
        p = p * u + c[8]
        p = p * u + c[7]
        p = p * u + c[6]
        p = p * u + c[5]
        p = p * u + c[4]
        p = p * u + c[3]
        p = p * u + c[2]
        p = p * u + c[1]
        p = p * u + c[0]
        p = p * scale
        for _ in range(11):
            p = p * p
        a[i] = p


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _block_log_prob(Xt, b0, m, means, prec, log_const, dof, diff, acc, y, logp):
    """Fill ``logp[k, :m]`` for rows b0..b0+m: ``log_const[k] - 0.5 * q`` (Gaussian,
    ``dof[k]`` infinite) or ``log_const[k] - (dof[k] + D)/2 * log1p(q / dof[k])``
    (Student-t), with ``q`` the squared Mahalanobis distance."""
    n_features = Xt.shape[0]
    n_components = means.shape[0]
    diagonal = prec.shape[1] == 1
    for k in range(n_components):
        for i in range(m):
            acc[i] = 0.0
        if diagonal:
            for f in range(n_features):
                mu = means[k, f]
                p = prec[k, 0, f]
                for i in range(m):
                    t = (Xt[f, b0 + i] - mu) * p
                    acc[i] += t * t
        else:
            for f in range(n_features):
                mu = means[k, f]
                for i in range(m):
                    diff[f, i] = Xt[f, b0 + i] - mu
            for j in range(n_features):
                u = prec[k, j, j]
                for i in range(m):
                    y[i] = u * diff[j, i]
                for f in range(j):
                    u = prec[k, f, j]
                    if u != 0.0:
                        for i in range(m):
                            y[i] += u * diff[f, i]
                for i in range(m):
                    acc[i] += y[i] * y[i]
        c = log_const[k]
        nu = dof[k]
        if nu == np.inf:
            for i in range(m):
                logp[k, i] = c - 0.5 * acc[i]
        else:
            h = 0.5 * (nu + n_features)
            for i in range(m):
                logp[k, i] = c - h * np.log1p(acc[i] / nu)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _block_normalise(logp, m, mx, tot):
    """Turn ``logp[:, :m]`` into unnormalised ``exp(logp - max)``; return the
    row maxima in ``mx`` and the row sums in ``tot``."""
    n_components = logp.shape[0]
    for i in range(m):
        mx[i] = logp[0, i]
    for k in range(1, n_components):
        for i in range(m):
            if logp[k, i] > mx[i]:
                mx[i] = logp[k, i]
    for i in range(m):
        tot[i] = 0.0
    for k in range(n_components):
        row = logp[k]
        for i in range(m):
            row[i] = row[i] - mx[i]
        exp_nonpositive(row, m)
        for i in range(m):
            tot[i] += row[i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
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
        second moments) or n_features (upper triangle of the full ones)
    task_ll : (n_tasks, 2) output: ``sum w lse`` and ``sum w log max_k r``
    task_lo, task_hi : int, the range of tasks (``TASK`` rows each) to do

    The statistics are skipped when ``s0`` has no rows.
    """
    n_features, n_samples = Xt.shape
    n_components = means.shape[0]
    want_stats = s0.shape[0] > 0
    want_lse = row_lse.shape[0] > 0
    want_resp = resp.shape[0] > 0
    logp = np.empty((n_components, BLOCK))
    diff = np.empty((n_features, BLOCK))
    rdiff = np.empty((n_features, BLOCK))
    acc = np.empty(BLOCK)
    y = np.empty(BLOCK)
    mx = np.empty(BLOCK)
    tot = np.empty(BLOCK)
    inv = np.empty(BLOCK)
    for t in range(task_lo, task_hi):
        ll = 0.0
        icl = 0.0
        if want_stats:
            s0[t, :] = 0.0
            s1[t, :, :] = 0.0
            s2[t, :, :, :] = 0.0
        r_end = min(n_samples, (t + 1) * TASK)
        for b0 in range(t * TASK, r_end, BLOCK):
            m = min(BLOCK, r_end - b0)
            _block_log_prob(Xt, b0, m, means, prec, log_const, dof, diff, acc, y, logp)
            _block_normalise(logp, m, mx, tot)
            for i in range(m):
                lt = np.log(tot[i])
                wi = w[b0 + i]
                if wi != 0.0:
                    ll += wi * (mx[i] + lt)
                    icl -= wi * lt
                inv[i] = 1.0 / tot[i]
            if want_lse:
                for i in range(m):
                    row_lse[b0 + i] = mx[i] + np.log(tot[i])
            if want_resp:
                for k in range(n_components):
                    for i in range(m):
                        resp[b0 + i, k] = logp[k, i] * inv[i]
            if not want_stats:
                continue
            for i in range(m):
                inv[i] *= w[b0 + i]
            for k in range(n_components):
                for i in range(m):
                    logp[k, i] *= inv[i]
            _block_stats(Xt, b0, m, logp, means, diff, rdiff, s0[t], s1[t], s2[t])
        task_ll[t, 0] = ll
        task_ll[t, 1] = icl


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _block_stats(Xt, b0, m, rw, means, diff, rdiff, s0, s1, s2):
    """Add the statistics of rows b0..b0+m, weighted responsibilities ``rw[k, :m]``,
    to one task's slots ``s0`` (K,), ``s1`` (K, D), ``s2`` (K, P, D)."""
    n_features = Xt.shape[0]
    n_components = means.shape[0]
    diagonal = s2.shape[1] == 1
    for k in range(n_components):
        r = rw[k]
        tot_k = 0.0
        for i in range(m):
            tot_k += r[i]
        if tot_k == 0.0:
            continue
        s0[k] += tot_k
        for f in range(n_features):
            mu = means[k, f]
            acc_f = 0.0
            for i in range(m):
                dv = Xt[f, b0 + i] - mu
                diff[f, i] = dv
                rd = r[i] * dv
                rdiff[f, i] = rd
                acc_f += rd
            s1[k, f] += acc_f
        if diagonal:
            for f in range(n_features):
                acc_f = 0.0
                for i in range(m):
                    acc_f += rdiff[f, i] * diff[f, i]
                s2[k, 0, f] += acc_f
        else:
            for f in range(n_features):
                for g in range(f, n_features):
                    acc_f = 0.0
                    for i in range(m):
                        acc_f += rdiff[f, i] * diff[g, i]
                    s2[k, f, g] += acc_f


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def resp_stats(Xt, w, resp, shift, s0, s1, s2, task_lo, task_hi):
    """Weighted statistics for given responsibilities ``resp`` (n_samples, n_components),
    accumulated around ``shift`` (n_components, n_features); same outputs as
    :func:`mixture_pass`.  Used to start EM from an initial partition and by
    the engines that hold responsibilities themselves."""
    n_features, n_samples = Xt.shape
    n_components = resp.shape[1]
    diff = np.empty((n_features, BLOCK))
    rdiff = np.empty((n_features, BLOCK))
    rw = np.empty((n_components, BLOCK))
    for t in range(task_lo, task_hi):
        s0[t, :] = 0.0
        s1[t, :, :] = 0.0
        s2[t, :, :, :] = 0.0
        r_end = min(n_samples, (t + 1) * TASK)
        for b0 in range(t * TASK, r_end, BLOCK):
            m = min(BLOCK, r_end - b0)
            for k in range(n_components):
                for i in range(m):
                    rw[k, i] = resp[b0 + i, k] * w[b0 + i]
            _block_stats(Xt, b0, m, rw, shift, diff, rdiff, s0[t], s1[t], s2[t])
