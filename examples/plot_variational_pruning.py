"""
Variational Bayes prunes the components it does not need
========================================================

A variational Gaussian mixture with Dirichlet-process weights is given ten
components; the data decide how many get weight.  The evidence lower bound
(ELBO) rises at every iteration.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bayesmix import plotting
from bayesmix.datasets import load_faithful
from bayesmix.priors import DirichletProcess
from bayesmix.vb import VariationalGaussianMixture

# Run as a script, the example keeps its figures as PNG files in the directory
# given as its argument (default: examples/output); the gallery passes one.
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
OUT.mkdir(parents=True, exist_ok=True)


def keep(fig, name):
    """Write ``fig`` as ``OUT/<name>.png``."""
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}.png")


X = load_faithful(as_frame=True)  # a DataFrame: the columns name the axes
vb = VariationalGaussianMixture(
    n_components=10, weight_prior=DirichletProcess(1.0), n_init=3, random_state=0
).fit(X)
print(f"effective components: {vb.n_effective_components_} of {vb.n_components}")
print("expected counts per component:", np.round(vb.counts_, 1))
print(f"ELBO {vb.elbo_:.2f} after {vb.n_iter_} iterations")

# %%
# Weights of the ten components: most are (almost) empty.
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(np.arange(vb.n_components), vb.weights_)
ax.set_xlabel("component")
ax.set_ylabel("posterior mean weight")
keep(fig, "variational_pruning_weights")

# %%
# The fitted components (those with weight below 0.5% are not drawn).
ax = plotting.plot_components(vb, X)
keep(ax.figure, "variational_pruning_components")

# %%
# The ELBO per iteration of the kept run: coordinate ascent never lowers it.
ax = plotting.plot_convergence(vb)
keep(ax.figure, "variational_pruning_elbo")
assert np.all(np.diff(vb.lower_bounds_) > -1e-6 * abs(vb.elbo_))
