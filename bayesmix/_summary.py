"""Summary tables of posterior draws: one row per scalar quantity, with its
mean, sd, equal-tailed interval and convergence diagnostics.

Pure functions over ``(n_chains, n_draws)`` arrays, so they know nothing of
engines or of :class:`~bayesmix.posterior.MixturePosterior`; the diagnostics
are :func:`bayesmix._diagnostics.draw_diagnostics` (rank-normalised split
R-hat and ESS, Vehtari et al. 2021).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._diagnostics import RHAT_THRESHOLD, draw_diagnostics
from ._validation import check_real
from .exceptions import ConvergenceWarning

__all__ = [
    "TIDY_COLUMNS",
    "check_ci",
    "component_rows",
    "summary_table",
    "warn_if_not_converged",
]


def check_ci(ci) -> float:
    """The probability of a credible interval, in (0, 1)."""
    ci = check_real(ci, "ci", low=0.0, strict=True)
    if ci >= 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}.")
    return ci


TIDY_COLUMNS = ("variable", "component", "feature", "feature_bis")


def component_rows(
    weights, means, covariances, feature_labels, components=None
) -> list[tuple[str, np.ndarray, tuple]]:
    """``(name, (n_chains, n_draws) draws, (variable, component, feature,
    feature_bis))`` of every component-specific scalar: ``weights[k]``,
    ``means[k, f]``, then the upper triangle ``covariances[k, f, g]``.

    ``weights`` (C, S, K), ``means`` (C, S, K, D), ``covariances`` (C, S, K, D, D);
    ``feature_labels`` names the D features in the row names; ``components``
    (default: all K) are the components to list.
    """
    ks = range(weights.shape[2]) if components is None else components
    n_features = means.shape[3]
    labels = feature_labels
    rows = []
    for j in ks:
        rows.append((f"weights[{j}]", weights[:, :, j], ("weights", j, None, None)))
    for j in ks:
        for f in range(n_features):
            rows.append(
                (f"means[{j}, {labels[f]}]", means[:, :, j, f], ("means", j, labels[f], None))
            )
    for j in ks:
        for f in range(n_features):
            for g in range(f, n_features):
                rows.append(
                    (
                        f"covariances[{j}, {labels[f]}, {labels[g]}]",
                        covariances[:, :, j, f, g],
                        ("covariances", j, labels[f], labels[g]),
                    )
                )
    return rows


def summary_table(rows, ci: float = 0.95, var_names=None, kind: str | None = None):
    """A pandas DataFrame summarising ``rows`` (``(name, (C, S) draws)`` pairs,
    or triples whose third item is ``(variable, component, feature,
    feature_bis)``).

    Index: the rows' names.  Columns: the tidy ``variable``, ``component``,
    ``feature``, ``feature_bis`` (missing where they do not apply), then
    ``mean``, ``sd``, ``eti{ci}_lb`` / ``eti{ci}_ub``, ``ess_bulk``,
    ``ess_tail``, ``r_hat``; NaN draws are left out of the mean, sd and
    interval and make the diagnostics NaN.  ``var_names`` keeps the rows whose
    name (before ``[``) is one of them; ``kind`` is stored in ``attrs``.
    """
    import pandas as pd  # a dependency of xarray, hence of arviz-base

    ci = check_ci(ci)
    if var_names is not None:
        var_names = [var_names] if isinstance(var_names, str) else list(var_names)
        rows = [r for r in rows if any(r[0].split("[")[0] == v for v in var_names)]
    pct = f"{100 * ci:g}"
    index = [r[0] for r in rows]
    if not rows:
        return pd.DataFrame(columns=[*TIDY_COLUMNS, "mean", "sd", f"eti{pct}_lb", f"eti{pct}_ub"])
    meta = [r[2] if len(r) > 2 else (r[0], None, None, None) for r in rows]
    tidy = {
        "variable": [m[0] for m in meta],
        "component": pd.array([m[1] for m in meta], dtype="Int64"),
        "feature": [None if m[2] is None else str(m[2]) for m in meta],
        "feature_bis": [None if m[3] is None else str(m[3]) for m in meta],
    }
    stack = np.stack([r[1] for r in rows])  # (n_rows, C, S)
    flat = stack.reshape(stack.shape[0], -1)
    alpha = 0.5 * (1.0 - ci)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        table = {
            "mean": np.nanmean(flat, axis=1),
            "sd": np.nanstd(flat, axis=1, ddof=1) if flat.shape[1] > 1 else np.nan,
            f"eti{pct}_lb": np.nanquantile(flat, alpha, axis=1),
            f"eti{pct}_ub": np.nanquantile(flat, 1.0 - alpha, axis=1),
        }
    table.update(draw_diagnostics(stack))
    frame = pd.DataFrame({**tidy, **table}, index=index)
    frame.attrs["kind"] = kind
    return frame


def warn_if_not_converged(label_invariant: dict, stacklevel: int = 2) -> None:
    """Warn with a :class:`~bayesmix.exceptions.ConvergenceWarning` when the
    R-hat of a label-invariant quantity (``name -> (C, S) draws``, at least 8
    draws) exceeds :data:`~bayesmix._diagnostics.RHAT_THRESHOLD`."""
    names = list(label_invariant)
    if not names or next(iter(label_invariant.values())).shape[1] < 8:
        return
    rhat = draw_diagnostics(np.stack([label_invariant[n] for n in names]))["r_hat"]
    bad = [f"{n} (r_hat={r:.3f})" for n, r in zip(names, rhat, strict=True) if r > RHAT_THRESHOLD]
    if bad:
        warnings.warn(
            f"The chains have not mixed: R-hat > {RHAT_THRESHOLD} for {', '.join(bad)}. "
            "Run longer chains (more n_iter, a longer burn_in) or more chains, and "
            "check posterior.diagnostics() before trusting the summaries.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
