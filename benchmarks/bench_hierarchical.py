"""Model-based agglomeration (``bayesmix._kernels._hierarchical.agglomerate``,
mclust's hcVVV criterion) all the way down to one cluster.

The rows are distinct draws from a 4-component full-covariance mixture
(``bench_select.make_data``), transformed by :func:`svd_scaled` and
agglomerated with mclust's ``alpha``, as :class:`Agglomeration` does.  Each
time is the median of 3 runs after a warm-up (numba loads its cache).

Usage::

    python benchmarks/bench_hierarchical.py
"""

from __future__ import annotations

import time

import numpy as np
from bench_select import make_data

from bayesmix._hierarchical import svd_scaled
from bayesmix._kernels._hierarchical import agglomerate


def prepare(n_rows: int, n_features: int):
    Y = np.unique(make_data(n_rows, n_features=n_features, seed=n_features), axis=0)
    mass = np.ones(len(Y))
    Z = np.ascontiguousarray(svd_scaled(Y, mass))
    centred = Z - Z.mean(axis=0)
    alpha = float((centred * centred).mean())
    return Z, mass, alpha


def run(Z, mass, alpha) -> float:
    n = len(Z)
    parent = np.empty(n, dtype=np.int64)
    merges = np.empty((n - 1, 3))
    t0 = time.perf_counter()
    agglomerate(Z, mass, alpha, 1.0, 1, parent, merges)
    return time.perf_counter() - t0


def main():
    run(*prepare(50, 2))  # warm-up: numba loads (or compiles) the kernel
    print(f"{'rows':>6} {'p':>3} {'seconds':>9} {'rows/s':>10}")
    for n_rows in (500, 1000, 2000):
        for n_features in (2, 4, 8):
            data = prepare(n_rows, n_features)
            run(*data)
            t = float(np.median([run(*data) for _ in range(3)]))
            print(f"{n_rows:6d} {n_features:3d} {t:9.4f} {n_rows / t:10.0f}")


if __name__ == "__main__":
    main()
