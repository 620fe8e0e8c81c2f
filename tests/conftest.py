import numpy as np
import pytest


class RandomData:
    """Ground truth for every covariance type: samples from a known mixture
    (after scikit-learn's test fixture of the same name)."""

    def __init__(self, rng, n_samples=600, n_components=2, n_features=2, scale=50.0):
        self.n_samples, self.n_components, self.n_features = n_samples, n_components, n_features
        self.weights = rng.dirichlet(np.full(n_components, 5.0))
        self.means = rng.uniform(-1, 1, size=(n_components, n_features)) * scale
        A = rng.normal(size=(n_components, n_features, n_features))
        self.covariances = {
            "full": A @ np.swapaxes(A, 1, 2) + np.eye(n_features),
            "tied": A[0] @ A[0].T + np.eye(n_features),
            "diag": rng.uniform(0.5, 2.0, size=(n_components, n_features)),
            "spherical": rng.uniform(0.5, 2.0, size=n_components),
        }
        self.labels = rng.choice(n_components, size=n_samples, p=self.weights)
        self.X = {}
        for ct, cov in self.covariances.items():
            full = {
                "full": cov,
                "tied": np.broadcast_to(cov, (n_components, n_features, n_features)),
                "diag": cov[:, :, None] * np.eye(n_features),
                "spherical": cov[:, None, None] * np.eye(n_features),
            }[ct]
            L = np.linalg.cholesky(full)
            Z = rng.normal(size=(n_samples, n_features))
            self.X[ct] = self.means[self.labels] + np.einsum("nij,nj->ni", L[self.labels], Z)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def random_data(rng):
    return RandomData(rng)
