"""Wall time of a fresh Python process that imports the library and fits the
500-sample two-component example (``examples/plot_two_components.py``):
bayesmix against scikit-learn, each run as a subprocess several times.

The first bayesmix run may compile (numba's on-disk cache is cold after an
install or an edit of a kernel); it is run once untimed so the table shows the
warm-cache start-up every later process sees.  Besides the wall time, the
table gives the CPU time (user + system) of the child process: on a shared
machine it shows whether a slow wall time was the process's own doing (it
also counts BLAS threads starting up, so it can exceed the wall time).
``--breakdown`` adds a few partial scripts (imports only) to show where the
time goes.

Usage::

    python benchmarks/bench_startup.py [--repeats 7] [--breakdown]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

DATA = """
import numpy as np
rng = np.random.default_rng(0)
labels = rng.choice(2, size=500, p=[1 / 3, 2 / 3])
X = rng.normal(size=(500, 2)) + np.array([[0.0, 0.0], [3.0, 3.0]])[labels]
"""

SCRIPTS = {
    "bayesmix: import + fit": DATA
    + "from bayesmix import GaussianMixture\n"
    + "gm = GaussianMixture(n_components=2, random_state=0).fit(X)\n"
    + "assert gm.converged_\n",
    "sklearn: import + fit": DATA
    + "from sklearn.mixture import GaussianMixture\n"
    + "gm = GaussianMixture(n_components=2, random_state=0).fit(X)\n"
    + "assert gm.converged_\n",
}

BREAKDOWN = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import numba": "import numba",
    "import scipy.special": "import scipy.special",
    "import bayesmix": "import bayesmix",
    "import sklearn.mixture": "import sklearn.mixture",
}


def run_once(code: str) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"script failed:\n{code}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(scripts: dict, repeats: int) -> dict:
    results = {name: ([], []) for name in scripts}
    for _ in range(repeats):  # interleaved, so a busy spell hits every script alike
        for name, code in scripts.items():
            wall, cpu = run_once(code)
            results[name][0].append(wall)
            results[name][1].append(cpu)
    return results


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--breakdown", action="store_true", help="time partial scripts too")
    args = parser.parse_args(argv)

    run_once(SCRIPTS["bayesmix: import + fit"])  # warm numba's cache (compiles if cold)
    scripts = dict(SCRIPTS)
    if args.breakdown:
        scripts.update(BREAKDOWN)
    results = measure(scripts, args.repeats)

    header = (
        f"{'process':<26}{'wall median s':>14}{'wall min s':>12}{'cpu median s':>14}"
        f"{'cpu min s':>11}"
    )
    print(f"fresh processes, {args.repeats} runs each, warm numba cache")
    print(header)
    print("-" * len(header))
    for name, (walls, cpus) in results.items():
        print(
            f"{name:<26}{median(walls):>14.3f}{min(walls):>12.3f}{median(cpus):>14.3f}"
            f"{min(cpus):>11.3f}"
        )
    target = 1.0
    wall_bm = median(results["bayesmix: import + fit"][0])
    wall_sk = median(results["sklearn: import + fit"][0])
    verdict = "pass" if wall_bm < target else "FAIL"
    print(
        f"target: bayesmix import + fit < {target:.1f} s (median wall): {verdict}; "
        f"bayesmix / sklearn = {wall_bm / wall_sk:.2f}"
    )


if __name__ == "__main__":
    main()
