"""Short text and HTML summaries for notebooks (``__repr__`` / ``_repr_html_``)."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["model_html", "posterior_html", "short_repr"]

_MAX_ROWS = 12  # components shown in an HTML table before eliding
_MAX_COLS = 6  # features shown

_STYLE = (
    "<style>.bayesmix-repr table{border-collapse:collapse;margin:0.2em 0 0.6em 0}"
    ".bayesmix-repr th,.bayesmix-repr td{padding:0.15em 0.6em;text-align:right}"
    ".bayesmix-repr th:first-child,.bayesmix-repr td:first-child{text-align:left}"
    ".bayesmix-repr caption{text-align:left;font-weight:bold}</style>"
)

_METHOD = {
    "GaussianMixture": "EM (maximum likelihood)",
    "VariationalGaussianMixture": "variational Bayes",
    "DirichletProcessMixture": "collapsed Gibbs sampling (Dirichlet process)",
}


def short_repr(value) -> str:
    """``repr`` that summarises arrays by shape instead of printing them."""
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _table(rows, header=None, caption=None) -> str:
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _feature_names(model, n_features: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{j}" for j in range(n_features)]


def _fit_rows(model) -> list[tuple[str, object]]:
    rows = [("method", _METHOD.get(type(model).__name__, type(model).__name__))]
    means = getattr(model, "means_", None)
    if means is not None:
        rows.append(("components", means.shape[0]))
        rows.append(("features", means.shape[1]))
    for label, attr in (
        ("covariance type", "covariance_type"),
        ("occupied components (mean)", "n_effective_components_"),
        ("converged", "converged_"),
        ("iterations", "n_iter_"),
        ("log-likelihood", "log_likelihood_"),
        ("ELBO", "elbo_"),
    ):
        value = getattr(model, attr, None)
        if value is not None and np.ndim(value) == 0:
            rows.append((label, value))
    n_clusters = getattr(model, "n_clusters_samples_", None)
    if n_clusters is not None:
        n_clusters = np.asarray(n_clusters)
        rows.append(("chains x kept draws", "{} x {}".format(*n_clusters.shape[:2])))
        rows.append(("occupied clusters (posterior mean)", float(n_clusters.mean())))
    return rows


def model_html(model) -> str:
    """HTML summary of a bayesmix estimator: settings, fit statistics and a
    table of component weights and means."""
    name = type(model).__name__
    parts = [_STYLE, '<div class="bayesmix-repr">']
    if not hasattr(model, "weights_"):
        params = [(k, short_repr(v)) for k, v in model.get_params().items()]
        parts.append(_table(params, caption=f"{name} (not fitted)"))
        parts.append("</div>")
        return "".join(parts)
    parts.append(_table(_fit_rows(model), caption=name))
    weights = np.asarray(model.weights_)
    means = np.asarray(model.means_)
    n_components, n_features = means.shape
    names = _feature_names(model, n_features)
    shown_features = min(n_features, _MAX_COLS)
    header = ["component", "weight"] + [f"mean {n}" for n in names[:shown_features]]
    if shown_features < n_features:
        header.append("...")
    # A variational fit keeps empty slots (its truncation level): list only the
    # components that describe data, and say how many were left out.
    effective = getattr(model, "effective_components_", None)
    listed = np.arange(n_components)
    if effective is not None and np.shape(effective) == (n_components,):
        listed = np.flatnonzero(np.asarray(effective, dtype=bool))
    rows = []
    for k in listed[:_MAX_ROWS]:
        row = [int(k), weights[k], *means[k, :shown_features]]
        if shown_features < n_features:
            row.append("...")
        rows.append(row)
    blank = [""] * (len(header) - 2)
    if listed.size > _MAX_ROWS:
        rows.append([f"... {listed.size - _MAX_ROWS} more", "", *blank])
    if listed.size < n_components:
        rows.append([f"{n_components - listed.size} empty not shown", "", *blank])
    parts.append(_table(rows, header=header))
    parts.append("</div>")
    return "".join(parts)


def posterior_html(posterior) -> str:
    """HTML summary of a :class:`~bayesmix.posterior.MixturePosterior` from its
    stored draws only (no pass over the data, so displaying it is cheap)."""
    weights = np.asarray(posterior.weights)  # (chains, draws, K)
    means = np.asarray(posterior.means)  # (chains, draws, K, D)
    n_chains, n_draws, n_components = weights.shape
    n_features = means.shape[3]
    rows = [
        ("kind", posterior.kind),
        ("chains x draws", f"{n_chains} x {n_draws}"),
        ("component slots", n_components),
        ("features", n_features),
        ("rows of data", "none" if posterior.X is None else posterior.X.shape[0]),
        ("relabelling converged", getattr(posterior, "relabel_converged", "n/a")),
    ]
    parts = [_STYLE, '<div class="bayesmix-repr">']
    parts.append(_table(rows, caption=type(posterior).__name__))
    flat_w = weights.reshape(-1, n_components)
    flat_m = means.reshape(-1, n_components, n_features)
    mean_w = flat_w.mean(axis=0)
    lower, upper = np.quantile(flat_w, [0.05, 0.95], axis=0)
    shown = np.flatnonzero(mean_w >= 0.005)[:_MAX_ROWS]
    names = posterior.feature_names or [f"x{j}" for j in range(n_features)]
    shown_features = min(n_features, _MAX_COLS)
    header = ["component", "weight", "90% interval"]
    header += [f"mean {n}" for n in names[:shown_features]]
    table = []
    for k in shown:
        used = np.isfinite(flat_m[:, k, 0])
        centre = flat_m[used, k, :shown_features].mean(axis=0) if used.any() else [np.nan]
        row = [k, mean_w[k], f"{lower[k]:.3g} - {upper[k]:.3g}", *np.atleast_1d(centre)]
        table.append(row)
    hidden = n_components - shown.size
    if hidden:
        table.append([f"{hidden} slot(s) with mean weight < 0.005 not shown", "", ""])
    parts.append(_table(table, header=header))
    parts.append("</div>")
    return "".join(parts)
