"""Coercion and checking of every user input; every error message lives here.

Nothing in this module touches numba: all checks run before any kernel does.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .exceptions import not_fitted_error

__all__ = [
    "as_feature_major",
    "check_X",
    "check_bool",
    "check_choice",
    "check_distinct_rows",
    "check_fitted",
    "check_frequency_counts",
    "check_init_scale",
    "check_int",
    "check_n_draws",
    "check_prior_against_data",
    "check_random_state",
    "check_real",
    "check_sample_weight",
    "check_weighted_rows",
    "count_distinct_rows",
    "describe_prior_field",
    "empty_rows_error",
    "infinity_error",
    "row_keys",
]


def _feature_names(X):
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = [str(c) for c in columns]
    if not all(isinstance(c, str) for c in columns):
        if any(isinstance(c, str) for c in columns):
            raise TypeError(
                "X: feature names (DataFrame columns) mix strings and other types; "
                "convert all column names to strings, e.g. X.columns = X.columns.astype(str)."
            )
        return None
    return np.asarray(names, dtype=object)


def check_X(X, *, name: str = "X", min_samples: int = 1, allow_nan: bool = False):
    """Return ``(X as a C-contiguous float64 (n_samples, n_features) array,
    feature names or None)``.

    Raises TypeError for non-numeric, complex or sparse input and ValueError
    for wrong dimensions, empty data and non-finite values.  With ``allow_nan``,
    NaN cells are missing values and are kept, but infinity and a row with
    every feature missing are still refused.
    """
    if X is None:
        raise TypeError(f"{name} is None; pass a 2-D array-like of shape (n_samples, n_features).")
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{name} is a sparse matrix, which bayesmix does not support; "
            f"pass a dense array, e.g. {name}.toarray()."
        )
    if type(X).__module__.startswith("dask."):
        # GaussianMixture dispatches Dask input before this check; elsewhere
        # np.asarray would silently pull the whole array into memory
        raise TypeError(
            f"{name} is a Dask array; only GaussianMixture's and VariationalGaussianMixture's "
            f"fit, predict and score, select_model and bootstrap_em take Dask arrays so far. "
            f"Compute a sample that fits in memory, e.g. {name}[:100_000].compute(), or fit "
            f"GaussianMixture."
        )
    _refuse_masked(X, name)
    names = _feature_names(X)
    if hasattr(X, "to_numpy"):
        frame = X
        _refuse_time_columns(frame, name)
        _refuse_text_columns(frame, name)
        X = frame.to_numpy()
        if getattr(X, "dtype", None) is np.dtype(object) and not _has_text(X):
            try:  # nullable columns: pandas' missing values become NaN, reported below
                X = frame.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                pass
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(
            f"{name} could not be read as a 2-D numeric array ({exc}); "
            "pass a rectangular array-like of numbers."
        ) from None
    if arr.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has complex values; pass real numbers "
            f"(e.g. {name}.real)."
        )
    if arr.dtype.kind in "USO" and _has_text(arr):
        raise TypeError(
            f"{name} must contain numbers, but it contains strings (dtype {arr.dtype}); "
            "encode non-numeric columns as numbers, or convert numeric strings explicitly "
            f"with {name}.astype(float)."
        )
    if arr.dtype.kind in "mM" or (arr.dtype.kind == "O" and _has_time(arr)):
        raise TypeError(
            f"{name} holds dates or times (dtype {arr.dtype}), which bayesmix would otherwise "
            "read as raw integers; convert them to numbers with a meaningful unit yourself, "
            "e.g. (t - t.min()) / np.timedelta64(1, 'h'), or drop those columns."
        )
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must contain numbers, but it has dtype {arr.dtype} that cannot be "
                f"converted to float ({exc}); encode non-numeric columns as numbers first."
            ) from None
    if arr.ndim != 2:
        hint = (
            f" If it has a single feature use {name}.reshape(-1, 1); if it is a "
            f"single sample use {name}.reshape(1, -1)."
            if arr.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got an array of shape "
            f"{arr.shape}. Reshape your data: a 2-D array is expected.{hint}"
        )
    n_samples, n_features = arr.shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={arr.shape}) while a minimum "
            f"of {min_samples} is required: {name} needs at least {min_samples} rows."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            f"required: {name} needs at least one column."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        if allow_nan:
            _check_missing_cells(arr, finite, name)
        else:
            row, col = map(int, np.argwhere(~finite)[0])
            kind = "NaN" if np.isnan(arr[row, col]) else "infinity"
            raise ValueError(
                f"{name} contains NaN or infinity ({kind} at row {row}, column {col}). "
                + (
                    "Only GaussianMixture's fit, predict, predict_proba, score, score_samples, "
                    "bic, aic, icl, impute, partial_fit and posterior, the same methods of "
                    "VariationalGaussianMixture and DirichletProcessMixture, and select_model "
                    "treat NaN as missing values: use those, or drop or impute the rows with NaN "
                    "here."
                    if kind == "NaN"
                    else "Drop those rows or replace the infinite values."
                )
            )
    return arr, names


def _check_missing_cells(arr: np.ndarray, finite: np.ndarray, name: str) -> None:
    """NaN cells are missing values; infinity stays an error, and so does a row
    without a single observed value: it carries no information, and its
    marginal density over no features is not a density of the data.  (A column
    with no observed value is refused by the fit's standardisation.)"""
    inf = np.isinf(arr)
    if inf.any():
        row, col = map(int, np.argwhere(inf)[0])
        raise infinity_error(name, row, col)
    empty_rows = np.flatnonzero(~finite.any(axis=1))
    if empty_rows.size:
        raise empty_rows_error(name, empty_rows[:10].tolist(), empty_rows.size)


def infinity_error(name: str, row: int, col: int) -> ValueError:
    """The refusal of an infinite cell where NaN is a missing value (in memory
    and chunk by chunk: the same words)."""
    return ValueError(
        f"{name} contains NaN or infinity (infinity at row {row}, column {col}); NaN "
        "means a missing value, but infinity is not a value: drop those rows or replace "
        "the infinite values (e.g. by NaN if they stand for unknown values)."
    )


def empty_rows_error(name: str, shown: list, n_empty: int) -> ValueError:
    """The refusal of rows with every feature missing: the first ``shown`` of
    ``n_empty`` such rows."""
    more = f" and {n_empty - len(shown)} more" if n_empty > len(shown) else ""
    return ValueError(
        f"{name} has row(s) {shown}{more} with every feature missing (NaN); such a row "
        "says nothing about the mixture. Drop those rows first, e.g. "
        f"{name}[~np.isnan({name}).all(axis=1)]."
    )


def _has_text(arr: np.ndarray) -> bool:
    if arr.dtype.kind in "US":
        return True
    return any(isinstance(value, (str, bytes)) for value in arr.flat)


def _has_time(arr: np.ndarray) -> bool:
    import datetime

    kinds = (datetime.date, datetime.time, datetime.timedelta, np.datetime64, np.timedelta64)
    return any(isinstance(value, kinds) for value in arr.flat)


def _refuse_masked(value, name: str) -> None:
    """A masked array's mask would be dropped by ``np.asarray``: refuse it."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; bayesmix does not yet treat masked entries as "
            f"missing values and would read the values under the mask. Drop the masked rows "
            f"(e.g. np.ma.compress_rows({name}) for a 2-D array, {name}.compressed() for 1-D) "
            f"or pass {name}.data if the mask is meant to be ignored."
        )


def _refuse_time_columns(frame, name: str) -> None:
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    for column, dtype in dtypes.items():
        if getattr(dtype, "kind", None) in ("m", "M"):
            raise TypeError(
                f"{name} column {column!r} holds dates or times (dtype {dtype}), which "
                "bayesmix would otherwise read as raw integers; convert it to numbers with a "
                "meaningful unit yourself, e.g. (t - t.min()) / pd.Timedelta('1h'), or drop it."
            )


def _refuse_text_columns(frame, name: str) -> None:
    """A DataFrame's columns of text (a class label, an ID) named in the error,
    with the cure: the generic message for an array cannot say which."""
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    text = []
    for column, dtype in dtypes.items():
        if getattr(dtype, "kind", None) not in ("O", "U", "S") and str(dtype) not in (
            "string",
            "category",
        ):
            continue
        values = frame[column].to_numpy(dtype=object)
        first = next((v for v in values if isinstance(v, (str, bytes))), None)
        if first is not None:
            text.append((column, first))
    if text:
        cols = [c for c, _ in text]
        column, value = text[0]
        raise TypeError(
            f"{name} must contain numbers, but column(s) {cols} hold text (e.g. {value!r} in "
            f"column {column!r}); leave them out, e.g. {name}.drop(columns={cols}), or convert "
            f"numeric strings with pd.to_numeric."
        )


def as_feature_major(X: np.ndarray, center=None, scale=None) -> np.ndarray:
    """``((X - center) / scale).T`` as a C-contiguous (n_features, n_samples) array:
    the layout every kernel reads."""
    Xt = np.array(X.T, dtype=np.float64, order="C")
    if center is not None:
        Xt -= np.asarray(center)[:, None]
    if scale is not None:
        Xt /= scale
    return Xt


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Frequency weights as a float64 (n_samples,) array (ones when None)."""
    if sample_weight is None:
        return np.ones(n_samples)
    _refuse_masked(sample_weight, "sample_weight")
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, float(sample_weight))
    if hasattr(sample_weight, "to_numpy"):  # a pandas Series
        sample_weight = sample_weight.to_numpy()
    try:
        raw = np.asarray(sample_weight)
    except Exception:  # ragged lists and the like
        raw = np.asarray(None)
    # the same refusals as X: no strings (even numeric ones), objects or dates
    if raw.dtype.kind not in "biuf" or raw.dtype == np.dtype(object):
        raise TypeError(
            f"sample_weight must be numbers, one per row of X (or None for equal weights), "
            f"got dtype {raw.dtype}; convert it first, e.g. np.asarray(w, dtype=float)."
        )
    if raw.dtype.kind in "iu" and raw.size and np.abs(raw).max() > 2**53:
        raise ValueError(
            "sample_weight has integers above 2**53, which float64 cannot hold exactly; "
            "divide the weights by a common factor (only their ratios matter to EM and VB)."
        )
    w = raw.astype(np.float64)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match the rows of X, "
            f"got shape {w.shape}; pass one non-negative weight per row."
        )
    if not np.isfinite(w).all():
        raise ValueError(
            "sample_weight contains NaN or infinity; use finite, non-negative weights."
        )
    if (w < 0).any():
        raise ValueError(
            f"sample_weight has negative values (row {int(np.argmax(w < 0))}); frequency "
            "weights must be non-negative."
        )
    if not (w > 0).any():
        raise ValueError(
            "sample_weight is zero everywhere; at least one row needs positive weight."
        )
    # A private writable copy: read-only input (a memory map) would make numba
    # compile another specialisation of every kernel.
    return np.array(w, dtype=np.float64, order="C", copy=True)


def check_weighted_rows(w: np.ndarray) -> None:
    """A mixture needs at least two rows of positive weight."""
    if (w > 0).sum() < 2:
        raise ValueError(
            "sample_weight gives positive weight to fewer than 2 rows; a mixture needs "
            "at least 2 weighted samples."
        )


def check_distinct_rows(n_components: int, n_distinct: int) -> None:
    """``n_components`` cannot exceed the number of distinct weighted rows."""
    if n_distinct < n_components:
        raise ValueError(
            f"n_components={n_components} is larger than the number of distinct rows with "
            f"positive weight ({n_distinct}); lower n_components to at most {n_distinct}."
        )


def count_distinct_rows(X: np.ndarray, w: np.ndarray, at_least: int) -> int:
    """Number of distinct rows of ``X`` with positive weight, counted exactly up to
    ``at_least`` (it returns early once that many are found)."""
    pos = w > 0
    X = X if pos.all() else X[pos]
    # the head first: usually it already holds at_least distinct rows, and then
    # nothing as large as X is copied
    head = np.unique(row_keys(X[: max(4 * at_least, 1024)]))
    if head.size >= at_least or X.shape[0] <= 4 * at_least:
        return int(head.size)
    return int(np.unique(row_keys(X)).size)


def row_keys(X: np.ndarray) -> np.ndarray:
    """One opaque value per row of ``X`` (n_samples,), equal for equal rows:
    -0.0 and 0.0 are the same point, and NaN cells (missing) in the same
    places match."""
    A = np.ascontiguousarray(X + 0.0)
    return A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1]))).ravel()


def check_int(value, name: str, *, low: int | None = None, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}.")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, strict: bool = False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}."
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value}.")
    return value


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; use one of {sorted(choices)}.")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_random_state(random_state) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a legacy RandomState."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        if isinstance(random_state, bool):
            raise TypeError("random_state must be None, an int or a numpy Generator, got a bool.")
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState, got "
        f"{type(random_state).__name__}."
    )


def check_fitted(estimator, attribute: str = "weights_") -> None:
    if not hasattr(estimator, attribute):
        raise not_fitted_error(
            f"This {type(estimator).__name__} instance is not fitted yet; call fit(X) "
            "before using this method."
        )


def check_predict_X(estimator, X, allow_nan: bool = False):
    """Validate X at predict time against what ``fit`` saw (feature count and names);
    ``allow_nan``: NaN cells are missing values (see :func:`check_X`)."""
    check_fitted(estimator)
    X, names = check_X(X, allow_nan=allow_nan)
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and names is None:
        warnings.warn(
            f"X does not have valid feature names, but {type(estimator).__name__} was fitted "
            "with feature names",
            UserWarning,
            stacklevel=3,
        )
    elif fitted_names is None and names is not None:
        warnings.warn(
            f"X has feature names, but {type(estimator).__name__} was fitted without feature names",
            UserWarning,
            stacklevel=3,
        )
    elif names is not None and (
        len(names) != len(fitted_names) or not np.array_equal(names, fitted_names)
    ):
        raise ValueError(
            "The feature names should match those that were passed during fit; "
            f"fitted with {list(fitted_names)}, got {list(names)}. Reorder or rename "
            "the columns of X."
        )
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input; pass data with the columns "
            "used in fit."
        )
    return X


MAX_EXPANDED_ROWS = 10**8  # copies of rows with missing cells a sampler may hold (one row each)
MAX_COPIES = 2**53  # observations a sampler counts exactly (float64 integers)


def check_frequency_counts(
    w: np.ndarray, owner: str, holes: np.ndarray | None = None
) -> np.ndarray:
    """Frequency weights ``w`` (n_samples,) that must be whole numbers (a row of
    weight ``w`` is ``w`` identical observations), as int64 counts; their total
    at most ``MAX_COPIES``, and that of the rows ``holes`` (bool, rows with
    missing cells, held once per copy) at most ``MAX_EXPANDED_ROWS``."""
    total = float(np.sum(w))
    if total > MAX_COPIES:
        raise ValueError(
            f"sample_weight sums to {total:.4g} observations; {owner} counts at most "
            f"2**53 = {MAX_COPIES:.4g} exactly. Divide the weights by a common factor (the "
            "posterior then describes fewer observations) or use GaussianMixture / "
            "VariationalGaussianMixture, whose weights are scale-free."
        )
    held = float(np.sum(w[holes])) if holes is not None and holes.any() else 0.0
    if held > MAX_EXPANDED_ROWS:
        raise ValueError(
            f"sample_weight gives the rows with missing cells {held:.4g} observations; "
            f"{owner} holds one row per copy of such a row (each copy's missing cells are "
            f"drawn apart) and supports at most {MAX_EXPANDED_ROWS:.0e}. Divide the weights by "
            "a common factor, or fill or drop the missing cells first."
        )
    if not np.array_equal(w, np.round(w)):
        bad = int(np.argmax(w != np.round(w)))
        raise ValueError(
            f"sample_weight must hold integer frequency counts for {owner} "
            f"(a row of weight w is w identical observations), got {w[bad]} at row {bad}; "
            "round the weights (np.round) or repeat the rows instead."
        )
    return w.astype(np.int64)


# The prior in standardised units (the data centred and divided by one overall
# scale) must stay where float64 arithmetic on the clusters' statistics keeps
# precision: a rank-one update of Psi_n adds kappa0 (xbar - m0)(xbar - m0)^T,
# whose rounding (about 1e-16 of it) must stay well below the smallest
# eigenvalue of Psi0, or the Cholesky factors turn NaN and every predictive
# density with them.
PRIOR_MEAN_LIMIT = 1e6  # |m0| in data standard deviations from the data's centre
PRIOR_SCALE_RANGE = (1e-10, 1e10)  # eigenvalues of Psi0 in squared data standard deviations


def describe_prior_field(user_prior, field: str, arg: str = "component_prior") -> str:
    """Who set a prior field: ``"component_prior.mean=[...]"`` or ``"the default
    prior's mean"`` (the user did not set it)."""
    value = None if user_prior is None else getattr(user_prior, field, None)
    if value is None:
        return f"the default prior's {field} (not set in {arg})"
    shown = np.array2string(np.asarray(value), precision=3, threshold=6, separator=", ")
    shown = " ".join(shown.split())  # one line, even for a matrix
    return f"{arg}.{field}={shown}"


def check_prior_against_data(
    prior_std, user_prior, arg: str = "component_prior", check_scale: bool = True
) -> None:
    """Refuse a resolved prior, in standardised units (data of unit overall
    scale about its centre), that the engines cannot compute with: a mean more
    than ``PRIOR_MEAN_LIMIT`` data standard deviations away, a scale whose
    eigenvalues leave ``PRIOR_SCALE_RANGE``, or any non-finite value.  The
    message names the user's own argument, or the default prior.

    ``prior_std`` is a resolved :class:`~bayesmix.priors.NormalInverseWishart`
    with an array ``scale``; ``check_scale=False`` when the scale is learned
    (a hyperprior: its value is drawn from the data, not given).
    """
    mean = np.asarray(prior_std.mean, dtype=np.float64)
    if not np.isfinite(mean).all() or np.abs(mean).max() > PRIOR_MEAN_LIMIT:
        dist = float(np.abs(mean).max()) if np.isfinite(mean).all() else float("inf")
        raise ValueError(
            f"{describe_prior_field(user_prior, 'mean', arg)} puts the prior mean {dist:.3g} "
            f"standard deviations of the data from the data's centre; at most "
            f"{PRIOR_MEAN_LIMIT:.0e} is supported (beyond it the clusters' statistics lose all "
            "precision). Give a mean within the range of the data, or leave it None (the data "
            "mean)."
        )
    if not check_scale:
        return
    scale = np.asarray(prior_std.scale, dtype=np.float64)
    if scale.ndim != 2:
        return
    lo, hi = PRIOR_SCALE_RANGE
    eig = np.linalg.eigvalsh(scale) if np.isfinite(scale).all() else np.array([np.nan])
    if not (np.isfinite(eig).all() and eig.min() >= lo and eig.max() <= hi):
        shown = f"[{eig.min():.3g}, {eig.max():.3g}]" if np.isfinite(eig).all() else "not finite"
        raise ValueError(
            f"{describe_prior_field(user_prior, 'scale', arg)} has eigenvalues {shown} in units "
            f"of the data's variance; the supported range is [{lo:.0e}, {hi:.0e}] (outside it "
            "the clusters' covariances cannot be computed in float64). Scale it to the data "
            "(e.g. np.cov(X.T) / n_components) or leave it None."
        )


MAX_DRAW_BYTES = 2**34  # 16 GiB: a sample larger than this is refused before allocating


def check_n_draws(n_samples, n_features: int, name: str = "n_samples") -> int:
    """A number of points to draw (``sample``): a positive integer whose
    ``(n_samples, n_features)`` float64 array stays under ``MAX_DRAW_BYTES``,
    refused before any allocation (a MemoryError after minutes otherwise)."""
    n = check_int(n_samples, name, low=1)
    if n * max(n_features, 1) * 8 > MAX_DRAW_BYTES:
        raise ValueError(
            f"{name}={n} points of {n_features} features would take "
            f"{n * n_features * 8 / 2**30:.3g} GiB; draw at most "
            f"{MAX_DRAW_BYTES // (8 * max(n_features, 1))} at a time (call sample repeatedly)."
        )
    return n


def check_init_scale(given: dict, center, scale: float) -> None:
    """Initial parameters (data units) that stay finite in the fit's
    standardised units ``(x - center) / scale``: ``means_init`` within
    ``PRIOR_MEAN_LIMIT`` standard deviations of the data's centre and
    ``precisions_init`` times ``scale**2`` finite, refused before EM runs."""
    with np.errstate(all="ignore"):
        if "means" in given:
            dist = np.abs((np.asarray(given["means"], dtype=float) - center) / scale).max()
            if not dist <= PRIOR_MEAN_LIMIT:
                raise ValueError(
                    f"means_init lies {dist:.3g} standard deviations of the data from its centre; "
                    f"at most {PRIOR_MEAN_LIMIT:.0e} is supported. Give initial means within the "
                    "range of the data, or leave means_init None."
                )
        if "precisions" in given:
            scaled = np.asarray(given["precisions"], dtype=float) * scale**2
            if not np.isfinite(scaled).all() or not (np.abs(scaled).max() > 0):
                raise ValueError(
                    "precisions_init is out of proportion to the data's scale (its entries "
                    "overflow or vanish once the data are standardised); give precisions "
                    "about 1 / the data's variance, or leave precisions_init None."
                )
