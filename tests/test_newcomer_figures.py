"""Figures of a variational fit draw the components it reports: the effective
ones (``n_effective_components_``), not every component heavier than
``min_weight`` (R's USArrests: 2 effective of 10, and a third ellipse of weight
0.009 that owns no row)."""

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bayesmix import VariationalGaussianMixture, plotting


def _three_blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    return np.vstack([rng.normal(c, 1.0, (50, 2)) for c in centres])


def test_components_plot_draws_only_the_effective_components():
    X = _three_blobs()
    vb = VariationalGaussianMixture(10, random_state=0).fit(X)
    effective = np.asarray(vb.effective_components_, dtype=bool)
    heavy = np.asarray(vb.weights_) >= 0.005
    ax = plotting.plot_components(vb, X)
    assert len(ax.patches) == 2 * int(np.sum(effective & heavy))  # two ellipses each
    plt.close(ax.figure)

    # a component outside the effective set is not drawn, whatever its weight
    dropped = int(np.argmax(np.where(effective, vb.weights_, -1.0)))
    assert vb.weights_[dropped] > 0.2
    vb.effective_components_ = effective.copy()
    vb.effective_components_[dropped] = False
    ax = plotting.plot_components(vb, X)
    assert len(ax.patches) == 2 * (int(np.sum(effective & heavy)) - 1)
    drawn = {tuple(np.round(p.center, 6)) for p in ax.patches}
    assert tuple(np.round(vb.means_[dropped], 6)) not in drawn
    plt.close(ax.figure)
