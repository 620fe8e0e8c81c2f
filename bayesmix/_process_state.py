"""Process-wide state a fit changes for a while, safe across threads.

Two pieces of state belong to the whole process, not to a thread: the
warnings machinery (``warnings.showwarning`` and ``warnings.filters``) and
the number of BLAS threads.  ``warnings.catch_warnings`` and threadpoolctl
save the state on entry and put it back on exit, so two overlapping uses in
two threads restore each other's snapshot: the process is left with a
replaced ``showwarning`` (and a third thread's warning recursing through
it) or with BLAS on one thread for good.

Here each change is *shared*: the first thread to need it applies it, the
last to leave undoes it (a count under a lock), so the state is restored
exactly once, whatever the order in which the threads finish.

* :func:`capturing_warnings` routes every warning raised in a thread that
  opened a :func:`warning_sink` into that sink (a list of
  ``"Category: message"`` strings); other threads' warnings are judged by
  the other filters (ignored, raised, or passed to the ``showwarning`` that
  was in place before).  While any capture is
  open an ``"always"`` filter leads ``warnings.filters`` (so a repeated
  warning is filed for every grid cell, and an ``"error"`` filter does not
  turn a cell's warning into a failed fit).
* :func:`single_threaded_blas` keeps BLAS to one thread while many small
  fits run in threads (threadpoolctl, if installed).
"""

from __future__ import annotations

import contextlib
import threading
import warnings

__all__ = ["capturing_warnings", "single_threaded_blas", "thread_state", "warning_sink"]


class _Shared:
    """A change of process-wide state held while any thread needs it."""

    def __init__(self, apply, undo):
        self._apply, self._undo = apply, undo
        self._lock = threading.Lock()
        self._depth = 0
        self._token = None

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._depth == 0:
                self._token = self._apply()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    token, self._token = self._token, None
                    self._undo(token)


# ------------------------------------------------------------------- warnings
_local = threading.local()
thread_state = _local  # ``thread_state.sink``: this thread's list of warnings, or None
_ALWAYS = ("always", None, Warning, None, 0)
_before: list = []  # the showwarning in place when the capture started


def _filters_changed() -> None:
    # the C warnings module caches its view of the filters; tell it they changed
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


def _user_action(message, category, filename, lineno) -> str:
    """What the filters other than ours say of a warning (our ``"always"``
    filter must not change what other threads see): the first match, as
    ``warnings.warn_explicit`` finds it, else ``"default"``."""
    module = filename[:-3] if filename.lower().endswith(".py") else filename
    text = str(message)
    for f in warnings.filters:
        if f is _ALWAYS:
            continue
        action, msg, cat, mod, ln = f
        if (
            (msg is None or msg.match(text))
            and issubclass(category, cat)
            and (mod is None or mod.match(module))
            and (ln == 0 or lineno == ln)
        ):
            return action
    return "default"


def _show(message, category, filename, lineno, file=None, line=None):
    sink = getattr(_local, "sink", None)
    if sink is not None:
        sink.append(f"{category.__name__}: {message}")
        return
    # another thread's warning: as its own filters would have it
    action = _user_action(message, category, filename, lineno)
    if action == "ignore":
        return
    if action == "error":
        raise message if isinstance(message, Warning) else category(message)
    target = _before[-1] if _before else warnings._showwarning_orig
    target(message, category, filename, lineno, file, line)


def _install():
    current = warnings.showwarning
    _before.append(current if current is not _show else warnings._showwarning_orig)
    warnings.showwarning = _show
    warnings.filters.insert(0, _ALWAYS)
    _filters_changed()


def _uninstall(_token) -> None:
    previous = _before.pop()
    if warnings.showwarning is _show:  # unless someone replaced it since: theirs stays
        warnings.showwarning = previous
    # by identity: a caller's own simplefilter("always") is an equal tuple
    for i, f in enumerate(warnings.filters):
        if f is _ALWAYS:
            del warnings.filters[i]
            break
    _filters_changed()


capturing_warnings = _Shared(_install, _uninstall)
capturing_warnings.__doc__ = "Route warnings of threads with a :func:`warning_sink` (shared)."


@contextlib.contextmanager
def warning_sink(sink: list):
    """File the warnings this thread raises into ``sink`` (inside
    :func:`capturing_warnings`); the thread's previous sink is restored."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous


# ----------------------------------------------------------------------- BLAS
def _release_openblas() -> None:
    """Let any thread set OpenBLAS's limit again.

    threadpoolctl 3.8 lets only one thread (the first to set a limit) change
    a process-wide OpenBLAS pool, and ignores the others silently.  Our limit
    is applied by the first thread in and restored by the last out, which may
    be another thread: without this release that restore was dropped whenever
    the first thread was still alive, and BLAS stayed on one thread for the
    rest of the process (two ``select_model`` calls in threads did it about
    one run in three).  The count in :class:`_Shared` guarantees that no
    other user of the limit is inside when this runs."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover - threadpoolctl before 3.0
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:  # threadpoolctl >= 3.8
        clear(force=True)


def _limit_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed alongside scikit-learn
        return None
    limiter = threadpool_limits(limits=1, user_api="blas")
    _release_openblas()
    return limiter


def _restore_blas(limiter) -> None:
    if limiter is not None:
        _release_openblas()
        limiter.restore_original_limits()
        _release_openblas()


single_threaded_blas = _Shared(_limit_blas, _restore_blas)
single_threaded_blas.__doc__ = """Keep BLAS to one thread while many small fits run
in threads (a model grid, bootstrap replicates): BLAS threads spinning between
the tiny LAPACK calls of each M-step starve the fitting threads (about ten
times slower on a busy machine).  Shared across threads; without threadpoolctl
nothing changes."""
