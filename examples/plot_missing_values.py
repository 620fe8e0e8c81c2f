"""
Missing values: fitting and imputing iris with 20% of its cells removed
=======================================================================

Four measurements of 150 iris flowers, with a fifth of the cells deleted at
random.  EM fits the mixture to the observed cells only (each row's
likelihood is the marginal over the features it has), BIC picks the model
from the same holey table, and ``impute`` fills the holes: at their
conditional expectation, or as multiple imputations drawn from the
conditional distribution.  The deleted values are known here, so the
imputations can be checked against them.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bayesmix import select_model
from bayesmix.datasets import load_iris

# Run as a script, the example keeps its figures as PNG files in the directory
# given as its argument (default: examples/output); the gallery passes one.
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
OUT.mkdir(parents=True, exist_ok=True)


def keep(fig, name):
    """Write ``fig`` as ``OUT/<name>.png``."""
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}.png")


X = load_iris()  # (150, 4): sepal length, sepal width, petal length, petal width (cm)
names = ["sepal length", "sepal width", "petal length", "petal width"]
rng = np.random.default_rng(0)
holes = rng.random(X.shape) < 0.2
holes[holes.all(axis=1), 0] = False  # a row needs one observed cell
X_holes = np.where(holes, np.nan, X)
print(f"{holes.sum()} of {X.size} cells missing, in {holes.any(axis=1).sum()} of 150 rows")

# %%
# Model selection reads the table with its holes: every cell of the grid is an
# EM fit on the observed-data likelihood, and BIC uses that likelihood.
sel = select_model(
    X_holes, n_components=range(1, 5), covariance_types=("VVV", "VEV", "EEE"), random_state=0
)
gm = sel.best_
print("best by BIC:", sel.best_params_)

# %%
# The petals, with every row drawn: complete rows as dots, rows with a missing
# petal cell at their conditional expectation (rings), coloured by cluster.
filled = gm.impute(X_holes)
labels = gm.predict(X_holes)  # from each row's observed features
petal_hole = holes[:, 2] | holes[:, 3]
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for k in range(gm.n_components):
    rows = labels == k
    ax.scatter(*filled[rows & ~petal_hole][:, 2:].T, s=14, color=f"C{k}", label=f"cluster {k}")
    ax.scatter(*filled[rows & petal_hole][:, 2:].T, s=40, facecolors="none", edgecolors=f"C{k}")
ax.scatter([], [], s=40, facecolors="none", edgecolors="0.3", label="imputed (E[x_m | x_o])")
ax.set(xlabel=f"{names[2]} (cm)", ylabel=f"{names[3]} (cm)", title="iris with 20% of cells missing")
ax.legend(frameon=False, fontsize=8)
keep(fig, "missing_values_petals")

# %%
# Multiple imputations beside the truth: for every deleted cell, 50 draws
# from its conditional distribution under the fit (a component drawn with
# probability p(k | x_o), then the cell from that component's conditional
# Gaussian).  The vertical bars span the central 90% of the draws; about 90%
# of them should hold the deleted value (the fit's parameters are taken as
# known, so a little less).
draws = gm.impute(X_holes, n_draws=50, random_state=1)  # (50, 150, 4)
rows, cols = np.nonzero(holes)
cells = draws[:, rows, cols]  # (50, n_missing)
lo, hi = np.quantile(cells, [0.05, 0.95], axis=0)
truth = X[rows, cols]
covered = (lo <= truth) & (truth <= hi)
print(f"90% imputation intervals hold the deleted value for {covered.mean():.0%} of the cells")
for j, name in enumerate(names):
    at = cols == j
    err_filled = np.sqrt(np.mean((filled[rows, cols][at] - truth[at]) ** 2))
    err_mean = np.sqrt(np.mean((np.nanmean(X_holes[:, j]) - truth[at]) ** 2))
    print(f"{name:>13}: RMSE {err_filled:.2f} cm (column mean: {err_mean:.2f} cm)")
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for j, ax in enumerate(axes):
    at = cols == j
    mid = np.median(cells[:, at], axis=0)
    ax.errorbar(truth[at], mid, yerr=[mid - lo[at], hi[at] - mid], fmt="o", ms=3, lw=0.8, alpha=0.7)
    span = [X[:, j].min(), X[:, j].max()]
    ax.plot(span, span, color="0.5", lw=0.8)
    ax.set(title=names[j], xlabel="deleted value (cm)")
axes[0].set_ylabel("imputations: median, 90% (cm)")
fig.tight_layout()
keep(fig, "missing_values_imputations")
