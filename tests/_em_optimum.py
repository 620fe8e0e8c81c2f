"""A fitted GaussianMixture run on to its own optimum, shared by the tests that
check how far a fit stopped from it."""

from bayesmix import GaussianMixture


def continued(gm, X, tol=1e-13, max_iter=20_000):
    """``gm`` continued from its own parameters until nothing changes (to
    ``tol``, at most ``max_iter`` iterations)."""
    return GaussianMixture(
        gm.n_components,
        covariance_type=gm.covariance_type,
        weights_init=gm.weights_,
        means_init=gm.means_,
        precisions_init=gm.precisions_,
        n_init=1,
        tol=tol,
        max_iter=max_iter,
    ).fit(X)
