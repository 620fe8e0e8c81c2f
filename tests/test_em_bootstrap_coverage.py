"""The EM bootstrap's intervals cover the truth at least as often as they say:
each replicate searches for its own best optimum as the fit did and is
aligned to the fit's labels.  Before that, 90% intervals covered 38-54% of
the time (replicates stopped by the model's loose tolerance beside the
full-data start), then 83% (converged, but from the full-data start alone)."""

import warnings

import numpy as np
import pytest

from bayesmix import GaussianMixture


@pytest.mark.slow
def test_bootstrap_90_percent_intervals_cover_on_overlapping_data():
    means_true = np.array([[0.0, 0.0], [2.5, 0.0]])
    weights_true = np.array([0.4, 0.6])
    hits, n_sets = np.zeros(6), 20
    for s in range(n_sets):
        rng = np.random.default_rng(10_000 + s)
        z = (rng.random(300) >= 0.4).astype(int)
        X = rng.standard_normal((300, 2)) + means_true[z]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(2, random_state=s).fit(X)
            post = gm.posterior(X, n_draws=100, random_state=s)
        order = np.argsort(gm.means_[:, 0])  # the left component first, as the truth
        w = post.weights[0][:, order]
        m = post.means[0][:, order, :]
        lo_w, hi_w = np.quantile(w, [0.05, 0.95], axis=0)
        lo_m, hi_m = np.quantile(m, [0.05, 0.95], axis=0)
        hits[:2] += (lo_w <= weights_true) & (weights_true <= hi_w)
        hits[2:] += ((lo_m <= means_true) & (means_true <= hi_m)).ravel()
    coverage = hits / n_sets
    assert coverage.mean() >= 0.85, coverage
    assert coverage.min() >= 0.75, coverage
