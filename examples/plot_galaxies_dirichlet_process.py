"""
How many galaxy groups? A Dirichlet-process mixture
===================================================

The velocities of 82 galaxies (in 1000 km/s) are the classic test of
methods that infer the number of components.  The collapsed Gibbs sampler
returns a posterior over partitions of the galaxies, and so over the number
of clusters, together with the density and the co-clustering of pairs.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bayesmix import plotting
from bayesmix.datasets import load_galaxies
from bayesmix.gibbs import DirichletProcessMixture
from bayesmix.priors import NormalInverseWishart

# Run as a script, the example keeps its figures as PNG files in the directory
# given as its argument (default: examples/output); the gallery passes one.
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
OUT.mkdir(parents=True, exist_ok=True)


def keep(fig, name):
    """Write ``fig`` as ``OUT/<name>.png``."""
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}.png")


G = load_galaxies(unit=1000.0)  # (82, 1)

default = DirichletProcessMixture(random_state=0, progress=False).fit(G)
print(f"default prior: chains agree (split R-hat {default.rhat_:.3f}): {default.converged_}")

# %%
# The answer depends on the prior of a cluster's covariance.  By default
# ``E[Sigma]`` is the variance of the whole data set (a cluster is a priori as
# wide as the data), which favours a few broad clusters.  Expecting clusters
# about 1000 km/s wide (``E[Sigma] = scale / (dof - 2) = 1``) lets the sampler
# keep the small groups apart.
narrow_prior = NormalInverseWishart(scale=[[1.0]], dof=3.0)
narrow = DirichletProcessMixture(
    component_prior=narrow_prior, n_iter=3000, thin=3, random_state=0, progress=False
)
narrow.fit(G)
print(f"narrower prior: chains agree (split R-hat {narrow.rhat_:.3f}): {narrow.converged_}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plotting.plot_n_components(default.n_clusters_samples_, ax=axes[0])
plotting.plot_n_components(narrow.n_clusters_samples_, ax=axes[1], color="C1")
axes[0].set_title("default prior: E[Sigma] = data variance")
axes[1].set_title("E[Sigma] = 1")
keep(fig, "galaxies_dirichlet_process_n_components")

# %%
# Do the four chains agree on the number of clusters?  Their rank histograms
# stay inside the band expected of chains that sample the same distribution.
ax = plotting.plot_rank(narrow.n_clusters_samples_, name="number of clusters")
keep(ax.figure, "galaxies_dirichlet_process_rank")

# %%
# Parameters are drawn given each kept partition; the posterior layer
# relabels them and summarises.  The posterior mean density comes with a
# pointwise 90% credible band.
posterior = narrow.posterior()
ax = plotting.plot_posterior_density(posterior, grid=np.linspace(5, 40, 400), ci=0.9)
ax.set_xlabel("velocity (1000 km/s)")
keep(ax.figure, "galaxies_dirichlet_process_density")

# %%
# Co-clustering: the posterior probability that two galaxies share a cluster,
# ordered by the point partition (the partition minimising Binder's loss).
# The distant groups are certain; the split of the central group is not.
ax = plotting.plot_coclustering(posterior)
keep(ax.figure, "galaxies_dirichlet_process_coclustering")
partition = posterior.point_partition()
print("point partition, cluster sizes:", np.bincount(partition))

# %%
# The summary table: posterior mean, sd, 90% interval and convergence
# diagnostics of the weights and of the number of occupied clusters.
table = posterior.summary(ci=0.9, var_names=["weights", "n_occupied"])
print(table.loc[table["mean"] > 0.01].round(3).to_string())
