"""scikit-learn habits that carry over: warnings filters, warm starts, lazy modules."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from bayesmix import ConvergenceWarning, GaussianMixture


def _three_blobs(seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    return np.vstack([rng.normal(c, 1.0, (60, 2)) for c in centers])


@pytest.mark.parametrize("tol", [1e-3, "auto"])
@pytest.mark.parametrize("max_iter", [1, 2, 50])
def test_convergence_detected_with_warm_start(max_iter, tol):
    # scikit-learn's test of the same name: repeated warm-started calls with a
    # small max_iter must end up reporting convergence.
    X = _three_blobs(0)
    gm = GaussianMixture(3, warm_start=True, max_iter=max_iter, tol=tol, random_state=0)
    for _ in range(200):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        if gm.converged_:
            break
    assert gm.converged_
    assert gm.n_iter_ <= max_iter


def test_warm_start_converged_fit_matches_a_cold_fit():
    X = _three_blobs(1)
    cold = GaussianMixture(3, n_init=1, random_state=0).fit(X)
    warm = GaussianMixture(3, max_iter=1, warm_start=True, random_state=0)
    for _ in range(500):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warm.fit(X)
        if warm.converged_:
            break
    assert warm.converged_
    assert warm.score(X) == pytest.approx(cold.score(X), abs=1e-3)


def test_first_warm_call_is_not_converged_by_history_alone():
    # the history is only the previous call's: a fresh estimator has none
    X = _three_blobs(2)
    gm = GaussianMixture(3, warm_start=True, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    assert not gm.converged_


def test_convergence_warning_subclasses_sklearns():
    sk = pytest.importorskip("sklearn.exceptions")
    assert issubclass(ConvergenceWarning, sk.ConvergenceWarning)
    assert issubclass(ConvergenceWarning, UserWarning)
    X = _three_blobs(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", sk.ConvergenceWarning)  # a scikit-learn habit
        gm = GaussianMixture(3, max_iter=1, n_init=1, random_state=0).fit(X)
    assert not gm.converged_


@pytest.mark.parametrize("sklearn_first", [True, False])
def test_convergence_warning_subclass_in_a_fresh_process(sklearn_first):
    pytest.importorskip("sklearn")
    imports = ["import bayesmix", "import sklearn.exceptions as sk"]
    if sklearn_first:
        imports.reverse()
    code = "; ".join(
        [
            *imports,
            "import sys",
            "assert issubclass(bayesmix.ConvergenceWarning, sk.ConvergenceWarning)",
        ]
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_import_bayesmix_imports_no_sklearn_matplotlib_or_pandas():
    code = (
        "import sys, bayesmix; "
        "bad = [m for m in ('sklearn', 'matplotlib', 'pandas') if m in sys.modules]; "
        "assert not bad, bad; "
        "bayesmix.datasets.load_faithful(); "
        "assert 'matplotlib' not in sys.modules; "
        "assert callable(bayesmix.plotting.plot_components)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_lazy_submodules_are_attributes():
    import bayesmix.datasets
    import bayesmix.plotting

    assert bayesmix.datasets is sys.modules["bayesmix.datasets"]
    assert bayesmix.plotting is sys.modules["bayesmix.plotting"]
    assert {"datasets", "plotting"} <= set(dir(bayesmix))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bayesmix.nope
