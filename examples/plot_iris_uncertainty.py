"""
Iris: clusters, species and assignment uncertainty
==================================================

Four measurements of 150 iris flowers of three species.  EM with BIC picks a
model without looking at the species; the species then show where the
clustering agrees with them, and the assignment uncertainty shows where it
could not be sure.
"""

import sys
from pathlib import Path

import numpy as np

from bayesmix import plotting, select_model
from bayesmix.datasets import IRIS_SPECIES, load_iris

# Run as a script, the example keeps its figures as PNG files in the directory
# given as its argument (default: examples/output); the gallery passes one.
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
OUT.mkdir(parents=True, exist_ok=True)


def keep(fig, name):
    """Write ``fig`` as ``OUT/<name>.png``."""
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}.png")


X, species = load_iris(return_species=True)  # (150, 4) array, species coded 0, 1, 2
petal = ("petal length (cm)", "petal width (cm)")
sel = select_model(X, n_components=range(1, 6), random_state=0, n_init=3)
gm = sel.best_
print("best by BIC:", sel.best_params_)

# %%
# Cross-tabulate the clusters against the species.  Setosa is a cluster of
# its own; versicolor and virginica overlap so much that BIC prefers to
# describe them by one component.
labels = gm.predict(X)
table = np.zeros((gm.n_components, 3), dtype=int)
np.add.at(table, (labels, species), 1)
print("cluster  " + "  ".join(f"{name:>10}" for name in IRIS_SPECIES))
for k, row in enumerate(table):
    print(f"{k:>7}  " + "  ".join(f"{n:>10}" for n in row))

# %%
# The three-component model with full covariances from the same grid, drawn on
# the petal measurements (columns 2 and 3); the ellipses are the components'
# covariances in that plane.
gm3 = sel.models_[("VVV", 3)]  # mclust's name of "full"
ax = plotting.plot_components(gm3, X, features=(2, 3))
ax.set(title=f"{gm3.covariance_type}, K={gm3.n_components}", xlabel=petal[0], ylabel=petal[1])
keep(ax.figure, "iris_uncertainty_components")

# %%
# With three components, the uncertain rows sit between versicolor and
# virginica; setosa's are certain.
ax = plotting.plot_uncertainty(gm3, X, features=(2, 3))
ax.set(xlabel=petal[0], ylabel=petal[1])
keep(ax.figure, "iris_uncertainty")
uncertainty = 1 - gm3.predict_proba(X).max(axis=1)
for s, name in enumerate(IRIS_SPECIES):
    print(f"{name:>10}: mean uncertainty {uncertainty[species == s].mean():.3f}")
