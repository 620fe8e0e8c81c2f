"""Weighted k-means++ seeding and Lloyd iterations on feature-major data.

Randomness never enters a kernel: the caller draws uniforms with a seeded
numpy Generator and passes them in, so results do not depend on numba's own
generator (which numpy's seed does not reach).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._mixture import BLOCK, FASTMATH, TASK


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def sq_dist_to_point(Xt, centre, out):
    """``out[i] = ||x_i - centre||^2`` for every row; returns nothing."""
    n_features, n_samples = Xt.shape
    out[:] = 0.0
    for f in range(n_features):
        c = centre[f]
        row = Xt[f]
        for i in range(n_samples):
            t = row[i] - c
            out[i] += t * t


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def nearest_centre(Xt, w, centres, labels, min_dist, sums, counts, inertia, task_lo, task_hi):
    """Assign every row to its nearest centre and accumulate per-task weighted sums.

    Parameters
    ----------
    Xt : (n_features, n_samples)
    w : (n_samples,)
    centres : (n_components, n_features)
    labels : (n_samples,) int64 output
    min_dist : (n_samples,) output, squared distance to the nearest centre
    sums : (n_tasks, n_components, n_features) output, ``sum w x`` per label
    counts : (n_tasks, n_components) output, ``sum w`` per label
    inertia : (n_tasks,) output, ``sum w min_dist``
    task_lo, task_hi : range of tasks of ``TASK`` rows
    """
    n_features, n_samples = Xt.shape
    n_components = centres.shape[0]
    dist = np.empty(BLOCK)
    best = np.empty(BLOCK)
    arg = np.empty(BLOCK, dtype=np.int64)
    for t in range(task_lo, task_hi):
        sums[t] = 0.0
        counts[t] = 0.0
        tot = 0.0
        r_end = min(n_samples, (t + 1) * TASK)
        for b0 in range(t * TASK, r_end, BLOCK):
            m = min(BLOCK, r_end - b0)
            for k in range(n_components):
                for i in range(m):
                    dist[i] = 0.0
                for f in range(n_features):
                    c = centres[k, f]
                    for i in range(m):
                        d = Xt[f, b0 + i] - c
                        dist[i] += d * d
                if k == 0:
                    for i in range(m):
                        best[i] = dist[i]
                        arg[i] = 0
                else:
                    for i in range(m):
                        if dist[i] < best[i]:
                            best[i] = dist[i]
                            arg[i] = k
            for i in range(m):
                j = arg[i]
                wi = w[b0 + i]
                labels[b0 + i] = j
                min_dist[b0 + i] = best[i]
                counts[t, j] += wi
                tot += wi * best[i]
                for f in range(n_features):
                    sums[t, j, f] += wi * Xt[f, b0 + i]
        inertia[t] = tot
