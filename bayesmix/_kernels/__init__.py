"""Numba kernels shared by every engine: pure functions over arrays.

Python owns iterations and tolerances; one kernel call does one pass over the
data.  The kernels release the GIL, and :func:`run_tasks` spreads the row
tasks of one pass over a small thread pool.  Each task writes its own slot of
the outputs, so results do not depend on the number of threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._kmeans import nearest_centre, sq_dist_to_point
from ._mixture import BLOCK, TASK, exp_nonpositive, mixture_pass, resp_stats

__all__ = [
    "BLOCK",
    "TASK",
    "MixtureStats",
    "exp_nonpositive",
    "log_prob_pass",
    "mixture_pass",
    "nearest_centre",
    "n_tasks",
    "resp_stats",
    "run_tasks",
    "sq_dist_to_point",
]

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_MIN_TASKS_PER_THREAD = 2


def _n_threads() -> int:
    env = os.environ.get("BAYESMIX_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def n_tasks(n_samples: int) -> int:
    return max(1, -(-n_samples // TASK))


def run_tasks(kernel, args: tuple, n_task: int) -> None:
    """Call ``kernel(*args, lo, hi)`` over the task range ``[0, n_task)``,
    split in contiguous pieces over the available cores."""
    global _POOL, _POOL_SIZE
    n_threads = min(_n_threads(), n_task // _MIN_TASKS_PER_THREAD)
    if n_threads <= 1:
        kernel(*args, 0, n_task)
        return
    if _POOL is None or _POOL_SIZE < n_threads - 1:
        _POOL_SIZE = n_threads - 1
        _POOL = ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix="bayesmix")
    bounds = np.linspace(0, n_task, n_threads + 1).astype(int)
    futures = [
        _POOL.submit(kernel, *args, int(bounds[j]), int(bounds[j + 1]))
        for j in range(1, n_threads)
    ]
    kernel(*args, int(bounds[0]), int(bounds[1]))
    for fut in futures:
        fut.result()


class MixtureStats:
    """Workspace and reduced results of one pass (weighted sufficient statistics).

    Attributes after :meth:`e_step`/:meth:`from_resp`: ``nk`` (K,), ``s1``
    (K, D) and ``s2`` (K, P, D) summed over tasks (``s2`` symmetrised in full
    mode), ``log_likelihood`` (weighted total) and ``icl_term``
    (``sum_i w_i log max_k r_ik``).
    """

    def __init__(self, n_samples: int, n_components: int, n_features: int, diagonal: bool):
        self.n_task = n_tasks(n_samples)
        p = 1 if diagonal else n_features
        self._s0 = np.empty((self.n_task, n_components))
        self._s1 = np.empty((self.n_task, n_components, n_features))
        self._s2 = np.empty((self.n_task, n_components, p, n_features))
        self._ll = np.zeros((self.n_task, 2))
        self.diagonal = diagonal

    def _reduce(self) -> None:
        self.nk = self._s0.sum(axis=0)
        self.s1 = self._s1.sum(axis=0)
        s2 = self._s2.sum(axis=0)
        if not self.diagonal:
            upper = np.triu(s2)
            s2 = upper + np.transpose(np.triu(s2, 1), (0, 2, 1))
        self.s2 = s2
        self.log_likelihood = float(self._ll[:, 0].sum())
        self.icl_term = float(self._ll[:, 1].sum())

    def e_step(self, Xt, w, means, prec, log_const, row_lse=None, resp=None, dof=None):
        """One pass: responsibilities, log-likelihood and statistics around ``means``."""
        n_components = means.shape[0]
        empty = np.empty(0)
        args = (
            Xt,
            w,
            means,
            prec,
            log_const,
            _gaussian_dof(n_components) if dof is None else np.asarray(dof, dtype=np.float64),
            empty if row_lse is None else row_lse,
            np.empty((0, n_components)) if resp is None else resp,
            self._s0,
            self._s1,
            self._s2,
            self._ll,
        )
        run_tasks(mixture_pass, args, self.n_task)
        self._reduce()
        return self

    def from_resp(self, Xt, w, resp, shift):
        """Statistics of given responsibilities (n_samples, K) around ``shift`` (K, D)."""
        run_tasks(resp_stats, (Xt, w, resp, shift, self._s0, self._s1, self._s2), self.n_task)
        self._ll[:] = np.nan
        self._reduce()
        return self


def _gaussian_dof(n_components: int) -> np.ndarray:
    return np.full(n_components, np.inf)


def log_prob_pass(Xt, means, prec, log_const, row_lse=None, resp=None, dof=None):
    """E-step only (no statistics): fill ``row_lse`` (n,) and/or ``resp`` (n, K);
    return ``(sum lse, sum log max r)`` with unit weights.  ``dof`` (K,) makes
    components Student-t (``None``: all Gaussian)."""
    n_samples = Xt.shape[1]
    n_components = means.shape[0]
    n_task = n_tasks(n_samples)
    ll = np.zeros((n_task, 2))
    args = (
        Xt,
        np.ones(n_samples),
        means,
        prec,
        log_const,
        _gaussian_dof(n_components) if dof is None else np.asarray(dof, dtype=np.float64),
        np.empty(0) if row_lse is None else row_lse,
        np.empty((0, n_components)) if resp is None else resp,
        np.empty((0, n_components)),
        np.empty((0, n_components, Xt.shape[0])),
        np.empty((0, n_components, 1, Xt.shape[0])),
        ll,
    )
    run_tasks(mixture_pass, args, n_task)
    return ll.sum(axis=0)
