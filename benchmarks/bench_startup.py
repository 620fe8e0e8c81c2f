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

``--cold`` measures the first fit after an install instead: each run gets an
empty ``NUMBA_CACHE_DIR``, so every kernel compiles.  It runs the script as a
user would (the default of :mod:`bayesmix._compile`: a compile worker only when
the load average leaves a core idle), with one worker forced
(``BAYESMIX_COMPILE_WORKERS=1``) and with ``BAYESMIX_COMPILE_WORKERS=0``
(everything compiled in the fitting process), interleaved, and prints wall
and CPU time of each; the CPU time includes the workers'.  scikit-learn has
nothing to compile, so its row is the warm one.  ``--groups`` adds the CPU
time of each compile group of an EM fit on two features alone (a fresh
process and cache each).  ``--table`` prints the compile CPU seconds of each
numba function in a cold first fit (numba's compile events, exclusive of
callees, in the fitting process with ``BAYESMIX_COMPILE_WORKERS=0``): where
the first fit's seconds go.  The load average is printed before and after:
on a shared machine the wall times are only as good as it.

Usage::

    python benchmarks/bench_startup.py [--repeats 7] [--breakdown]
    python benchmarks/bench_startup.py --cold [--repeats 3] [--groups] [--table]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
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


def run_once(code: str, env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its children) of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
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


def groups(repeats: int) -> None:
    """CPU seconds of each compile group of an EM fit on two features, alone."""
    from bayesmix import _compile

    print(f"compile groups of an EM fit on 2 features, {repeats} runs each ({_cores()})")
    for recipe in _compile.EM:
        code = f"from bayesmix._compile import run_target; run_target({recipe.target!r}, 2)"
        walls, cpus = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                # as a compile worker: the group alone, no workers of its own
                env = {"NUMBA_CACHE_DIR": cache, "BAYESMIX_COMPILE_WORKER": "1"}
                wall, cpu = run_once(code, env)
            walls.append(wall)
            cpus.append(cpu)
        print(
            f"  {recipe.name:<26} wall median {median(walls):6.2f} s"
            f"  cpu median {median(cpus):6.2f} s"
        )
    print(f"  (load average after: {os.getloadavg()[0]:.1f})")


def cold(repeats: int) -> None:
    """First fits with an empty numba cache, with and without compile workers."""
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    code = SCRIPTS["bayesmix: import + fit"]
    variants = {
        "bayesmix cold (default)": {},
        "bayesmix cold, 1 worker": {"BAYESMIX_COMPILE_WORKERS": "1"},
        "bayesmix cold, in-process": {"BAYESMIX_COMPILE_WORKERS": "0"},
    }
    results = {name: ([], []) for name in variants}
    for _ in range(repeats):
        for name, extra in variants.items():
            with tempfile.TemporaryDirectory() as cache:
                wall, cpu = run_once(code, {"NUMBA_CACHE_DIR": cache, **extra})
            results[name][0].append(wall)
            results[name][1].append(cpu)
    run_once(code)
    warm = measure({"bayesmix warm": code, "sklearn": SCRIPTS["sklearn: import + fit"]}, 3)
    results.update(warm)
    header = f"{'process':<28}{'wall median s':>14}{'wall min s':>12}{'cpu median s':>14}"
    print(f"first fit in a fresh process, empty numba cache, {repeats} runs each ({_cores()})")
    print(header)
    print("-" * len(header))
    for name, (walls, cpus) in results.items():
        print(f"{name:<28}{median(walls):>14.2f}{min(walls):>12.2f}{median(cpus):>14.2f}")
    walls = results["bayesmix cold (default)"][0]
    worker = results["bayesmix cold, 1 worker"][0]
    serial = results["bayesmix cold, in-process"][0]
    print(
        f"target: first fit on a fresh install <= 10 s (median wall): "
        f"{'pass' if median(walls) <= 10 else 'FAIL'} ({median(walls):.1f} s); "
        f"1 worker / in-process = {median(worker) / median(serial):.2f}"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


# Run in a child with an empty cache: numba's compile events, timed in CPU
# seconds of the compiling thread, exclusive of the callees compiled inside.
TABLE = (
    """
import json, sys, time
from numba.core import event
records, stack = [], []

class Listener(event.Listener):
    def on_start(self, ev):
        stack.append([time.thread_time(), 0.0])

    def on_end(self, ev):
        t0, inner = stack.pop()
        spent = time.thread_time() - t0
        if stack:
            stack[-1][1] += spent
        f = ev.data["dispatcher"].py_func
        records.append((f.__module__.replace("bayesmix.", "") + "." + f.__name__, spent - inner))

event.register("numba:compile", Listener())
t0 = time.perf_counter()
"""
    + DATA
    + """
from bayesmix import GaussianMixture
t1 = time.perf_counter()
GaussianMixture(n_components=2, random_state=0).fit(X)
t2 = time.perf_counter()
print(json.dumps({"records": records, "import": t1 - t0, "fit": t2 - t1,
                  "cpu": time.process_time()}))
"""
)


def table() -> None:
    """Compile CPU seconds per numba function of a cold first fit, in-process."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "BAYESMIX_COMPILE_WORKERS": "0"}
        proc = subprocess.run(
            [sys.executable, "-c", TABLE], capture_output=True, text=True, env=env
        )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    per: dict[str, list] = {}
    for name, cpu in out["records"]:
        per.setdefault(name, [0, 0.0])
        per[name][0] += 1
        per[name][1] += cpu
    print(
        f"cold first fit, in-process ({_cores()}): import {out['import']:.2f} s, "
        f"fit {out['fit']:.2f} s wall, process CPU {out['cpu']:.2f} s"
    )
    header = f"{'numba function':<44}{'signatures':>11}{'compile cpu s':>15}"
    print(header)
    print("-" * len(header))
    total = 0.0
    for name, (n_sig, cpu) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        total += cpu
        if cpu >= 0.05:
            print(f"{name:<44}{n_sig:>11}{cpu:>15.2f}")
    print(f"{'total (all functions)':<55}{total:>15.2f}")


def _cores() -> str:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return f"{n} usable cores, load average {os.getloadavg()[0]:.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="runs per script (7; cold 3)")
    parser.add_argument("--breakdown", action="store_true", help="time partial scripts too")
    parser.add_argument("--cold", action="store_true", help="empty numba cache: the first fit")
    parser.add_argument("--groups", action="store_true", help="with --cold: each compile group")
    parser.add_argument("--table", action="store_true", help="compile CPU per numba function")
    args = parser.parse_args(argv)
    if args.table and not args.cold:
        table()
        return
    if args.cold:
        cold(args.repeats or 3)
        if args.groups:
            groups(args.repeats or 3)
        if args.table:
            table()
        return
    args.repeats = args.repeats or 7

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
