""".npy files larger than memory as Dask arrays read chunk by chunk
(:func:`from_npy`, re-exported by :mod:`bayesmix._dask` and :mod:`bayesmix`).

Dask is imported only when :func:`from_npy` is called.
"""

from __future__ import annotations

import numpy as np

__all__ = ["from_npy"]


class _NpyRows:
    """A ``.npy`` file seen as an array whose every read opens the file, copies
    the rows asked for and closes it again.

    ``dask.array.from_array(np.load(path, mmap_mode="r"))`` is not out of core:
    Dask (2024.12 and later) copies an input that has a ``copy`` method into
    memory -- the whole file (dask/dask#11524, open as dask/dask#11850) -- and
    a single long-lived memory map keeps every
    page it has read in the process's resident set.  This object has no
    ``copy``, pickles as its path (workers of a cluster read the file
    themselves, so it must be on a file system they share) and tokenises by
    path, size and modification time.
    """

    def __init__(self, path):
        import os

        self.path = os.fspath(path)
        head = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = head.shape, head.dtype, head.ndim
        stat = os.stat(self.path)
        self._token = ("bayesmix-npy", self.path, stat.st_size, stat.st_mtime_ns)
        del head

    def __dask_tokenize__(self):
        return self._token

    def __getitem__(self, key):
        mapped = np.load(self.path, mmap_mode="r")
        rows = np.array(mapped[key])  # a copy: the map closes with ``mapped``
        del mapped
        return rows


def from_npy(path, chunks="auto"):
    """A ``.npy`` file (n_samples, n_features) as a Dask array read chunk by
    chunk, for data larger than memory.

    Each task opens the file, copies its rows and closes it, so a fit holds a
    few chunks at a time, never the file (unlike ``da.from_array(np.load(path,
    mmap_mode="r"))``, which Dask copies whole).

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file of real numbers, 2-D.
    chunks : int or "auto", default="auto"
        Rows per chunk (every chunk holds whole rows); ``"auto"`` lets Dask
        choose (about ``array.chunk-size``, 128 MiB by default).

    Returns
    -------
    dask.array.Array
    """
    import dask.array as da

    rows = _NpyRows(path)
    if rows.ndim != 2:
        raise ValueError(
            f"{rows.path} holds a {rows.ndim}-D array; from_npy reads 2-D arrays "
            "(n_samples, n_features)."
        )
    return da.from_array(rows, chunks={0: chunks, 1: -1}, meta=np.empty((0, 0), rows.dtype))
