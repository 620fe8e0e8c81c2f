"""The first fit after an install: say that the kernels compile, and compile
them in parallel processes.

numba compiles each kernel the first time a process calls it and keeps the
machine code in its on-disk cache (``cache=True``; ``NUMBA_CACHE_DIR`` or
``__pycache__``), so only the first process after an install or an upgrade
pays.  That first fit used to spend 20-50 s compiling, silently, on one core.
Now a fit compiles only what it calls (its number of features, no model-based
agglomeration kernel for small data: :mod:`bayesmix._agglomerate` gives its
merges in numpy), about 8 CPU seconds for a small EM fit, and it can share
them: numba holds one compiler lock per process, so threads cannot share the
work, but processes can.  An engine lists its kernels as a few :class:`Recipe` s, each a
function that calls one disjoint group of kernels on tiny data of the fit's
number of features; when numba's cache lacks them, :func:`compile_first`
prints one line on stderr, starts worker processes for all cold groups but
the first (at most one per idle core besides the fitting process), compiles
the first group itself meanwhile (it is listed first because it takes
longest, and the fitting process has already paid for its imports), waits for
the workers, and the fit then loads every kernel from the cache.  Without an
idle core, the fit compiles each kernel as it first calls it.

Nothing here changes a result: a recipe only compiles kernels (into the
cache, or into the fitting process), and if a worker fails (no writable
cache, no ``sys.executable``, a timeout) the fit compiles what is missing
itself, as it always did.  Workers run with ``BAYESMIX_COMPILE_WORKER=1``,
which makes :func:`compile_first` a no-op in them, one kernel thread and one
BLAS thread each.

Environment
-----------
``BAYESMIX_COMPILE_WORKERS``: ``0`` compiles in the fitting process only,
as the fit calls each kernel; a positive integer caps the worker processes
(default: the usable cores less one, and no more than the cores left idle by
the load average, since a worker sharing a core with the fit only slows it).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._hierarchical import uses_kernel
from ._kernels import PASSES, incomplete_pass, pass_kernels
from ._kernels._hierarchical import agglomerate
from ._kernels._mixture import ANY

__all__ = ["EM", "GIBBS", "VB", "Recipe", "compile_first", "is_cached"]

_WORKER_ENV = "BAYESMIX_COMPILE_WORKER"
_WORKERS_ENV = "BAYESMIX_COMPILE_WORKERS"
_TIMEOUT = 900.0  # seconds a worker may take before the fit compiles by itself
NOTICE = (
    "bayesmix: compiling its numba kernels for this machine ({what}; first use after an "
    "install or upgrade: usually 5-10 s, 30 s with large data, once per variant -- EM's passes "
    "have one for 1-2, 3-4 and 5+ features; later runs load them from numba's cache)"
)

# reentrant: the group compiled in this process runs a fit, which calls compile_first
_lock = threading.RLock()
_done: set[tuple[str, int]] = set()


@dataclass(frozen=True)
class Recipe:
    """One group of kernels an engine needs.

    Attributes
    ----------
    name : str
        What the group is, for the notice ("EM passes").
    sentinel : callable
        ``sentinel(n_features)``: a ``cache=True`` kernel the recipe compiles
        for data with ``n_features`` features (while numba's cache holds no
        code for it, the group counts as not compiled), or None when such a
        fit does not need the group.
    target : str or None
        ``"module:function"``, a function of ``n_features`` that calls the
        group's kernels on tiny data (run in a worker process); None for a
        group only the fitting process compiles.
    needed : callable or None
        ``needed(n_features, n_samples, missing)``: False when a fit on
        ``n_samples`` distinct rows (None: unknown), with missing cells or not,
        does not call the group's kernels (default: always needed).
    """

    name: str
    sentinel: Callable[[int], object]
    target: str | None
    needed: Callable[[int, int | None, bool], bool] | None = None


# An EM fit's kernels in two groups: the agglomeration of the hierarchical
# start (not for one feature: quantile classes start those; not for small data,
# which numpy agglomerates: bayesmix._hierarchical.uses_kernel), and the passes
# for the data's number of features (the variant of pass_kernels) with the
# k-means starts.
_HIERARCHICAL = Recipe(
    "hierarchical start",
    lambda n_features: agglomerate if n_features > 1 else None,
    "bayesmix._hierarchical:warm_up",
    lambda n_features, n_samples, missing: uses_kernel(n_samples, n_features),
)
# The passes are two groups of about equal compile time, so that the fitting
# process compiles one while a worker compiles the other: the E-step pass, and
# the statistics pass with the k-means starts and the precision factors.
EM = (
    _HIERARCHICAL,
    Recipe("EM passes", lambda n_features: pass_kernels(n_features)[0], "bayesmix._compile:e_step"),
    Recipe(
        "k-means and statistics passes",
        lambda n_features: pass_kernels(n_features)[1],
        "bayesmix._compile:statistics",
    ),
    # the one-pass kernel of rows with missing cells, only for data with holes
    Recipe(
        "missing-value pass",
        lambda n_features: incomplete_pass if n_features > 1 else None,
        "bayesmix._compile:incomplete",
        lambda n_features, n_samples, missing: missing,
    ),
)
# VB runs on the same kernels as EM, and predicts with the Student-t of its
# posterior predictive (the general pass).  A Gibbs fit needs only the
# sampler's kernels, which share most of their callees: one group, compiled in
# the fitting process (a worker would only duplicate the work).
_STUDENT_T = Recipe(
    "Student-t predictive", lambda n_features: PASSES[ANY][0], "bayesmix._kernels:warm_up_student_t"
)
VB = (*EM, _STUDENT_T)
GIBBS = (Recipe("Gibbs sampler", lambda n_features: _gibbs_block(), None),)


def e_step(n_features: int = 2) -> None:
    """Compile the E-step pass of Gaussian components on ``n_features``
    features, and the logarithm of the numpy agglomeration (one compile group
    of an EM fit)."""
    from ._kernels import log_positive, log_prob_pass

    log_positive(np.ones(4), 4)
    Xt = np.ascontiguousarray(np.random.default_rng(0).normal(size=(n_features, 8)))
    prec = np.ascontiguousarray(np.broadcast_to(np.eye(n_features), (2, n_features, n_features)))
    log_prob_pass(Xt, np.zeros((2, n_features)), prec, np.zeros(2), row_lse=np.empty(8))


def statistics(n_features: int = 2) -> None:
    """Compile the rest of an EM fit's passes on ``n_features`` features: the
    weighted statistics of given responsibilities, k-means++ and Lloyd's
    k-means, the precision factors (one compile group)."""
    from . import _components, _init
    from ._kernels import MixtureStats

    rng = np.random.default_rng(0)
    Xt = np.ascontiguousarray(rng.normal(size=(n_features, 40)))
    w = np.ones(40)
    _, labels = _init.kmeans(Xt, w, 2, rng)
    resp = np.zeros((40, 2))
    resp[np.arange(40), labels] = 1.0
    MixtureStats(40, 2, n_features, False).from_resp(Xt, w, resp, np.zeros((2, n_features)))
    _components.from_covariances(
        np.full(2, 0.5), np.zeros((2, n_features)), np.eye(n_features)[None].repeat(2, 0)
    )


def incomplete(n_features: int = 2) -> None:
    """Compile the one-pass kernel of rows with missing cells (a compile group
    of fits on data with holes)."""
    from ._data import Patterns
    from ._kernels import incomplete_e_step

    X = np.random.default_rng(0).normal(size=(12, n_features))
    X[::3, 0] = np.nan
    eye = np.ascontiguousarray(np.broadcast_to(np.eye(n_features), (2, n_features, n_features)))
    Xt = np.ascontiguousarray(X.T)
    incomplete_e_step(
        Xt, np.ones(12), np.zeros((2, n_features)), eye, eye, np.zeros(2), Patterns.of(X)
    )


def _gibbs_block():
    # imported on use: the sampler's kernels are many dispatchers to create,
    # which a process that fits by EM does not need
    from ._kernels._gibbs import gibbs_block

    return gibbs_block


def is_cached(dispatcher) -> bool:
    """Whether numba's on-disk cache holds code for ``dispatcher`` that is
    fresh for its source file (an index written by this numba version for
    today's file).  Unknown (no cache, another numba layout) counts as cached,
    so that nothing is done."""
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()
    except Exception:  # pragma: no cover - caching disabled or another numba layout
        return True
    if type(cache).__name__ == "NullCache":  # pragma: no cover - cache=False
        return True
    return bool(index)


def _n_workers(n_cold: int) -> int:
    """Worker processes for ``n_cold`` cold groups: the fitting process compiles
    the first, workers (at most one per usable core besides it) the others."""
    env = os.environ.get(_WORKERS_ENV, "").strip()
    if env:
        try:
            cap = int(env)
        except ValueError:
            raise ValueError(
                f"{_WORKERS_ENV}={env!r} is not an integer; set it to 0 (compile in the "
                "fitting process) or a number of worker processes, or unset it."
            ) from None
        if cap < 0:
            raise ValueError(f"{_WORKERS_ENV} must be >= 0, got {cap}.")
    else:
        try:
            n_cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            n_cores = os.cpu_count() or 1
        # A worker pays off only on a core nobody else is using: on a busy
        # machine it would take turns with the fitting process, and their
        # duplicated imports and shared callees make the sum slower than one.
        cap = n_cores - 1
        try:
            cap = min(cap, round(n_cores - os.getloadavg()[0]))
        except (AttributeError, OSError):  # pragma: no cover - no load average
            pass
    if cap <= 0 or n_cold <= 1 or not sys.executable or getattr(sys, "frozen", False):
        return 0
    return min(cap, n_cold - 1)


def compile_first(
    recipes: Sequence[Recipe],
    n_features: int = 2,
    n_samples: int | None = None,
    missing: bool = False,
) -> None:
    """Make sure numba's cache holds the kernels of ``recipes`` for data with
    ``n_features`` features, ``n_samples`` distinct rows (None: unknown) and
    missing cells or not before a fit calls them: if some are missing,
    print one line on stderr and compile the missing groups in parallel
    processes (see the module docstring).

    Called by an engine after its input checks and before its first compiled
    call; cheap (one small file read per recipe) once the cache is warm.
    """
    if os.environ.get(_WORKER_ENV):
        return
    with _lock:
        cold = []
        for recipe in recipes:
            if recipe.needed is not None and not recipe.needed(n_features, n_samples, missing):
                continue
            kernel = recipe.sentinel(n_features)
            key = (recipe.name, id(kernel))
            if kernel is None or key in _done:
                continue
            _done.add(key)
            if not is_cached(kernel):
                cold.append(recipe)
        if not cold:
            return
        what = ", ".join(r.name for r in cold)
        print(NOTICE.format(what=what), file=sys.stderr, flush=True)
        targets = [r.target for r in cold if r.target is not None]
        n_workers = _n_workers(len(targets))
        if n_workers and len(targets) == len(cold):
            _compile_in_parallel(targets, n_workers, n_features)


def _compile_in_parallel(targets: list[str], n_workers: int, n_features: int) -> None:
    """Run ``targets[1:]`` (for ``n_features`` features) in up to ``n_workers``
    worker processes at once, ``targets[0]`` in this process meanwhile, and
    wait for the workers."""
    env = dict(os.environ)
    env.update(
        {
            _WORKER_ENV: "1",
            "BAYESMIX_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    pending = list(targets[1:])
    running: list[tuple[subprocess.Popen, float]] = []

    def start() -> None:
        while pending and len(running) < n_workers:
            target = pending.pop(0)
            code = (
                "from bayesmix._compile import run_target; "
                f"run_target({target!r}, {int(n_features)})"
            )
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", code],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:  # pragma: no cover - cannot start a process here
                pending.clear()
                return
            running.append((proc, time.monotonic()))

    start()
    try:
        run_target(targets[0], n_features)
    except Exception:  # pragma: no cover - the fit compiles what is missing itself
        pass
    while running:
        proc, started = running.pop(0)
        try:
            proc.wait(timeout=max(0.0, _TIMEOUT - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
            proc.kill()
            proc.wait()
        start()


def run_target(target: str, n_features: int = 2) -> None:
    """Import ``"module:function"`` and call it with ``n_features`` (what a worker does)."""
    module, _, name = target.partition(":")
    if not module.startswith("bayesmix") or not name.isidentifier():
        raise ValueError(f"not a bayesmix recipe: {target!r}")
    getattr(importlib.import_module(module), name)(n_features)
