"""Checks of a loaded model's state before any compiled code reads it.

:func:`bayesmix.load` rebuilds an estimator attribute by attribute; a file
edited by hand (or damaged in a way that keeps its checksums) could give the
kernels arrays of the wrong shape, dtype or range, and compiled code does not
check bounds: it would read past the arrays or divide by zero.
:func:`check_state` checks every array a kernel or a summary reads against
the model's own metadata (``n_features_in_``, the covariance structure) and
against the other arrays, and raises ValueError naming the attribute.

:func:`check_members` checks the archive itself before anything is
decompressed: member names, duplicates, and sizes promised by the ``.npy``
headers.

The checks know engines by their class name and attribute names only (io
imports no engine); attributes a file lacks (older files) are not checked.
"""

from __future__ import annotations

import io
import math
import re
import zipfile

import numpy as np

__all__ = ["MAX_BYTES_FLOOR", "MAX_META_BYTES", "MAX_RATIO", "check_members", "check_state"]


# ------------------------------------------------------------------ the archive
MAX_META_BYTES = 16 * 2**20  # the JSON metadata, uncompressed
MAX_BYTES_FLOOR = 64 * 2**20  # default cap of all arrays, uncompressed ...
MAX_RATIO = 64  # ... or this many times the file's size, whichever is larger
_MEMBER_RE = re.compile(r"^(__bayesmix__|a(0|[1-9][0-9]{0,8}))\.npy$")


def check_members(raw: bytes, max_bytes: int | None, bad) -> None:
    """Refuse an archive before decompressing it when it holds names ``save``
    never writes, a name twice (a later copy would silently win), metadata over
    ``MAX_META_BYTES``, or arrays whose ``.npy`` headers promise more than
    ``max_bytes`` in all or disagree with the member's size (a header claiming
    a huge shape would make numpy allocate it before reading a byte)."""
    if max_bytes is None:
        max_bytes = max(MAX_BYTES_FLOOR, MAX_RATIO * len(raw))
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise bad(f"it holds the member(s) {dup[:5]} more than once")
        if "__bayesmix__.npy" not in names:
            raise bad("it is an .npz archive without bayesmix metadata (a foreign file?)")
        unknown = [n for n in names if not _MEMBER_RE.match(n)]
        if unknown:
            raise bad(f"it holds members bayesmix never writes: {unknown[:5]}")
        total = 0
        for info in infos:
            if info.filename == "__bayesmix__.npy" and info.file_size > MAX_META_BYTES:
                raise bad(
                    f"its metadata takes {info.file_size} bytes uncompressed, more than the "
                    f"{MAX_META_BYTES} allowed"
                )
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version in ((2, 0), (3, 0)):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise bad(f"member {info.filename} has .npy format version {version}")
                header = fh.tell()
            if dtype.hasobject:
                raise bad(
                    f"an array could not be read safely (member {info.filename} holds Python "
                    "objects, which would need pickle)"
                )
            n_bytes = math.prod(shape) * dtype.itemsize
            if header + n_bytes != info.file_size:
                raise bad(
                    f"member {info.filename}'s header promises {n_bytes} bytes of data but "
                    f"the member holds {info.file_size - header}"
                )
            total += n_bytes
            if total > max_bytes:
                raise bad(
                    f"its arrays take more than {max_bytes} bytes uncompressed (the file has "
                    f"{len(raw)}); if you trust it, pass load(path, max_bytes=...) with a "
                    "larger value"
                )


# --------------------------------------------------------------- the fitted state
class _Bad(ValueError):
    pass


def _arr(state: dict, name: str, *, kind: str = "f", ndim: int | None = None, shape=None):
    """``state[name]`` as an ndarray of dtype kind in ``kind`` and the given
    ``ndim`` / ``shape`` (``None`` entries of ``shape`` match any length);
    None if the attribute is absent."""
    if name not in state:
        return None
    return _check_array(state[name], name, kind=kind, ndim=ndim, shape=shape)


def _check_array(value, name: str, *, kind: str = "f", ndim=None, shape=None):
    if not isinstance(value, np.ndarray):
        raise _Bad(f"{name} is a {type(value).__name__}, not an array")
    if value.dtype.kind not in kind:
        raise _Bad(f"{name} has dtype {value.dtype}, expected kind {kind!r}")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and value.ndim != ndim:
        raise _Bad(f"{name} has shape {value.shape}, expected {ndim} dimension(s)")
    pairs = zip(shape or (), value.shape if shape else (), strict=True)
    if any(s is not None and s != v for s, v in pairs):
        want = tuple("*" if s is None else s for s in shape)
        raise _Bad(f"{name} has shape {value.shape}, expected {want}")
    return value


def _finite(arr, name: str, *, allow_neg_inf: bool = False, allow_nan: bool = False):
    if arr is None:
        return
    a = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(a)
    if allow_neg_inf:
        bad &= ~(a == -np.inf)
    if allow_nan:
        bad &= ~np.isnan(a)
    if bad.any():
        raise _Bad(f"{name} holds non-finite values")


def _int(state: dict, name: str, low: int = 0) -> int | None:
    if name not in state:
        return None
    v = state[name]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < low:
        raise _Bad(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _standardiser(state: dict, n_features: int | None) -> None:
    std = state.get("_standardiser")
    if std is None:
        return
    attrs = getattr(std, "__dict__", {})
    center = attrs.get("center")
    scale = attrs.get("scale")
    _check_array(np.asarray(center), "_standardiser.center", shape=(n_features,))
    _finite(center, "_standardiser.center")
    if not isinstance(scale, (float, np.floating)) or not (0.0 < scale < np.inf):
        raise _Bad(f"_standardiser.scale must be a positive finite number, got {scale!r}")


def _components(value, name: str, n_features: int | None, k: int | None) -> int:
    """Kernel arrays ``(means (K, D), prec (K, P, D), log_const (K,), [dof (K,)])``."""
    means = _check_array(value.means, f"{name}.means", shape=(k, n_features))
    k, d = means.shape
    prec = _check_array(value.prec, f"{name}.prec")
    # (K, P, D) kernel factors, or (K, D) per-feature inverse scales (VB's predictive)
    if not (
        (prec.ndim == 3 and prec.shape[0] == k and prec.shape[2] == d and prec.shape[1] in (1, d))
        or (prec.ndim == 2 and prec.shape == (k, d))
    ):
        raise _Bad(f"{name}.prec has shape {prec.shape}, expected ({k}, 1 or {d}, {d})")
    _check_array(value.log_const, f"{name}.log_const", shape=(k,))
    _finite(means, f"{name}.means")
    _finite(prec, f"{name}.prec")
    _finite(value.log_const, f"{name}.log_const", allow_neg_inf=True)
    dof = getattr(value, "dof", None)
    if dof is not None:
        dof = _check_array(dof, f"{name}.dof")
        if dof.shape not in ((k,), (k, d)):
            raise _Bad(f"{name}.dof has shape {dof.shape}, expected ({k},) or ({k}, {d})")
        _finite(dof, f"{name}.dof")
        if (np.asarray(dof) <= 0).any():
            raise _Bad(f"{name}.dof must be positive")
    return k


def _mixture(state: dict, d: int | None) -> None:
    """The public parameters of EM / VB / the Gibbs point summary, and EM's ``_params``."""
    weights = _arr(state, "weights_", ndim=1)
    if weights is None:
        return
    k = weights.shape[0]
    if k < 1:
        raise _Bad("weights_ is empty")
    _finite(weights, "weights_")
    if (weights < 0).any():
        raise _Bad("weights_ has negative entries")
    _finite(_arr(state, "means_", shape=(k, d)), "means_")
    _arr(state, "effective_components_", kind="b", shape=(k,))
    for name in ("counts_", "mean_precision_", "degrees_of_freedom_"):  # VB's posterior
        _finite(_arr(state, name, shape=(k,)), name)
    structure = state.get("_structure")
    shape = getattr(structure, "shape", None)
    if callable(shape) and d is not None:
        want = tuple(shape(k, d))
        for name in ("covariances_", "precisions_cholesky_", "precisions_", "scales_"):
            _finite(_arr(state, name, shape=want), name)
        params = state.get("_params")
        if params is not None:
            _check_array(params.weights, "_params.weights", shape=(k,))
            _check_array(params.means, "_params.means", shape=(k, d))
            _check_array(params.covariances, "_params.covariances", shape=want)
            _check_array(params.prec_chol, "_params.prec_chol", shape=want)
            for f in ("weights", "means", "covariances", "prec_chol"):
                _finite(getattr(params, f), f"_params.{f}")
            if (params.weights < 0).any():
                raise _Bad("_params.weights has negative entries")
    for name in ("_predictive", "_post"):
        value = state.get(name)
        if value is not None and all(hasattr(value, f) for f in ("means", "prec", "log_const")):
            _components(value, name, d, k)


def _niw(prior, name: str, d: int | None) -> None:
    if prior is None:
        return
    mean = _check_array(np.asarray(prior.mean), f"{name}.mean", shape=(d,))
    d = mean.shape[0]
    scale = _check_array(np.asarray(prior.scale), f"{name}.scale", shape=(d, d))
    _finite(mean, f"{name}.mean")
    _finite(scale, f"{name}.scale")
    kappa, dof = prior.kappa, prior.dof
    if not (isinstance(kappa, (float, int, np.number)) and 0 < kappa < np.inf):
        raise _Bad(f"{name}.kappa must be a positive number")
    if not (isinstance(dof, (float, int, np.number)) and d - 1 < dof < np.inf):
        raise _Bad(f"{name}.dof must be a number > {d - 1}")
    try:
        np.linalg.cholesky(scale)
    except np.linalg.LinAlgError:
        raise _Bad(f"{name}.scale is not positive definite") from None


def _gibbs(state: dict, d: int | None) -> None:
    weights = state.get("weights_")
    if isinstance(weights, np.ndarray) and weights.ndim == 1:  # the point summary
        _finite(_arr(state, "covariances_", shape=(weights.shape[0], d, d)), "covariances_")
    X_fit = _arr(state, "_X_fit", shape=(None, d))
    if X_fit is None:
        return
    n_fit, d = X_fit.shape
    _finite(X_fit, "_X_fit")
    if _int(state, "_n_fit", 1) not in (None, n_fit):
        raise _Bad(f"_n_fit does not match _X_fit's {n_fit} rows")
    full = _arr(state, "_labels_full", kind="iu", shape=(None, None, n_fit))
    ks = _arr(state, "n_clusters_samples_", kind="iu", shape=full.shape[:2])
    if ks is None or (ks < 1).any() or (ks > n_fit).any():
        raise _Bad(f"n_clusters_samples_ must be between 1 and {n_fit}")
    if full.size and ((full < 0).any() or (full >= ks[..., None]).any()):
        raise _Bad("_labels_full holds labels outside 0 .. n_clusters - 1")
    draws = full.shape[:2]
    n_copies = _copies(state, n_fit, full, ks)
    if state.get("_hole_cells") is not None:
        # missing cells: flat indices into _X_fit, imputed per kept draw in _imputed
        holes = _arr(state, "_hole_cells", kind="iu", ndim=1)
        if holes.size and ((holes < 0).any() or (holes >= X_fit.size).any()):
            raise _Bad(f"_hole_cells must index the {X_fit.size} cells of _X_fit")
        if np.unique(holes).size != holes.size:
            raise _Bad("_hole_cells repeats a cell")
        _finite(_arr(state, "_imputed", shape=(*draws, holes.size)), "_imputed")
    alphas = _arr(state, "_alphas", shape=draws)
    _finite(alphas, "_alphas")
    if alphas is not None and (alphas <= 0).any():
        raise _Bad("_alphas must be positive")
    _finite(_arr(state, "log_joint_samples_", shape=draws), "log_joint_samples_", allow_nan=True)
    for name in ("_hyper_b", "_hyper_kappa"):
        v = _arr(state, name, shape=draws)
        if v is not None and (v <= 0).any() | np.isinf(v).any():
            raise _Bad(f"{name} must be positive (or NaN: not learned)")
    base = _arr(state, "_scale_base", shape=(d,))
    if base is not None and not (np.isfinite(base).all() and (base > 0).all()):
        raise _Bad("_scale_base must be positive and finite")
    _niw(state.get("_prior"), "_prior", d)
    present = _arr(state, "_rows_present", kind="b", ndim=1)
    n_rows = None if present is None else present.shape[0]
    n_present = None if present is None else int(present.sum())
    if "labels_samples_" in state:
        lab = _arr(state, "labels_samples_", kind="iu", shape=(*draws, n_rows))
        if lab.size and ((lab < -1).any() or (lab >= ks[..., None]).any()):
            raise _Bad("labels_samples_ holds labels outside -1 .. n_clusters - 1")
    row_pos = _arr(state, "_row_pos", kind="iu", shape=(n_present,))
    if row_pos is not None and ((row_pos < 0).any() or (row_pos >= n_fit).any()):
        raise _Bad(f"_row_pos must index the {n_fit} rows of _X_fit")
    _finite(_arr(state, "_X_rows", shape=(n_present, d)), "_X_rows")
    w = _arr(state, "_w_rows", shape=(n_present,))
    if w is not None and not (np.isfinite(w).all() and (w > 0).all()):
        raise _Bad("_w_rows must be positive and finite")
    point_full = _arr(state, "_point_full", kind="iu", shape=(n_fit,))
    point = state.get("_point")
    if point is not None:
        if not (isinstance(point, tuple) and len(point) == 3):
            raise _Bad("_point must be a (counts, means, R) tuple")
        counts = _check_array(point[0], "_point[0]", kind="iu", ndim=1)
        k = counts.shape[0]
        if (counts < 1).any() or counts.sum() != n_copies:
            raise _Bad(f"_point's counts must be positive and sum to {n_copies}")
        _finite(_check_array(point[1], "_point[1]", shape=(k, d)), "_point[1]")
        R = _check_array(point[2], "_point[2]", shape=(k, d, d))
        _finite(R, "_point[2]")
        if not (np.diagonal(R, axis1=1, axis2=2) > 0).all():  # Cholesky factors: divided by
            raise _Bad("_point[2] holds Cholesky factors without a positive diagonal")
        if point_full is not None and ((point_full < 0).any() or (point_full >= k).any()):
            raise _Bad(f"_point_full holds labels outside 0 .. {k - 1}")


def _copies(state: dict, n_fit: int, full: np.ndarray, ks: np.ndarray) -> int:
    """Check the copies the rows of ``_X_fit`` hold (``_mult0``, ``_mult_full``)
    and the rows that hold a weighted row's (``_atom_start``, ``_atom_len``);
    returns the number of observations."""
    if state.get("_mult0") is None:
        if state.get("_mult_full") is not None:
            raise _Bad("_mult_full without _mult0")
        return n_fit
    mult0 = _arr(state, "_mult0", kind="iu", shape=(n_fit,))
    if (mult0 < 0).any() or mult0.sum() < 2 or mult0.sum() > 2**53:
        raise _Bad("_mult0 must hold non-negative copies, at least 2 in all")
    n_copies = int(mult0.sum())
    start = _arr(state, "_atom_start", kind="iu", ndim=1)
    length = _arr(state, "_atom_len", kind="iu", shape=(None if start is None else start.size,))
    if start is None or length is None:
        raise _Bad("_mult0 without _atom_start and _atom_len")
    ends = start.astype(np.int64) + length
    if start.size and (
        (length < 1).any()
        or (start < 0).any()
        or (ends > n_fit).any()
        or (start[1:] < ends[:-1]).any()
    ):
        raise _Bad(f"_atom_start and _atom_len must give disjoint ranges of the {n_fit} rows")
    mult = _arr(state, "_mult_full", kind="iu", shape=full.shape)
    if mult is None:
        raise _Bad("_mult0 without _mult_full")
    if (mult < 0).any() or (mult.reshape(-1, n_fit).sum(axis=1) != n_copies).any():
        raise _Bad(f"_mult_full must hold non-negative copies summing to {n_copies} per draw")
    unit = np.ones(n_fit, dtype=bool)
    for a, b in zip(start, ends, strict=True):
        unit[a:b] = False
        if (mult0[a:b].sum() != mult[..., a:b].sum(axis=-1)).any():
            raise _Bad("_mult_full moves copies between distinct rows")
    if (mult[..., unit] != 1).any() or (mult0[unit] != 1).any():
        raise _Bad("_mult_full and _mult0 must hold one copy on each row outside the atoms")
    flat = full.reshape(-1, n_fit).astype(np.int64)
    held = mult.reshape(-1, n_fit)
    for lab, m, k in zip(flat, held, ks.reshape(-1), strict=True):
        if (np.bincount(lab, weights=m, minlength=int(k)) <= 0).any():
            raise _Bad("_mult_full leaves a cluster of _labels_full without copies")
    return n_copies


def _posterior(state: dict) -> None:
    """A :class:`~bayesmix.MixturePosterior`: draws (C, S, K, ...) consistent with
    each other, with the data, and with its kernel arrays (C * S, K, ...)."""
    w = _arr(state, "weights", ndim=3)
    if w is None:
        return
    c, s, k = w.shape
    if k < 1:
        raise _Bad("weights has no component axis")
    means = _arr(state, "means", shape=(c, s, k, None))
    d = means.shape[3]
    if d < 1:
        raise _Bad("means has no feature axis")
    cov = _arr(state, "covariances", shape=(c, s, k, d, d))
    _finite(w, "weights")
    # unused slots of a draw may hold NaN parameters; the kernel arrays may not
    _finite(means, "means", allow_nan=True)
    _finite(cov, "covariances", allow_nan=True)
    if (w < 0).any():
        raise _Bad("weights has negative entries")
    _arr(state, "_unused", kind="b", shape=(c, s, k))
    perm = _arr(state, "permutation", kind="iu", shape=(c, s, k))
    if perm is not None and not (np.sort(perm, axis=-1) == np.arange(k)).all():
        raise _Bad("permutation is not a permutation of the components in every draw")
    X = state.get("X")
    n = None
    if X is not None:
        X = _check_array(X, "X", shape=(None, d))
        n = X.shape[0]
        _finite(X, "X", allow_nan=True)  # NaN: a missing cell, as in from_draws
        if n and np.isnan(X).all(axis=1).any():
            raise _Bad("X has a row with every feature missing")
        sw = _arr(state, "sample_weight", shape=(n,))
        if sw is not None and not (np.isfinite(sw).all() and (sw >= 0).all()):
            raise _Bad("sample_weight must be finite and non-negative")
    names = state.get("feature_names")
    if names is not None:
        arr = np.asarray(names, dtype=object) if isinstance(names, (list, tuple)) else names
        if not (
            isinstance(arr, np.ndarray)
            and arr.shape == (d,)
            and all(isinstance(v, str) for v in arr.tolist())
        ):
            raise _Bad(f"feature_names must be {d} strings")
    labels = state.get("labels")
    if labels is not None:
        labels = _check_array(labels, "labels", kind="iu", shape=(c, s, n))
        if labels.size and ((labels < -1).any() or (labels >= k).any()):
            raise _Bad(f"labels holds values outside -1 .. {k - 1}")
    kernel = state.get("_kernel")
    if kernel is not None:  # every draw's kernel arrays, flattened to (C * S, K, ...)
        flat = c * s
        _finite(_check_array(kernel.means, "_kernel.means", shape=(flat, k, d)), "_kernel.means")
        prec = _check_array(kernel.prec, "_kernel.prec", shape=(flat, k, None, d))
        if prec.shape[2] not in (1, d):
            want = f"({flat}, {k}, 1 or {d}, {d})"
            raise _Bad(f"_kernel.prec has shape {prec.shape}, expected {want}")
        _finite(prec, "_kernel.prec")
        log_const = _check_array(kernel.log_const, "_kernel.log_const", shape=(flat, k))
        _finite(log_const, "_kernel.log_const", allow_neg_inf=True)
        if getattr(kernel, "dof", None) is not None:
            _finite(_check_array(kernel.dof, "_kernel.dof", shape=(flat, k)), "_kernel.dof")


def check_state(class_name: str, state: dict) -> None:
    """Raise ValueError (naming the attribute) unless the fitted ``state`` of an
    estimator of class ``class_name`` is consistent: shapes against
    ``n_features_in_``, the covariance structure and each other, integer
    labels and indices in range, finite parameters, a positive standardiser
    scale.  An unfitted model (no ``n_features_in_``) is not checked."""
    try:
        if class_name == "MixturePosterior":
            _posterior(state)
            return
        d = _int(state, "n_features_in_", 1)
        if d is None:
            return
        _standardiser(state, d)
        if class_name in ("GaussianMixture", "VariationalGaussianMixture"):
            structure = state.get("_structure", state.get("_family"))  # _family: 0.1.0 VB
            if not callable(getattr(structure, "shape", None)) and "_family" not in state:
                raise _Bad("_structure is not a covariance structure")
        _mixture(state, d)
        if class_name == "DirichletProcessMixture":
            _gibbs(state, d)
    except _Bad as exc:
        raise ValueError(f"the saved state is inconsistent: {exc}") from None
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"the saved state is malformed ({exc})") from None
