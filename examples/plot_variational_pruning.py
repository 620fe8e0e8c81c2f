"""
Variational Bayes prunes the components it does not need
========================================================

A variational Gaussian mixture with Dirichlet-process weights is given ten
components; the data decide how many get weight.  The evidence lower bound
(ELBO) rises at every iteration.
"""

import matplotlib.pyplot as plt
import numpy as np

from bayesmix import plotting
from bayesmix.datasets import load_faithful
from bayesmix.priors import DirichletProcess
from bayesmix.vb import VariationalGaussianMixture

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

# %%
# The fitted components (those with weight below 0.5% are not drawn).
plotting.plot_components(vb, X)

# %%
# The ELBO per iteration of the kept run: coordinate ascent never lowers it.
plotting.plot_convergence(vb)
assert np.all(np.diff(vb.lower_bounds_) > -1e-6 * abs(vb.elbo_))
