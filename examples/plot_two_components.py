"""
Two Gaussian components in a blink
===================================

The motivating case: 500 samples from a two-component mixture with weights
(1/3, 2/3), means (0, 0) and (3, 3) and identity covariances, fitted by EM,
printed, and drawn with the component ellipses.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from bayesmix import GaussianMixture
from bayesmix.plotting import plot_components

rng = np.random.default_rng(0)
labels = rng.choice(2, size=500, p=[1 / 3, 2 / 3])
X = rng.normal(size=(500, 2)) + np.array([[0.0, 0.0], [3.0, 3.0]])[labels]

gm = GaussianMixture(n_components=2, random_state=0).fit(X)
order = np.argsort(gm.means_[:, 0])
np.set_printoptions(precision=3, suppress=True)
print("weights     ", gm.weights_[order])
print("means       ", gm.means_[order].tolist())
print("covariances ", gm.covariances_[order].round(3).tolist())
print(f"log-likelihood {gm.log_likelihood_:.3f} after {gm.n_iter_} iterations")
print(f"converged: {gm.converged_}")
print(f"BIC {gm.bic(X):.2f}")

ax = plot_components(gm, X)
ax.set_title("EM fit: 500 samples, two components")
# Run as a script, the example keeps its figure as a PNG file in the directory
# given as its argument (default: examples/output); the gallery passes one.
out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
out.mkdir(parents=True, exist_ok=True)
ax.figure.savefig(out / "two_components.png", dpi=120, bbox_inches="tight")
print(f"wrote {out / 'two_components.png'}")
