"""
Choosing K and the covariance type by BIC
=========================================

mclust's classic workflow on the Old Faithful geyser: fit every covariance
type for K = 1..6 by EM, compare them by BIC (lower is better), and look at
the selected model, its density and the rows whose label is uncertain.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt

from bayesmix import plotting, select_model
from bayesmix.datasets import load_faithful

# Run as a script, the example keeps its figures as PNG files in the directory
# given as its argument (default: examples/output); the gallery passes one.
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
OUT.mkdir(parents=True, exist_ok=True)


def keep(fig, name):
    """Write ``fig`` as ``OUT/<name>.png``."""
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}.png")


X = load_faithful()  # (272, 2): eruption duration, waiting time (minutes)
sel = select_model(X, n_components=range(1, 7), random_state=0, n_init=5)
print(sel.table_[["covariance_type", "n_components", "log_likelihood", "bic", "icl"]].round(2))
print("best:", sel.best_params_)

# %%
# One line per covariance model (mclust's fourteen); the circled point is the
# minimum.  Tied (common, mclust's EEE) covariances with three components fit
# best, the full model (VVV) with two is close behind, and spherical
# components (VII) need many more to follow the tilted clusters.
ax = plotting.plot_criterion(sel.table_)
keep(ax.figure, "model_selection_bic")

# %%
# ICL adds a penalty for uncertain assignments, so it prefers models whose
# components are well separated clusters.
ax = plotting.plot_criterion(sel.table_, criterion="icl")
keep(ax.figure, "model_selection_icl")

# %%
# The selected model: data coloured by their most probable component, with
# ellipses at one and two standard deviations and the weights.
gm = sel.best_
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plotting.plot_components(gm, X, ax=axes[0])
plotting.plot_density(gm, X, ax=axes[1])
for ax, title in zip(axes, ("components", "density"), strict=True):
    ax.set(title=title, xlabel="eruption duration (min)", ylabel="waiting time (min)")
keep(fig, "model_selection_best")

# %%
# Assignment uncertainty ``1 - max_k p(k | x)``: the third component overlaps
# the long eruptions, so the rows between them are the uncertain ones.
ax = plotting.plot_uncertainty(gm, X)
ax.set(xlabel="eruption duration (min)", ylabel="waiting time (min)")
keep(ax.figure, "model_selection_uncertainty")
resp = gm.predict_proba(X)
print(f"rows with uncertainty above 0.2: {(1 - resp.max(axis=1) > 0.2).sum()} of {len(X)}")
