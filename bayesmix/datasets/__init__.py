"""Small real data sets shipped with bayesmix (no download at run time).

========================= ========== ===========================================
loader                    shape      what
========================= ========== ===========================================
:func:`load_faithful`     (272, 2)   Old Faithful eruption durations and waits
:func:`load_galaxies`     (82, 1)    velocities of galaxies (Corona Borealis)
:func:`load_iris`         (150, 4)   Fisher's iris flowers, three species
========================= ========== ===========================================

Sources and licences are in each docstring and in ``data/README.md``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["IRIS_SPECIES", "load_faithful", "load_galaxies", "load_iris"]

IRIS_SPECIES = ("setosa", "versicolor", "virginica")


def _read(name: str, as_frame: bool):
    path = resources.files(__name__).joinpath("data", name)
    with path.open("r", encoding="utf-8") as fh:
        header = [h.strip().strip('"') for h in fh.readline().split(",")]
        data = np.loadtxt(fh, delimiter=",", ndmin=2)
    if as_frame:
        import pandas as pd

        return pd.DataFrame(data, columns=header)
    return data


def load_faithful(as_frame: bool = False):
    """Old Faithful geyser eruptions.

    272 eruptions of the Old Faithful geyser (Yellowstone): the eruption
    duration and the waiting time to the next eruption, both in minutes.  Two
    well-separated groups (short and long eruptions); by BIC, three
    components with a common (``"tied"``) covariance fit best.

    Parameters
    ----------
    as_frame : bool, default=False
        Return a pandas DataFrame with columns ``eruptions`` and ``waiting``.

    Returns
    -------
    ndarray of shape (272, 2) or DataFrame

    Notes
    -----
    Source: R's ``datasets::faithful`` (Härdle 1991, *Smoothing Techniques with
    Implementation in S*; Azzalini & Bowman 1990, *Applied Statistics* 39,
    357-365).  The measurements are published scientific data.
    """
    return _read("faithful.csv", as_frame)


def load_galaxies(as_frame: bool = False, unit: float = 1.0):
    """Velocities of 82 galaxies in the Corona Borealis region.

    A classic test of methods that infer the number of components (Roeder
    1990; Richardson & Green 1997, *JRSS B* 59, 731-792): a few distant
    galaxies on either side of a large central group.

    Parameters
    ----------
    as_frame : bool, default=False
        Return a pandas DataFrame with one column ``v``.
    unit : float, default=1.0
        Velocities are returned in km/s divided by ``unit``; the mixture
        literature uses ``unit=1000``.

    Returns
    -------
    ndarray of shape (82, 1) or DataFrame

    Notes
    -----
    Source: R's ``MASS::galaxies`` (Roeder 1990, *JASA* 85, 617-624; Postman,
    Huchra & Geller 1986, *Astronomical Journal* 92, 1238-1247).  The
    measurements are published scientific data.
    """
    data = _read("galaxies.csv", as_frame)
    return data / unit


def load_iris(as_frame: bool = False, return_species: bool = False):
    """Fisher's iris flowers: four measurements of 150 flowers of three species.

    Sepal length, sepal width, petal length and petal width (cm) of 50
    flowers each of *Iris setosa*, *versicolor* and *virginica*.  Setosa
    separates cleanly; versicolor and virginica overlap, so the data show
    how assignment uncertainty concentrates where components meet, and the
    species give a reference partition to compare a clustering with.

    Parameters
    ----------
    as_frame : bool, default=False
        Return a pandas DataFrame with the four measurement columns
        (``sepal_length``, ``sepal_width``, ``petal_length``, ``petal_width``).
    return_species : bool, default=False
        Also return the species as integer codes 0, 1, 2 (names in
        :data:`IRIS_SPECIES`).

    Returns
    -------
    X : ndarray of shape (150, 4) or DataFrame
    species : ndarray of shape (150,), int
        Only with ``return_species=True``.

    Notes
    -----
    Source: Fisher, R. A. (1936), "The use of multiple measurements in
    taxonomic problems", *Annals of Eugenics* 7, 179-188 (measurements by
    Anderson 1935).  This copy follows Fisher's table, as R's
    ``datasets::iris`` and scikit-learn's copy (BSD-3-Clause) do; the UCI
    repository's copy differs in two rows (35 and 38).
    """
    frame = _read("iris.csv", as_frame)
    if as_frame:
        species = frame.pop("species").to_numpy().astype(np.int64)
        X = frame
    else:
        species = frame[:, 4].astype(np.int64)
        X = np.ascontiguousarray(frame[:, :4])
    return (X, species) if return_species else X
