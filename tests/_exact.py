"""Equality of fits and of saved-and-loaded objects, shared by the save / load and
the Dask tests."""

import numpy as np


def assert_same(a, b, where="value"):
    """Recursive exact equality: same types, dtypes, shapes and bits."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype.kind in "fc":
            bits = [np.ascontiguousarray(v).view(np.uint8) for v in (a, b)]
            assert np.array_equal(*bits), where
        else:
            assert np.array_equal(a, b), where
    elif type(a).__module__.startswith("pandas") and type(a).__name__ == "DataFrame":
        import pandas as pd

        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert a.attrs == b.attrs, where
    elif isinstance(a, np.random.Generator):
        assert_same(a.bit_generator.state, b.bit_generator.state, where)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (float, np.floating)) and np.isnan(a):
        assert np.isnan(b), where
    elif hasattr(a, "__dict__") and type(a).__module__.startswith("bayesmix"):
        if type(a).__name__ == "CovarianceStructure":
            assert a is b, where
        else:
            assert_same(vars(a), vars(b), f"{where}.")
    else:
        assert a == b, where


def assert_same_em_fit(a, b, rtol=1e-10):
    """Two GaussianMixture fits equal to ``rtol`` (a chunked fit against the
    in-memory one): iterations, convergence, parameters, log-likelihoods."""
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * np.abs(x).max(), err_msg=name)
    np.testing.assert_allclose(b.log_likelihood_, a.log_likelihood_, rtol=rtol)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=rtol)
