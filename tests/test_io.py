import json
import warnings

import numpy as np
import pytest
from _exact import assert_same

from bayesmix import (
    ConvergenceWarning,
    DirichletProcessMixture,
    GaussianMixture,
    VariationalGaussianMixture,
    load,
)
from bayesmix.datasets import load_faithful
from bayesmix.io import FORMAT_VERSION, save

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def X():
    return load_faithful()


def _fitted_engines(X):
    """One small fit per engine."""
    fits = {}
    fits["em"] = GaussianMixture(2, n_init=2, random_state=0).fit(X)
    fits["vb"] = VariationalGaussianMixture(n_components=4, random_state=0).fit(X)
    model = DirichletProcessMixture(
        random_state=0, n_iter=60, burn_in=20, n_chains=2, progress=False
    )
    with warnings.catch_warnings():
        # short chains: whether they mixed is beside the point of a round trip
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits["gibbs"] = model.fit(X)
    return fits


@pytest.fixture(scope="module")
def fitted(X):
    return _fitted_engines(X)


@pytest.mark.parametrize("engine", ["em", "vb", "gibbs"])
def test_round_trip_is_exact_for_every_engine(engine, fitted, X, tmp_path):
    model = fitted[engine]
    path = tmp_path / "model.npz"
    model.save(path)
    back = load(path)
    assert type(back) is type(model)
    assert_same(vars(model), vars(back))
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(back.score_samples(X), model.score_samples(X))
    assert repr(back) == repr(model)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_round_trip_every_covariance_type(covariance_type, X, tmp_path):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=1).fit(X)
    save(gm, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert_same(vars(gm), vars(back))
    assert back.bic(X) == gm.bic(X)
    # sample() uses random_state, so an integer seed repeats across the round trip
    assert_same(gm.sample(20), back.sample(20))


def test_round_trip_keeps_parameters_generators_and_feature_names(X, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(X, columns=["eruptions", "waiting"])
    rng = np.random.default_rng(7)
    gm = GaussianMixture(
        2, means_init=[[2.0, 55.0], [4.5, 80.0]], reg_covar=1e-5, random_state=rng
    ).fit(frame)
    gm.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert_same(vars(gm), vars(back))
    assert list(back.feature_names_in_) == ["eruptions", "waiting"]
    # the generator continues from the same state
    assert back.random_state.random() == rng.random()


def test_unfitted_model_round_trips(tmp_path):
    gm = GaussianMixture(4, covariance_type="tied", tol=1e-5)
    gm.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.get_params() == gm.get_params()
    assert not hasattr(back, "weights_")


def test_file_is_plain_npz_without_pickle(fitted, tmp_path):
    path = tmp_path / "model"  # no suffix: written exactly where asked
    fitted["em"].save(path)
    assert path.exists() and not (tmp_path / "model.npz").exists()
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert all(a.dtype.kind != "O" for a in arrays.values())
    meta = json.loads(arrays["__bayesmix__"].tobytes())
    assert meta["format"] == "bayesmix-model"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["class"] == "bayesmix.em:GaussianMixture"
    assert meta["params"]["n_components"] == 2


# ----------------------------------------------------------------- bad files
def _rewrite(path, meta_change=None, arrays_change=None, *, indent=None):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("__bayesmix__").tobytes())
    if meta_change:
        meta_change(meta)
    if arrays_change:
        arrays_change(arrays)
    text = json.dumps(meta, indent=indent).encode()
    arrays["__bayesmix__"] = np.frombuffer(text, dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "m.npz"
    fitted["em"].save(path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    "content",
    [b"", b"hello world\n", b"\x93NUMPY\x01\x00" + b"\x00" * 40],
    ids=["empty", "text", "npy-header"],
)
def test_non_archive_files(content, tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not an \.npz"):
        load(path)


def test_plain_npy_file(tmp_path):
    path = tmp_path / "m.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(path)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9, 0.99])
def test_truncated_file(saved, fraction):
    raw = saved.read_bytes()
    saved.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(saved)


def test_corrupted_bytes(saved):
    raw = bytearray(saved.read_bytes())
    # flip bytes inside the first member's compressed data (after its local header)
    for i in range(60, 80):
        raw[i] ^= 0xFF
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(saved)


def test_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="without bayesmix metadata"):
        load(path)


def test_pickled_object_array_is_refused(saved):
    def add_object(arrays):
        arrays["a0"] = np.array([{"x": 1}, None], dtype=object)

    _rewrite(saved, arrays_change=add_object)
    with pytest.raises(ValueError, match="could not be read safely"):
        load(saved)


def test_newer_format_version(saved):
    _rewrite(saved, meta_change=lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="upgrade bayesmix"):
        load(saved)


@pytest.mark.parametrize(
    "cls", ["os:system", "builtins:eval", "bayesmix:load", "bayesmix.em:_Params", "nonsense"]
)
def test_class_outside_bayesmix_estimators_is_refused(saved, cls):
    _rewrite(saved, meta_change=lambda m: m.update({"class": cls}))
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(saved)


def test_nested_object_outside_bayesmix_is_refused(saved):
    def change(meta):
        meta["state"]["_standardiser"]["class"] = "subprocess:Popen"

    _rewrite(saved, meta_change=change)
    with pytest.raises(ValueError, match="not a bayesmix class"):
        load(saved)


def test_dunder_attribute_is_refused(saved):
    _rewrite(saved, meta_change=lambda m: m["state"].update(__class__="x"))
    with pytest.raises(ValueError, match="not plain attribute names"):
        load(saved)


def test_missing_array(saved):
    def drop(arrays):
        del arrays["a0"]

    _rewrite(saved, arrays_change=drop)
    with pytest.raises(ValueError, match="lacks"):
        load(saved)


def test_unknown_record(saved):
    _rewrite(saved, meta_change=lambda m: m["state"].update(x_={"__bm__": "exec"}))
    with pytest.raises(ValueError, match="unknown record type"):
        load(saved)


def test_bad_metadata_json(saved):
    with np.load(saved, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["__bayesmix__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    with open(saved, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ValueError, match="not valid JSON"):
        load(saved)


def test_deeply_nested_metadata(saved):
    deep = {"__bm__": "tuple", "items": []}
    for _ in range(5000):
        deep = {"__bm__": "tuple", "items": [deep]}

    def nest(meta):
        meta["state"]["x_"] = deep

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 20000)  # so that json.dumps can write it
    try:
        # indent: the pure-Python encoder, whose depth setrecursionlimit raises (from
        # Python 3.12 the C encoder has a fixed C-recursion limit of its own)
        _rewrite(saved, meta_change=nest, indent=0)
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(ValueError, match="not a readable bayesmix model file"):
        load(saved)


def test_wrong_parameters_are_refused(saved):
    _rewrite(saved, meta_change=lambda m: m["params"].update(bogus=1))
    with pytest.raises(ValueError, match="parameters do not match"):
        load(saved)


def test_parameter_added_after_saving_takes_the_value_the_file_was_fitted_with(
    saved, fitted, monkeypatch
):
    # A file written before a parameter existed lacks it; io._ADDED_PARAMS says
    # which value reproduces the saved model (here: pretend "verbose" is new).
    import bayesmix.io as bio

    _rewrite(saved, meta_change=lambda m: m["params"].pop("verbose"))
    with pytest.raises(ValueError, match=r"lack \['verbose'\]"):
        load(saved)
    monkeypatch.setitem(bio._ADDED_PARAMS, "GaussianMixture", {"verbose": 3})
    model = load(saved)
    assert model.verbose == 3
    X = np.random.default_rng(0).normal(size=(5, fitted["em"].means_.shape[1]))
    np.testing.assert_array_equal(model.score_samples(X), fitted["em"].score_samples(X))


def test_save_refuses_non_models_and_unsafe_attributes(fitted, tmp_path):
    with pytest.raises(TypeError, match="bayesmix estimator"):
        save(object(), tmp_path / "x.npz")
    gm = GaussianMixture(2).fit(load_faithful())
    gm.callback_ = print
    with pytest.raises(TypeError, match="attribute 'callback_'"):
        gm.save(tmp_path / "x.npz")
    assert not any(tmp_path.iterdir())  # nothing half-written is left behind


# ------------------------------------------------------------ notebook display
def test_repr_is_short_and_html_summarises_the_fit(fitted):
    gm = GaussianMixture(2, means_init=np.zeros((2, 2)), random_state=3)
    text = repr(gm)
    assert text.startswith("GaussianMixture(") and len(text) < 120
    assert "array(shape=(2, 2)" in text  # arrays are summarised, not printed
    html = gm._repr_html_()
    assert "not fitted" in html and "means_init" in html

    model = fitted["em"]
    html = model._repr_html_()
    assert "EM (maximum likelihood)" in html and "log-likelihood" in html
    for w in model.weights_:
        assert f"<td>{w:.6g}</td>" in html
    settings = ["method", "components", "features", "covariance type", "converged"]
    settings += ["iterations", "log-likelihood"]
    for label in settings:
        assert f"<tr><td>{label}</td>" in html
    assert html.count("<tr>") == len(settings) + 1 + model.n_components  # + header, components
    assert "<script" not in html


def test_html_escapes_feature_names(X):
    import pandas as pd

    frame = pd.DataFrame(X, columns=["<b>a</b>", "w&z"])
    html = GaussianMixture(2, random_state=0).fit(frame)._repr_html_()
    assert "mean &lt;b&gt;a&lt;/b&gt;" in html and "mean w&amp;z" in html
    assert "<b>a</b>" not in html


def test_html_caps_large_tables():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 9)) + np.repeat(np.arange(20), 20)[:, None] * 5.0
    gm = GaussianMixture(15, covariance_type="spherical", random_state=0).fit(X)
    html = gm._repr_html_()
    assert "... 3 more" in html and "<th>...</th>" in html


def test_posterior_html():
    import bayesmix.posterior as posterior_module

    rng = np.random.default_rng(0)
    weights = rng.dirichlet([5.0, 5.0, 0.01], size=(1, 50))
    means = rng.normal(size=(1, 50, 3, 2))
    covs = np.broadcast_to(np.eye(2), (1, 50, 3, 2, 2)).copy()
    post = posterior_module.MixturePosterior.from_draws(
        weights, means, covs, kind="variational", relabel=False
    )
    html = post._repr_html_()
    assert "MixturePosterior" in html and "1 x 50" in html and "variational" in html
    assert "slot(s) with mean weight &lt; 0.005 not shown" in html


def test_vb_html_lists_only_effective_components(X):
    vb = VariationalGaussianMixture(n_components=8, random_state=0).fit(X)
    n_eff = vb.n_effective_components_
    assert n_eff < 8  # Old Faithful needs fewer than eight
    html = vb._repr_html_()
    body = html.split("<th>component</th>", 1)[1]
    n_rows = body.count("<tr>")
    assert n_rows == n_eff + 1  # the effective components, then one line for the rest
    assert f"{8 - n_eff} empty not shown" in html
