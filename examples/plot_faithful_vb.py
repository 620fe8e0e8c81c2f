"""
Old Faithful with a Dirichlet-process mixture (variational Bayes)
=================================================================

The 272 eruptions of the Old Faithful geyser (duration and waiting time),
fitted by variational Bayes with Dirichlet-process weights truncated at ten
components.  The data decide how many components carry weight; the evidence
lower bound (ELBO) includes every constant, so it can be compared with other
fits of the same data — here with a finite Dirichlet prior and with other
truncation levels.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bayesmix import Dirichlet, DirichletProcess, Gamma, VariationalGaussianMixture
from bayesmix.datasets import load_faithful
from bayesmix.plotting import plot_components, plot_convergence

X = load_faithful(as_frame=True)

vb = VariationalGaussianMixture(
    n_components=10, weight_prior=DirichletProcess(1.0), n_init=3, random_state=0
).fit(X)
keep = np.flatnonzero(vb.effective_components_)
np.set_printoptions(precision=3, suppress=True)
print(f"effective components: {vb.n_effective_components_} of {vb.n_components}")
print("expected counts     ", vb.counts_[keep])
print("weights             ", vb.weights_[keep])
print("means               ", vb.means_[keep].tolist())
print(f"ELBO {vb.elbo_:.3f} after {vb.n_iter_} iterations (converged: {vb.converged_})")

# %%
# The ELBO is a lower bound on log p(X) with all constants, so fits with other
# priors or truncation levels can be ranked by it.
for label, model in [
    (
        "DP, learned concentration",
        VariationalGaussianMixture(
            10, weight_prior=DirichletProcess(Gamma(1.0, 1.0)), n_init=3, random_state=0
        ),
    ),
    ("DP, truncated at 20", VariationalGaussianMixture(20, n_init=3, random_state=0)),
    ("Dirichlet(1/10)", VariationalGaussianMixture(10, weight_prior=Dirichlet(), n_init=3)),
]:
    model.set_params(random_state=0).fit(X)
    print(f"{label:>26}: ELBO {model.elbo_:.3f}, {model.n_effective_components_} components")

# %%
# The components that carry weight, and the ELBO per iteration of the kept run.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10.5, 4.2))
plot_components(vb, X, ax=ax0)
ax0.set_title(f"DP mixture: {vb.n_effective_components_} effective components")
plot_convergence(vb, ax=ax1)
ax1.set_title("coordinate ascent never lowers the ELBO")
fig.tight_layout()
# Run as a script, the example keeps its figure as a PNG file in the directory
# given as its argument (default: examples/output); the gallery passes one.
out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/output")
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "faithful_vb.png", dpi=120, bbox_inches="tight")
print(f"wrote {out / 'faithful_vb.png'}")
