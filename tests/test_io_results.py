"""Saving and loading results: MixturePosterior and ModelSelection round trips
(exact, no pickle, the same safety checks as model files), and netCDF output
through ArviZ when the optional backend is installed."""

import json
import warnings
import zipfile

import numpy as np
import pytest
from _exact import assert_same

from bayesmix import (
    ConvergenceWarning,
    DirichletProcessMixture,
    GaussianMixture,
    MixturePosterior,
    ModelSelection,
    VariationalGaussianMixture,
    load,
    select_model,
)
from bayesmix.datasets import load_faithful

pd = pytest.importorskip("pandas")


def _saved_state(post):
    return {k: v for k, v in vars(post).items() if k != "_cache"}


@pytest.fixture(scope="module")
def X():
    return load_faithful()


@pytest.fixture(scope="module")
def posteriors(X):
    frame = pd.DataFrame(X, columns=["eruptions", "waiting"])
    out = {}
    gm = GaussianMixture(2, random_state=0).fit(frame)
    out["bootstrap"] = gm.posterior(frame, n_draws=20, random_state=1)
    vb = VariationalGaussianMixture(n_components=4, random_state=0).fit(X)
    out["variational"] = vb.posterior(X, n_draws=50, random_state=2)
    dp = DirichletProcessMixture(random_state=0, n_iter=60, burn_in=20, n_chains=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        dp.fit(X)
        out["gibbs"] = dp.posterior()
    return out


@pytest.mark.parametrize("kind", ["bootstrap", "variational", "gibbs"])
def test_posterior_round_trip_is_exact(posteriors, kind, tmp_path):
    post = posteriors[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        before = post.summary(ci=0.9)  # fills the cache, which is not saved
    path = tmp_path / "post.npz"
    post.save(path)
    back = load(path)
    assert type(back) is MixturePosterior and back.kind == kind
    assert_same(_saved_state(post), _saved_state(back))
    assert back._cache == {}
    # what a user reads from it is the same, bit for bit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pd.testing.assert_frame_equal(back.summary(ci=0.9), before, check_exact=True)
    grid = np.column_stack([np.linspace(1.5, 5.5, 7), np.linspace(45, 95, 7)])
    for a, b in zip(post.density(grid), back.density(grid), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(post.n_components(), back.n_components())
    if post.X is not None:
        assert np.array_equal(post.log_likelihood, back.log_likelihood)
        assert np.array_equal(post.coclustering(), back.coclustering())
    assert_same(MixturePosterior.load(path).weights, post.weights)


def test_posterior_from_draws_with_everything_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    n_chains, n_draws, k, d, n = 2, 12, 3, 2, 40
    X = rng.normal(size=(n, d)) + np.repeat(np.eye(d) * 6, [20, 20], axis=0)
    weights = rng.dirichlet(np.ones(k), size=(n_chains, n_draws))
    means = rng.normal(size=(n_chains, n_draws, k, d)) * 3
    covs = np.broadcast_to(np.eye(d), (n_chains, n_draws, k, d, d)).copy()
    labels = rng.integers(0, k, size=(n_chains, n_draws, n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        post = MixturePosterior.from_draws(
            weights,
            means,
            covs,
            labels=labels,
            concentration=rng.gamma(2.0, size=(n_chains, n_draws)),
            X=X,
            sample_weight=rng.integers(1, 4, n).astype(float),
            feature_names=["a", "b"],
            sample_stats={"log_joint": rng.normal(size=(n_chains, n_draws))},
            attrs={"engine": "test", "n_iter": 7, "nested": {"x": (1, 2.5)}},
        )
    path = tmp_path / "p.npz"
    post.save(path)
    back = MixturePosterior.load(path)
    assert_same(_saved_state(post), _saved_state(back))
    a, b = post.to_arviz(), back.to_arviz()
    for group in ("posterior", "sample_stats", "log_likelihood"):
        for name, var in a[group].data_vars.items():
            assert np.array_equal(var.values, b[group][name].values, equal_nan=True)


def test_model_selection_round_trip_is_exact(X, tmp_path):
    frame = pd.DataFrame(X, columns=["eruptions", "waiting"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sel = select_model(
            frame,
            range(1, 4),
            ("full", "spherical"),
            random_state=0,
            n_init=2,
        )
    path = tmp_path / "selection.npz"
    sel.save(path)
    back = load(path)
    assert type(back) is ModelSelection
    assert back.criterion == sel.criterion and back.best_params_ == sel.best_params_
    assert_same(sel.table_, back.table_)
    assert list(back.models_) == list(sel.models_)
    for key, model in sel.models_.items():
        assert type(back.models_[key]) is GaussianMixture
        assert_same(vars(model), vars(back.models_[key]), f"models_[{key}]")
    key = (sel.best_params_["covariance_type"], sel.best_params_["n_components"])
    assert back.best_ is back.models_[key]
    assert np.array_equal(back.best_.predict_proba(frame), sel.best_.predict_proba(frame))
    assert_same(ModelSelection.load(path).table_, sel.table_)


def test_failed_selection_round_trips(tmp_path):
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)  # two distinct rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_model(X, [3], ("full",), random_state=0)
    path = tmp_path / "failed.npz"
    sel.save(path)
    back = load(path)
    assert_same(sel.table_, back.table_)
    assert back.best_ is sel.best_ is None or type(back.best_) is type(sel.best_)


def test_load_as_checks_the_kind_of_file(posteriors, X, tmp_path):
    post_path, model_path = tmp_path / "post.npz", tmp_path / "model.npz"
    posteriors["gibbs"].save(post_path)
    GaussianMixture(2, random_state=0).fit(X).save(model_path)
    with pytest.raises(TypeError, match="holds a GaussianMixture, not a MixturePosterior"):
        MixturePosterior.load(model_path)
    with pytest.raises(TypeError, match="holds a MixturePosterior, not a ModelSelection"):
        ModelSelection.load(post_path)


def _rewrite(path, change):
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    meta = json.loads(members["__bayesmix__"].tobytes().decode())
    change(meta)
    members["__bayesmix__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **members)


def test_result_files_are_plain_npz_and_refuse_tampering(posteriors, X, tmp_path):
    path = tmp_path / "post.npz"
    posteriors["gibbs"].save(path)
    with zipfile.ZipFile(path) as zf, np.load(path, allow_pickle=False) as npz:
        assert all(name.endswith(".npy") for name in zf.namelist())
        for name in npz.files:
            assert npz[name].dtype != object  # readable without pickle

    def foreign_namedtuple(meta):
        meta["state"]["_kernel"]["class"] = "collections:OrderedDict"

    _rewrite(path, foreign_namedtuple)
    with pytest.raises(ValueError, match="not a bayesmix class"):
        load(path)

    sel_path = tmp_path / "sel.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        select_model(X, [1, 2], ("full",), random_state=0).save(sel_path)

    def object_in_text_column(meta):
        columns = dict(meta["state"]["table_"]["columns"])
        columns["error"]["values"][0] = {"__bm__": "object", "class": "os:system", "state": {}}
        meta["state"]["table_"]["columns"] = [[k, v] for k, v in columns.items()]

    _rewrite(sel_path, object_in_text_column)
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(sel_path)


def test_save_refuses_what_has_no_safe_representation(posteriors, tmp_path):
    post = posteriors["gibbs"]
    post.attrs["callback"] = print
    try:
        with pytest.raises(TypeError, match="attribute 'attrs'"):
            post.save(tmp_path / "x.npz")
    finally:
        del post.attrs["callback"]
    assert not any(tmp_path.iterdir())


def test_to_netcdf_with_the_optional_backend(posteriors, tmp_path):
    pytest.importorskip("h5netcdf")
    xr = pytest.importorskip("xarray")
    tree = posteriors["gibbs"].to_arviz()
    path = tmp_path / "post.nc"
    tree.to_netcdf(path)  # what a user writes: xarray finds the backend itself
    back = xr.open_datatree(path, engine="h5netcdf")
    for group in ("posterior", "log_likelihood"):
        for name, var in tree[group].data_vars.items():
            assert np.array_equal(var.values, back[group][name].values, equal_nan=True)
    back.close()


def test_to_zarr_with_the_optional_backend(posteriors, tmp_path):
    pytest.importorskip("zarr")
    xr = pytest.importorskip("xarray")
    tree = posteriors["variational"].to_arviz()
    path = tmp_path / "post.zarr"
    tree.to_zarr(path, consolidated=False)  # consolidation is not in Zarr format 3
    back = xr.open_datatree(path, engine="zarr", consolidated=False)
    for name, var in tree["posterior"].data_vars.items():
        assert np.array_equal(var.values, back["posterior"][name].values, equal_nan=True)
