"""Command line: ``python -m bayesmix demo``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path


def _demo(out: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from . import GaussianMixture
    from .datasets import load_faithful
    from .exceptions import ConvergenceWarning
    from .plotting import plot_components

    X = load_faithful(as_frame=False)
    out.mkdir(parents=True, exist_ok=True)
    print("Old Faithful (272 eruptions: duration, waiting time), EM with 5 restarts\n")
    print(f"{'covariance':>10} {'K':>2} {'log-lik':>10} {'BIC':>10} {'ICL':>10}")
    best = None
    for ct in ("spherical", "diag", "tied", "full"):
        for k in range(1, 7):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                gm = GaussianMixture(k, covariance_type=ct, n_init=5, random_state=0).fit(X)
            bic, icl = gm.bic(X), gm.icl(X)
            print(f"{ct:>10} {k:>2} {gm.log_likelihood_:>10.2f} {bic:>10.2f} {icl:>10.2f}")
            if best is None or bic < best[0]:
                best = (bic, gm)
    gm = best[1]
    print(f"\nbest by BIC: {gm.covariance_type}, K={gm.n_components}")
    np.set_printoptions(precision=3, suppress=True)
    print("weights", gm.weights_)
    print("means\n", gm.means_)
    ax = plot_components(gm, X)
    ax.set_xlabel("eruption duration (min)")
    ax.set_ylabel("waiting time (min)")
    ax.set_title(f"Old Faithful: EM, {gm.covariance_type}, K={gm.n_components}")
    path = out / "faithful_em.png"
    plt.savefig(path, dpi=120, bbox_inches="tight")
    print(f"\nwrote {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bayesmix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit the bundled Old Faithful data and write plots")
    demo.add_argument("--out", type=Path, default=Path("bayesmix-demo"))
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args.out)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
