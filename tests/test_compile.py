"""The first fit after an install (bayesmix._compile): one notice on stderr,
the kernels compiled by worker processes into numba's cache, nothing left for
the fit itself to compile, and silence once the cache is warm."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bayesmix import _compile
from bayesmix._compile import NOTICE, Recipe
from bayesmix._kernels import mixture_pass, n_tasks, pass_kernels, resp_stats

# A fresh process fits the README's first example and reports, per numba
# dispatcher of bayesmix's kernels, how many signatures it had to compile
# itself (cache misses) rather than load from numba's on-disk cache.
SCRIPT = """
import importlib, json
import numpy as np
import bayesmix
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 2)) + np.array([[0.0, 0.0], [3.0, 3.0]])[rng.integers(0, 2, 300)]
gm = bayesmix.{engine}.fit(X)
gm.predict_proba(X)
misses = {{}}
for name in ["_mixture", "_hierarchical", "_cholesky", "_kmeans", "_gibbs"]:
    module = importlib.import_module("bayesmix._kernels." + name)
    kernels = dict(vars(module))
    for pad, pair in getattr(module, "PASSES", {{}}).items():
        kernels.update({{f"PASSES[{{pad}}][{{i}}]": f for i, f in enumerate(pair)}})
    for attr, f in kernels.items():
        stats = getattr(f, "stats", None)
        n = sum(getattr(stats, "cache_misses", {{}}).values()) if stats is not None else 0
        if n:
            misses[name + "." + attr] = n
print(json.dumps(misses))
"""


def _run(engine, cache_dir, **env):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(engine=engine)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), **env},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _notices(stderr):
    return [line for line in stderr.splitlines() if line.startswith("bayesmix: compiling")]


@pytest.mark.slow
def test_cold_cache_compiles_in_workers_then_the_fit_compiles_nothing(tmp_path):
    # one worker whatever the load average (the default leaves busy cores alone)
    misses, err = _run(
        "VariationalGaussianMixture(random_state=0)", tmp_path, BAYESMIX_COMPILE_WORKERS="1"
    )
    notices = _notices(err)
    assert len(notices) == 1, err
    for group in ("EM passes", "k-means and statistics passes", "Student-t predictive"):
        assert group in notices[0]
    # 300 rows are agglomerated in numpy: the big kernel is not even compiled
    assert "hierarchical start" not in notices[0]
    # the fitting process compiled the first group (the E-step pass) itself;
    # everything else the fit and its prediction called came from the worker
    assert "_mixture.PASSES[2][0]" in misses
    assert "_hierarchical.agglomerate" not in misses
    assert not any(k.startswith("_kmeans.") for k in misses), misses
    assert not {"_mixture.PASSES[2][1]", "_mixture.PASSES[0][0]"} & set(misses), misses
    # a later process: nothing to say, nothing to compile
    misses, err = _run("GaussianMixture(2, random_state=0)", tmp_path)
    assert _notices(err) == []
    assert misses == {}


def test_notice_names_what_compiles_and_how_long(monkeypatch, capsys):
    Cold = _dispatcher({})
    monkeypatch.setattr(_compile, "_done", set())
    monkeypatch.setenv("BAYESMIX_COMPILE_WORKERS", "0")
    recipes = (Recipe("test kernels", lambda n_features: Cold, None),)
    _compile.compile_first(recipes)
    err = capsys.readouterr().err
    assert err == NOTICE.format(what="test kernels") + "\n"
    assert "usually 5-10 s" in err
    _compile.compile_first(recipes)  # once per process
    assert capsys.readouterr().err == ""


def _dispatcher(index):
    class FakeDispatcher:  # numba's layout: dispatcher._cache._cache_file._load_index()
        class _cache:
            class _cache_file:
                @staticmethod
                def _load_index():
                    return index

    return FakeDispatcher


def test_warm_kernels_and_unknown_caches_print_nothing(monkeypatch, capsys):
    class Unknown:  # no numba cache to read: counts as compiled
        _cache = property(lambda self: 1 / 0)

    monkeypatch.setattr(_compile, "_done", set())
    warm = _dispatcher({("sig", "machine"): "kernel.1.nbc"})
    assert _compile.is_cached(warm) and _compile.is_cached(Unknown())
    assert not _compile.is_cached(_dispatcher({}))
    unknown = Unknown()
    recipes = (Recipe("warm", lambda d: warm, None), Recipe("unknown", lambda d: unknown, None))
    _compile.compile_first(recipes)
    assert capsys.readouterr().err == ""


def test_is_cached_reads_numba_cache(tmp_path, monkeypatch):
    # a kernel of our own, in a module of its own, with its own cache directory
    (tmp_path / "probe_kernel.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import probe_kernel

    assert not _compile.is_cached(probe_kernel.twice)
    assert probe_kernel.twice(2.0) == 4.0
    assert _compile.is_cached(probe_kernel.twice)
    sys.modules.pop("probe_kernel")


def test_worker_env_makes_it_a_no_op(monkeypatch, capsys):
    class Boom:
        _cache = property(lambda self: 1 / 0)

    monkeypatch.setenv("BAYESMIX_COMPILE_WORKER", "1")
    monkeypatch.setattr(_compile, "_done", set())
    _compile.compile_first((Recipe("never", lambda d: Boom(), None),))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_bad_worker_count_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("BAYESMIX_COMPILE_WORKERS", value)
    with pytest.raises(ValueError, match="BAYESMIX_COMPILE_WORKERS"):
        _compile._n_workers(2)


def test_worker_count(monkeypatch):
    monkeypatch.setenv("BAYESMIX_COMPILE_WORKERS", "0")
    assert _compile._n_workers(2) == 0
    monkeypatch.setenv("BAYESMIX_COMPILE_WORKERS", "8")
    assert _compile._n_workers(3) == 2  # the fitting process compiles the first group
    assert _compile._n_workers(2) == 1
    assert _compile._n_workers(1) == 0  # one group: the fitting process compiles it


def test_run_target_refuses_foreign_code():
    with pytest.raises(ValueError, match="not a bayesmix recipe"):
        _compile.run_target("os:system")


def test_recipes_follow_the_number_of_features():
    # one feature: quantile classes start EM, no agglomeration to compile
    passes = ["EM passes", "k-means and statistics passes"]
    holes = ["missing-value pass"]
    assert [r.name for r in _compile.EM if r.sentinel(1) is not None] == passes
    assert [r.name for r in _compile.EM if r.sentinel(2) is not None] == [
        "hierarchical start",
        *passes,
        *holes,
    ]
    # the agglomeration kernel only for data too large for its numpy twin
    hier = _compile.EM[0]
    assert not hier.needed(2, 500, False) and not hier.needed(5, 100, False)
    assert hier.needed(2, 5000, False) and hier.needed(2, None, False)
    assert hier.needed(16, 2000, True)
    # the missing-value pass only for data with holes
    holes = _compile.EM[-1]
    assert holes.name == "missing-value pass"
    assert holes.needed(3, 100, True) and not holes.needed(3, 100, False)
    # the passes of 1-2, 3-4 and more features are different kernels
    kernels = {d: _compile.EM[1].sentinel(d) for d in (1, 2, 3, 4, 5, 9)}
    assert kernels[1] is kernels[2] and kernels[3] is kernels[4] and kernels[5] is kernels[9]
    assert len({id(k) for k in kernels.values()}) == 3


@pytest.mark.parametrize("n_features", [1, 2, 3, 4])
@pytest.mark.parametrize("diagonal", [False, True])
def test_specialised_passes_match_the_general_kernel_bit_for_bit(n_features, diagonal):
    rng = np.random.default_rng(n_features)
    n, k = 700, 3
    Xt = rng.normal(size=(n_features, n)) * 3.0
    w = rng.integers(0, 3, size=n).astype(float)
    means = rng.normal(size=(k, n_features))
    if diagonal:
        prec = rng.uniform(0.5, 2.0, size=(k, 1, n_features))
    else:
        prec = np.triu(rng.normal(size=(k, n_features, n_features)) * 0.3)
        idx = np.arange(n_features)
        prec[:, idx, idx] = rng.uniform(0.5, 2.0, (k, n_features))
    log_const = rng.normal(size=k)
    resp = rng.dirichlet(np.ones(k), size=n)
    special, general = pass_kernels(n_features), (mixture_pass, resp_stats)
    assert special[0] is not general[0]
    outs = []
    for mp, rs in (special, general):
        nt = n_tasks(n)
        p = 1 if diagonal else n_features
        out = [np.full(n, np.nan), np.full((n, k), np.nan), np.empty((nt, k)),
               np.empty((nt, k, n_features)), np.empty((nt, k, p, n_features)),
               np.zeros((nt, 2))]  # fmt: skip
        mp(Xt, w, means, prec, log_const, np.full(k, np.inf), *out, 0, nt)
        stats = [np.empty((nt, k)), np.empty((nt, k, n_features)), np.empty((nt, k, p, n_features))]
        rs(Xt, w, resp, means, *stats, 0, nt)
        outs.append(out + stats)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)
