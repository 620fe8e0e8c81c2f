"""Fuzzing of the public API (issue 16): random, mostly bad, input for every
public entry point, and a catalogue of the cases that once crashed a process.

Every entry point must answer with a result or a ValueError / TypeError:
never another exception, a crash or a hang.  The hypothesis targets live in
``_fuzz_targets.py`` and each runs in its own subprocess (a crash of compiled
code fails one test, with the failing example in the output, instead of
killing the run); they are derandomised, so a run is reproducible, and their
``max_examples`` keep the module to about a minute and a half of CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
TIMEOUT = 600  # seconds: a hang fails the test


def _python(args, code=None, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *(["-c", textwrap.dedent(code)] if code else args)]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    environ.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=environ)


@pytest.mark.parametrize("target", ["em", "vb", "gibbs", "files", "selection", "posterior"])
def test_fuzz_target_answers_with_a_result_or_a_value_or_type_error(target):
    proc = _python([str(HERE / "_fuzz_targets.py"), target])
    assert proc.returncode == 0, f"{target}: exit {proc.returncode}\n{proc.stderr[-6000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["calls_total"] > 0


# ------------------------------------------------------------------- catalogue
# The cases of issue 16, each run in one fresh process: an answer of "ok",
# "ValueError" or "TypeError" passes; a crash shows as a missing line.
CATALOGUE = {
    "gibbs prior mean [1e16, 1e91]": """
        DirichletProcessMixture(2.0, NormalInverseWishart(mean=[1e16, 1e91]), n_iter=4,
                                n_chains=1, progress=False).fit(X)""",
    "gibbs dof 40 scale 1e-300": """
        DirichletProcessMixture(40.0, NormalInverseWishart(dof=40.0, scale=np.eye(2) * 1e-300),
                                n_iter=4, n_chains=1, progress=False).fit(X)""",
    "gibbs integer weight 1e12": """
        w = np.r_[1e12, np.ones(59)]
        DirichletProcessMixture(n_iter=4, progress=False).fit(X, sample_weight=w)""",
    "gibbs weights 2**62": """
        w = np.full(60, 2.0**62)
        DirichletProcessMixture(n_iter=4, progress=False).fit(X, sample_weight=w)""",
    "em weights 2**62 int": """
        GaussianMixture(2).fit(X, sample_weight=np.full(60, 2**62, dtype=np.int64))""",
    "em data 1e154": "GaussianMixture(2).fit(X * 1.5e154)",
    "vb data 1e154": "VariationalGaussianMixture(n_components=2).fit(X * 1.5e154)",
    "gibbs data 1e-200": "DirichletProcessMixture(n_iter=4, progress=False).fit(X * 1e-200)",
    "em weights 1e300": "GaussianMixture(2).fit(X, sample_weight=np.full(60, 1e300))",
    "vb weights 1e300": """
        w = np.full(60, 1e300)
        VariationalGaussianMixture(n_components=2).fit(X, sample_weight=w)""",
    "em means_init 1e300": "GaussianMixture(2, means_init=[[1e300, 0], [0, 0]]).fit(X)",
    "vb prior mean 1e300": """
        VariationalGaussianMixture(n_components=2,
            component_prior=NormalInverseWishart(mean=[1e300, 0.0])).fit(X)""",
    "masked array": """
        GaussianMixture(2).fit(np.ma.masked_array(X, mask=np.eye(60, 2, dtype=bool)))""",
    "numeric strings in a frame": """
        import pandas as pd
        GaussianMixture(2).fit(pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(str)}))""",
    "numeric string weights": "GaussianMixture(2).fit(X, sample_weight=['1'] * 60)",
    "datetime column": """
        import pandas as pd
        t = pd.date_range("2024", periods=60)
        GaussianMixture(2).fit(pd.DataFrame({"t": t, "x": X[:, 0]}))""",
    "object weights": "GaussianMixture(2).fit(X, sample_weight=np.ones(60, dtype=object))",
    "EM on a line in 10-D": """
        t = np.random.default_rng(6).normal(size=(500, 1))
        Y = t * np.arange(1, 11) + 3
        one = GaussianMixture(1).fit(Y).log_likelihood_
        assert GaussianMixture(3).fit(Y).log_likelihood_ >= one - 1e-6""",
    "tampered gibbs labels": """
        import tempfile, pathlib
        m = DirichletProcessMixture(n_iter=6, n_chains=1, progress=False, random_state=0).fit(X)
        m._labels_full = m._labels_full.astype(np.int64)
        m._labels_full[0, 0, 0] = 2**30
        p = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
        m.save(p)
        bayesmix.load(p).score_samples(X)""",
    "tampered EM prec_chol": """
        import tempfile, pathlib, dataclasses
        m = GaussianMixture(2, random_state=0).fit(X)
        m._params = dataclasses.replace(m._params, prec_chol=np.ones((2, 1, 1)))
        p = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
        m.save(p)
        bayesmix.load(p).score_samples(X)""",
    "tampered standardiser scale NaN": """
        import tempfile, pathlib
        m = GaussianMixture(2, random_state=0).fit(X)
        m._standardiser.scale = float("nan")
        p = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
        m.save(p)
        bayesmix.load(p).score_samples(X)""",
}

_PRELUDE = """
import sys, warnings
import numpy as np
import bayesmix
from bayesmix import GaussianMixture, VariationalGaussianMixture, DirichletProcessMixture
from bayesmix.priors import NormalInverseWishart
warnings.simplefilter("ignore")
X = np.random.default_rng(0).normal(size=(60, 2))
X[:30] += 4.0
"""


def _case(name: str, body: str) -> str:
    return (
        f"try:\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"
        f"    print({name!r}, 'ok', flush=True)\n"
        f"except (ValueError, TypeError) as exc:\n"
        f"    print({name!r}, type(exc).__name__, flush=True)\n"
    )


def test_catalogue_of_issue_cases_in_one_subprocess():
    code = _PRELUDE + "".join(_case(n, b) for n, b in CATALOGUE.items())
    proc = _python(None, code=code)
    assert proc.returncode == 0, proc.stderr[-4000:]
    answers = dict(line.rsplit(" ", 1) for line in proc.stdout.strip().splitlines())
    assert set(answers) == set(CATALOGUE)
    assert set(answers.values()) <= {"ok", "ValueError", "TypeError"}
    # the cases that must work, not merely be refused
    for name in ("em weights 1e300", "EM on a line in 10-D"):
        assert answers[name] == "ok", name


def test_bad_thread_count_environment_is_an_error_not_a_crash():
    proc = _python(
        None,
        code="""
        import numpy as np
        from bayesmix import GaussianMixture
        try:
            GaussianMixture(2).fit(np.random.default_rng(0).normal(size=(30, 2)))
        except ValueError as exc:
            print("ValueError:", exc)
        """,
        env={"BAYESMIX_NUM_THREADS": "abc"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ValueError: BAYESMIX_NUM_THREADS='abc' is not an integer" in proc.stdout


def test_sample_of_an_impossible_size_is_refused_up_front():
    import numpy as np

    from bayesmix import GaussianMixture

    gm = GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(30, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(10**13)


def test_check_n_draws_refuses_before_allocating():
    from bayesmix._validation import check_n_draws

    assert check_n_draws(10, 3) == 10
    with pytest.raises(ValueError, match=r"n_samples=10000000000000 points .* draw at most"):
        check_n_draws(10**13, 2)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        check_n_draws(2.5, 2)


@pytest.mark.parametrize("out", ["a_file", "a_file/below", "/proc/bayesmix-unwritable"])
def test_cli_unusable_out_is_a_message_not_a_traceback(tmp_path, out):
    import numpy as np

    data = tmp_path / "d.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=(30, 2)), delimiter=",")
    (tmp_path / "a_file").write_text("x")
    target = out if out.startswith("/") else str(tmp_path / out)
    proc = _python(["-m", "bayesmix", "fit", str(data), "--out", target])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "--out" in proc.stderr
