"""select_model: the grid table, failures as rows, criteria, and agreement
with R's mclust on the bundled data (tests/mclust_reference_fits.jsonl)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _em_optimum import continued

from bayesmix import ConvergenceWarning, GaussianMixture, select_model
from bayesmix.datasets import load_faithful, load_galaxies

# mclust's names for the four covariance types bayesmix shares with it
MCLUST = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
MCLUST_1D = {"E": "tied", "V": "full"}


def mclust_reference(data):
    path = Path(__file__).with_name("mclust_reference_fits.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = {}
    names = MCLUST_1D if data == "galaxies" else MCLUST
    for r in rows:
        if r["data"] == data and r["model"] in names:
            out[(names[r["model"]], r["G"])] = -r["bic"]  # mclust: higher is better
    return out


def two_blobs(rng, n=300):
    labels = rng.random(n) < 0.4
    return np.where(labels[:, None], [5.0, 5.0], [0.0, 0.0]) + rng.normal(size=(n, 2))


# ------------------------------------------------------------- mclust agreement
def test_faithful_agrees_with_mclust_bic_choice():
    ref = mclust_reference("faithful")
    sel = select_model(
        load_faithful(),
        n_components=range(1, 7),
        covariance_types=("spherical", "diag", "tied", "full"),
        random_state=0,
    )
    best_ref = min(ref, key=ref.get)
    assert best_ref == ("tied", 3)  # mclust: EEE with 3 components
    assert (sel.best_params_["covariance_type"], sel.best_params_["n_components"]) == best_ref
    table = sel.table_.set_index(["covariance_type", "n_components"])
    # the selected fit is as good as mclust's
    assert table.loc[best_ref, "bic"] <= ref[best_ref] + 1.0
    # one component and the two-component fits have a single optimum: same BIC
    for key in [("full", 1), ("spherical", 1), ("diag", 2), ("full", 2)]:
        assert table.loc[key, "bic"] == pytest.approx(ref[key], abs=0.05)


def test_galaxies_finds_fits_at_least_as_good_as_mclust():
    """mclust picks V with 4 components (BIC 446.98, its sign flipped); with
    several starts bayesmix finds a higher-likelihood 3-component V fit that
    mclust's hierarchical start misses, so its choice is at least as good."""
    ref = mclust_reference("galaxies")
    sel = select_model(
        load_galaxies(unit=1000),
        n_components=range(1, 7),
        covariance_types=("tied", "full"),
        random_state=0,
        n_init=10,
    )
    table = sel.table_.set_index(["covariance_type", "n_components"])
    assert table["bic"].min() <= min(ref.values()) + 0.05
    for key in [("tied", 1), ("full", 1), ("full", 2)]:
        assert table.loc[key, "bic"] <= ref[key] + 0.05


# ------------------------------------------------------------------- the table
def test_table_columns_and_criteria(rng):
    X = two_blobs(rng)
    sel = select_model(X, n_components=[1, 2, 3], covariance_types=("diag", "full"), random_state=1)
    t = sel.table_
    for col in [
        "covariance_type",
        "n_components",
        "log_likelihood",
        "n_parameters",
        "bic",
        "aic",
        "icl",
        "converged",
        "error",
    ]:
        assert col in t.columns
    assert list(zip(t.covariance_type, t.n_components, strict=True)) == [
        ("diag", 1),
        ("diag", 2),
        ("diag", 3),
        ("full", 1),
        ("full", 2),
        ("full", 3),
    ]
    n = X.shape[0]
    np.testing.assert_allclose(t.bic - t.aic, t.n_parameters * (np.log(n) - 2.0))
    assert (t.icl >= t.bic - 1e-9).all()
    assert (t.error == "").all()
    assert sel.best_params_ == {"covariance_type": "diag", "n_components": 2}
    # best_ is the fitted model of that row, and its criteria match the table
    best = sel.best_
    assert isinstance(best, GaussianMixture) and best.n_components == 2
    row = t[(t.covariance_type == "diag") & (t.n_components == 2)].iloc[0]
    assert best.bic(X) == pytest.approx(row.bic)
    assert best.icl(X) == pytest.approx(row.icl)
    assert row.log_likelihood == pytest.approx(best.log_likelihood_, rel=1e-9)
    assert set(sel.models_) == {(ct, k) for ct in ("diag", "full") for k in (1, 2, 3)}


def test_failed_fit_is_a_row_not_an_exception(rng):
    X = np.repeat(rng.normal(size=(3, 2)), 5, axis=0)  # three distinct points
    sel = select_model(X, n_components=[1, 2, 5], covariance_types=("spherical",), random_state=0)
    bad = sel.table_[sel.table_.n_components == 5].iloc[0]
    assert np.isnan(bad.bic) and np.isnan(bad.log_likelihood)
    assert "ValueError" in bad.error and "distinct" in bad.error
    assert sel.best_ is not None and sel.best_params_["n_components"] in (1, 2)
    with pytest.warns(ConvergenceWarning, match="every fit"):
        none = select_model(X, n_components=[4, 5], covariance_types=("full",))
    assert none.best_ is None and len(none.table_) == 2


def test_same_seed_same_table_whatever_the_threads(rng):
    X = two_blobs(rng, 200)
    kw = dict(n_components=range(1, 5), covariance_types=("spherical", "tied"), random_state=7)
    one = select_model(X, n_jobs=1, **kw).table_.drop(columns=["fit_time"])
    two = select_model(X, n_jobs=2, **kw).table_.drop(columns=["fit_time"])
    pd.testing.assert_frame_equal(one, two)


def test_integer_weights_equal_repeated_rows(rng):
    X = two_blobs(rng, 120)
    counts = rng.integers(1, 4, size=X.shape[0])
    kw = dict(n_components=[1, 2], covariance_types=("full",), random_state=0)
    weighted = select_model(X, sample_weight=counts, **kw).table_
    repeated = select_model(np.repeat(X, counts, axis=0), **kw).table_
    for col in ["log_likelihood", "bic", "aic", "icl"]:
        np.testing.assert_allclose(weighted[col], repeated[col], rtol=1e-8)


def test_cross_validation_criterion(rng):
    X = two_blobs(rng, 240)
    sel = select_model(
        X,
        n_components=[1, 2, 3],
        covariance_types=("full",),
        criterion="cv",
        n_folds=4,
        random_state=0,
    )
    t = sel.table_
    assert np.isfinite(t.cv_log_likelihood).all()
    # held-out likelihood is below the in-sample one
    assert (t.cv_log_likelihood < t.log_likelihood).all()
    assert sel.best_params_["n_components"] == 2
    assert sel.criterion == "cv"
    bic_only = select_model(X, n_components=[1, 2], covariance_types=("full",))
    assert bic_only.table_.cv_log_likelihood.isna().all()


def test_fit_warnings_are_recorded_and_only_the_chosen_one_warns(rng):
    X = two_blobs(rng, 200)
    with pytest.warns(ConvergenceWarning, match="selected model"):
        sel = select_model(
            X, n_components=[2, 3], covariance_types=("full",), max_iter=1, random_state=0
        )
    assert sel.table_.warnings.str.contains("ConvergenceWarning").all()
    assert not sel.table_.converged.any()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"criterion": "bayes"}, ValueError, "criterion"),
        ({"covariance_types": ("full", "XYZ")}, ValueError, "covariance_types"),
        ({"n_components": [0, 1]}, ValueError, "n_components"),
        ({"n_components": []}, ValueError, "empty"),
        ({"n_components": 2.5}, TypeError, "n_components"),
        ({"n_folds": 1}, ValueError, "n_folds"),
        ({"random_state": 0, "covariance_type": "full"}, TypeError, "covariance_type"),
        ({"colour": "blue"}, TypeError, "colour"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
    ],
)
def test_bad_arguments_raise_before_fitting(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        select_model(rng.normal(size=(20, 2)), **kwargs)


def test_dataframe_columns_reach_the_models(rng):
    frame = pd.DataFrame(two_blobs(rng, 100), columns=["u", "v"])
    sel = select_model(frame, n_components=[1, 2], covariance_types=("full",), random_state=0)
    assert list(sel.best_.feature_names_in_) == ["u", "v"]
    assert sel.best_.predict(frame).shape == (100,)  # no feature-name warning


def test_bad_data_raises():
    X = np.ones((10, 2))
    X[3, 1] = np.inf  # NaN is a missing value (tests/test_missing_workflows.py)
    with pytest.raises(ValueError, match="infinity"):
        select_model(X)
    X[3] = np.nan
    with pytest.raises(ValueError, match="every feature missing"):
        select_model(X)


def test_a_fit_collapsed_onto_a_point_is_singular_not_best():
    """mclust reports a fit with a component on a spike as singular (no BIC):
    its likelihood is unbounded there, so the criterion means nothing."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), np.repeat([[6.0, 6.0]], 20, axis=0)])
    sel = select_model(
        X, n_components=range(1, 4), covariance_types=("full", "spherical"), random_state=0
    )
    table = sel.table_.set_index(["covariance_type", "n_components"])
    for ct in ("full", "spherical"):
        assert np.isfinite(table.loc[(ct, 1), "bic"])
        for k in (2, 3):
            assert np.isnan(table.loc[(ct, k), "bic"])
            assert table.loc[(ct, k), "error"].startswith("singular")
            assert np.isnan(table.loc[(ct, k), "log_likelihood"])  # no numbers (issue 15)
    assert sel.best_params_["n_components"] == 1


@pytest.mark.parametrize("init_params", ["auto", "kmeans"])
def test_grid_cells_equal_lone_fits_from_the_grid_seed(init_params):
    """The grid prepares the data and the start once for every cell; each cell
    is still the fit a lone GaussianMixture with the grid's seed makes (a
    hierarchical subsample included: 2600 rows are more than it clusters)."""
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(size=(1500, 3)), rng.normal(size=(1100, 3)) * 0.5 + 3.0])
    sel = select_model(
        X,
        n_components=[1, 2, 3],
        covariance_types=("spherical", "diag", "tied", "full"),
        init_params=init_params,
        tol=1e-4,  # cells as they are: the selected one is not continued
        random_state=11,
        n_jobs=2,
    )
    seed = int(np.random.default_rng(11).integers(0, 2**63 - 1))
    for (ct, k), model in sel.models_.items():
        lone = GaussianMixture(
            k, covariance_type=ct, tol=1e-4, n_init=1, init_params=init_params, random_state=seed
        )
        with warnings.catch_warnings():  # an over-fitted cell may creep for 1000 iterations
            warnings.simplefilter("ignore", ConvergenceWarning)
            lone.fit(X)
        assert model.n_iter_ == lone.n_iter_, (ct, k)
        np.testing.assert_allclose(model.means_, lone.means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(model.covariances_, lone.covariances_, rtol=1e-9, atol=1e-12)
        assert model.log_likelihood_ == pytest.approx(lone.log_likelihood_, rel=1e-12)
        # the table's ICL entropy term comes from the fit's last E-step
        row = sel.table_[(sel.table_.covariance_type == ct) & (sel.table_.n_components == k)]
        assert row.icl.iloc[0] == pytest.approx(lone.icl(X), rel=1e-10)


def test_the_selected_model_is_continued_to_its_optimum():
    """The grid stops cells at tol=1e-4 to rank them; the winner then runs to its
    own optimum, and its row of the table says so."""
    X = load_faithful()
    sel = select_model(X, n_components=range(1, 5), random_state=0)
    best = sel.best_
    again = continued(best, X, tol=1e-12, max_iter=5000)
    assert again.log_likelihood_ - best.log_likelihood_ < 0.05
    row = sel.table_[
        (sel.table_.covariance_type == best.covariance_type)
        & (sel.table_.n_components == best.n_components)
    ].iloc[0]
    assert row.log_likelihood == pytest.approx(best.log_likelihood_, rel=1e-12)
    assert row.bic == pytest.approx(best.bic(X), rel=1e-10)
    assert best.tol == 1e-4 and best.n_init == 1  # the parameters the grid used
    unrefined = select_model(X, n_components=range(1, 5), random_state=0, tol=1e-4)
    ll_before = unrefined.table_.set_index(["covariance_type", "n_components"]).loc[
        (best.covariance_type, best.n_components), "log_likelihood"
    ]
    assert best.log_likelihood_ >= ll_before - 1e-9


def test_table_log_likelihood_never_falls_as_k_grows():
    """A K-component model contains every (K-1)-component one: each type's
    column of the table is non-decreasing in K (cells that stopped early are
    continued, poorer local optima refitted from a split of the cell below),
    and every competitive cell sits at its optimum."""
    from sklearn.datasets import load_iris

    from bayesmix._grid import COMPETITIVE

    for X in (load_faithful(), load_iris().data):
        sel = select_model(X, n_components=range(1, 8), random_state=0)
        ll = sel.table_.pivot(
            index="n_components", columns="covariance_type", values="log_likelihood"
        )
        steps = ll.diff().iloc[1:].to_numpy()
        ok = np.isnan(steps) | (steps >= -1e-8 * np.abs(ll.iloc[1:].to_numpy()))
        assert ok.all(), ll
        best_bic = sel.table_.bic.min()
        for row in sel.table_[sel.table_.bic <= best_bic + COMPETITIVE].itertuples():
            model = sel.models_[(row.covariance_type, row.n_components)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                again = continued(model, X, tol=1e-12, max_iter=3000)
            assert again.log_likelihood_ - model.log_likelihood_ < 0.05, row


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical", "VEV", "EVI", "VII"])
def test_split_starts_keep_the_mixture_mean_and_add_one_component(ct):
    from bayesmix._grid import split_starts

    X = load_faithful()
    model = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    starts = split_starts(model, {"max_iter": 7})
    assert len(starts) == 3
    for j, start in enumerate(starts):
        w, m = start["weights_init"], start["means_init"]
        assert start["n_components"] == 4 and start["max_iter"] == 7
        assert w.shape == (4,) and w.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(w @ m, model.weights_ @ model.means_)
        # the two halves sit either side of the split component's mean
        np.testing.assert_allclose((m[j] + m[3]) / 2, model.means_[j])
        assert np.linalg.norm(m[j] - m[3]) > 0
        with pytest.warns(ConvergenceWarning):  # every shape is accepted; 7 iterations
            refit = GaussianMixture(**start).fit(X)
        assert refit.n_components == 4


# ------------------------------------------------ what a newcomer reads (issue 15)
def test_one_feature_shows_each_model_once():
    X = load_galaxies(unit=1000)
    sel = select_model(X, n_components=[1, 2], random_state=0)
    # full, diag and spherical are one model in 1-D (mclust's V); tied is E
    types = list(dict.fromkeys(sel.table_["covariance_type"]))
    assert types == ["E", "V"]  # mclust's names: the default grid is mclust's
    assert len(sel.table_) == 4
    sel = select_model(X, n_components=[2], covariance_types=("spherical", "diag"), random_state=0)
    assert sel.table_["covariance_type"].tolist() == ["spherical"]
    # two features: every type is its own model
    sel = select_model(load_faithful(), n_components=[1], random_state=0)
    assert len(sel.table_) == 14


def test_singular_row_has_no_numbers():
    # three distinct points, one of them alone: three components collapse onto them
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]], [10, 10, 1], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_model(X, n_components=[1, 3], covariance_types=("full",), random_state=0)
    ok, failed = sel.table_.iloc[0], sel.table_.iloc[1]
    assert not ok["error"] and np.isfinite(ok["log_likelihood"])
    assert failed["error"].startswith("singular")
    assert np.isnan(failed[["log_likelihood", "bic", "aic", "icl"]].astype(float)).all()
    from bayesmix.__main__ import _format_table

    line = _format_table(sel.table_).splitlines()[2]
    assert "failed: singular" in line and "nan" not in line.split("failed")[0]


# R: Mclust(X, G = 1:9) with mclust 6.0.0's defaults chooses these (model, G)
# (tests/test_mclust_r.py asks R itself when it is installed)
MCLUST_CHOICES = {"faithful": ("EEE", 3), "iris": ("VEV", 2), "wine": ("VVE", 3)}


@pytest.mark.parametrize("data", sorted(MCLUST_CHOICES))
def test_default_grid_picks_mclusts_model(data):
    from sklearn.datasets import load_wine

    from bayesmix.datasets import load_iris

    X = {
        "faithful": lambda: np.asarray(load_faithful()),
        "iris": lambda: np.asarray(load_iris()),
        "wine": lambda: load_wine().data,
    }[data]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_model(X, random_state=0)
    best = (sel.best_params_["covariance_type"], sel.best_params_["n_components"])
    assert best == MCLUST_CHOICES[data]
    assert len(sel.table_) == 14 * 9


def test_a_cell_left_below_the_one_with_fewer_components_says_so():
    """When no continuation or split refit lifts a cell above its type's cell
    with one component fewer (mclust's thyroid table, EVV with K=8 and
    n_init=5: 54 below K=7, every split refit collapsed), its row says why."""
    from types import SimpleNamespace

    from bayesmix._grid import flag_below

    grid = SimpleNamespace(cts=("EVV", "VVV"), ks=[1, 2, 3])
    lls = {("EVV", 1): -100.0, ("EVV", 2): -90.0, ("EVV", 3): -95.0}
    lls.update({("VVV", 1): -100.0, ("VVV", 2): -90.0, ("VVV", 3): -89.0})
    models = {key: SimpleNamespace(log_likelihood_=ll) for key, ll in lls.items()}
    row_of = {key: {"warnings": "did not converge"} for key in models}
    flag_below(grid, models, row_of)
    below = row_of[("EVV", 3)]["warnings"]
    assert below.startswith("did not converge | log-likelihood below the 2-component EVV")
    assert all(row_of[key]["warnings"] == "did not converge" for key in models if key != ("EVV", 3))
