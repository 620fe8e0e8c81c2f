"""How fast ``bayesmix fit`` reads a large table, and with how much memory.

Issue 15 measured the hand-written reader of an earlier version on a 94 MB
CSV: 65 s and 1.3 GB.  This script writes a CSV of about that size (default
850 000 rows: an unnamed index column as ``DataFrame.to_csv()`` writes it,
then eight columns of numbers printed with full precision) and reads it, each
reader in a fresh child process so that its peak resident memory
(``ru_maxrss``) is its own:

* ``bayesmix`` -- :func:`bayesmix._cli_table.read_table`, what the command
  line calls: delimiter sniffed, the index column detected and set aside,
  every cell checked (missing cells allowed, as the CLI allows them);
* ``pandas.read_csv`` -- the C parser alone, the floor for a reader on pandas;
* ``numpy.loadtxt`` -- NumPy's own reader (the index column skipped).

Each row prints the wall time, the child's CPU time, its peak RSS and that
peak as a multiple of the numbers read (rows x 8 x 8 bytes).  The baseline
RSS of a child that only imports NumPy and pandas is printed too.

Usage::

    python benchmarks/bench_cli_read.py                 # about 94 MB
    python benchmarks/bench_cli_read.py --rows 200000   # quicker
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_COLS = 8

READERS = {
    "imports only": "import numpy, pandas; n = 0",
    "bayesmix": (
        "from bayesmix._cli_table import read_table\n"
        "t = read_table(PATH, allow_missing=True)\n"
        "assert t.ids is not None and t.X.shape[1] == 8, (t.X.shape, t.notes)\n"
        "n = t.X.shape[0]"
    ),
    "pandas.read_csv": (
        "import pandas as pd\n"
        "X = pd.read_csv(PATH, index_col=0).to_numpy(dtype=float)\n"
        "n = X.shape[0]"
    ),
    "numpy.loadtxt": (
        "import numpy as np\n"
        "X = np.loadtxt(PATH, delimiter=',', skiprows=1, usecols=range(1, 9))\n"
        "n = X.shape[0]"
    ),
}


def write_csv(path: Path, n_rows: int, seed: int = 0) -> None:
    """An index column and eight columns of doubles, in blocks (never whole in memory)."""
    rng = np.random.default_rng(seed)
    header = "," + ",".join(f"x{j}" for j in range(N_COLS)) + "\n"
    with open(path, "w") as fh:
        fh.write(header)
        block = 100_000
        for start in range(0, n_rows, block):
            m = min(block, n_rows - start)
            values = rng.normal(size=(m, N_COLS)) * 10.0 ** rng.integers(-2, 4, size=N_COLS)
            index = np.arange(start, start + m)[:, None]
            np.savetxt(
                fh,
                np.hstack([index, values]),
                delimiter=",",
                fmt=["%d"] + ["%.10g"] * N_COLS,
            )


def run(code: str, path: Path) -> dict:
    """Run ``code`` in a child process; wall, CPU and peak RSS of that child."""
    script = (
        "import resource, sys, time\n"
        f"PATH = {str(path)!r}\n"
        "t0 = time.perf_counter(); c0 = time.process_time()\n"
        f"{code}\n"
        "wall = time.perf_counter() - t0; cpu = time.process_time() - c0\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(wall, cpu, rss, n)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    wall, cpu, rss, n = out.stdout.split()
    return {"wall": float(wall), "cpu": float(cpu), "rss": int(rss), "n": int(n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=850_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs per reader (best kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size
        numbers = args.rows * N_COLS * 8
        print(
            f"{args.rows} rows x {N_COLS} numbers + an index column: {size / 1e6:.0f} MB of CSV, "
            f"{numbers / 1e6:.0f} MB as float64; load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'reader':>16} | {'wall s':>7} | {'cpu s':>6} | {'peak RSS MB':>11} | x data")
        print("-" * 60)
        for name, code in READERS.items():
            best = None
            for _ in range(args.repeats):
                r = run(code, path)
                if best is None or r["wall"] < best["wall"]:
                    best = r
            if name != "imports only" and best["n"] != args.rows:
                raise SystemExit(f"{name} read {best['n']} rows, not {args.rows}")
            print(
                f"{name:>16} | {best['wall']:7.2f} | {best['cpu']:6.2f} | "
                f"{best['rss'] / 1e6:11.0f} | {best['rss'] / numbers:6.1f}"
            )
    print(
        "peak RSS includes the interpreter and its imports (the 'imports only' row); "
        "issue 15 measured 65 s and 1.3 GB for the hand-written reader of 0.1.0 on 94 MB."
    )


if __name__ == "__main__":
    main()
