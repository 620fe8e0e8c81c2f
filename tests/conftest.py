import sys

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
        cov = self.covariances
        self.full_covariances = {
            "full": cov["full"],
            "tied": np.broadcast_to(cov["tied"], (n_components, n_features, n_features)),
            "diag": cov["diag"][:, :, None] * np.eye(n_features),
            "spherical": cov["spherical"][:, None, None] * np.eye(n_features),
        }
        for ct, full in self.full_covariances.items():
            L = np.linalg.cholesky(full)
            Z = rng.normal(size=(n_samples, n_features))
            self.X[ct] = self.means[self.labels] + np.einsum("nij,nj->ni", L[self.labels], Z)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def random_data(rng):
    return RandomData(rng)


@pytest.fixture(scope="session")
def make_random_data():
    """``make_random_data(seed, **kwargs)``: a :class:`RandomData` from an integer seed."""

    def make(seed, **kwargs):
        return RandomData(np.random.default_rng(seed), **kwargs)

    return make


@pytest.fixture
def no_kernels(monkeypatch):
    """Make every compiled kernel (and the task runner that calls them) fail.

    A test that uses this fixture asserts that its input is rejected before
    any numba code runs: every numba dispatcher reachable from a bayesmix
    module, and ``run_tasks``, is replaced by a function that raises.
    """
    from numba.core.dispatcher import Dispatcher

    calls = []

    def forbidden(name):
        def fail(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"compiled kernel {name!r} ran before validation finished")

        return fail

    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "bayesmix" or module_name.startswith("bayesmix.")):
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, Dispatcher) or attr == "run_tasks":
                monkeypatch.setattr(module, attr, forbidden(attr))
    yield calls
    assert not calls, f"kernels ran: {calls}"


@pytest.fixture(scope="module")
def local_cluster():
    """A Dask client on a local cluster of two worker processes."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: 8787 may be taken
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
