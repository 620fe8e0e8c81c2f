"""Fuzz targets of ``test_fuzz.py``, each run in its own subprocess (a crash of
compiled code then fails one test instead of killing the run).

Every target feeds one public entry point random, mostly bad, input drawn by
hypothesis and accepts only a result or a ValueError / TypeError (bayesmix's
NotFittedError is a ValueError).  Any other exception is a finding:
hypothesis shrinks it and the subprocess exits non-zero with the traceback.
Run one by hand with ``python tests/_fuzz_targets.py NAME``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmix
from bayesmix import (
    Dirichlet,
    DirichletProcess,
    Gamma,
    GaussianMixture,
    MixturePosterior,
    NormalInverseWishart,
    RandomScale,
    load,
    select_model,
)

ALLOWED = (ValueError, TypeError)
COUNTS: dict[str, int] = {}


# CI runs a fixed, derandomised search; BAYESMIX_FUZZ_SCALE=k runs k times as
# many examples, freshly randomised (for an exploratory run by hand).
_SCALE = int(os.environ.get("BAYESMIX_FUZZ_SCALE", "0") or 0)


def fuzz_settings(n: int):
    return settings(
        max_examples=n * max(_SCALE, 1),
        deadline=None,
        derandomize=_SCALE == 0,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def answer(name: str, call):
    """Run ``call``; a result or an allowed error passes, anything else is raised."""
    COUNTS[name] = COUNTS.get(name, 0) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except ALLOWED:
            return None


# ------------------------------------------------------------------ strategies
SPECIAL = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    1e-300,
    -1e-300,
    1e300,
    -1e300,
    1e154,
    1e-200,
    2.0**62,
    np.nan,
    np.inf,
    -np.inf,
    5e-324,
    1.7976931348623157e308,
]


@st.composite
def float_matrices(draw, min_rows=0, max_rows=12, max_cols=4):
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(0, max_cols))
    base = draw(st.sampled_from(["normal", "constant", "line", "duplicates", "special"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(n, d))
    if base == "constant":
        X[:] = draw(st.sampled_from(SPECIAL[:10]))
    elif base == "line" and d:
        X = rng.normal(size=(n, 1)) * np.arange(1, d + 1)
    elif base == "duplicates" and n:
        X = np.repeat(X[:1], n, axis=0)
    scale = draw(st.sampled_from([1.0, 1e150, 1e-150, 1e155, 1e-160, 1e8, 1.0]))
    with np.errstate(all="ignore"):
        X = X * scale + draw(st.sampled_from([0.0, 1e8, -1e300, 3.0]))
    if n and d and draw(st.booleans()):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
        X[i, j] = draw(st.sampled_from(SPECIAL))
    return X


def odd_inputs():
    """Inputs that are not plain float matrices."""
    return st.sampled_from(
        [
            None,
            3.0,
            "abc",
            [[1, 2], [3]],
            [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            np.zeros((3, 2, 2)),
            np.arange(6.0),
            np.array([["1", "2"], ["3", "4"], ["5", "6"]]),
            np.array([[1 + 1j, 2], [3, 4], [5, 6]]),
            np.array([[{"a": 1}, 2], [3, 4], [5, 6]], dtype=object),
            np.ma.masked_array(np.ones((4, 2)), mask=[[1, 0], [0, 0], [0, 0], [0, 0]]),
            np.array([[True, False], [False, True], [True, True]]),
            np.array([[2**62, 1], [3, 4], [5, 7]], dtype=np.int64),
            np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[D]").reshape(
                -1, 1
            ),
            np.zeros((0, 2)),
            np.zeros((5, 0)),
        ]
    )


@st.composite
def plausible(draw):
    """Data a fit should take, lightly disturbed: most examples reach predict."""
    n = draw(st.integers(8, 40))
    d = draw(st.integers(1, 3))
    X = two_blobs(n, d, seed=draw(st.integers(0, 1000)))
    how = draw(
        st.sampled_from(["as is", "as is", "duplicates", "constant column", "tiny", "offset"])
    )
    if how == "duplicates":
        X[: n // 2] = X[0]
    elif how == "constant column":
        X[:, 0] = 7.0
    elif how == "tiny":
        X *= 1e-140
    elif how == "offset":
        X += 1e12
    return X


def any_X():
    return st.one_of(plausible(), plausible(), float_matrices(), odd_inputs())


def weights(n: int):
    return st.one_of(
        st.none(),
        st.none(),
        st.just(np.arange(n, dtype=float) % 3),
        st.sampled_from(
            [
                np.full(n, 1e300),
                np.full(n, 1e-300),
                np.full(n, 2.0**62),
                np.full(n, -1.0),
                np.zeros(n),
                np.full(n, np.nan),
                ["1"] * n,
                np.ones(n, dtype=object),
                np.ones(n + 1),
                np.arange(n, dtype=np.int64) * 2**40,
                np.r_[1e12, np.ones(max(n - 1, 0))],
                np.ma.masked_array(np.ones(n)),
                3.0,
            ]
        ),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n),
    )


def components():
    return st.one_of(
        st.integers(1, 4),
        st.integers(-2, 6),
        st.sampled_from([0.5, "2", None, True, 10**12, np.int64(2)]),
    )


def priors():
    mean = st.sampled_from(
        [None, None, None, [1e16, 1e91], [0.0, 0.0], [np.nan, 0.0], [1e300, -1e300], [0.0]]
    )
    scale = st.sampled_from(
        [
            None,
            np.eye(2),
            np.eye(2) * 1e-300,
            np.eye(2) * 1e300,
            -np.eye(2),
            np.ones((2, 2)),
            np.eye(3),
            RandomScale(),
            np.full((2, 2), np.nan),
        ]
    )
    kappa = st.sampled_from(
        [None, None, None, 0.01, 0.0, -1.0, 1e300, 1e-300, Gamma(0.5, 50.0), np.nan]
    )
    dof = st.sampled_from([None, None, None, 4.0, 40.0, 1.0, 0.5, 1e300, np.inf])
    return st.builds(lambda m, k, d, s: _niw(m, k, d, s), mean, kappa, dof, scale)


def _niw(mean, kappa, dof, scale):
    try:
        return NormalInverseWishart(mean=mean, kappa=kappa, dof=dof, scale=scale)
    except ALLOWED:
        return None


def two_blobs(n=40, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[: n // 2] += 4.0
    return X


# --------------------------------------------------------------------- targets
@fuzz_settings(400)
@given(
    X=any_X(),
    k=components(),
    ct=st.sampled_from(["full", "tied", "diag", "spherical", "x"]),
    data=st.data(),
)
def em(X, k, ct, data):
    n = len(X) if hasattr(X, "__len__") and not isinstance(X, str) else 1
    w = data.draw(weights(n))
    means_init = data.draw(
        st.sampled_from([None, None, None, [[1e200, 0.0], [0.0, 0.0]], [[np.nan, 0], [0, 0]]])
    )
    gm = answer(
        "em.init",
        lambda: GaussianMixture(
            k, covariance_type=ct, means_init=means_init, max_iter=20, random_state=0
        ),
    )
    if gm is None:
        return
    fitted = answer("em.fit", lambda: gm.fit(X, sample_weight=w))
    if fitted is not None:
        answer("em.predict", lambda: gm.predict_proba(X))
        answer("em.score", lambda: gm.score_samples(two_blobs(5, np.shape(X)[1])))
        answer("em.sample", lambda: gm.sample(data.draw(st.sampled_from([1, 0, -1, 10**6, 2.5]))))
        answer("em.bic", lambda: gm.bic(X))


@fuzz_settings(200)
@given(X=any_X(), k=components(), prior=priors(), data=st.data())
def vb(X, k, prior, data):
    from bayesmix import VariationalGaussianMixture

    n = len(X) if hasattr(X, "__len__") and not isinstance(X, str) else 1
    w = data.draw(weights(n))
    wp = data.draw(
        st.sampled_from(
            [
                lambda: None,
                Dirichlet,
                DirichletProcess,
                lambda: DirichletProcess(Gamma(1, 1)),
                lambda: Dirichlet(-1.0),
                lambda: Dirichlet(1e-300),
                lambda: DirichletProcess(np.nan),
            ]
        )
    )
    wp = answer("vb.weight_prior", wp)
    model = answer(
        "vb.init",
        lambda: VariationalGaussianMixture(
            n_components=k, weight_prior=wp, component_prior=prior, max_iter=30, random_state=0
        ),
    )
    if model is None:
        return
    if answer("vb.fit", lambda: model.fit(X, sample_weight=w)) is not None:
        answer("vb.predict", lambda: model.predict(X))
        answer("vb.posterior", lambda: model.posterior(n_draws=20, random_state=0))


@fuzz_settings(200)
@given(
    X=st.one_of(float_matrices(min_rows=2, max_rows=25, max_cols=3), odd_inputs()),
    prior=st.one_of(st.none(), priors()),
    conc=st.sampled_from([1.0, 1.0, 2.0, 40.0, 1e-300, 1e300, Gamma(1, 1), -1.0, np.nan]),
    data=st.data(),
)
def gibbs(X, prior, conc, data):
    from bayesmix import DirichletProcessMixture

    n = len(X) if hasattr(X, "__len__") and not isinstance(X, str) else 1
    w = data.draw(
        st.one_of(
            st.none(),
            st.sampled_from(
                [np.full(n, 2.0), np.full(n, 1e12), np.full(n, 2.0**62), np.full(n, 0.5), ["1"] * n]
            ),
        )
    )
    model = answer(
        "gibbs.init",
        lambda: DirichletProcessMixture(
            conc, prior, n_iter=4, burn_in=1, n_chains=2, progress=False, random_state=0
        ),
    )
    if model is None:
        return
    if answer("gibbs.fit", lambda: model.fit(X, sample_weight=w)) is not None:
        answer("gibbs.predict", lambda: model.predict(X))
        answer("gibbs.score", lambda: model.score_samples(X))
        answer("gibbs.sample", lambda: model.sample(3))


def _saved_models(tmp: Path) -> list[Path]:
    from bayesmix import DirichletProcessMixture, VariationalGaussianMixture

    X = two_blobs()
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, m in enumerate(
            [
                GaussianMixture(2, random_state=0),
                GaussianMixture(2, covariance_type="diag", random_state=0),
                VariationalGaussianMixture(n_components=3, random_state=0),
                DirichletProcessMixture(n_iter=6, n_chains=2, progress=False, random_state=0),
            ]
        ):
            m.fit(X)
            p = tmp / f"m{i}.npz"
            m.save(p)
            paths.append(p)
        p = tmp / "sel.npz"
        select_model(X, n_components=[1, 2], covariance_types=["full"]).save(p)
        paths.append(p)
        p = tmp / "post.npz"
        GaussianMixture(2, random_state=0).fit(X).posterior(X, n_draws=8).save(p)
        paths.append(p)
    return paths


def _use(model):
    X = two_blobs(6)
    for method in ("score_samples", "predict_proba", "predict"):
        f = getattr(model, method, None)
        if f is not None:
            answer(f"load.{method}", lambda f=f: f(X))
    if hasattr(model, "sample"):
        answer("load.sample", lambda: model.sample(3))
    if isinstance(model, MixturePosterior):
        answer("load.density", lambda: model.density(X))
        answer("load.summary", lambda: model.summary())
        answer("load.n_components", lambda: model.n_components)


_TMP = Path(tempfile.mkdtemp(prefix="bayesmix-fuzz-"))
_SAVED: list[Path] = []


def _mutated_member(raw: bytes, data) -> bytes:
    """Rewrite one array of the archive: another shape, dtype or values."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    names = sorted(n for n in members if n != "__bayesmix__.npy")
    if not names:
        return raw
    name = data.draw(st.sampled_from(names))
    arr = np.load(io.BytesIO(members[name]), allow_pickle=False)
    how = data.draw(st.sampled_from(["value", "shape", "dtype", "nan", "empty", "neg"]))
    if how == "value" and arr.size and arr.dtype.kind in "iuf":
        arr = arr.astype(np.int64 if arr.dtype.kind in "iu" else np.float64)
        values = [2**30, 100, -5, 0, 1] if arr.dtype.kind == "i" else [np.nan, 0.0, -1.0, 1e308]
        arr.flat[data.draw(st.integers(0, arr.size - 1))] = data.draw(st.sampled_from(values))
    elif how == "shape" and arr.ndim:
        arr = arr[..., :1] if arr.shape[-1] > 1 else np.concatenate([arr, arr], axis=-1)
    elif how == "dtype" and arr.dtype.kind in "iuf":
        arr = arr.astype(
            data.draw(st.sampled_from([np.int8, np.float32, np.uint64, np.int64, np.float64]))
        )
    elif how == "nan" and arr.dtype.kind == "f":
        arr = np.full_like(arr, np.nan)
    elif how == "empty":
        arr = arr.reshape(-1)[:0]
    elif how == "neg" and arr.dtype.kind in "if":
        arr = -arr
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    members[name] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return out.getvalue()


@fuzz_settings(600)
@given(which=st.integers(0, 5), data=st.data())
def files(which, data):
    if not _SAVED:
        _SAVED.extend(_saved_models(_TMP))
    raw = _SAVED[which].read_bytes()
    kind = data.draw(st.sampled_from(["member", "member", "member", "flip", "truncate", "meta"]))
    if kind == "member":
        raw = _mutated_member(raw, data)
    elif kind == "flip":
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:pos] + bytes([raw[pos] ^ (1 << data.draw(st.integers(0, 7)))]) + raw[pos + 1 :]
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        meta = json.loads(np.load(io.BytesIO(members["__bayesmix__.npy"])).tobytes())
        state = meta.get("state", {})
        if state:
            key = data.draw(st.sampled_from(sorted(state)))
            state[key] = data.draw(
                st.sampled_from([None, -1, 10**30, "x", [], {"__bm__": "array", "key": "a0"}, 1.5])
            )
        buf = io.BytesIO()
        np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        members["__bayesmix__.npy"] = buf.getvalue()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
        raw = out.getvalue()
    path = _TMP / "fuzzed.npz"
    path.write_bytes(raw)
    model = answer("load", lambda: load(path))
    if model is not None:
        _use(model)
        best = getattr(model, "best_", None)
        if best is not None:
            _use(best)


@fuzz_settings(100)
@given(X=any_X(), data=st.data())
def selection(X, data):
    n = len(X) if hasattr(X, "__len__") and not isinstance(X, str) else 1
    ks = data.draw(st.sampled_from([[1, 2], [0], [], [2, 50], "3", [1.5]]))
    cts = data.draw(st.sampled_from([["full", "diag"], ["nope"], [], "full"]))
    crit = data.draw(st.sampled_from(["bic", "icl", "cv", "aic", "x"]))
    w = data.draw(weights(n))
    answer(
        "select_model",
        lambda: select_model(
            X,
            n_components=ks,
            covariance_types=cts,
            criterion=crit,
            sample_weight=w,
            n_folds=2,
            max_iter=20,
        ),
    )


@fuzz_settings(200)
@given(data=st.data())
def posterior(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    C, S, K, D = data.draw(
        st.sampled_from([(1, 4, 2, 2), (2, 3, 1, 1), (1, 1, 3, 2), (0, 2, 2, 2)])
    )
    w = rng.dirichlet(np.ones(max(K, 1)), size=(C, S)) if K else np.zeros((C, S, 0))
    mu = rng.normal(size=(C, S, K, D))
    cov = np.broadcast_to(np.eye(D), (C, S, K, D, D)).copy()
    bad = data.draw(st.sampled_from(["none", "nan", "negcov", "shape", "weights", "huge"]))
    if bad == "nan" and mu.size:
        mu.flat[0] = np.nan
    elif bad == "negcov" and cov.size:
        cov *= -1
    elif bad == "shape":
        cov = cov[..., :1]
    elif bad == "weights" and w.size:
        w.flat[0] = -1.0
    elif bad == "huge":
        mu *= 1e300
        cov *= 1e300
    X = data.draw(st.one_of(st.none(), float_matrices(min_rows=1, max_rows=8, max_cols=3)))
    post = answer("posterior.from_draws", lambda: MixturePosterior.from_draws(w, mu, cov, X=X))
    if post is not None:
        answer("posterior.summary", lambda: post.summary())
        answer("posterior.density", lambda: post.density(two_blobs(4, D)))
        answer("posterior.n_components", lambda: post.n_components)


TARGETS = {
    "em": em,
    "vb": vb,
    "gibbs": gibbs,
    "files": files,
    "selection": selection,
    "posterior": posterior,
}


if __name__ == "__main__":
    name = sys.argv[1]
    TARGETS[name]()
    print(json.dumps({"target": name, "calls_total": sum(COUNTS.values()), "calls": COUNTS}))
    _ = bayesmix.__version__
