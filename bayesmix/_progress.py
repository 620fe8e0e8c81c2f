"""A plain-stderr progress bar for long sampling runs.

Shown only for runs expected to last longer than ``PROGRESS_AFTER`` seconds,
and safe to tick from several chains' threads at once.  The expected time
left is projected from the steps after the first, since the first may include
compiling the kernels (seconds, once per install).
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["PROGRESS_AFTER", "Progress"]

PROGRESS_AFTER = 2.0  # seconds: runs expected to be shorter show no progress bar


class Progress:
    """Progress of ``total`` steps over all chains.

    Parameters
    ----------
    total : int or None
        Steps in the whole run (chains x iterations); ``None`` when the run
        decides its own length (``n_iter="auto"``): the line then shows the
        steps done, the time spent and ``note`` instead of a bar.
    enabled : bool
        False: :meth:`tick` and :meth:`close` do nothing.
    stream : text stream, optional
        Where to write (default ``sys.stderr``); on a terminal the bar is
        redrawn in place, otherwise a line is written every few seconds.
    label, unit : str
        What runs and what a step is, as shown in the bar.
    """

    def __init__(
        self,
        total: int,
        enabled: bool,
        stream=None,
        *,
        label: str = "DirichletProcessMixture",
        unit: str = "sweeps",
        note: str = "",
    ):
        self.total = total
        self.note = note
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.unit = unit
        self.done = 0
        self.start = time.perf_counter()
        self.last = 0.0
        self.shown = False
        self.lock = threading.Lock()
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False

    def tick(self) -> None:
        """One step done (thread-safe)."""
        if not self.enabled:
            return
        with self.lock:
            self.done += 1
            now = time.perf_counter()
            elapsed = now - self.start
            if self.total is None:
                self._open_ended(elapsed, now)
                return
            if self.done == 1:
                # The first step may include compiling the kernels (seconds, once
                # per install): the rate is measured from the end of it.
                self.first = now
                if self.done < self.total:
                    return
            rest = self.total - self.done
            per_step = (now - self.first) / (self.done - 1) if self.done > 1 else 0.0
            left = per_step * rest
            if not self.shown:
                if elapsed < 0.25 or elapsed + left < PROGRESS_AFTER:
                    return
                self.shown = True
            elif now - self.last < (0.2 if self.tty else 5.0) and self.done < self.total:
                return
            self.last = now
            frac = self.done / self.total
            bar = "#" * int(25 * frac)
            end = "\r" if self.tty else "\n"
            self.stream.write(
                f"{self.label} |{bar:<25}| {self.done}/{self.total} {self.unit}, "
                f"{elapsed:.1f} s, ~{left:.1f} s left{end}"
            )
            self.stream.flush()

    def _open_ended(self, elapsed: float, now: float) -> None:
        """The line of a run of its own length: shown after ``PROGRESS_AFTER``
        seconds, then redrawn as the bar would be."""
        if elapsed < PROGRESS_AFTER or now - self.last < (0.2 if self.tty else 5.0):
            return
        self.shown, self.last = True, now
        end = "\r" if self.tty else "\n"
        self.stream.write(
            f"{self.label} | {self.done} {self.unit}, {elapsed:.1f} s{self.note}{end}"
        )
        self.stream.flush()

    def close(self) -> None:
        """End the line of a bar redrawn in place; a run of its own length shows
        its final count (its line is redrawn at most every 0.2 s)."""
        if self.shown and self.total is None:
            with self.lock:
                elapsed = time.perf_counter() - self.start
                self.stream.write(
                    f"{self.label} | {self.done} {self.unit}, {elapsed:.1f} s{self.note}\n"
                )
                self.stream.flush()
        elif self.shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()
