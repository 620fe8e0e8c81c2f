"""What every engine gives with default arguments only (issue "Right answers by default").

One row per data set; every fit passes nothing but the data (and a seed):

- Old Faithful (272 x 2), the galaxy velocities (82 x 1), scikit-learn's wine
  table standardised (178 x 13, 3 cultivars), a simulated overlapping 2-D set
  (n=300, weights 0.4/0.6, means 2.5 apart) and a simulated 1000 x 128 set with
  10 clusters; for Gibbs also scikit-learn's breast cancer table standardised
  (569 x 30, 2 diagnoses; EM and VB skip tables of more than 20 features).

Columns:

- ``gap own``: ``GaussianMixture(K)`` (K = the true or mclust's number of
  components) against its own optimum: the same fit continued to convergence
  (from its parameters, ``tol=0``, up to 20 000 iterations), in total
  log-likelihood units;
- ``gap best``: against the best of 50 restarts (k-means++ and random rows);
- ``eff K``: effective components of ``VariationalGaussianMixture()``;
- ``ARI``: adjusted Rand index of the (point) partition against the labels,
  where there are labels;
- for ``DirichletProcessMixture()``: the posterior mode of the number of
  clusters, ``E[K]``, the split R-hat of the log joint and how many chains
  an ``n_iter="auto"`` run restarted from another's state (``chain_restarts_``);
- wall seconds per fit.

Then on how many of 30 fits (five real tables in their own units, K = 2..7)
the default EM fit ends within 0.05 of its own optimum, and two summaries over
simulated overlapping 2-D sets (n=300): on how many of
12 the default EM fit reaches the best of 50 restarts (within 0.5), and the
coverage of 90% bootstrap intervals (``posterior(X)``) of the weights and
means over ``--coverage-sets`` data sets (default 100).

Targets (issue 11): EM gap <= 0.05; best optimum on >= 11 of 12; coverage >=
0.85; VB and Gibbs ARI on wine >= 0.80 with K = 3 (4 for VB); galaxies E[K]
in [5, 8]; 128-D mode K = 10; a default Gibbs fit on wine within 30 s.

Usage::

    python benchmarks/bench_defaults.py                  # everything (slow: Gibbs in 128-D)
    python benchmarks/bench_defaults.py --only em,boot   # sections: em, boot, vb, gibbs
    python benchmarks/bench_defaults.py --coverage-sets 20

scikit-learn (a test-only dependency) provides the wine table and the ARI.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from bayesmix import DirichletProcessMixture, GaussianMixture, VariationalGaussianMixture
from bayesmix.datasets import load_faithful, load_galaxies


def overlapping(seed: int, n: int = 300):
    """Two 2-D Gaussians, weights 0.4 / 0.6, means 2.5 apart, unit covariances;
    returns ``(X, labels, true weights, true means)``."""
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    means = np.array([[0.0, 0.0], [2.5, 0.0]])
    X = rng.standard_normal((n, 2)) + means[(~z).astype(int)]
    return X, (~z).astype(int), np.array([0.4, 0.6]), means


def clusters_128(seed: int = 0, n: int = 1000, d: int = 128, k: int = 10):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (k, d)) * 1.5
    labels = rng.integers(0, k, n)
    return centres[labels] + rng.standard_normal((n, d)), labels


def data_sets():
    from sklearn.datasets import load_breast_cancer, load_wine

    wine = load_wine()
    W = (wine.data - wine.data.mean(0)) / wine.data.std(0)
    cancer = load_breast_cancer()
    C = (cancer.data - cancer.data.mean(0)) / cancer.data.std(0)
    X2, y2, _, _ = overlapping(12345)
    X128, y128 = clusters_128()
    return [
        ("faithful", load_faithful(), None, 3),
        ("galaxies", load_galaxies(), None, 4),
        ("wine (std)", W, wine.target, 3),
        ("overlap 2-D", X2, y2, 2),
        ("1000 x 128", X128, y128, 10),
        ("cancer (std)", C, cancer.target, 2),
    ]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def ari(a, b):
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b)


def real_tables():
    """Unlabelled real tables in their own units (EM is equivariant to them)."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    return [
        ("faithful", load_faithful()),
        ("galaxies", load_galaxies()),
        ("iris", load_iris().data),
        ("wine", load_wine().data),
        ("breast cancer", load_breast_cancer().data),
    ]


def continued(gm, X):
    """The fit ``gm`` continued from its parameters to convergence (``tol=0``,
    up to 20 000 iterations)."""
    return GaussianMixture(
        gm.n_components,
        weights_init=gm.weights_,
        means_init=gm.means_,
        precisions_init=gm.precisions_,
        n_init=1,
        tol=0.0,
        max_iter=20_000,
    ).fit(X)


def em_gaps(X, k, seed=0):
    """``(gap to the same start converged, gap to the best of 50, wall seconds)``."""
    t = time.perf_counter()
    gm = quiet(GaussianMixture(k, random_state=seed).fit, X)
    wall = time.perf_counter() - t
    own = quiet(continued, gm, X)  # the default fit, continued to convergence
    best = -np.inf
    for i in range(50):
        init = "k-means++" if i % 2 else "random_from_data"
        b = quiet(
            GaussianMixture(
                k, init_params=init, n_init=1, random_state=1000 + i, tol=1e-10, max_iter=5000
            ).fit,
            X,
        )
        if b.collapsed_components_.size == 0:
            best = max(best, b.log_likelihood_)
    best = max(best, own.log_likelihood_)
    return own.log_likelihood_ - gm.log_likelihood_, best - gm.log_likelihood_, wall


def em_section(sets):
    print("EM, GaussianMixture(K) with defaults")
    print(f"{'data':<13} {'K':>3} {'gap own':>10} {'gap best':>10} {'wall s':>8}")
    for name, X, _, k in sets:
        if X.shape[1] > 20:
            continue
        own, best, wall = em_gaps(X, k)
        print(f"{name:<13} {k:>3} {own:>10.4f} {best:>10.4f} {wall:>8.3f}")
    hits = 0
    for s in range(12):
        X, _, _, _ = overlapping(s)
        _, best, _ = em_gaps(X, 2, seed=s)
        hits += best <= 0.5
    print(f"overlapping 2-D sets where the default fit is within 0.5 of the best of 50: {hits}/12")
    own_hits, total, worst = 0, 0, (0.0, "")
    for name, X in real_tables():
        for k in range(2, 8):
            gm = quiet(GaussianMixture(k, random_state=0).fit, X)
            gap = quiet(continued, gm, X).log_likelihood_ - gm.log_likelihood_
            own_hits += gap <= 0.05
            total += 1
            worst = max(worst, (gap, f"{name} K={k}"))
    print(
        f"real tables (faithful, galaxies, iris, raw wine, raw breast cancer; K = 2..7) where "
        f"the default fit is within 0.05 of its own optimum: {own_hits}/{total} "
        f"(largest gap {worst[0]:.4f}, {worst[1]})"
    )


def coverage_section(n_sets, n_draws):
    print(f"\nbootstrap coverage of 90% intervals, {n_sets} overlapping 2-D sets, {n_draws} draws")
    hits = np.zeros(6)
    t = time.perf_counter()
    for s in range(n_sets):
        X, _, w_true, m_true = overlapping(10_000 + s)
        gm = quiet(GaussianMixture(2, random_state=s).fit, X)
        post = quiet(gm.posterior, X, n_draws=n_draws, random_state=s)
        order = np.argsort(gm.means_[:, 0])  # component 0: the left one (true mean 0)
        w = post.weights[0][:, order]
        m = post.means[0][:, order, :]
        lo_w, hi_w = np.quantile(w, [0.05, 0.95], axis=0)
        lo_m, hi_m = np.quantile(m, [0.05, 0.95], axis=0)
        hits[:2] += (lo_w <= w_true) & (w_true <= hi_w)
        hits[2:] += ((lo_m <= m_true) & (m_true <= hi_m)).ravel()
    cov = hits / n_sets
    names = ["w0", "w1", "mu0x", "mu0y", "mu1x", "mu1y"]
    print("  " + "  ".join(f"{n}={c:.2f}" for n, c in zip(names, cov, strict=True)))
    print(f"  mean coverage {cov.mean():.3f} (target >= 0.85); {time.perf_counter() - t:.1f} s")


def vb_section(sets):
    print("\nVB, VariationalGaussianMixture() with defaults")
    print(f"{'data':<13} {'eff K':>6} {'ARI':>6} {'wall s':>8}")
    for name, X, y, _ in sets:
        if X.shape[1] > 20:
            continue
        t = time.perf_counter()
        vb = quiet(VariationalGaussianMixture(random_state=0).fit, X)
        wall = time.perf_counter() - t
        a = f"{ari(y, vb.predict(X)):.3f}" if y is not None else "-"
        print(f"{name:<13} {vb.n_effective_components_:>6} {a:>6} {wall:>8.2f}")


def gibbs_section(sets, budget):
    print("\nGibbs, DirichletProcessMixture() with defaults")
    print(
        f"{'data':<13} {'mode K':>6} {'E[K]':>6} {'R-hat':>6} {'ARI':>6} {'wall s':>8} "
        f"{'restarts':>8}"
    )
    for name, X, y, _ in sets:
        t = time.perf_counter()
        kwargs = {"random_state": 0, "progress": False}
        if X.shape[1] > 20 and budget:
            kwargs.update(n_iter=budget)
        dpm = quiet(DirichletProcessMixture(**kwargs).fit, X)
        wall = time.perf_counter() - t
        ks = np.asarray(dpm.n_clusters_samples_).ravel()
        vals, counts = np.unique(ks, return_counts=True)
        a = f"{ari(y, dpm.labels_):.3f}" if y is not None else "-"
        print(
            f"{name:<13} {vals[np.argmax(counts)]:>6} {ks.mean():>6.2f} {dpm.rhat_:>6.3f} "
            f"{a:>6} {wall:>8.2f} {len(dpm.chain_restarts_):>8}"
            + (f"  (n_iter={budget})" if "n_iter" in kwargs else "")
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="em,boot,vb,gibbs")
    parser.add_argument("--coverage-sets", type=int, default=100)
    parser.add_argument("--draws", type=int, default=200, help="bootstrap draws per data set")
    parser.add_argument(
        "--gibbs-budget",
        type=int,
        default=0,
        help="n_iter for the 128-D Gibbs fit (0: the default, which may take very long)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    sets = data_sets()
    if "em" in only:
        em_section(sets)
    if "boot" in only:
        coverage_section(args.coverage_sets, args.draws)
    if "vb" in only:
        vb_section(sets)
    if "gibbs" in only:
        gibbs_section(sets, args.gibbs_budget)


if __name__ == "__main__":
    main()
