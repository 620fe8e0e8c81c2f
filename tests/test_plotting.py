import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.collections import PolyCollection
from matplotlib.patches import Ellipse
from scipy.stats import multivariate_normal, norm

from bayesmix import GaussianMixture
from bayesmix import plotting as bp
from bayesmix.datasets import load_faithful, load_galaxies
from bayesmix.plotting._common import _gaussian_mixture_density
from bayesmix.plotting._posterior import _partition_order


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def faithful():
    X = load_faithful()
    return X, GaussianMixture(2, n_init=2, random_state=0).fit(X)


@pytest.fixture(scope="module")
def galaxies():
    X = load_galaxies(unit=1000)
    return X, GaussianMixture(3, n_init=3, random_state=0).fit(X)


def test_plotting_module_imports_matplotlib_lazily():
    code = "import sys, bayesmix.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_function_draws_on_the_given_axes(faithful, galaxies):
    X, gm = faithful
    G, g1 = galaxies
    calls = [
        lambda ax: bp.plot_components(gm, X, ax=ax),
        lambda ax: bp.plot_density(gm, X, ax=ax),
        lambda ax: bp.plot_density_band([0, 1], [1, 1], ax=ax),
        lambda ax: bp.plot_criterion({"n_components": [1, 2], "bic": [2.0, 1.0]}, ax=ax),
        lambda ax: bp.plot_n_components({2: 0.5, 3: 0.5}, ax=ax),
        lambda ax: bp.plot_coclustering(np.eye(3), ax=ax),
        lambda ax: bp.plot_uncertainty(g1, G, ax=ax),
        lambda ax: bp.plot_convergence(gm, ax=ax),
        lambda ax: bp.plot_trace(np.zeros((2, 5)), ax=ax),
        lambda ax: bp.plot_rank(np.arange(20.0).reshape(2, 10), ax=ax),
    ]
    for call in calls:
        fig, ax = plt.subplots()
        assert call(ax) is ax
        plt.close(fig)
    assert isinstance(bp.plot_convergence([3.0, 2.0, 1.0]), matplotlib.axes.Axes)


# ------------------------------------------------------------------- components
def test_components_draws_an_ellipse_per_component_and_radius(faithful):
    X, gm = faithful
    ax = bp.plot_components(gm, X, n_std=(1.0, 2.0, 3.0))
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * 3
    for k in range(2):
        mine = [e for e in ellipses if np.allclose(e.center, gm.means_[k])]
        assert len(mine) == 3
        vals = np.linalg.eigvalsh(gm.covariances_[k])  # ascending
        for e, r in zip(sorted(mine, key=lambda e: e.width), (1.0, 2.0, 3.0), strict=True):
            assert e.width == pytest.approx(2 * r * np.sqrt(vals[1]))
            assert e.height == pytest.approx(2 * r * np.sqrt(vals[0]))
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points, X)
    # colours follow the hard labels
    colours = ax.collections[0].get_facecolors()[:, :3]
    labels = gm.predict(X)
    for k in range(2):
        assert len({tuple(c) for c in colours[labels == k]}) == 1
    assert not np.allclose(colours[labels == 0][0], colours[labels == 1][0])
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(f"{w:.2f}" for w in gm.weights_)


def test_components_other_features_and_small_weights(faithful):
    X, gm = faithful
    ax = bp.plot_components(gm, X, features=(1, 0), n_std=(1.0,))
    centres = sorted(tuple(e.center) for e in ax.patches)
    assert centres == sorted(tuple(m[::-1]) for m in gm.means_)
    big = int(np.argmax(gm.weights_))
    ax = bp.plot_components(gm, X, min_weight=gm.weights_.max() - 1e-9, n_std=(1.0,))
    assert [tuple(e.center) for e in ax.patches] == [tuple(gm.means_[big])]


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_components_every_covariance_type(covariance_type, faithful):
    X, _ = faithful
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    ax = bp.plot_components(gm, X, n_std=(1.0,))
    full = gm._structure.to_full(gm.covariances_, 2, 2)
    for e in ax.patches:
        k = int(np.argmin(np.abs(gm.means_ - e.center).sum(1)))
        vals = np.linalg.eigvalsh(full[k])
        assert sorted([e.width, e.height]) == pytest.approx(sorted(2 * np.sqrt(vals)))


def test_components_one_feature_draws_the_mixture_density(galaxies):
    G, g1 = galaxies
    ax = bp.plot_components(g1, G)
    mixture = next(line for line in ax.lines if line.get_label() == "mixture")
    x, y = mixture.get_data()
    np.testing.assert_allclose(y, np.exp(g1.score_samples(x[:, None])), rtol=1e-10)
    comps = [line for line in ax.lines if line.get_label().startswith("component")]
    assert len(comps) == 3
    np.testing.assert_allclose(sum(c.get_ydata() for c in comps), y, rtol=1e-10)
    k = 0
    expected = g1.weights_[k] * norm.pdf(x, g1.means_[k, 0], np.sqrt(g1.covariances_[k, 0, 0]))
    np.testing.assert_allclose(comps[0].get_ydata(), expected, rtol=1e-10)


# ---------------------------------------------------------------------- density
def test_density_2d_contours_of_the_model(faithful):
    X, gm = faithful
    ax = bp.plot_density(gm, X, levels=7)
    contour = next(c for c in ax.collections if hasattr(c, "levels"))
    peak = np.exp(gm.score_samples(gm.means_)).max()
    # the grid maximum is the model's peak density, up to the grid spacing
    assert 0.95 * peak < contour.zmax <= 1.01 * peak
    assert contour.levels.min() <= contour.zmin and len(contour.levels) >= 5
    # the plot range covers the data
    xlo, xhi = ax.get_xlim()
    assert xlo < X[:, 0].min() and xhi > X[:, 0].max()


def test_density_marginal_in_higher_dimensions():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (150, 3)), rng.normal(4, 1, (150, 3))])
    gm = GaussianMixture(2, random_state=0).fit(X)
    pts = rng.normal(2, 2, size=(50, 2))
    idx = [0, 2]
    got = _gaussian_mixture_density(
        gm.weights_, gm.means_[:, idx], gm.covariances_[:, idx][:, :, idx], pts
    )
    want = sum(
        w * multivariate_normal(m[idx], c[np.ix_(idx, idx)]).pdf(pts)
        for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
    )
    np.testing.assert_allclose(got, want, rtol=1e-10)
    ax = bp.plot_density(gm, X, features=(0, 2), filled=True)
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 2"


def test_density_1d_curve(galaxies):
    G, g1 = galaxies
    ax = bp.plot_density(g1, G)
    x, y = ax.lines[-1].get_data()
    np.testing.assert_allclose(y, np.exp(g1.score_samples(x[:, None])))
    assert np.trapezoid(y, x) == pytest.approx(1.0, abs=1e-3)


def test_density_band_draws_mean_and_band():
    grid = np.linspace(0, 1, 11)
    mean, lower, upper = grid**2, grid**2 - 0.1, grid**2 + 0.1
    ax = bp.plot_density_band(grid, mean, lower, upper, data=np.array([0.2, 0.5]))
    line = next(ln for ln in ax.lines if ln.get_label() == "posterior mean")
    np.testing.assert_allclose(line.get_ydata(), mean)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)][-1]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(-0.1) and ys.max() == pytest.approx(1.1)
    assert ax.get_ylim()[0] == 0
    with pytest.raises(ValueError, match="both lower and upper"):
        bp.plot_density_band(grid, mean, lower)
    with pytest.raises(ValueError, match="must match"):
        bp.plot_density_band(grid, mean[:-1])


# ------------------------------------------------------------------- selection
def test_criterion_one_line_per_covariance_type():
    import pandas as pd

    table = pd.DataFrame(
        {
            "covariance_type": ["full", "full", "full", "diag", "diag", "diag"],
            "n_components": [3, 1, 2, 1, 2, 3],
            "bic": [12.0, 10.0, 5.0, 11.0, np.nan, 7.0],
            "aic": [1.0, 2.0, 3.0, 4.0, 5.0, 0.5],
        }
    )
    ax = bp.plot_criterion(table)
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert {"full", "diag", "best"} <= set(lines)
    np.testing.assert_array_equal(lines["full"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["full"].get_ydata(), [10.0, 5.0, 12.0])
    assert np.isnan(lines["diag"].get_ydata()[1])  # a failed fit is a gap
    assert (lines["best"].get_xdata()[0], lines["best"].get_ydata()[0]) == (2, 5.0)
    assert "BIC" in ax.get_ylabel()

    class Result:
        table_ = table

    ax = bp.plot_criterion(Result(), criterion="aic")
    best = next(ln for ln in ax.lines if ln.get_label() == "best")
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (3, 0.5)
    with pytest.raises(ValueError, match="criterion must be one of"):
        bp.plot_criterion(table, criterion="waic")
    with pytest.raises(ValueError, match="needs columns"):
        bp.plot_criterion(table, criterion="icl")


# ------------------------------------------------------------------- posterior
def test_n_components_from_draws_mapping_and_posterior():
    draws = np.array([[2, 3, 3, 3], [3, 4, 3, 2]])
    ax = bp.plot_n_components(draws)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [2 / 8, 5 / 8, 1 / 8])
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == [2, 3, 4]
    assert ax.patches[1].get_linewidth() > ax.patches[0].get_linewidth()  # the mode

    class Posterior:
        def n_components(self):
            return {1: 0.25, 2: 0.75}

    ax = bp.plot_n_components(Posterior())
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.25, 0.75])
    ax = bp.plot_n_components(np.array([0.0, 0.0, 0.3, 0.0, 0.7, 0.0]))  # P(K = k) by k
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == [2, 3, 4]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.3, 0.0, 0.7])
    with pytest.raises(TypeError, match="integer draws"):
        bp.plot_n_components(np.full((2, 2), 0.5))


def test_coclustering_orders_rows_by_partition():
    partition = np.array([1, 0, 1, 0, 1])
    same = (partition[:, None] == partition[None, :]).astype(float)
    matrix = 0.9 * same + 0.05
    ax = bp.plot_coclustering(matrix, partition)
    image = ax.images[0].get_array()
    # the larger cluster (label 1: rows 0, 2, 4) comes first, as one block
    np.testing.assert_allclose(image[:3, :3], 0.95)
    np.testing.assert_allclose(image[3:, 3:], 0.95)
    np.testing.assert_allclose(image[:3, 3:], 0.05)
    cuts = [ln.get_ydata()[0] for ln in ax.lines if ln.get_ydata()[0] == ln.get_ydata()[1]]
    assert cuts == [2.5]

    class Posterior:
        def coclustering(self):
            return matrix

        def point_partition(self):
            return partition

    ax = bp.plot_coclustering(Posterior())
    np.testing.assert_allclose(ax.images[0].get_array(), image)
    with pytest.raises(ValueError, match="square"):
        bp.plot_coclustering(np.ones((2, 3)))


def test_uncertainty_sizes_grow_with_uncertainty(faithful, galaxies):
    X, gm = faithful
    ax = bp.plot_uncertainty(gm, X)
    sizes = ax.collections[0].get_sizes()
    u = 1 - gm.predict_proba(X).max(axis=1)
    order = np.argsort(u)
    assert np.all(np.diff(sizes[order]) >= 0)
    assert sizes[order[-1]] > sizes[order[0]]
    G, g1 = galaxies
    ax = bp.plot_uncertainty(None, G, resp=g1.predict_proba(G))
    np.testing.assert_allclose(
        ax.collections[0].get_offsets()[:, 1], 1 - g1.predict_proba(G).max(axis=1)
    )
    with pytest.raises(ValueError, match="resp must have shape"):
        bp.plot_uncertainty(None, G, resp=np.ones((3, 2)))


def test_convergence_trace_is_the_models_lower_bounds(faithful):
    _, gm = faithful
    ax = bp.plot_convergence(gm)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), gm.lower_bounds_)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, gm.n_iter_ + 1))
    assert ax.get_ylabel() == "mean log-likelihood"
    with pytest.raises(ValueError, match="no iterations"):
        bp.plot_convergence([])


def test_trace_and_rank_one_line_per_chain():
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(3, 200))
    ax = bp.plot_trace(draws, name="alpha")
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[1].get_ydata(), draws[1])
    ax = bp.plot_rank(draws, n_bins=10)
    stairs = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
    assert len(stairs) == 3
    for s in stairs:
        assert s.get_data().values.sum() == 200
    # a chain shifted upwards has its ranks piled in the top bins
    draws[2] += 3.0
    ax = bp.plot_rank(draws, n_bins=10)
    top = [p for p in ax.patches if type(p).__name__ == "StepPatch"][2].get_data().values
    assert top[-3:].sum() > 150
    with pytest.raises(ValueError, match="n_chains, n_draws"):
        bp.plot_trace(np.zeros((2, 2, 2)))


# ------------------------------------------------------------ MixturePosterior
@pytest.fixture(scope="module")
def posterior(galaxies):
    import bayesmix.posterior as posterior_module

    G, g1 = galaxies
    rng = np.random.default_rng(0)
    n_draws = 100
    weights = rng.dirichlet(g1.weights_ * 82, size=n_draws)[None]
    means = (g1.means_[None] + rng.normal(scale=0.3, size=(n_draws, 3, 1)))[None]
    covs = np.broadcast_to(g1.covariances_, (1, n_draws, 3, 1, 1)).copy()
    return posterior_module.MixturePosterior.from_draws(
        weights, means, covs, X=G, kind="variational"
    )


def test_posterior_density_band(posterior):
    grid = np.linspace(5, 40, 50)
    ax = bp.plot_posterior_density(posterior, grid=grid, ci=0.8)
    band = posterior.density(grid[:, None], ci=0.8)
    line = next(ln for ln in ax.lines if ln.get_label() == "posterior mean")
    np.testing.assert_allclose(line.get_xdata(), grid)
    np.testing.assert_allclose(line.get_ydata(), band.mean)
    fill = [c for c in ax.collections if isinstance(c, PolyCollection)][-1]
    ys = fill.get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx(band.upper.max())
    assert "80% credible band" in [t.get_text() for t in ax.get_legend().get_texts()]
    # default grid: the data's range, and the data drawn as a rug
    ax = bp.plot_posterior_density(posterior)
    x = next(ln for ln in ax.lines if ln.get_label() == "posterior mean").get_xdata()
    assert x.min() < posterior.X.min() and x.max() > posterior.X.max()


def test_posterior_n_components_and_coclustering(posterior):
    ax = bp.plot_n_components(posterior)
    probs = posterior.n_components()
    ks = [round(p.get_x() + p.get_width() / 2) for p in ax.patches]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], probs[ks])
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(1.0)
    ax = bp.plot_coclustering(posterior)
    image = np.asarray(ax.images[0].get_array())
    assert image.shape == (82, 82)
    partition = posterior.point_partition()
    order = _partition_order(posterior.coclustering(), partition)
    np.testing.assert_allclose(image, posterior.coclustering()[np.ix_(order, order)])
    assert sorted(order) == list(range(82))


def test_rank_plot_of_tied_integer_draws_is_flat_when_chains_agree():
    rng = np.random.default_rng(3)
    draws = rng.choice([3, 4, 5], p=[0.5, 0.3, 0.2], size=(2, 1000))
    ax = bp.plot_rank(draws, n_bins=10)
    for s in [p for p in ax.patches if type(p).__name__ == "StepPatch"]:
        counts = s.get_data().values
        assert counts.sum() == 1000
        assert counts.min() > 60 and counts.max() < 140  # expected 100 per bin


# ---------------------------------------------------- pictures for real tables
def test_pairs_plot_every_pair_or_the_chosen_ones():
    import pandas as pd

    from bayesmix import GaussianMixture, plotting
    from bayesmix.datasets import load_iris

    X = pd.DataFrame(load_iris(), columns=["sl", "sw", "pl", "pw"])
    gm = GaussianMixture(3, random_state=0).fit(X)
    axes = plotting.plot_pairs(gm, X)
    assert axes.shape == (4, 4)
    assert not axes[0, 1].axison and axes[1, 0].axison  # upper triangle left empty
    assert axes[3, 0].get_xlabel() == "sl" and axes[3, 0].get_ylabel() == "pw"
    assert len(axes[1, 0].patches) == 2 * 3  # two ellipses per component
    legend = axes[3, 0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["1 sd (39%)", "2 sd (86%)"]
    axes = plotting.plot_pairs(gm, X, kind="classification", features=["pl", "pw", 0])
    assert axes.shape == (3, 3) and len(axes[1, 0].patches) == 0
    assert axes[2, 0].get_ylabel() == "sl"
    axes = plotting.plot_pairs(gm, X, kind="uncertainty", features=[2, 3])
    assert axes[1, 0].get_legend().get_title().get_text() == "uncertainty"
    with pytest.raises(ValueError, match="no feature named 'petal'"):
        plotting.plot_pairs(gm, X, features=["petal", "pw"])
    with pytest.raises(ValueError, match="kind must be one of"):
        plotting.plot_pairs(gm, X, kind="density")
    plt.close("all")


def test_bic_plot_is_scaled_to_the_competitive_models():
    import pandas as pd

    from bayesmix import plotting

    table = pd.DataFrame(
        {
            "covariance_type": ["full"] * 3 + ["spherical"] * 3,
            "n_components": [1, 2, 3] * 2,
            "bic": [5000.0, 100.0, 120.0, 9000.0, 300.0, 250.0],
        }
    )
    ax = plotting.plot_criterion(table)
    low, high = ax.get_ylim()
    assert low < 100.0 and 250.0 < high < 400.0  # both types' best shown, not the 9000
    texts = [t.get_text() for t in ax.texts]
    assert any("continue above" in t for t in texts)
    # nothing to clip: the full range, and no note
    ax = plotting.plot_criterion(table[table["n_components"] > 1])
    assert ax.get_ylim()[1] > 300.0 and not ax.texts
    plt.close("all")
