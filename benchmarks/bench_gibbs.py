"""Time per collapsed Gibbs sweep of DirichletProcessMixture, against the
targets of issues 4 and 11 (issue 11 holds the default iteration to them:
2 000 x 2 at most 0.5 ms, 10 000 x 2 at most 3 ms, 1 000 x 128 at most 100 ms
of CPU per iteration of one chain, the "iteration/target" column).

A sweep is one pass of Neal's algorithm 3 over every row of one chain (one
jitted call, ``bayesmix._kernels._gibbs.gibbs_sweep``), timed at the true
number of clusters: the data are four well-separated Gaussian clusters with
identity covariances, the chain starts from the true partition, and a few
warm-up sweeps run before timing (numba loads its cache).  The prior is
informative, ``E[Sigma] = I`` with ``dof = max(D + 2, 2 D)``, so that the true
partition is where the chain stays: in 128 dimensions the cost of learning a
full covariance from 250 rows is so large that under a vague prior the
posterior prefers other partitions (tiny clusters), and the time per sweep
would then measure a different number of clusters.  A second table times whole
iterations the way ``DirichletProcessMixture()`` runs them (default prior and
proposals, K not given, after burn-in); in 128 dimensions on the 10-cluster set
of ``bench_defaults.py``, since under a vague prior the four clusters here are
better described by one.  Each figure is the median of several blocks
of sweeps; the machine may be shared, so the thread CPU time is printed beside
the wall time.  The cost of one split-merge proposal (the default adds one
per iteration, with LAUNCH_SCANS restricted Gibbs scans after a sequential-allocation
launch state) is printed
too, and so is the wall time of a whole 4-chain fit with the chains run one
after the other against the chains run on a thread pool.

For reference, issue 4 quotes R's bayesm ``rDPGibbs`` at about 4.4 ms per
iteration on 2 000 two-dimensional points and dpgmm (PyTorch, CPU) at 2.9 s
per iteration on 1 000 points in 128 dimensions.

Usage::

    python benchmarks/bench_gibbs.py            # the three workloads of issue 4
    python benchmarks/bench_gibbs.py --quick    # fewer repeats
    python benchmarks/bench_gibbs.py --memory   # peak memory of default fits

``--memory`` fits ``DirichletProcessMixture(n_iter=2000)`` (default prior,
four chains, 1 000 kept draws each) to 10 000 and 50 000 two-dimensional rows
and prints the peak of the memory Python and NumPy allocate during the fit
(``tracemalloc``) beside the kept draws themselves (``labels_samples_`` and
the sampler's own copy, one byte a label below 128 clusters): the floor any
sampler keeping every draw needs.  Labels held in the type of the number of
rows (``int32`` at 50 000 rows), as before, made the peak 2.4 GB at 50 000
rows.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bayesmix import gibbs
from bayesmix._gibbs_core import LAUNCH_SCANS
from bayesmix._gibbs_model import prepare_model
from bayesmix._kernels._gibbs import gibbs_sweep, split_merge
from bayesmix.priors import NormalInverseWishart

# (n_samples, n_features, target ms per sweep, reference ms per iteration or None)
WORKLOADS = [
    (2_000, 2, 0.5, 4.4),
    (10_000, 2, 3.0, None),
    (1_000, 128, 100.0, 2900.0),
]
N_CLUSTERS = 4


def make_data(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLUSTERS, n_features))
    centres *= 8.0 / np.linalg.norm(centres, axis=1, keepdims=True).min()
    labels = rng.integers(0, N_CLUSTERS, size=n_samples)
    return centres[labels] + rng.normal(size=(n_samples, n_features)), labels


def time_block(fn, n_reps):
    w0, c0 = time.perf_counter(), time.thread_time()
    for r in range(n_reps):
        fn(r)
    return (time.perf_counter() - w0) / n_reps, (time.thread_time() - c0) / n_reps


def bench_kernels(n_samples, n_features, n_blocks):
    X, truth = make_data(n_samples, n_features)
    dof = max(n_features + 2.0, 2.0 * n_features)
    prior = NormalInverseWishart(
        mean=X.mean(axis=0), kappa=0.01, dof=dof, scale=(dof - n_features - 1) * np.eye(n_features)
    )
    m = prepare_model(X, prior)
    true_labels = truth.astype(np.int64)
    labels = true_labels.copy()
    state = {"K": N_CLUSTERS}
    log_alpha = 0.0

    ones = np.ones(n_samples, dtype=np.int64)
    no_atoms = (np.empty(0, dtype=np.int64),) * 2

    def sweep(r):
        state["K"], _ = gibbs_sweep(
            m.X, ones, n_samples, labels, state["K"], m.log_prior_pred, m.kernel_prior,
            log_alpha, 1000 + r, False,
        )  # fmt: skip

    stats = np.zeros(4, dtype=np.int64)
    sm_labels = true_labels.copy()

    def proposal(r):  # from the true partition every time
        sm_labels[:] = true_labels
        split_merge(
            m.X,
            ones,
            sm_labels,
            N_CLUSTERS,
            m.kernel_prior,
            log_alpha,
            1,
            LAUNCH_SCANS,
            5000 + r,
            stats,
            no_atoms,
        )

    per_block = max(3, int(0.3 / (n_samples * n_features**2 * 2e-8 + 1e-4)))
    for r in range(3):  # warm-up
        sweep(r)
        proposal(r)
    sweeps = [time_block(sweep, per_block) for _ in range(n_blocks)]
    K_after_sweeps = state["K"]
    props = [time_block(proposal, per_block) for _ in range(n_blocks)]
    wall = float(np.median([s[0] for s in sweeps]))
    cpu = float(np.median([s[1] for s in sweeps]))
    sm_wall = float(np.median([s[0] for s in props]))
    return wall, cpu, sm_wall, K_after_sweeps


def bench_defaults_iteration(n_samples, n_features, n_burn, n_timed):
    """Time of one iteration the way ``DirichletProcessMixture()`` runs it: the
    default prior (RandomScale, b learned), ``split_merge="auto"`` proposals,
    the sweep, the log joint and the kept draw (``n_iter="auto"`` keeps every
    iteration), K not given; one chain from the default start (k-means at the
    prior's K0), run in calls of the block kernel as a fit runs it, timed
    after ``n_burn`` burn-in iterations.  Returns (wall, cpu) seconds per
    iteration, the thread CPU time of the sweep alone at the states held, and
    the mean number of clusters held while timed."""
    from bayesmix._gibbs_core import _Chain
    from bayesmix._gibbs_hyper import prepare, resolve_prior

    if n_features > 20:
        # The four clusters of make_data are one Gaussian to a vague full-covariance
        # prior in 128-D (a single cluster wins); time the 10-cluster set of issue 11.
        from bench_defaults import clusters_128

        X, _ = clusters_128(n=n_samples, d=n_features)
    else:
        X, _ = make_data(n_samples, n_features)
    model, hyper = prepare(X, resolve_prior(NormalInverseWishart(), X))
    # the last chain of four: k-means at K0
    chain = _Chain(3, 4, model, 1.0, np.random.SeedSequence(0), hyper, -1, np.int64)
    chain.advance(n_burn, lambda it: True, lambda: None)

    def block(_r, n_steps):
        chain.advance(n_steps, lambda it: True, lambda: None)

    walls, cpus, sweeps = [], [], []
    ks = []
    per_block = max(1, n_timed // 3)
    for _ in range(3):
        w, c = time_block(lambda r: block(r, per_block), 1)
        walls.append(w / per_block)
        cpus.append(c / per_block)
        ks.extend(r[2] for r in chain.records[-per_block:])
        labels = chain.state.labels.copy()
        m = chain.block
        K = chain.state.n_clusters
        _, sweep_cpu = time_block(
            lambda q, lab=labels, m=m, K=K: gibbs_sweep(
                model.X,
                m["mult"],
                model.X.shape[0],
                lab,
                K,
                m["log_prior_pred"],
                m["prior"],
                0.0,
                q,
                False,
            ),
            1,
        )
        sweeps.append(sweep_cpu)
    return (
        float(np.median(walls)),
        float(np.median(cpus)),
        float(np.median(sweeps)),
        float(np.mean(ks)),
    )


def bench_chains(n_samples, n_features, n_iter):
    """Wall time of a 4-chain fit, chains sequential vs on the thread pool."""
    X, _ = make_data(n_samples, n_features)
    out = {}
    for label, threads in (("sequential", "1"), ("threads", "")):
        old = os.environ.get("BAYESMIX_NUM_THREADS")
        if threads:
            os.environ["BAYESMIX_NUM_THREADS"] = threads
        else:
            os.environ.pop("BAYESMIX_NUM_THREADS", None)
        try:
            model = gibbs.DirichletProcessMixture(
                n_iter=n_iter, n_chains=4, random_state=0, progress=False
            )
            model.fit(X[:50])  # warm-up
            t0 = time.perf_counter()
            model.fit(X)
            out[label] = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("BAYESMIX_NUM_THREADS", None)
            else:
                os.environ["BAYESMIX_NUM_THREADS"] = old
    return out


def bench_memory(sizes=(10_000, 50_000), n_iter=2000):
    """Peak traced memory of a default fit against the kept draws it returns."""
    import tracemalloc
    import warnings

    head = (
        f"{'n':>6} {'d':>2} | {'kept draws':>10} | {'floor MB':>8} | {'peak MB':>8} | "
        f"{'peak/floor':>10}"
    )
    print(head)
    print("-" * len(head))
    for n in sizes:
        X, _ = make_data(n, 2)
        model = gibbs.DirichletProcessMixture(n_iter=n_iter, random_state=0, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence is not what is measured
            model.fit(X[:200])  # compiled and loaded before measuring
            tracemalloc.start()
            model.fit(X)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        floor = model.labels_samples_.nbytes + model._labels_full.nbytes
        kept = model.labels_samples_.shape[0] * model.labels_samples_.shape[1]
        print(
            f"{n:>6} {2:>2} | {kept:>10} | {floor / 1e6:8.0f} | {peak / 1e6:8.0f} | "
            f"{peak / floor:10.2f}"
        )
    print(
        "floor: the kept labels (labels_samples_ and the sampler's copy); peak: the most\n"
        "memory allocated at once during fit (tracemalloc), the data and kernels' arrays included."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--memory", action="store_true", help="peak memory of default fits")
    args = parser.parse_args()
    if args.memory:
        bench_memory()
        return
    n_blocks = 3 if args.quick else 7
    print(
        f"cores available: {len(os.sched_getaffinity(0))}, load average "
        f"{os.getloadavg()[0]:.1f}; {N_CLUSTERS} clusters (the true K)"
    )
    head = (
        f"{'n':>6} {'d':>4} | {'target':>7} | {'sweep wall':>10} {'ratio':>6} | "
        f"{'sweep cpu':>9} {'ratio':>6} | {'+1 split-merge':>14} | {'reference':>9} {'speed-up':>8}"
    )
    print(head)
    print("-" * len(head))
    for n, d, target, ref in WORKLOADS:
        wall, cpu, sm, K = bench_kernels(n, d, n_blocks)
        ref_txt = f"{ref:9.1f} {ref / (1e3 * wall):7.0f}x" if ref else f"{'-':>9} {'-':>8}"
        print(
            f"{n:>6} {d:>4} | {target:7.1f} | {1e3 * wall:10.3f} {1e3 * wall / target:6.2f} | "
            f"{1e3 * cpu:9.3f} {1e3 * cpu / target:6.2f} | {1e3 * (wall + sm):14.3f} | {ref_txt}"
            + ("" if K == N_CLUSTERS else f"  (K drifted to {K})")
        )
    print(
        "times in ms per sweep of one chain; ratio = measured / target (< 1 meets it); cpu is\n"
        "the thread CPU time (what wall time would be on an idle core); '+1 split-merge' is a\n"
        "sweep plus one split-merge proposal (the default iteration), wall time; reference:\n"
        "bayesm rDPGibbs (n=2000, d=2) and dpgmm on CPU (n=1000, d=128) per iteration, as\n"
        "quoted in issue 4, and the speed-up of our sweep (wall) over it."
    )
    print(
        "\nUnder defaults (DirichletProcessMixture(): RandomScale prior with b learned, "
        'split_merge="auto",\nlog joint every iteration, K not given), one chain after burn-in, '
        "against the sweep at the true K:"
    )
    head = (
        f"{'n':>6} {'d':>4} | {'K held':>6} | {'iteration cpu':>13} | {'sweep cpu':>9} | "
        f"{'true-K sweep cpu':>16} | {'target':>7} | {'iteration/target':>16}"
    )
    print(head)
    print("-" * len(head))
    for n, d, target, _ in WORKLOADS:
        _, cpu_k, _, _ = bench_kernels(n, d, 3)
        n_burn, n_timed = (30, 15) if d > 20 else (100, 150 if args.quick else 300)
        _, cpu, sweep, k_held = bench_defaults_iteration(n, d, n_burn, n_timed)
        print(
            f"{n:>6} {d:>4} | {k_held:6.1f} | {1e3 * cpu:13.3f} | {1e3 * sweep:9.3f} | "
            f"{1e3 * cpu_k:16.3f} | {target:7.1f} | {1e3 * cpu / target:16.2f}"
        )
    print(
        "thread CPU ms per iteration of one chain (hyperparameter update, split-merge\n"
        "proposals, sweep, log joint), and of its sweep alone at the partition it holds;\n"
        "'true-K sweep cpu' is the sweep at the true K under the informative prior (first table);\n"
        "iteration/target < 1 meets issue 11's target for the default iteration."
    )
    n_iter = 100 if args.quick else 200
    chains = bench_chains(2_000, 2, n_iter)
    print(
        f"\n4 chains x {n_iter} iterations, n=2000, d=2 (split-merge on): chains one after "
        f"the other {chains['sequential']:.2f} s, on the thread pool {chains['threads']:.2f} s "
        f"({chains['sequential'] / chains['threads']:.2f}x)"
    )


if __name__ == "__main__":
    main()
