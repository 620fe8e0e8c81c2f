"""Small real data sets shipped with bayesmix."""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_faithful", "load_galaxies"]


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
    """Old Faithful geyser eruptions: 272 rows, columns ``eruptions`` (duration,
    minutes) and ``waiting`` (time to the next eruption, minutes).

    Source: R's ``datasets::faithful`` (Härdle 1991; Azzalini & Bowman 1990,
    Applied Statistics 39, 357-365).

    Returns an array of shape (272, 2), or a pandas DataFrame with ``as_frame=True``.
    """
    return _read("faithful.csv", as_frame)


def load_galaxies(as_frame: bool = False, unit: float = 1.0):
    """Velocities of 82 galaxies in the Corona Borealis region, in km/s divided by
    ``unit`` (the mixture literature uses ``unit=1000``).

    Source: R's ``MASS::galaxies`` (Roeder 1990, JASA 85, 617-624; Postman,
    Huchra & Geller 1986).

    Returns an array of shape (82, 1), or a pandas DataFrame with ``as_frame=True``.
    """
    data = _read("galaxies.csv", as_frame)
    return data / unit
