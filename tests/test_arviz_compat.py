"""``MixturePosterior.to_arviz()`` against the ArviZ libraries, for every engine.

Run on both ArviZ lines: arviz-base / arviz-stats 0.8 (Python 3.11) and 1.x
(Python 3.12+, the second venv of ``.ci/run``).  The arviz-plots part runs
where an arviz-plots that works with the installed matplotlib and xarray is
present, and is skipped, with the reason, elsewhere.
"""

import inspect
import warnings

import arviz_stats as azs
import numpy as np
import pytest

from bayesmix import DirichletProcessMixture, GaussianMixture, VariationalGaussianMixture
from bayesmix.datasets import load_faithful
from bayesmix.exceptions import ConvergenceWarning
from bayesmix.priors import Gamma

ENGINES = ["em", "vb", "gibbs"]
FEATURES = ["eruptions", "waiting"]


@pytest.fixture(scope="module")
def X():
    return load_faithful(as_frame=True)


@pytest.fixture(scope="module")
def posteriors(X):
    """One posterior per engine: bootstrap EM (one chain), variational draws
    (one chain) and two Gibbs chains with a learned concentration."""
    with warnings.catch_warnings():
        # Short chains on purpose: this file tests the ArviZ interface, not mixing.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {
            "em": GaussianMixture(2, random_state=0)
            .fit(X)
            .posterior(X, n_draws=40, random_state=0),
            "vb": VariationalGaussianMixture(3, random_state=0).fit(X).posterior(X, n_draws=200),
            "gibbs": DirichletProcessMixture(
                Gamma(2.0, 4.0), n_iter=400, n_chains=2, random_state=0, progress=False
            )
            .fit(X)
            .posterior(),
        }


@pytest.fixture(params=ENGINES)
def engine(request, posteriors):
    post = posteriors[request.param]
    return request.param, post, post.to_arviz()


def _loo(dt):
    with warnings.catch_warnings():
        # Pareto-k advice for few draws (40 bootstrap replicates): a statement
        # about these draws, not about the interface.
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return azs.loo(dt, pointwise=True)


# ---------------------------------------------------------------- the tree
def test_datatree_groups_dims_and_values(engine, X):
    _, post, dt = engine
    n_chains, n_draws, k = post.weights.shape
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(dt.children)
    posterior = dt["posterior"]
    assert dict(posterior.sizes) == {
        "chain": n_chains,
        "draw": n_draws,
        "component": k,
        "feature": 2,
        "feature_bis": 2,
    }
    assert posterior["means"].dims == ("chain", "draw", "component", "feature")
    assert posterior["covariances"].dims[-2:] == ("feature", "feature_bis")
    assert list(posterior["feature"].values) == FEATURES
    np.testing.assert_array_equal(posterior["weights"].values, post.weights)
    np.testing.assert_array_equal(posterior["covariances"].values, post.covariances)
    assert dt["log_likelihood"]["X"].dims == ("chain", "draw", "obs_id")
    np.testing.assert_array_equal(dt["log_likelihood"]["X"].values, post.log_likelihood)
    assert dt["observed_data"]["X"].dims == ("obs_id", "feature")
    np.testing.assert_array_equal(dt["observed_data"]["X"].values, X.to_numpy())
    assert dt["sample_stats"]["total_log_likelihood"].dims == ("chain", "draw")
    assert ("concentration" in posterior) == (post.concentration is not None)
    assert ("labels" in dt["sample_stats"]) == (post.labels is not None)
    assert dt.attrs["bayesmix_kind"] == post.kind


# ------------------------------------------------------------- arviz-stats
def test_summary_has_a_row_for_every_component_and_feature(engine):
    _, post, dt = engine
    k = post.weights.shape[2]
    table = azs.summary(dt, var_names=["weights", "means", "covariances"], round_to="none")
    expected = (
        [f"weights[{j}]" for j in range(k)]
        + [f"means[{j}, {f}]" for j in range(k) for f in FEATURES]
        + [f"covariances[{j}, {f}, {g}]" for j in range(k) for f in FEATURES for g in FEATURES]
    )
    assert sorted(table.index) == sorted(expected)
    assert {"mean", "sd", "ess_bulk", "ess_tail", "r_hat"} <= set(table.columns)
    np.testing.assert_allclose(
        table.loc[[f"weights[{j}]" for j in range(k)], "mean"].to_numpy(dtype=float),
        post.weights.mean(axis=(0, 1)),
        rtol=1e-12,
    )
    # Unused Gibbs slots are NaN in the draws; arviz leaves them out only with skipna.
    means = post.means.mean(axis=(0, 1))
    got = table.loc[[f"means[{j}, {f}]" for j in range(k) for f in FEATURES], "mean"]
    np.testing.assert_allclose(got.to_numpy(dtype=float), means.ravel(), rtol=1e-12)
    full = azs.summary(dt, round_to="none")
    assert len(full) == k * (1 + 2 + 4) + (post.concentration is not None)


def test_rhat_and_ess_agree_with_our_own_diagnostics(engine):
    _, post, dt = engine
    k = post.weights.shape[2]
    ess = azs.ess(dt, var_names=["weights"])["weights"]
    rhat = azs.rhat(dt, var_names=["weights", "means"])
    assert ess.dims == ("component",) and rhat["means"].dims == ("component", "feature")
    ours = post.summary(var_names=["weights"], components="all")
    rows = [f"weights[{j}]" for j in range(k)]
    mine = ours.loc[rows, "ess_bulk"].to_numpy()
    finite = np.isfinite(mine)  # ours is NaN for a slot never used in a whole chain
    assert finite.sum() >= 2
    np.testing.assert_allclose(ess.values[finite], mine[finite], rtol=1e-10)
    if post.n_chains > 1:  # (ours splits a single chain in two; arviz does not)
        np.testing.assert_allclose(
            rhat["weights"].values[finite], ours.loc[rows, "r_hat"].to_numpy()[finite], rtol=1e-10
        )
    total = azs.rhat(dt, group="sample_stats", var_names=["total_log_likelihood"])
    assert total["total_log_likelihood"].dims == ()
    ess_total = azs.ess(dt, group="sample_stats", var_names=["total_log_likelihood"])
    assert float(ess_total["total_log_likelihood"]) > 5


def test_loo_reads_the_pointwise_log_likelihood(engine):
    _, post, dt = engine
    elpd = _loo(dt)
    ll = post.log_likelihood.reshape(-1, post.n_samples)
    lppd = np.sum(np.logaddexp.reduce(ll, axis=0) - np.log(ll.shape[0]))
    assert elpd.n_data_points == post.n_samples == 272
    assert elpd.n_samples == post.n_chains * post.n_draws
    assert np.isfinite(elpd.elpd) and elpd.elpd < lppd
    assert elpd.p == pytest.approx(lppd - elpd.elpd, rel=1e-8)  # p_loo = lppd - elpd_loo
    assert elpd.pareto_k.dims == ("obs_id",) and elpd.pareto_k.size == 272


def test_compare_across_engines(posteriors):
    loos = {name: _loo(post.to_arviz()) for name, post in posteriors.items()}
    # arviz-stats 1.x rounds the table unless told not to; 0.8 has no round_to
    raw = {"round_to": "none"} if "round_to" in inspect.signature(azs.compare).parameters else {}
    with warnings.catch_warnings():
        # arviz-stats 0.8 calls DataFrame.sort_values(inplace=True), deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message="The inplace keyword")
        table = azs.compare(loos, **raw)
    assert set(table.index) == set(ENGINES)
    for name, elpd in loos.items():
        assert table.loc[name, "elpd"] == pytest.approx(elpd.elpd)
    best = max(loos, key=lambda name: loos[name].elpd)
    assert table.loc[best, "rank"] == 0 and table.loc[best, "elpd_diff"] == 0.0
    # (the sign of the other differences changed between arviz-stats 0.8 and 1.x)
    np.testing.assert_allclose(
        np.abs(table["elpd_diff"]), [loos[best].elpd - loos[n].elpd for n in table.index]
    )
    assert table["weight"].sum() == pytest.approx(1.0)


# ------------------------------------------------------------- arviz-plots
def _arviz_plots():
    """arviz_plots, or a skip that names the known incompatibility.

    Below 1.2 its matplotlib backend fails on matplotlib >= 3.11 (it reads
    ``matplotlib.style.core``, no longer imported, and builds colour arrays
    from the prop cycle, now RGB tuples); below 1.1 ``PlotCollection.grid``
    passes a Dataset to ``xr.Dataset()``, refused from xarray 2026.4.  Python
    3.11 can only get arviz-plots 0.8 (arviz-base 0.8.x).
    """
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    try:
        plots = Version(version("arviz-plots"))
    except PackageNotFoundError:
        pytest.skip("arviz-plots is not installed (the Python 3.12 step of .ci/run installs it)")
    mpl, xr = Version(version("matplotlib")), Version(version("xarray"))
    if plots < Version("1.2") and mpl >= Version("3.11"):
        pytest.skip(f"arviz-plots {plots} does not work with matplotlib {mpl} (needs >= 1.2)")
    if plots < Version("1.1") and xr >= Version("2026.4"):
        pytest.skip(f"arviz-plots {plots} does not work with xarray {xr} (needs >= 1.1)")
    import matplotlib

    matplotlib.use("Agg")
    return pytest.importorskip("arviz_plots")


@pytest.fixture
def azp():
    module = _arviz_plots()
    yield module
    import matplotlib.pyplot as plt

    plt.close("all")


def _figure_panels(pc):
    fig = pc.viz["figure"].item()
    return sum(ax.get_visible() and ax.has_data() for ax in fig.axes)


def _used_components(post):
    """Components with positive weight in most draws of every chain (a Gibbs
    slot empty for a whole chain has nothing to draw a density of)."""
    return np.flatnonzero((post.weights > 0).mean(axis=1).min(axis=0) > 0.5)


def test_plot_dist_has_one_panel_per_component(engine, azp):
    _, post, dt = engine
    used = _used_components(post)
    pc = azp.plot_dist(dt, var_names=["weights"], coords={"component": used})
    panels = pc.viz["plot"]["weights"]
    assert panels.dims == ("component",)
    np.testing.assert_array_equal(panels["component"].values, used)
    assert _figure_panels(pc) == used.size


def test_plot_trace_dist_draws_every_chain_component_and_feature(engine, azp):
    _, post, dt = engine
    used = _used_components(post)
    pc = azp.plot_trace_dist(dt, var_names=["weights", "means"], coords={"component": used})
    assert _figure_panels(pc) == 4  # a density and a trace column per variable
    lines = pc.viz["trace"]["means"]
    assert dict(lines.sizes) == {"chain": post.n_chains, "component": used.size, "feature": 2}
    line = lines.isel(chain=0, component=0, feature=1).item()
    np.testing.assert_allclose(line.get_ydata(), post.means[0, :, used[0], 1])


def test_plot_forest_labels_every_component_and_feature(engine, azp):
    _, post, dt = engine
    k = post.weights.shape[2]
    pc = azp.plot_forest(dt, var_names=["weights", "means", "covariances"])
    assert dict(pc.viz["feature_label"]["means"].sizes) == {"component": k, "feature": 2}
    assert dict(pc.viz["component_label"]["weights"].sizes) == {"component": k}
    labels = pc.viz["feature_label"]["means"].values
    assert {t.get_text() for t in labels.ravel()} == set(FEATURES)


def test_plot_ess_and_khat(engine, azp):
    _, post, dt = engine
    used = _used_components(post)
    pc = azp.plot_ess(dt, var_names=["weights"], coords={"component": used})
    assert dict(pc.viz["plot"]["weights"].sizes) == {"component": used.size}
    elpd = _loo(dt)
    pc = azp.plot_khat(elpd)
    points = pc.viz["khat"]["pareto_k"].item().get_offsets()
    np.testing.assert_allclose(np.asarray(points)[:, 1], elpd.pareto_k.values)


def test_plot_rank_of_gibbs_chains(posteriors, azp):
    # Rank plots compare chains: only the Gibbs engine has more than one.
    post = posteriors["gibbs"]
    used = _used_components(post)
    pc = azp.plot_rank(post.to_arviz(), var_names=["weights"], coords={"component": used})
    assert dict(pc.viz["plot"]["weights"].sizes) == {"component": used.size}
    assert _figure_panels(pc) == used.size
