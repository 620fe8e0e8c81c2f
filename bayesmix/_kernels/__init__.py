"""Numba kernels shared by every engine: pure functions over arrays.

Python owns iterations and tolerances; one kernel call does one pass over the
data.  The kernels release the GIL, and :func:`run_tasks` spreads the row
tasks of one pass over a small thread pool.  Each task writes its own slot of
the outputs, so results do not depend on the number of threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._cholesky import (
    chol_downdate,
    chol_factor,
    chol_update,
    log_det_chol,
    mahalanobis_sq,
    upper_inverse,
)
from ._incomplete import incomplete_pass, pattern_table
from ._kmeans import nearest_centre, sq_dist_to_point
from ._mixture import (
    BLOCK,
    PASSES,
    TASK,
    exp_nonpositive,
    log_positive,
    mixture_pass,
    pad_class,
    precision_cholesky,
    resp_stats,
)

__all__ = [
    "BLOCK",
    "TASK",
    "MixtureStats",
    "chol_downdate",
    "chol_factor",
    "chol_update",
    "exp_nonpositive",
    "incomplete_e_step",
    "log_det_chol",
    "log_positive",
    "log_prob_pass",
    "mahalanobis_sq",
    "mixture_pass",
    "n_tasks",
    "nearest_centre",
    "pass_kernels",
    "precision_cholesky",
    "resp_stats",
    "run_tasks",
    "serial_kernels",
    "sq_dist_to_point",
    "upper_inverse",
    "warm_up_student_t",
]

_POOL: ThreadPoolExecutor | None = None
_SERIAL = threading.local()
_POOL_SIZE = 0
_MIN_TASKS_PER_THREAD = 2


def _n_threads() -> int:
    env = os.environ.get("BAYESMIX_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(
                f"BAYESMIX_NUM_THREADS={env!r} is not an integer; set it to the number of "
                "threads the kernels may use (e.g. 2), or unset it to use every usable core."
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _f64(a) -> np.ndarray:
    """``a`` as a C-contiguous, aligned, writeable float64 array (copied if needed).

    A read-only or strided array is another numba type: another compilation
    (~8 s) of the kernel, whose code may round differently in the last bit.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.flags.c_contiguous and a.flags.aligned and a.flags.writeable:
        return a
    return np.array(a, dtype=np.float64, order="C")


def pass_kernels(n_features: int, gaussian: bool = True):
    """``(mixture_pass, resp_stats)`` compiled for passes over ``n_features``
    features whose components are all Gaussian (``gaussian``) or not: the
    variants that hold only the code such a pass runs (same results as the
    general kernels, less to compile on a first fit)."""
    return PASSES[pad_class(n_features, gaussian)]


def n_tasks(n_samples: int) -> int:
    return max(1, -(-n_samples // TASK))


class _Job:
    """Tasks ``[0, n_task)`` of one kernel call, handed out in shrinking chunks
    ("guided" self-scheduling) to whichever thread asks next.

    A thread that the operating system does not get round to scheduling simply
    takes no chunk, so a busy machine degrades to a single-threaded pass rather
    than waiting for it.  Which thread computes a task never changes what the
    task writes, so results stay bit-for-bit identical.
    """

    def __init__(self, kernel, args: tuple, n_task: int, n_threads: int):
        self.kernel = kernel
        self.args = args
        self.n_task = n_task
        self.split = 2 * n_threads
        self.next = 0
        self.busy = 0
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)

    def work(self) -> None:
        kernel, args = self.kernel, self.args
        while True:
            with self.lock:
                lo = self.next
                if lo >= self.n_task or self.error is not None:
                    return
                hi = min(self.n_task, lo + max(1, -(-(self.n_task - lo) // self.split)))
                self.next = hi
                self.busy += 1
            try:
                kernel(*args, lo, hi)
            except BaseException as exc:
                with self.lock:
                    self.error = exc
            finally:
                with self.lock:
                    self.busy -= 1
                    if self.busy == 0:
                        self.idle.notify_all()

    def wait(self) -> None:
        with self.lock:
            while self.busy > 0:
                self.idle.wait()
        if self.error is not None:
            raise self.error


def run_tasks(kernel, args: tuple, n_task: int) -> None:
    """Call ``kernel(*args, lo, hi)`` over consecutive pieces of the task range
    ``[0, n_task)``, on the calling thread and up to ``BAYESMIX_NUM_THREADS - 1``
    (default: the usable cores) pool threads.  ``kernel`` must release the GIL
    and write task ``t``'s outputs only from task ``t``."""
    global _POOL, _POOL_SIZE
    if getattr(_SERIAL, "on", False):
        kernel(*args, 0, n_task)
        return
    n_threads = min(_n_threads(), n_task // _MIN_TASKS_PER_THREAD)
    if n_threads <= 1:
        kernel(*args, 0, n_task)
        return
    if _POOL is None or _POOL_SIZE < n_threads - 1:
        _POOL_SIZE = n_threads - 1
        _POOL = ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix="bayesmix")
    job = _Job(kernel, args, n_task, n_threads)
    for _ in range(n_threads - 1):
        _POOL.submit(job.work)
    job.work()
    job.wait()


class serial_kernels:
    """Context manager: kernel calls from this thread run on this thread alone.

    For callers that already keep every core busy with threads of their own
    (a model grid): handing each small pass to the pool would only add
    queueing.  Results are the same bit for bit either way.
    """

    def __enter__(self):
        self._before = getattr(_SERIAL, "on", False)
        _SERIAL.on = True
        return self

    def __exit__(self, *exc):
        _SERIAL.on = self._before
        return False


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
            # the kernels leave zeros below the diagonal: mirror the upper triangle
            idx = np.arange(s2.shape[2])
            diag = s2[:, idx, idx]
            s2 = s2 + np.swapaxes(s2, 1, 2)
            s2[:, idx, idx] = diag
        self.s2 = s2
        self.log_likelihood = float(self._ll[:, 0].sum())
        self.icl_term = float(self._ll[:, 1].sum())

    def e_step(self, Xt, w, means, prec, log_const, row_lse=None, resp=None, dof=None):
        """One pass: responsibilities, log-likelihood and statistics around ``means``."""
        n_components = means.shape[0]
        empty = np.empty(0)
        args = (
            _f64(Xt),
            _f64(w),
            _f64(means),
            _f64(prec),
            _f64(log_const),
            _gaussian_dof(n_components) if dof is None else _f64(dof),
            empty if row_lse is None else row_lse,
            np.empty((0, n_components)) if resp is None else resp,
            self._s0,
            self._s1,
            self._s2,
            self._ll,
        )
        run_tasks(pass_kernels(Xt.shape[0], dof is None)[0], args, self.n_task)
        self._reduce()
        return self

    def from_resp(self, Xt, w, resp, shift):
        """Statistics of given responsibilities (n_samples, K) around ``shift`` (K, D)."""
        args = (_f64(Xt), _f64(w), _f64(resp), _f64(shift), self._s0, self._s1, self._s2)
        run_tasks(pass_kernels(Xt.shape[0])[1], args, self.n_task)
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
        _f64(Xt),
        np.ones(n_samples),
        _f64(means),
        _f64(prec),
        _f64(log_const),
        _gaussian_dof(n_components) if dof is None else _f64(dof),
        np.empty(0) if row_lse is None else row_lse,
        np.empty((0, n_components)) if resp is None else resp,
        np.empty((0, n_components)),
        np.empty((0, n_components, Xt.shape[0])),
        np.empty((0, n_components, 1, Xt.shape[0])),
        ll,
    )
    run_tasks(pass_kernels(Xt.shape[0], dof is None)[0], args, n_task)
    return ll.sum(axis=0)


def incomplete_e_step(
    Xt, w, means, prec, lam, log_const, patterns, row_lse=None, resp=None, completed=None,
    stats=True,
):  # fmt: skip
    """One pass of :func:`~bayesmix._kernels._incomplete.incomplete_pass` over
    rows with missing cells (NaN in ``Xt``, each row its own pattern).

    ``patterns`` (:class:`bayesmix._data.Patterns`) gives ``row_pattern``,
    ``n_mis`` and ``mis``; ``lam`` (K, D, D) are the precisions ``U U^T``.
    Fills the optional outputs ``row_lse`` (n,), ``resp`` (n, K) and
    ``completed`` (D, n, missing cells only); returns ``(nk, s1, s2, ll, icl)``
    with ``s2`` (K, D, D) symmetric (``None`` for the three statistics when
    not ``stats``), ``ll`` the weighted observed-data log-likelihood and
    ``icl`` the weighted ``sum log max_k r``, both summed in task order.
    """
    n_features, n_samples = Xt.shape
    k = means.shape[0]
    n_task = n_tasks(n_samples)
    n_stat = n_task if stats else 0
    s0 = np.empty((n_stat, k))
    s1 = np.empty((n_stat, k, n_features))
    s2 = np.empty((n_stat, k, n_features, n_features))
    ll = np.zeros((n_task, 2))
    tables = pattern_table(_f64(lam), _f64(means), patterns.n_mis, patterns.mis)
    args = (
        _f64(Xt),
        _f64(w),
        _f64(means),
        _f64(prec),
        _f64(log_const),
        patterns.row_pattern,
        patterns.n_mis,
        patterns.mis,
        *tables,
        np.empty(0) if row_lse is None else row_lse,
        np.empty((0, k)) if resp is None else resp,
        np.empty((n_features, 0)) if completed is None else completed,
        s0,
        s1,
        s2,
        ll,
    )
    run_tasks(incomplete_pass, args, n_task)
    total_ll, total_icl = float(ll[:, 0].sum()), float(ll[:, 1].sum())
    if not stats:
        return None, None, None, total_ll, total_icl
    s2 = s2.sum(axis=0)
    idx = np.arange(n_features)
    diag = s2[:, idx, idx]
    s2 = s2 + np.swapaxes(s2, 1, 2)  # the kernel leaves zeros below the diagonal
    s2[:, idx, idx] = diag
    return s0.sum(axis=0), s1.sum(axis=0), s2, total_ll, total_icl


def warm_up_student_t(n_features: int = 2) -> None:
    """Compile the general pass (Student-t components: the Bayesian engines'
    posterior predictive), run by :mod:`bayesmix._compile` in a worker process
    on a fresh install; one kernel serves every number of features."""
    del n_features
    Xt = np.zeros((2, 8))
    row = np.empty(8)
    log_prob_pass(Xt, np.zeros((1, 2)), np.eye(2)[None], np.zeros(1), row_lse=row, dof=np.ones(1))
