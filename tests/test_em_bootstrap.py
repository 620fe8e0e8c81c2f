"""EM's posterior(): the bootstrap behind the signature every engine shares."""

import numpy as np
import pytest

from bayesmix import GaussianMixture
from bayesmix.datasets import load_faithful


@pytest.fixture(scope="module")
def fitted():
    X = load_faithful()
    return GaussianMixture(2, random_state=0).fit(X), X


def test_n_draws_is_the_number_of_replicates(fitted):
    gm, X = fitted
    post = gm.posterior(X, n_draws=7, random_state=0)
    assert post.weights.shape[:2] == (1, 7)
    assert post.kind == "bootstrap"


def test_n_boot_is_a_deprecated_alias_of_n_draws(fitted):
    gm, X = fitted
    with pytest.warns(FutureWarning, match="n_boot"):
        old = gm.posterior(X, n_boot=5, random_state=2)
    new = gm.posterior(X, n_draws=5, random_state=2)
    np.testing.assert_array_equal(old.means, new.means)
    with pytest.raises(TypeError, match="not both"):
        gm.posterior(X, n_draws=5, n_boot=5)


def test_posterior_says_it_needs_the_training_data(fitted):
    gm, _ = fitted
    with pytest.raises(ValueError, match="needs X"):
        gm.posterior()
    with pytest.raises(TypeError, match="n_draws="):
        gm.posterior(50)
