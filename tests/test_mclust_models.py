"""mclust's fourteen covariance models in EM: structure of the fitted
covariances, monotone EM, frequency weights, parameter counts, aliases, the
one-feature models, save / load and the engines that refuse them.

The comparison with R's mclust itself is in tests/test_mclust_r.py."""

import warnings

import numpy as np
import pytest

import bayesmix
from bayesmix import GaussianMixture, VariationalGaussianMixture
from bayesmix import _mclust_models as mm
from bayesmix.covariance import ALIASES, MCLUST_MODELS, get_structure
from bayesmix.datasets import load_faithful, load_galaxies, load_iris

IRIS = np.asarray(load_iris())
NEW = [m for m in MCLUST_MODELS if m not in ALIASES]

# R: nMclustParams(model, d = 4, G = 3) and nMclustParams(model, d = 13, G = 9), mclust 6.0.0
N_PARAMS_R = {
    "EII": (15, 126),
    "VII": (17, 134),
    "EEI": (18, 138),
    "VEI": (20, 146),
    "EVI": (24, 234),
    "VVI": (26, 242),
    "EEE": (24, 216),
    "VEE": (26, 224),
    "EVE": (30, 312),
    "VVE": (32, 320),
    "EEV": (36, 840),
    "VEV": (38, 848),
    "EVV": (42, 936),
    "VVV": (44, 944),
}


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_parameter_counts_are_mclusts(model):
    s = get_structure(model)
    assert (s.n_parameters(3, 4), s.n_parameters(9, 13)) == N_PARAMS_R[model]


def test_one_feature_parameter_counts_are_mclusts():
    # R: nMclustParams("E", 1, 3) = 6, nMclustParams("V", 1, 3) = 8
    assert get_structure("E").n_parameters(3, 1) == 6
    assert get_structure("V").n_parameters(3, 1) == 8


@pytest.fixture(scope="module")
def iris_fits():
    return {
        m: GaussianMixture(3, covariance_type=m, n_init=1, random_state=0).fit(IRIS)
        for m in MCLUST_MODELS
    }


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_em_log_likelihood_never_decreases(iris_fits, model):
    lb = np.asarray(iris_fits[model].lower_bounds_)
    assert lb.size > 3
    # rounding only: every M-step, the iterative ones included, starts from the
    # previous parameters and can only improve on them
    assert np.diff(lb).min() >= -1e-12 * np.abs(lb).max()


@pytest.mark.parametrize("model", NEW)
def test_covariances_have_the_models_structure(iris_fits, model):
    gm = iris_fits[model]
    covs = gm.covariances_
    k, d = 3, 4
    assert covs.shape == (k, d, d)
    np.testing.assert_allclose(gm.volumes_, np.linalg.det(covs) ** (1 / d), rtol=1e-10)
    volume, shape, orient = model
    if volume == "E":
        np.testing.assert_allclose(gm.volumes_, np.full(k, gm.volumes_[0]), rtol=1e-9)
    if shape == "I":
        assert not hasattr(gm, "shapes_")
        np.testing.assert_allclose(covs, gm.volumes_[:, None, None] * np.eye(d), rtol=1e-10)
        return
    np.testing.assert_allclose(np.prod(gm.shapes_, axis=1), 1.0, rtol=1e-9)
    if shape == "E":
        np.testing.assert_allclose(gm.shapes_, np.broadcast_to(gm.shapes_[0], (k, d)), rtol=1e-7)
    if orient == "I":
        assert not hasattr(gm, "orientations_")
        np.testing.assert_allclose(covs, covs * np.eye(d), atol=0)
        return
    O = gm.orientations_
    np.testing.assert_allclose(
        O @ np.swapaxes(O, 1, 2), np.broadcast_to(np.eye(d), O.shape), atol=1e-12
    )
    rebuilt = np.einsum("kij,kj,klj->kil", O, gm.volumes_[:, None] * gm.shapes_, O)
    np.testing.assert_allclose(rebuilt, covs, rtol=1e-9, atol=1e-12)
    if orient == "E":
        np.testing.assert_allclose(O, np.broadcast_to(O[0], O.shape), atol=1e-6)


@pytest.mark.parametrize("model", ["EVE", "VVE", "VEV", "VEE", "VEI"])
def test_iterative_m_step_from_any_start_never_worse(rng, model):
    """From the previous covariances an iterative M-step ends no worse than
    they are, on the objective it minimises (sum_k n_k log|S_k| + tr(W_k S_k^-1))."""
    d, k = 3, 4
    diagonal, step = mm.M_STEPS[model]
    A = rng.normal(size=(k, d, d))
    W = A @ np.swapaxes(A, 1, 2) * rng.uniform(1, 20, size=(k, 1, 1)) + 0.1 * np.eye(d)
    nk = rng.uniform(5, 50, size=k)
    Wm = np.diagonal(W, axis1=1, axis2=2).copy() if diagonal else W

    def objective(S):
        return sum(
            nk[i] * np.linalg.slogdet(S[i])[1] + np.trace(np.linalg.solve(S[i], W[i]))
            for i in range(k)
        )

    # a previous parameter of the model's form: its M-step on other scatters
    B = rng.normal(size=(k, d, d))
    other = B @ np.swapaxes(B, 1, 2) + 0.5 * np.eye(d)
    previous = step(nk, np.diagonal(other, axis1=1, axis2=2).copy() if diagonal else other)
    cold = step(nk, Wm)
    warm = step(nk, Wm, previous)
    assert objective(warm) <= objective(previous) + 1e-9
    # cold starts run to convergence, and reach the same optimum here
    np.testing.assert_allclose(objective(cold), objective(step(nk, Wm, cold)), rtol=1e-10)


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_integer_weights_equal_repeated_rows(model, rng):
    X = np.asarray(load_faithful())[::3]
    counts = rng.integers(1, 4, size=X.shape[0])
    kw = dict(n_components=2, covariance_type=model, n_init=1, random_state=0)
    weighted = GaussianMixture(**kw).fit(X, sample_weight=counts)
    repeated = GaussianMixture(**kw).fit(np.repeat(X, counts, axis=0))
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-8)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-5, atol=1e-8)
    # scaling every weight changes nothing
    scaled = GaussianMixture(**kw).fit(X, sample_weight=counts * 0.37)
    np.testing.assert_allclose(scaled.covariances_, weighted.covariances_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_are_the_scikit_learn_types(alias):
    kw = dict(n_components=3, n_init=1, random_state=0)
    mine = GaussianMixture(covariance_type=alias, **kw).fit(IRIS)
    old = GaussianMixture(covariance_type=ALIASES[alias], **kw).fit(IRIS)
    assert mine.covariances_.shape == old.covariances_.shape
    np.testing.assert_array_equal(mine.covariances_, old.covariances_)
    assert mine.n_parameters_ == old.n_parameters_


def test_one_feature_models():
    x = np.asarray(load_galaxies(unit=1000)).reshape(-1, 1)
    e = GaussianMixture(3, covariance_type="E", n_init=1, random_state=0).fit(x)
    v = GaussianMixture(3, covariance_type="V", n_init=1, random_state=0).fit(x)
    assert e.covariances_.shape == (3, 1, 1)
    np.testing.assert_allclose(e.covariances_.ravel(), e.covariances_[0, 0, 0])
    tied = GaussianMixture(3, covariance_type="tied", n_init=1, random_state=0).fit(x)
    assert e.log_likelihood_ == pytest.approx(tied.log_likelihood_, rel=1e-9)
    assert v.n_parameters_ == 8
    with pytest.raises(ValueError, match=r"one feature.*EII"):
        GaussianMixture(2, covariance_type="E").fit(IRIS)


def test_save_load_round_trip_of_an_iterative_model(tmp_path, iris_fits):
    gm = iris_fits["EVE"]
    path = tmp_path / "eve.npz"
    gm.save(path)
    back = bayesmix.load(path)
    assert back.covariance_type == "EVE"
    for name in ("covariances_", "volumes_", "shapes_", "orientations_", "means_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(gm, name))
    np.testing.assert_array_equal(back.predict_proba(IRIS), gm.predict_proba(IRIS))
    assert back.bic(IRIS) == gm.bic(IRIS)


@pytest.mark.parametrize("model", ["VEV", "EEI"])
def test_posterior_accepts_the_models(iris_fits, model):
    post = iris_fits[model].posterior(IRIS, n_draws=3, random_state=0)
    draws = post.to_arviz()
    assert draws is not None


@pytest.mark.parametrize("model", ["EVE", "VEI", "EEV"])
def test_variational_bayes_refuses_em_only_models(model):
    with pytest.raises(ValueError, match="EM only"):
        VariationalGaussianMixture(2, covariance_type=model).fit(IRIS)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_variational_bayes_accepts_mclust_names_of_its_types(alias):
    vb = VariationalGaussianMixture(2, covariance_type=alias, random_state=0, n_init=1).fit(IRIS)
    ref = VariationalGaussianMixture(2, covariance_type=ALIASES[alias], random_state=0, n_init=1)
    np.testing.assert_array_equal(vb.covariances_, ref.fit(IRIS).covariances_)


def test_unknown_name_lists_the_models():
    with pytest.raises(ValueError, match="EVE"):
        GaussianMixture(2, covariance_type="XYZ").fit(IRIS)


# ---------------------------------------------------------------- command line
def _faithful_csv(tmp_path):
    path = tmp_path / "faithful.csv"
    X = np.asarray(load_faithful())
    lines = ["eruptions,waiting"] + [f"{a!r},{b!r}" for a, b in X.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_names_are_the_registrys():
    from bayesmix import __main__ as cli
    from bayesmix.covariance import MCLUST_MODELS_1D

    assert cli.MCLUST_MODELS == MCLUST_MODELS
    assert cli.MCLUST_MODELS_1D == MCLUST_MODELS_1D
    assert {get_structure(n).name for n in cli.CONJUGATE_TYPES} == set(ALIASES.values())


def test_cli_fits_an_mclust_model(tmp_path):
    from bayesmix.__main__ import main

    out = tmp_path / "out"
    args = ["--covariance", "EVE", "--components", "2", "--out", str(out), "--quiet"]
    status = main(["fit", str(_faithful_csv(tmp_path)), *args])
    assert status == 0
    model = bayesmix.load(out / "model.npz")
    assert model.covariance_type == "EVE" and model.orientations_.shape == (2, 2, 2)


def test_cli_refuses_em_only_models_for_vb(tmp_path, capsys):
    from bayesmix.__main__ import main

    args = ["--method", "vb", "--covariance", "VEV", "--out", str(tmp_path / "out"), "--quiet"]
    status = main(["fit", str(_faithful_csv(tmp_path)), *args])
    assert status == 1
    assert "EM only" in capsys.readouterr().err


def test_plots_accept_the_models(iris_fits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesmix import select_model
    from bayesmix.plotting import plot_components, plot_criterion

    ax = plot_components(iris_fits["EVE"], IRIS)
    assert len(ax.patches) >= 3  # ellipses of the three components
    sel = select_model(IRIS, n_components=[1, 2], random_state=0)
    ax = plot_criterion(sel.table_)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(MCLUST_MODELS) <= set(labels)
    plt.close("all")


@pytest.mark.parametrize("reg_covar", ["auto", 0.0])
@pytest.mark.parametrize("case", ["constant column", "collinear", "duplicates", "lone point"])
def test_degenerate_data_never_crashes_a_model(rng, case, reg_covar):
    """Singular scatters (possible with reg_covar=0) leave every model finite,
    with a DegenerateDataWarning where a component collapsed."""
    from bayesmix.exceptions import ConvergenceWarning, DegenerateDataWarning

    X = rng.normal(size=(60, 3))
    data = {
        "constant column": np.c_[X[:, :2], np.ones(60)],
        "collinear": np.c_[X[:, :2], X[:, 0] + X[:, 1]],
        "duplicates": np.repeat(X[:6], 10, axis=0),
        "lone point": np.r_[X[:59], [[50.0, 50.0, 50.0]]],
    }[case]
    for model in MCLUST_MODELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateDataWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(
                3, covariance_type=model, reg_covar=reg_covar, n_init=1, random_state=0
            ).fit(data)
        assert np.isfinite(gm.log_likelihood_), model
        full = get_structure(model).to_full(gm.covariances_, 3, 3)
        # positive definite in floating point: each factorises, and the
        # precisions are finite (a collapsed component's smallest eigenvalue
        # can be below eigvalsh's own rounding error, ~eps * its largest)
        np.linalg.cholesky(full)
        assert np.isfinite(gm.precisions_).all(), model


def test_variable_shape_on_too_few_points_is_singular(rng):
    """Two far points form a component whose scatter is flat: a model with
    variable shapes (EVV, VVE, EVI) would need a singular covariance there
    (mclust: singular fit, no BIC); one that pools the shape (EEV) does not."""
    from bayesmix.exceptions import DegenerateDataWarning

    # the two points share their third coordinate: flat for the diagonal EVI too
    X = np.r_[rng.normal(size=(80, 3)), [[30.0, 30.0, 30.0], [31.0, 29.0, 30.0]]]
    for model, singular in [("EVV", True), ("VVE", True), ("EVI", True), ("EEV", False)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DegenerateDataWarning)
            gm = GaussianMixture(2, covariance_type=model, n_init=1, random_state=0).fit(X)
        far = int(np.argmax(gm.means_[:, 0]))
        assert (far in gm.collapsed_components_) == singular, model
        assert any("collapsed" in str(w.message) for w in caught) == singular, model
    sel = bayesmix.select_model(X, n_components=[2], covariance_types=("EVV", "EEV"))
    rows = sel.table_.set_index("covariance_type")
    assert np.isnan(rows.loc["EVV", "bic"]) and "singular" in rows.loc["EVV", "error"]
    assert np.isfinite(rows.loc["EEV", "bic"])
