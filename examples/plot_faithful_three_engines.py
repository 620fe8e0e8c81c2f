"""
Old Faithful three ways: bootstrap, variational and Gibbs uncertainty
=====================================================================

The same two-cluster data fitted by the three engines, reported by the one
posterior layer.  Each engine's uncertainty means something different:

* **EM + bootstrap**: the spread of maximum-likelihood fits over resampled
  data sets (sampling uncertainty of the estimator, K fixed);
* **variational Bayes**: draws from the mean-field approximation ``q`` (known
  to be too narrow, K pruned by the weight prior);
* **collapsed Gibbs**: draws from the Dirichlet-process posterior itself,
  including the number of clusters.

Each column of the table is ``posterior mean [2.5%, 97.5%]`` of the same
quantities: the weights and means of the two main components (relabelled,
then ordered by eruption length), the total log-likelihood and the density
at one point between the clusters (label-invariant), and the posterior
probability of the number of occupied components.

The number of components varies between the Gibbs draws (and between some
variational draws), and no single numbering of components fits draws of
different sizes: a draw that splits the long-eruption cluster in two would
lend one half the label another draw gives to a small cluster elsewhere.  So
the component rows are read from :meth:`~bayesmix.MixturePosterior.given_n_components`:
the draws with the most probable number of occupied components, relabelled
among themselves (Frühwirth-Schnatter & Malsiner-Walli 2019).  The
label-invariant rows use every draw.
"""

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bayesmix import DirichletProcessMixture, GaussianMixture, VariationalGaussianMixture
from bayesmix.datasets import load_faithful

X = load_faithful()  # (272, 2): eruption duration, waiting time (minutes)
NAMES = ("eruptions", "waiting")
TROUGH = np.array([[3.0, 68.0]])  # a point between the two clusters


def em_posterior():
    gm = GaussianMixture(2, random_state=0).fit(X)
    return gm.posterior(X, n_draws=400, random_state=1)


def vb_posterior():
    vb = VariationalGaussianMixture(n_components=6, random_state=0).fit(X)
    return vb.posterior(n_draws=1000, X=X, random_state=1)


def gibbs_posterior():
    dpm = DirichletProcessMixture(
        n_iter=1500, burn_in=500, n_chains=2, random_state=0, progress=False
    ).fit(X)
    return dpm.posterior(random_state=1)


ENGINES = {
    "EM + bootstrap": em_posterior,
    "variational Bayes": vb_posterior,
    "collapsed Gibbs": gibbs_posterior,
}

posteriors = {}
for name, build in ENGINES.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        posteriors[name] = build()
    for w in caught:
        print(f"{name}: note: {w.message}")


# %%
# One table, three kinds of uncertainty.
def interval(values):
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    lo, hi = np.quantile(values, [0.025, 0.975])
    return f"{values.mean():9.3f} [{lo:.3f}, {hi:.3f}]"


def main_components(post):
    """The two components of largest mean weight, short eruptions first."""
    mean_w = post.weights.mean(axis=(0, 1))
    top = np.argsort(-mean_w)[:2]
    return top[np.argsort([np.nanmean(post.means[:, :, k, 0]) for k in top])]


rows = {}
for name, post in posteriors.items():
    col = {}
    given = post.given_n_components()  # the most probable K, relabelled alone
    col["component rows given K ="] = (
        f"{given.attrs['given_n_components']} ({100 * given.attrs['draws_kept']:.0f}% of draws)"
    )
    for label, k in zip(("short", "long"), main_components(given), strict=False):
        col[f"weight ({label})"] = interval(given.weights[:, :, k])
        for f, feature in enumerate(NAMES):
            col[f"mean {feature} ({label})"] = interval(given.means[:, :, k, f])
    col["log-likelihood"] = interval(post.total_log_likelihood)
    band = post.density(TROUGH, ci=0.95)
    col["density at (3, 68)"] = f"{band.mean[0]:9.5f} [{band.lower[0]:.5f}, {band.upper[0]:.5f}]"
    probs = post.n_components()
    col["P(K occupied)"] = ", ".join(f"{k}: {p:.2f}" for k, p in enumerate(probs) if p >= 0.01)
    rows[name] = col

names = list(rows)
keys = list(next(iter(rows.values())))
width = max(len(k) for k in keys)
print(f"{'':{width}}  " + "  ".join(f"{n:>32}" for n in names))
for key in keys:
    print(f"{key:{width}}  " + "  ".join(f"{rows[n].get(key, ''):>32}" for n in names))

# %%
# Posterior mean density of each engine over the data.
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples/output")
out.mkdir(parents=True, exist_ok=True)
gx, gy = np.meshgrid(np.linspace(1.2, 5.6, 80), np.linspace(40, 100, 80))
grid = np.column_stack([gx.ravel(), gy.ravel()])
fig, axes = plt.subplots(1, len(posteriors), figsize=(4.5 * len(posteriors), 4), squeeze=False)
for ax, (name, post) in zip(axes[0], posteriors.items(), strict=True):
    band = post.density(grid, ci=0.9)
    ax.contour(gx, gy, band.mean.reshape(gx.shape), levels=8, colors="C0", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], s=5, c="0.4", lw=0)
    k_mode = int(np.argmax(post.n_components()))
    ax.set(title=f"{name} (K = {k_mode} most probable)", xlabel=NAMES[0], ylabel=NAMES[1])
fig.tight_layout()
fig.savefig(out / "faithful_three_engines.png", dpi=110)
print(f"wrote {out / 'faithful_three_engines.png'}")
