"""Optima at least as good as R's mclust on the bundled real data.

tests/mclust_reference_fits.jsonl holds the log-likelihoods mclust 6.0.0
reaches with ``Mclust(X, G, modelNames)`` (its hierarchical initialisation) on
Old Faithful and the galaxies (1000 km/s).  With the default initialisation
("auto": the same model-based hierarchical start, then restarts) bayesmix must
reach at least those values for every model it shares with mclust.  Some of
mclust's values are local optima (faithful EEE with 5 components is below 4),
and the one-dimensional unequal-variance likelihood is unbounded for G >= 4:
reaching at least mclust's value is the claim, not equality.
"""

import json
import warnings
from pathlib import Path

import pytest

from bayesmix import GaussianMixture
from bayesmix.datasets import load_faithful, load_galaxies
from bayesmix.exceptions import DegenerateDataWarning

# mclust model -> covariance_type; EII and EEI have no bayesmix counterpart yet
MODELS = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
MODELS_1D = {"E": "tied", "V": "full"}
# Starts: with 20 every row is reached for each random_state in 0-23 (with 10,
# for 21 of those 24); the first, hierarchical, start alone reaches all rows but
# faithful VVV with 4 and 6 components (benchmarks/bench_optima.py prints them).
N_INIT = 20
# EM's stopping rule leaves the last digits to chance: mclust stops on a relative
# change of 1e-5, bayesmix here on a mean change of 1e-9 per row.
TOL = 1e-3


def reference_rows():
    path = Path(__file__).with_name("mclust_reference_fits.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    for r in rows:
        names = MODELS_1D if r["data"] == "galaxies" else MODELS
        if r["model"] in names:
            out.append(pytest.param(r, names[r["model"]], id=f"{r['data']}-{r['model']}-{r['G']}"))
    return out


DATA = {"faithful": load_faithful(), "galaxies": load_galaxies(unit=1000)}


def fit(row, covariance_type, n_init):
    gm = GaussianMixture(
        row["G"],
        covariance_type=covariance_type,
        n_init=n_init,
        tol=1e-9,
        max_iter=20_000,
        random_state=0,
    )
    with warnings.catch_warnings():
        # A restart may find a component on a handful of rows (faithful's waiting
        # times are whole minutes); the warning says so, the comparison stands.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        return gm.fit(DATA[row["data"]])


@pytest.mark.parametrize(("row", "covariance_type"), reference_rows())
def test_reaches_mclust_log_likelihood(row, covariance_type):
    gm = fit(row, covariance_type, N_INIT)
    assert gm.converged_
    assert gm.log_likelihood_ >= row["loglik"] - TOL, (
        f"{row['data']} {row['model']} G={row['G']}: {gm.log_likelihood_:.4f} < mclust "
        f"{row['loglik']:.4f}"
    )


@pytest.mark.parametrize(
    ("row", "covariance_type"),
    [p for p in reference_rows() if p.values[0]["data"] == "galaxies"],
)
def test_one_start_reaches_mclust_in_one_dimension(row, covariance_type):
    # In one dimension the first initialisation is mclust's own (equal-weight
    # quantile classes), so a single start gets at least as far as mclust -- further
    # where mclust's looser stopping rule halted on a plateau (E with 2, 4, 5).
    gm = fit(row, covariance_type, 1)
    assert gm.converged_
    assert gm.log_likelihood_ >= row["loglik"] - TOL
