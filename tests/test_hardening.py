"""Hardening (issue 16): inputs, files and threads that once crashed a process,
read out of bounds or were silently misread.  Crash-prone cases run in a
subprocess, so a regression fails a test instead of killing the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from bayesmix import DirichletProcessMixture
from bayesmix.priors import NormalInverseWishart


def run_isolated(code: str, timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a segfault shows as a negative return code."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------ Gibbs kernel guards
def test_sample_index_refuses_non_distributions_in_subprocess():
    # NaN weights, an infinite maximum (every exp(w - mx) zero or NaN) and all
    # -inf: each used to walk off the weight array; now -1, and a sweep over a
    # NaN prior predictive returns -1 clusters instead of reading out of bounds.
    proc = run_isolated(
        """
        import numpy as np
        from bayesmix._kernels._gibbs import gibbs_sweep
        from bayesmix._gibbs_model import prepare_model
        from bayesmix.priors import NormalInverseWishart
        X = np.random.default_rng(0).normal(size=(30, 2))
        prior = NormalInverseWishart().resolve(X, None, n_components=1)
        m = prepare_model(X, prior)
        out = []
        for bad in (np.nan, np.inf, -np.inf):
            labels = np.zeros(30, dtype=np.int64)
            lpp = np.full(30, bad)
            R = m.R0.copy()
            R[0, 0] = np.nan if bad != -np.inf else R[0, 0]
            prior_t = (m.prior.mean, m.prior.scale, R, m.inv0, m.consts, m.tables)
            ones = np.ones(30, dtype=np.int64)
            k, _ = gibbs_sweep(m.X, ones, 30, labels, 1, lpp, prior_t, 0.0, 1, False)
            out.append(int(k))
        print(out)
        """
    )
    assert proc.returncode == 0, proc.stderr
    ks = eval(proc.stdout.strip())
    assert ks[0] == -1 and ks[1] == -1
    assert ks[2] >= -1  # all -inf new-cluster weights: either refused or a valid state


@pytest.mark.parametrize(
    "case, match",
    [
        ("2.0, NormalInverseWishart(mean=[1e16, 1e91])", r"component_prior\.mean=.*1\.e\+91"),
        (
            "40.0, NormalInverseWishart(dof=40.0, scale=np.eye(2) * 1e-300)",
            r"component_prior\.scale=.*eigenvalues",
        ),
    ],
)
def test_issue_gibbs_crash_cases_in_subprocess(case, match):
    proc = run_isolated(
        f"""
        import re, numpy as np
        from bayesmix import DirichletProcessMixture
        from bayesmix.priors import NormalInverseWishart
        X = np.random.default_rng(0).normal(size=(60, 2))
        try:
            DirichletProcessMixture({case}, n_iter=4, n_chains=1, progress=False).fit(X)
        except ValueError as exc:
            assert re.search({match!r}, str(exc)), str(exc)
            print("refused")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


def test_gibbs_sweep_non_finite_state_raises_naming_the_prior(monkeypatch):
    # Past the up-front check (a prior just inside the limits, a state made
    # non-finite by hand) the kernel's -1 becomes an error naming the prior.
    import bayesmix.gibbs as gibbs_mod

    monkeypatch.setattr(gibbs_mod, "check_prior_against_data", lambda *a, **k: None)
    X = np.random.default_rng(0).normal(size=(40, 2))
    bad = NormalInverseWishart(mean=[1e200, 0.0], scale=np.eye(2) * 1e-300, dof=4.0)
    with pytest.raises(ValueError, match=r"non-finite.*component_prior\.mean="):
        DirichletProcessMixture(2.0, bad, n_iter=3, n_chains=1, progress=False).fit(X)


# --------------------------------------------------------- tampered model files
@pytest.fixture(scope="module")
def fits():
    import warnings

    from bayesmix import ConvergenceWarning, GaussianMixture

    X = np.random.default_rng(1).normal(size=(60, 2))
    X[:30] += 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gibbs = DirichletProcessMixture(
            2.0, n_iter=12, burn_in=4, n_chains=2, random_state=0, progress=False
        ).fit(X)
    return {"em": GaussianMixture(2, random_state=0).fit(X), "gibbs": gibbs, "X": X}


def _saved_with(model, tmp_path, **changes):
    """A copy of ``model`` with attributes replaced, saved and returned as a path."""
    import copy

    m = copy.deepcopy(model)
    for name, value in changes.items():
        setattr(m, name, value)
    path = tmp_path / "tampered.npz"
    m.save(path)
    return path


@pytest.mark.parametrize("value", [2**30, 100, -5])
def test_tampered_gibbs_labels_are_refused(fits, tmp_path, value):
    from bayesmix import load

    full = fits["gibbs"]._labels_full.astype(np.int64)
    full[0, 0, 0] = value
    path = _saved_with(fits["gibbs"], tmp_path, _labels_full=full)
    with pytest.raises(ValueError, match="_labels_full holds labels outside"):
        load(path)


def test_tampered_gibbs_copies_are_refused(tmp_path):
    """A weighted fit stores the copies each sampler row holds per draw: counts
    that are negative, that move copies between distinct rows or leave a
    cluster without copies would make the summaries divide by zero."""
    import warnings

    from bayesmix import ConvergenceWarning, load

    X = np.random.default_rng(1).normal(size=(20, 2))
    w = np.r_[5, 7, np.ones(18, dtype=int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gibbs = DirichletProcessMixture(
            n_iter=12, burn_in=4, n_chains=2, random_state=0, progress=False
        ).fit(X, sample_weight=w)
    assert load(_saved_with(gibbs, tmp_path)).score(X) == gibbs.score(X)
    start, length = gibbs._atom_start, gibbs._atom_len
    mult = gibbs._mult_full.astype(np.int64)
    bad = mult.copy()
    bad[0, 0, start[0]] = -1
    bad[0, 0, start[0] + 1] += 1
    with pytest.raises(ValueError, match="non-negative copies"):
        load(_saved_with(gibbs, tmp_path, _mult_full=bad))
    bad = mult.copy()
    bad[0, 0, start[0]] -= 1
    bad[0, 0, start[1]] += 1  # a copy of one row handed to another
    with pytest.raises(ValueError, match="moves copies between distinct rows"):
        load(_saved_with(gibbs, tmp_path, _mult_full=bad))
    bad = mult.copy()
    bad[0, 0, :] = 0
    bad[0, 0, start[0]] = mult[0, 0].sum()  # every copy on one row: the other rows' clusters empty
    with pytest.raises(ValueError, match=r"moves copies|one copy on each row"):
        load(_saved_with(gibbs, tmp_path, _mult_full=bad))
    assert sorted(length.tolist()) == [5, 7]  # rows of weight 5 and 7: 5 and 7 holders
    with pytest.raises(ValueError, match="_mult_full without _mult0"):
        load(_saved_with(gibbs, tmp_path, _mult0=None))


def test_tampered_em_shapes_are_refused(fits, tmp_path):
    import dataclasses

    from bayesmix import load

    em = fits["em"]
    small = dataclasses.replace(em._params, prec_chol=np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match=r"_params\.prec_chol has shape \(2, 1, 1\)"):
        load(_saved_with(em, tmp_path, _params=small))
    with pytest.raises(ValueError, match=r"means_ has shape \(1, 2\), expected \(2, 2\)"):
        load(_saved_with(em, tmp_path, means_=em.means_[:1]))
    one = dataclasses.replace(em._params, means=em._params.means[:1])
    with pytest.raises(ValueError, match=r"_params\.means has shape \(1, 2\)"):
        load(_saved_with(em, tmp_path, _params=one))


@pytest.mark.parametrize("scale", [np.nan, 0.0, -1.0, np.inf])
@pytest.mark.parametrize("engine", ["em", "gibbs"])
def test_tampered_standardiser_scale_is_refused(fits, tmp_path, engine, scale):
    import copy

    from bayesmix import load

    model = copy.deepcopy(fits[engine])
    model._standardiser.scale = scale
    with pytest.raises(ValueError, match=r"_standardiser\.scale must be a positive finite"):
        load(_saved_with(model, tmp_path))


def _rezip(path, members: dict, extra=()):
    """Rewrite ``path`` with the ``members`` (name -> bytes) plus ``extra`` (name, bytes)
    pairs, duplicates allowed."""
    import warnings
    import zipfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in [*members.items(), *extra]:
                zf.writestr(name, data)


def _members(path) -> dict:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _npy(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize(
    "extra, match",
    [
        ([("a0.npy", _npy(np.zeros(3)))], r"holds the member\(s\) \['a0.npy'\] more than once"),
        ([("evil.npy", _npy(np.zeros(3)))], r"members bayesmix never writes: \['evil.npy'\]"),
        ([("a9999.npy", _npy(np.zeros(3)))], r"never refers to: \['a9999'\]"),
    ],
)
def test_unknown_duplicate_and_unreferenced_members_are_refused(fits, tmp_path, extra, match):
    from bayesmix import load

    path = tmp_path / "m.npz"
    fits["em"].save(path)
    _rezip(path, _members(path), extra)
    with pytest.raises(ValueError, match=match):
        load(path)


def test_header_promising_more_than_the_member_holds_is_refused(fits, tmp_path):
    from bayesmix import load

    path = tmp_path / "m.npz"
    fits["em"].save(path)
    members = _members(path)
    # a header claiming 10**12 float64s over three real ones: numpy would
    # allocate 8 TB before reading
    import io

    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    np.lib.format.write_array_header_1_0(buf, header)
    members["a0.npy"] = buf.getvalue() + np.zeros(3).tobytes()
    _rezip(path, members)
    with pytest.raises(ValueError, match="header promises 8000000000000 bytes"):
        load(path)


def test_small_file_expanding_to_a_large_member_is_refused(fits, tmp_path):
    import zipfile

    from bayesmix import load
    from bayesmix._load_checks import MAX_BYTES_FLOOR

    path = tmp_path / "m.npz"
    fits["em"].save(path)
    members = _members(path)
    n = (MAX_BYTES_FLOOR // 8) + 2**20  # zeros compress about 1000:1
    header = _npy(np.zeros(n))[: -8 * n]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name != "a0.npy":
                zf.writestr(name, data)
        with zf.open("a0.npy", "w", force_zip64=True) as fh:
            fh.write(header)
            chunk = bytes(2**20)
            for _ in range(8 * n // 2**20):
                fh.write(chunk)
    assert path.stat().st_size < MAX_BYTES_FLOOR // 100
    with pytest.raises(ValueError, match=r"more than \d+ bytes uncompressed.*max_bytes"):
        load(path)


def test_oversized_metadata_is_refused(fits, tmp_path):
    from bayesmix import load
    from bayesmix._load_checks import MAX_META_BYTES

    path = tmp_path / "m.npz"
    fits["em"].save(path)
    members = _members(path)
    members["__bayesmix__.npy"] = _npy(np.full(MAX_META_BYTES + 1, ord(" "), dtype=np.uint8))
    _rezip(path, members)
    with pytest.raises(ValueError, match=r"metadata takes .* bytes uncompressed"):
        load(path)


# ------------------------------------------------------------ process-wide state
def test_select_model_in_threads_leaves_warnings_state_alone():
    import threading
    import warnings

    from bayesmix import ConvergenceWarning, GaussianMixture, select_model

    X = np.random.default_rng(3).normal(size=(80, 2))
    before_show, before_filters = warnings.showwarning, list(warnings.filters)
    errors = []
    start = threading.Barrier(3)

    def selection():
        try:
            start.wait()
            for _ in range(2):
                select_model(X, n_components=[1, 2, 3], covariance_types=["full", "diag"])
        except BaseException as exc:
            errors.append(exc)

    def fitting():
        # warns (max_iter=1 stops early) while the selections capture warnings:
        # shown through the previous showwarning, or raised by pytest's "error"
        # filter when no selection is capturing; never a RecursionError
        start.wait()
        for _ in range(6):
            try:
                GaussianMixture(2, max_iter=1, random_state=0).fit(X)
            except ConvergenceWarning:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=f) for f in (selection, selection, fitting)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert warnings.showwarning is before_show
    assert warnings.filters == before_filters


def test_blas_limit_is_restored_by_another_thread_than_the_one_that_set_it():
    # threadpoolctl >= 3.8 lets only the first thread to set an OpenBLAS limit
    # change it again; our limit is set by the first thread in and restored by
    # the last out, and that restore was silently dropped while the first was
    # alive (BLAS then stayed on one thread for the rest of the process).
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    from bayesmix._process_state import single_threaded_blas

    def blas_threads():
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["user_api"] == "blas"]

    before = blas_threads()
    if not before or min(before) < 2:
        pytest.skip("needs a BLAS with at least two threads")
    first_in, b_in, a_out, done = (threading.Event() for _ in range(4))
    seen = {}

    def a():
        with single_threaded_blas():
            first_in.set()
            b_in.wait()
            seen["inside"] = blas_threads()
        a_out.set()
        done.wait()  # stays alive while b restores

    def b():
        first_in.wait()
        with single_threaded_blas():
            b_in.set()
            a_out.wait()

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start()
    tb.start()
    tb.join()
    after = blas_threads()
    done.set()
    ta.join()
    assert seen["inside"] == [1] * len(before)
    assert after == before


def test_no_engine_starts_numba_threading_layer():
    # The kernels run on bayesmix's own thread pool (nogil kernels, one task
    # range each), never on numba's parallel threading layer, so a fit neither
    # picks nor starts a layer (OpenMP / TBB / workqueue) that the user's own
    # numba code would then be tied to.  numba.threading_layer() raises until
    # some parallel=True code has run.
    code = """
import warnings
import numba
import numpy as np
from bayesmix import (DirichletProcessMixture, GaussianMixture, VariationalGaussianMixture,
                      select_model)
X = np.random.default_rng(0).normal(size=(120, 2))
warnings.simplefilter("ignore")
GaussianMixture(2, random_state=0).fit(X).posterior(X, n_draws=4)
VariationalGaussianMixture(3, random_state=0).fit(X)
DirichletProcessMixture(n_iter=20, n_chains=2, random_state=0, progress=False).fit(X)
select_model(X, n_components=[1, 2], covariance_types=["full"])
try:
    print("layer", numba.threading_layer())
except ValueError:
    print("no layer")
"""
    out = run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "no layer", out.stdout


def test_shared_state_is_restored_once_whatever_the_order():
    import warnings

    from bayesmix._process_state import capturing_warnings, warning_sink

    before = warnings.showwarning
    a, b = capturing_warnings(), capturing_warnings()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)  # the first to enter leaves first
    assert warnings.showwarning is not before  # b still captures
    sink = []
    with warning_sink(sink):
        warnings.warn("filed", UserWarning, stacklevel=1)
    assert sink == ["UserWarning: filed"]
    b.__exit__(None, None, None)
    assert warnings.showwarning is before


# ------------------------------------------------------------------ validation
def _engines():
    from bayesmix import GaussianMixture, VariationalGaussianMixture

    return [
        GaussianMixture(2, random_state=0),
        VariationalGaussianMixture(n_components=2, random_state=0),
        DirichletProcessMixture(n_iter=4, n_chains=1, progress=False),
    ]


@pytest.mark.parametrize("engine", range(3))
def test_masked_arrays_are_refused(engine):
    X = np.random.default_rng(0).normal(size=(20, 2))
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked[3, 1] = np.ma.masked
    with pytest.raises(TypeError, match=r"masked array.*compress_rows"):
        _engines()[engine].fit(masked)
    weights = np.ma.masked_array(np.ones(20), mask=[True] + [False] * 19)
    with pytest.raises(TypeError, match=r"sample_weight is a numpy masked array.*compressed"):
        _engines()[engine].fit(X, sample_weight=weights)


def test_numeric_strings_are_refused_in_frames_and_weights_like_in_arrays():
    pd = pytest.importorskip("pandas")
    from bayesmix import GaussianMixture

    X = np.random.default_rng(0).normal(size=(20, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": [f"{v}" for v in X[:, 1]]})
    with pytest.raises(TypeError, match=r"column\(s\) \['b'\] hold text.*pd.to_numeric"):
        GaussianMixture(2).fit(frame)
    with pytest.raises(TypeError, match="contains strings"):
        GaussianMixture(2).fit(X.astype(str))
    for bad in (["1"] * 20, np.array([1.0] * 20, dtype=object), [None] * 20):
        with pytest.raises(TypeError, match="sample_weight must be numbers"):
            GaussianMixture(2).fit(X, sample_weight=bad)


def test_dates_and_times_are_refused():
    pd = pytest.importorskip("pandas")
    from bayesmix import GaussianMixture

    t = pd.date_range("2024-01-01", periods=20, freq="h")
    frame = pd.DataFrame({"t": t, "x": np.arange(20.0)})
    with pytest.raises(TypeError, match=r"column 't' holds dates or times"):
        GaussianMixture(2).fit(frame)
    with pytest.raises(TypeError, match="dates or times"):
        GaussianMixture(2).fit(np.array(t.values).reshape(-1, 1))
    with pytest.raises(TypeError, match="dates or times"):
        GaussianMixture(2).fit(np.array([[pd.Timestamp("2024-01-01")]] * 4, dtype=object))


def test_huge_integer_weights_are_refused_up_front():
    from bayesmix import GaussianMixture

    X = np.random.default_rng(0).normal(size=(20, 2))
    w = np.ones(20, dtype=np.int64)
    w[0] = 2**62
    with pytest.raises(ValueError, match=r"integers above 2\*\*53"):
        GaussianMixture(2).fit(X, sample_weight=w)
    with pytest.raises(ValueError, match=r"sums to 2e\+16 observations.*2\*\*53"):
        DirichletProcessMixture(n_iter=4, progress=False).fit(
            X, sample_weight=np.r_[2e16, np.ones(19)]
        )
    holes = X.copy()
    holes[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"rows with missing cells 1e\+12 observations"):
        DirichletProcessMixture(n_iter=4, progress=False).fit(
            holes, sample_weight=np.r_[1e12, np.ones(19)]
        )


def test_gibbs_integer_weights_are_not_expanded():
    """A row of weight 1e12 is one distinct row whose copies a few sampler rows
    hold: the fit takes the time and memory of 20 rows, not 1e12 (it raised
    MemoryError, "Unable to allocate 14.6 TiB", when copies were rows)."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    w = np.r_[1e12, np.ones(19)]
    from bayesmix import ConvergenceWarning

    dpm = DirichletProcessMixture(n_iter=30, burn_in=10, progress=False, random_state=0)
    with warnings.catch_warnings():  # 20 kept draws: the chains are not judged here
        warnings.simplefilter("ignore", ConvergenceWarning)
        dpm.fit(X, sample_weight=w)
    assert dpm._X_fit.shape[0] <= 19 + 32  # one row per copy would be 1e12
    assert dpm._mult_full.sum(axis=-1).min() == 10**12 + 19  # every copy, in every draw
    assert dpm.pieces_blocked_ == 0
    # the heavy row's copies sit in one cluster, which holds nearly all the weight
    assert dpm.weights_.max() > 1 - 1e-9
    assert dpm.labels_[0] == int(np.argmax(dpm.weights_))
    assert np.isfinite(dpm.score_samples(X)).all()


# ------------------------------------------------------------------ scale range
def _two_groups():
    X = np.random.default_rng(0).normal(size=(60, 2))
    X[:30] += 4.0
    return X


@pytest.mark.parametrize("engine", range(3))
@pytest.mark.parametrize("factor", [1e155, 1e-200])
def test_data_beyond_the_scale_range_is_refused_up_front(engine, factor):
    with pytest.raises(ValueError, match=r"X has a scale of about .* Rescale X first"):
        _engines()[engine].fit(_two_groups() * factor)


@pytest.mark.parametrize("factor", [1e150, 1e-150])
def test_data_at_the_documented_scale_range_fit_like_data_near_one(factor):
    from bayesmix import GaussianMixture

    X = _two_groups()
    ref = GaussianMixture(2, random_state=0).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(X * factor)
    np.testing.assert_allclose(gm.means_ / factor, ref.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_ / factor**2, ref.covariances_, rtol=1e-9)
    assert np.isfinite(gm.sample(4)[0]).all()


def test_em_weights_are_scale_free():
    from bayesmix import GaussianMixture

    X = _two_groups()
    ones = GaussianMixture(2, random_state=0).fit(X)
    huge = GaussianMixture(2, random_state=0).fit(X, sample_weight=np.full(60, 1e300))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(huge, name), getattr(ones, name)), name
    # totals stay those of the caller's weights
    assert huge.log_likelihood_ == pytest.approx(1e300 * ones.log_likelihood_, rel=1e-12)


def test_weights_beyond_the_counting_range_are_refused_by_vb():
    from bayesmix import VariationalGaussianMixture

    with pytest.raises(ValueError, match=r"sample_weight sums to 6e\+301.*Divide the weights"):
        VariationalGaussianMixture(n_components=2).fit(
            _two_groups(), sample_weight=np.full(60, 1e300)
        )


def test_vb_prior_mean_far_from_the_data_is_refused_naming_the_argument():
    from bayesmix import VariationalGaussianMixture

    vb = VariationalGaussianMixture(
        n_components=2, component_prior=NormalInverseWishart(mean=[1e200, 0.0])
    )
    match = r"component_prior\.mean=\[1\.e\+200, 0\.e\+0+\] puts the prior mean"
    with pytest.raises(ValueError, match=match):
        vb.fit(_two_groups())


# ------------------------------------------------------------------ EM's floor
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_em_never_ends_below_the_one_component_fit(covariance_type):
    import warnings

    from bayesmix import GaussianMixture

    t = np.random.default_rng(6).normal(size=(500, 1))
    X = t * np.arange(1, 11) + 3  # points on a line in 10-D: no cluster structure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = GaussianMixture(1, covariance_type=covariance_type).fit(X).log_likelihood_
        for k, init in [(3, "auto"), (3, "random"), (2, "random"), (4, "k-means++")]:
            gm = GaussianMixture(
                k, covariance_type=covariance_type, init_params=init, random_state=1
            ).fit(X)
            assert gm.log_likelihood_ >= one - 1e-9 * abs(one), (k, init)


def test_em_floor_says_what_it_did():
    from bayesmix import DegenerateDataWarning, GaussianMixture

    t = np.random.default_rng(6).normal(size=(500, 1))
    X = t * np.arange(1, 11) + 3
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(3, init_params="random", n_init=1, random_state=0).fit(X)
        one = GaussianMixture(1).fit(X)
    said = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DegenerateDataWarning)
        and "returned the one-component fit as 3 identical" in str(w.message)
    ]
    assert len(said) == 1
    assert np.allclose(gm.weights_, 1 / 3)
    np.testing.assert_allclose(gm.means_, np.repeat(one.means_, 3, axis=0), rtol=1e-9)
    assert gm.log_likelihood_ >= one.log_likelihood_ - 1e-10 * abs(one.log_likelihood_)
    assert gm.converged_


# ------------------------------------------------- what the fuzzing found (pinned)
def test_fuzz_findings_tampered_state_is_refused(fits, tmp_path):
    import copy

    from bayesmix import GaussianMixture, load, select_model

    with pytest.raises(ValueError, match="_structure is not a covariance structure"):
        load(_saved_with(fits["em"], tmp_path, _structure=None))
    gibbs = copy.deepcopy(fits["gibbs"])
    counts, mu, R = gibbs._point
    R = R.copy()
    R[0, 0, 0] = 0.0
    with pytest.raises(ValueError, match="positive diagonal"):
        load(_saved_with(gibbs, tmp_path, _point=(counts, mu, R)))
    sel = select_model(fits["X"], n_components=[1, 2], covariance_types=["full"])
    sel.best_params_ = None
    path = tmp_path / "sel.npz"
    sel.save(path)
    with pytest.raises(ValueError, match="saved state is malformed"):
        load(path)
    post = GaussianMixture(2, random_state=0).fit(fits["X"]).posterior(fits["X"], n_draws=4)
    post.feature_names = "x"
    post.save(path)
    with pytest.raises(ValueError, match="feature_names must be 2 strings"):
        load(path)


def test_fuzz_findings_inputs():
    from bayesmix import GaussianMixture

    X = _two_groups()[:8] * 1e-140
    with pytest.raises(ValueError, match=r"means_init lies .* standard deviations"):
        GaussianMixture(2, means_init=[[1e200, 0.0], [0.0, 0.0]]).fit(X)
    # the eigenvalue QR step of the learned prior scale once divided by an
    # underflowed zero
    prior = NormalInverseWishart(mean=[0.0, 0.0], kappa=1e-300)
    DirichletProcessMixture(
        1.0, prior, n_iter=4, burn_in=1, n_chains=2, progress=False, random_state=0
    ).fit(np.full((2, 2), 3.0))
