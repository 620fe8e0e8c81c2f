"""Hardening (issue 16): inputs, files and threads that once crashed a process,
read out of bounds or were silently misread.  Crash-prone cases run in a
subprocess, so a regression fails a test instead of killing the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bayesmix import DirichletProcessMixture
from bayesmix.priors import NormalInverseWishart


def run_isolated(code: str, timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a segfault shows as a negative return code."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------ Gibbs kernel guards
def test_sample_index_refuses_non_distributions_in_subprocess():
    # NaN weights, an infinite maximum (every exp(w - mx) zero or NaN) and all
    # -inf: each used to walk off the weight array; now -1, and a sweep over a
    # NaN prior predictive returns -1 clusters instead of reading out of bounds.
    proc = run_isolated(
        """
        import numpy as np
        from bayesmix._kernels._gibbs import gibbs_sweep
        from bayesmix._gibbs_model import prepare_model
        from bayesmix.priors import NormalInverseWishart
        X = np.random.default_rng(0).normal(size=(30, 2))
        prior = NormalInverseWishart().resolve(X, None, n_components=1)
        m = prepare_model(X, prior)
        out = []
        for bad in (np.nan, np.inf, -np.inf):
            labels = np.zeros(30, dtype=np.int64)
            lpp = np.full(30, bad)
            R = m.R0.copy()
            R[0, 0] = np.nan if bad != -np.inf else R[0, 0]
            prior_t = (m.prior.mean, m.prior.scale, R, m.inv0, m.consts, m.tables)
            k, _ = gibbs_sweep(m.X, labels, 1, lpp, prior_t, 0.0, 1, False)
            out.append(int(k))
        print(out)
        """
    )
    assert proc.returncode == 0, proc.stderr
    ks = eval(proc.stdout.strip())
    assert ks[0] == -1 and ks[1] == -1
    assert ks[2] >= -1  # all -inf new-cluster weights: either refused or a valid state


@pytest.mark.parametrize(
    "case, match",
    [
        ("2.0, NormalInverseWishart(mean=[1e16, 1e91])", r"component_prior\.mean=.*1\.e\+91"),
        (
            "40.0, NormalInverseWishart(dof=40.0, scale=np.eye(2) * 1e-300)",
            r"component_prior\.scale=.*eigenvalues",
        ),
    ],
)
def test_issue_gibbs_crash_cases_in_subprocess(case, match):
    proc = run_isolated(
        f"""
        import re, numpy as np
        from bayesmix import DirichletProcessMixture
        from bayesmix.priors import NormalInverseWishart
        X = np.random.default_rng(0).normal(size=(60, 2))
        try:
            DirichletProcessMixture({case}, n_iter=4, n_chains=1, progress=False).fit(X)
        except ValueError as exc:
            assert re.search({match!r}, str(exc)), str(exc)
            print("refused")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


def test_gibbs_sweep_non_finite_state_raises_naming_the_prior(monkeypatch):
    # Past the up-front check (a prior just inside the limits, a state made
    # non-finite by hand) the kernel's -1 becomes an error naming the prior.
    import bayesmix.gibbs as gibbs_mod

    monkeypatch.setattr(gibbs_mod, "check_prior_against_data", lambda *a, **k: None)
    X = np.random.default_rng(0).normal(size=(40, 2))
    bad = NormalInverseWishart(mean=[1e200, 0.0], scale=np.eye(2) * 1e-300, dof=4.0)
    with pytest.raises(ValueError, match=r"non-finite.*component_prior\.mean="):
        DirichletProcessMixture(2.0, bad, n_iter=3, n_chains=1, progress=False).fit(X)
