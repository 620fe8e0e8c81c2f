"""Conversion of posterior draws to an ArviZ ``xarray.DataTree`` (the
ArviZverse API, ``arviz_base.from_dict``), imported only when called.

Dims: ``chain, draw, component, feature, feature_bis, obs_id`` -- a
covariance's two axes are named differently so ArviZ keeps them apart.
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_datatree"]


def to_datatree(posterior, n_occupied: np.ndarray):
    """The draws of ``posterior`` as a DataTree.

    Parameters
    ----------
    posterior : MixturePosterior
        Only its public attributes are read (``weights``, ``means``,
        ``covariances``, ``concentration``, ``sample_stats``, ``feature_names``,
        ``X``, ``sample_weight``, ``labels``, ``log_likelihood``,
        ``total_log_likelihood``, ``kind``, ``attrs``).
    n_occupied : (n_chains, n_draws) int
        Occupied components per draw (a label-invariant sample statistic).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, and with data
        ``log_likelihood``, ``observed_data`` and (non-unit weights)
        ``constant_data``; see :meth:`MixturePosterior.to_arviz`.
    """
    from arviz_base import from_dict

    posterior_vars = {
        "weights": posterior.weights,
        "means": posterior.means,
        "covariances": posterior.covariances,
    }
    if posterior.concentration is not None:
        posterior_vars["concentration"] = posterior.concentration
    sample_stats = {**posterior.sample_stats, "n_occupied": n_occupied}
    dims = {
        "weights": ["component"],
        "means": ["component", "feature"],
        "covariances": ["component", "feature", "feature_bis"],
    }
    names = (
        list(posterior.feature_names)
        if posterior.feature_names is not None
        else list(range(posterior.means.shape[3]))
    )
    coords = {
        "component": np.arange(posterior.weights.shape[2]),
        "feature": names,
        "feature_bis": names,
    }
    data = {"posterior": posterior_vars, "sample_stats": sample_stats}
    X = posterior.X
    if X is not None:
        sample_stats["total_log_likelihood"] = posterior.total_log_likelihood
        if posterior.labels is not None:
            sample_stats["labels"] = posterior.labels
            dims["labels"] = ["obs_id"]
        data["log_likelihood"] = {"X": posterior.log_likelihood}
        dims["X"] = ["obs_id"]
        coords["obs_id"] = np.arange(X.shape[0])
        if not np.all(posterior.sample_weight == 1.0):
            data["constant_data"] = {"sample_weight": posterior.sample_weight}
            dims["sample_weight"] = ["obs_id"]
    attrs = {"/": {"bayesmix_kind": posterior.kind, **posterior.attrs}}
    tree = from_dict(data, dims=dims, coords=coords, attrs=attrs)
    if X is not None:
        # The observed X is (obs_id, feature) while its log-likelihood is one value
        # per row, so the two share a name but not dims: convert them separately.
        observed = from_dict(
            {"observed_data": {"X": X}},
            dims={"X": ["obs_id", "feature"]},
            coords={"obs_id": coords["obs_id"], "feature": names},
        )
        tree["observed_data"] = observed["observed_data"]
    return tree
