"""Command line: ``bayesmix demo`` and ``bayesmix fit data.csv``.

``python -m bayesmix demo`` fits the bundled data with every engine, prints
the model-selection table and a posterior summary, and writes its figures as
PNG files.  ``bayesmix fit data.csv --out DIR`` fits a table (CSV, TSV or
Parquet, read by :mod:`bayesmix._cli_table`) and writes a JSON summary, the
labels with their assignment uncertainty (and the rows' IDs), the saved model
and PNG figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ._cli_table import CLIError, read_table

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# mclust's models (bayesmix.covariance.MCLUST_MODELS, named here so that the CLI
# starts without importing the numerical modules; a test keeps the two equal)
MCLUST_MODELS = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
MCLUST_MODELS_1D = ("E", "V")
# the types the Bayesian engines have (conjugate priors), under both names
CONJUGATE_TYPES = (*COVARIANCE_TYPES, "VVV", "EEE", "VVI", "VII")


def _engine_class(method: str):
    """The engine class for ``--method`` (imported on demand: the CLI starts fast)."""
    from . import DirichletProcessMixture, GaussianMixture, VariationalGaussianMixture

    return {
        "em": GaussianMixture,
        "vb": VariationalGaussianMixture,
        "gibbs": DirichletProcessMixture,
    }[method]


def _progress(quiet: bool):
    """A printer for progress lines on stderr (stdout stays machine-readable)."""

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    return say


@contextlib.contextmanager
def _warnings_as_lines():
    """Show the fit's warnings (non-convergence, regularised components) as one
    line each on stderr, instead of Python's two-line format with source code."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
        print(f"bayesmix: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------- reading
def read_csv(path: Path, columns=None, header: bool | None = None):
    """Read a numeric table; returns ``(X, feature names)`` (see :func:`read_table`)."""
    table = read_table(path, columns=columns, header=header)
    return table.X, table.names


def _names(values) -> list[str]:
    """Column names from repeated and/or comma-separated option values."""
    names = []
    for value in values or ():
        names.extend(v.strip() for v in value.split(",") if v.strip())
    return names


def _check_out(out: Path) -> None:
    """Refuse an output directory that cannot be written, before anything is fitted."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out}: is a file, not a directory; name a directory")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CLIError(f"--out {out}: {parent} is a file, so the directory cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError(f"--out {out}: {parent} is not writable; choose another directory")


def _make_out(out: Path) -> bool:
    """Create ``out`` and prove it writable; returns whether it was created."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise CLIError(
            f"--out {out}: cannot write there ({exc.strerror}); choose another directory"
        ) from None
    return created


# ---------------------------------------------------------------------- fitting
def _n_init(text: str):
    """``--n-init``: a positive integer or ``auto``."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def _restarts(args) -> dict:
    """``n_init`` for an engine when ``--n-init`` was given; otherwise nothing,
    so the engine's own default applies."""
    return {} if args.n_init is None else {"n_init": args.n_init}


def _select_em(X, ks, covariance_types, n_init, seed, say, names=None):
    """``select_model`` over the grid; returns ``(best model, table_ DataFrame)``.

    A fit that fails stays in the table with NaN criteria (mclust's "no
    value"), so one bad cell of the grid does not stop the selection.
    """
    from .exceptions import ConvergenceWarning
    from .selection import select_model

    ks = list(ks)
    n_fits = len(ks) * len(covariance_types)
    say(
        f"fitting {n_fits} EM models ({', '.join(covariance_types)}; K = {ks[0]}..{ks[-1]}; "
        + ("the hierarchical start shared by the grid" if n_init is None else f"n_init={n_init}")
        + ") ..."
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        # the table's "converged" column reports it; the summary says so too
        warnings.simplefilter("ignore", ConvergenceWarning)
        restarts = {} if n_init is None else {"n_init": n_init}
        selection = select_model(X, ks, tuple(covariance_types), random_state=seed, **restarts)
    say(f"... {n_fits} fits in {time.perf_counter() - start:.1f} s")
    best = selection.best_
    if best is not None and names is not None:
        # select_model fits arrays; keep the column names as fitting a DataFrame would
        best.feature_names_in_ = np.asarray(names, dtype=object)
    return best, selection.table_


def _format_table(table) -> str:
    header = f"{'covariance':>10} {'K':>3} {'log-lik':>11} {'params':>6} {'BIC':>10} {'ICL':>10}"
    lines = [header]

    def num(value, width: int, digits: int) -> str:
        # a failed fit has no numbers: a dash, not a stale value
        return f"{'-':>{width}}" if not np.isfinite(value) else f"{value:>{width}.{digits}f}"

    for r in table.to_dict("records"):
        line = (
            f"{r['covariance_type']:>10} {r['n_components']:>3} {num(r['log_likelihood'], 11, 2)} "
            f"{num(r['n_parameters'], 6, 0)} {num(r['bic'], 10, 2)} {num(r['icl'], 10, 2)}"
        )
        if r.get("error"):
            line += f"  failed: {r['error']}"
        elif not r.get("converged", True):
            line += "  (not converged)"
        lines.append(line)
    return "\n".join(lines)


def _fit_model(X, args, say):
    """The fitted model and, for ``--components auto`` with EM, the grid rows."""
    auto = args.components == "auto"
    k = None if auto else _positive_int(args.components, "--components")
    cov = args.covariance
    if args.method == "em":
        every = MCLUST_MODELS_1D if X.shape[1] == 1 else MCLUST_MODELS
        types = every if cov == "auto" else (cov,)
        distinct = len(np.unique(np.asarray(X), axis=0))
        ks = list(range(1, min(9, distinct) + 1)) if auto else [k]
        if len(ks) * len(types) > 1:
            model, table = _select_em(
                np.asarray(X), ks, types, args.n_init, args.seed, say, names=list(X.columns)
            )
            if model is None:
                reasons = "; ".join(dict.fromkeys(e for e in table["error"] if e))
                raise CLIError(f"every EM fit of the grid failed ({reasons})")
            return model, table
        cls = _engine_class("em")
        say(f"EM {types[0]} K={k} ...")
        return cls(k, covariance_type=types[0], random_state=args.seed, **_restarts(args)).fit(
            X
        ), None
    if args.method == "vb":
        cls = _engine_class("vb")
        k = min(10, len(X)) if auto else k
        ct = "full" if cov == "auto" else cov
        if ct not in CONJUGATE_TYPES:
            raise CLIError(
                f"--covariance {ct} is fitted by EM only; --method vb takes one of "
                f"{', '.join(CONJUGATE_TYPES)} (or use --method em)"
            )
        say(f"variational Bayes, {ct} covariances, truncation K={k} ...")
        return cls(
            n_components=k, covariance_type=ct, random_state=args.seed, **_restarts(args)
        ).fit(X), None
    cls = _engine_class("gibbs")
    if not auto:
        raise CLIError(
            "--method gibbs infers the number of components itself (Dirichlet process); "
            "use --components auto"
        )
    if cov not in ("auto", "full", "VVV"):
        raise CLIError("--method gibbs fits full covariances; use --covariance full or auto")
    model = cls(random_state=args.seed)
    settings = {"progress": not args.quiet}
    if args.n_iter is not None:
        settings["n_iter"] = args.n_iter
    model.set_params(**{k: v for k, v in settings.items() if k in model.get_params()})
    say("collapsed Gibbs sampler (Dirichlet process) ...")
    return model.fit(X), None


def _positive_int(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CLIError(f"{option} must be 'auto' or a positive integer, got {text!r}") from None
    if value < 1:
        raise CLIError(f"{option} must be 'auto' or a positive integer, got {value}")
    return value


# ---------------------------------------------------------------------- writing
def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


def _full_covariances(model) -> np.ndarray:
    from .covariance import get_structure

    k, d = model.means_.shape
    return get_structure(getattr(model, "covariance_type", "full")).to_full(
        np.asarray(model.covariances_), k, d
    )


def _model_summary(model, X) -> dict:
    out = {
        "model": type(model).__name__,
        "n_components": int(model.means_.shape[0]),
        "covariance_type": getattr(model, "covariance_type", "full"),
        "weights": model.weights_,
        "means": model.means_,
        "covariances": _full_covariances(model),
        "converged": getattr(model, "converged_", None),
        "n_iter": getattr(model, "n_iter_", None),
        "mean_log_density": model.score(X),
    }
    for attr in ("log_likelihood_", "elbo_", "n_effective_components_"):
        if hasattr(model, attr):
            out[attr.rstrip("_")] = getattr(model, attr)
    for criterion in ("bic", "aic", "icl"):
        if hasattr(model, criterion):
            out[criterion] = getattr(model, criterion)(X)
    restarts = getattr(model, "chain_restarts_", None)
    if restarts is not None and len(restarts):
        out["chain_restarts"] = [
            {"chain": int(c), "continued_from": int(src), "log_mass_gap": float(gap)}
            for c, src, gap in restarts
        ]
    if hasattr(model, "n_clusters_samples_"):
        draws = np.asarray(model.n_clusters_samples_).ravel()
        ks, counts = np.unique(draws, return_counts=True)
        out["posterior_n_components"] = {
            int(k): c / draws.size for k, c in zip(ks, counts, strict=True)
        }
    return out


# features in a pairs plot when --features is not given: a grid of n x n
# panels costs about n^2 (11 features: 20 s a figure; 64: thousands of panels)
MAX_PAIRS = 6


def _separating_features(model, n: int) -> list[int]:
    """The ``n`` features the fitted components separate most, most first: the
    share of each feature's mixture variance that lies between the component
    means (the R^2 of the feature on the components, as in a one-way ANOVA)."""
    weights = np.asarray(model.weights_, dtype=float)
    weights = weights / weights.sum()
    means = np.asarray(model.means_, dtype=float)
    centre = weights @ means
    between = weights @ (means - centre) ** 2
    within = weights @ np.diagonal(_full_covariances(model), axis1=1, axis2=2)
    share = between / np.maximum(between + within, np.finfo(float).tiny)
    return [int(j) for j in np.argsort(-share, kind="stable")[:n]]


def _save_figures(model, X, rows, out: Path, prefix: str = "", features=None) -> list[Path]:
    """The figures of a fit as PNG files.  With more than two features (or
    ``features`` naming more than two) the components, classification and
    uncertainty figures are pairs plots over those features."""
    import matplotlib.pyplot as plt

    from . import plotting

    written = []

    def save(ax, name, title=None):
        grid = isinstance(ax, np.ndarray)  # a pairs plot: one title for the grid
        fig = ax.flat[0].figure if grid else ax.figure
        if title and grid:
            fig.suptitle(title, y=1.01)
        elif title:
            ax.set_title(title)
        path = out / f"{prefix}{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    names = list(X.columns) if hasattr(X, "columns") else None
    idx = [names.index(f) for f in features] if features and names else None
    n_shown = len(idx) if idx else X.shape[1]
    pair = tuple(idx[:2]) if idx and len(idx) >= 2 else (0, 1)
    label = f"{type(model).__name__}, K={model.means_.shape[0]}"
    if getattr(model, "n_effective_components_", None) is not None:
        label += f" ({model.n_effective_components_} effective)"
    if n_shown > 2:
        for kind, title in (
            ("components", label),
            ("classification", "classification"),
            ("uncertainty", "assignment uncertainty"),
        ):
            axes = plotting.plot_pairs(model, X, kind=kind, features=idx)
            save(axes, kind, title)
        save(plotting.plot_density(model, X, features=pair), "density", "fitted density")
    else:
        save(plotting.plot_components(model, X, features=pair), "components", label)
        save(plotting.plot_density(model, X, features=pair), "density", "fitted density")
        save(
            plotting.plot_uncertainty(model, X, features=pair),
            "uncertainty",
            "assignment uncertainty",
        )
    if getattr(model, "lower_bounds_", None):
        save(plotting.plot_convergence(model), "convergence", "convergence")
    if rows is not None:
        save(plotting.plot_criterion(rows), "criterion", "model selection")
    draws = getattr(model, "n_clusters_samples_", None)
    if draws is not None:
        save(plotting.plot_n_components(np.asarray(draws)), "n_components", "posterior of K")
        save(
            plotting.plot_trace(np.asarray(draws), name="occupied components"),
            "trace_n_components",
        )
    return written


def _fit_command(args) -> int:
    import matplotlib

    matplotlib.use("Agg")

    say = _progress(args.quiet)
    out = Path(args.out)
    _check_out(out)  # before reading and fitting: a long fit must not end in a write error
    table = read_table(
        Path(args.data),
        columns=_names(args.columns) or None,
        exclude=_names(args.exclude),
        id_column=args.id_column,
        header=False if args.no_header else None,
        delimiter=args.delimiter,
        allow_missing=True,  # every engine treats NaN as missing at random
    )
    X, names = table.X, table.names
    if X.shape[0] < 2:
        raise CLIError(f"{args.data}: a mixture needs at least 2 data rows, got {X.shape[0]}")
    say(f"read {X.shape[0]} rows x {X.shape[1]} columns {names} from {args.data}")
    for note in table.notes:
        say(f"  {note}")
    if table.n_missing:
        n_rows = int(np.isnan(X).any(axis=1).sum())
        say(
            f"  {table.n_missing} of {X.size} cells are missing (in {n_rows} rows): treated "
            "as missing at random (each row's likelihood over its observed columns); "
            "the figures draw those rows at their conditional expectation (imputed)"
        )
    import pandas as pd  # a dependency of xarray, hence of arviz-base

    # a DataFrame, so the model keeps the column names (feature_names_in_)
    data = pd.DataFrame(X, columns=names)
    plot_features = _names(args.features) or None
    if plot_features:
        unknown = [f for f in plot_features if f not in names]
        if unknown:
            raise CLIError(f"--features: {unknown[0]!r} is not a fitted column; they are {names}")
        if len(plot_features) < 2 and len(names) > 1:
            raise CLIError("--features needs at least two columns (a pair to plot)")
    created = _make_out(out)
    try:
        with _warnings_as_lines():
            model, rows = _fit_model(data, args, say)
    except (ValueError, CLIError) as exc:  # the estimators' own messages name the cure
        if created and not any(out.iterdir()):
            out.rmdir()
        raise CLIError(str(exc)) from None

    n_effective = getattr(model, "n_effective_components_", None)
    if n_effective is not None and n_effective == model.n_components > 1:
        # a truncated Dirichlet process that uses every component may be cut
        # short by the truncation (R's quakes: 10 of 10)
        print(
            f"bayesmix: warning: all {n_effective} components are effective: the "
            "truncation may be too small for these data; refit with --components "
            f"{2 * n_effective}",
            file=sys.stderr,
        )
    resp = model.predict_proba(data)
    labels = resp.argmax(axis=1)
    uncertainty = 1.0 - resp.max(axis=1)
    labels_path = out / "labels.csv"
    if table.ids is not None:
        id_name = table.id_name if table.id_name not in ("label", "uncertainty") else "id"
        ids = table.ids.to_numpy()
    else:
        id_name, ids = "row", np.arange(1, X.shape[0] + 1)
    pd.DataFrame(
        {id_name: ids, "label": labels, "uncertainty": [f"{u:.6g}" for u in uncertainty]}
    ).to_csv(labels_path, index=False)
    model_path = out / "model.npz"
    model.save(model_path)
    # the figures show missing cells at their conditional expectation under the fit
    shown = data if not table.n_missing else pd.DataFrame(model.impute(data), columns=names)
    if plot_features is None and len(names) > MAX_PAIRS:
        plot_features = [names[j] for j in _separating_features(model, MAX_PAIRS)]
        say(
            f"  figures: the {MAX_PAIRS} of {len(names)} features the components separate "
            f"most ({', '.join(plot_features)}); choose others with --features"
        )
    figures = _save_figures(model, shown, rows, out, features=plot_features)

    summary = {
        "data": str(args.data),
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "features": names,
        "id_column": table.id_name,
        "n_missing_cells": table.n_missing,
        # what the figures draw for a row with missing cells
        "figures_missing_cells": "imputed: conditional expectation under the fit"
        if table.n_missing
        else None,
        "method": args.method,
        **_model_summary(model, data),
        "figures_features": plot_features or names,
        "label_counts": np.bincount(labels, minlength=model.means_.shape[0]),
        "mean_uncertainty": float(uncertainty.mean()),
        "selection": None if rows is None else rows.to_dict("records"),
        "files": [str(p) for p in (labels_path, model_path, *figures)],
    }
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(_jsonable(summary), indent=2, allow_nan=False) + "\n")
    if rows is not None:
        print(_format_table(rows))
        print()
    occupied = np.flatnonzero(np.bincount(labels, minlength=model.means_.shape[0]))
    if rows is not None:
        print(f"best by BIC: {model.covariance_type}, K={model.n_components}")
    print(
        f"{type(model).__name__}: {occupied.size} occupied component(s) of "
        f"{model.means_.shape[0]}, mean assignment uncertainty {uncertainty.mean():.3f}"
    )
    draws = getattr(model, "n_clusters_samples_", None)
    if draws is not None:
        # the sampler's answer is a distribution over K; the labels above are
        # the point estimate's, whose count can differ from the mode
        print(_posterior_k_line(np.asarray(draws).ravel()))
    for c, src, gap in getattr(model, "chain_restarts_", ()):
        print(
            f"chain {int(c)} was stranded in a mode of {gap:.0f} nats less posterior mass than "
            f"chain {int(src)}'s and continued from its state (its earlier draws are burn-in)"
        )
    print(f"wrote {summary_path}, {labels_path}, {model_path} and {len(figures)} figures to {out}")
    return 0


def _posterior_k_line(draws: np.ndarray) -> str:
    """The posterior of the number of occupied components in one line: its
    mode with probability, and the smallest set of values around the mode
    holding at least 90% of the draws."""
    ks, counts = np.unique(draws, return_counts=True)
    p = counts / counts.sum()
    lo = hi = int(np.argmax(p))
    while p[lo : hi + 1].sum() < 0.9:  # grow towards the more probable side
        left = p[lo - 1] if lo > 0 else -1.0
        right = p[hi + 1] if hi + 1 < p.size else -1.0
        lo, hi = (lo - 1, hi) if left >= right else (lo, hi + 1)
    mode = int(ks[np.argmax(p)])
    return (
        f"posterior of the number of occupied components: mode {mode} "
        f"(probability {p.max():.2f}), {ks[lo]}..{ks[hi]} with {p[lo : hi + 1].sum():.2f}"
    )


# ------------------------------------------------------------------------- demo
def _demo(out: Path, quick: bool, quiet: bool) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plotting
    from .datasets import load_faithful, load_galaxies

    say = _progress(quiet)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(ax, name, title):
        ax.set_title(title)
        path = out / f"{name}.png"
        ax.figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)
        written.append(path)

    np.set_printoptions(precision=3, suppress=True)
    X = load_faithful(as_frame=True)
    print("Old Faithful: 272 eruptions (duration, waiting time to the next)\n")
    print(
        f"1. EM, every covariance type and K = 1..{3 if quick else 6}, select_model's "
        "defaults; lower BIC is better\n"
    )
    gm, rows = _select_em(
        X.to_numpy(), range(1, 4 if quick else 7), COVARIANCE_TYPES, None, 0, say, list(X.columns)
    )
    print(_format_table(rows))
    print(f"\nbest by BIC: {gm.covariance_type} covariances, K={gm.n_components}")
    print("weights", gm.weights_)
    print("means\n", gm.means_)
    save(plotting.plot_criterion(rows), "faithful_bic", "Old Faithful: BIC by model")
    save(
        plotting.plot_components(gm, X),
        "faithful_em",
        f"EM, {gm.covariance_type}, K={gm.n_components}",
    )
    save(plotting.plot_uncertainty(gm, X), "faithful_uncertainty", "EM: assignment uncertainty")
    save(plotting.plot_density(gm, X), "faithful_density", "EM: fitted density")

    vb_cls = _engine_class("vb")
    print("\n2. Variational Bayes, Dirichlet-process weights truncated at K=10\n")
    say("fitting variational Bayes ...")
    with _warnings_as_lines():
        vb = vb_cls(n_components=10, random_state=0).fit(X)
    print(
        f"effective components: {vb.n_effective_components_} of 10; "
        f"ELBO {vb.elbo_:.2f} after {vb.n_iter_} iterations"
    )
    keep = np.flatnonzero(vb.effective_components_)
    print("weights", vb.weights_[keep])
    print("means\n", vb.means_[keep])
    save(plotting.plot_components(vb, X), "faithful_vb", "variational Bayes (DP, K <= 10)")
    save(plotting.plot_convergence(vb), "faithful_vb_elbo", "variational Bayes: ELBO")

    G = load_galaxies(unit=1000.0)
    dp_cls = _engine_class("gibbs")
    print("\n3. Collapsed Gibbs sampler, Dirichlet-process mixture, galaxy velocities")
    print("   (82 galaxies, 1000 km/s)\n")
    model = dp_cls(random_state=0)
    settings = {"n_chains": 2, "progress": not quiet}
    if quick:
        settings.update(n_iter=300, burn_in=100)
    model.set_params(**{k: v for k, v in settings.items() if k in model.get_params()})
    say("running the Gibbs sampler ...")
    with _warnings_as_lines():
        model.fit(G)
    draws = np.asarray(model.n_clusters_samples_)
    ks, counts = np.unique(draws, return_counts=True)
    print("posterior of the number of occupied components:")
    for k, c in zip(ks, counts, strict=True):
        print(f"   K={k:>2}: {c / draws.size:.3f}")
    save(plotting.plot_n_components(draws), "galaxies_n_components", "galaxies: posterior of K")
    save(
        plotting.plot_rank(draws, name="occupied components"),
        "galaxies_rank",
        "galaxies: rank plot of K",
    )
    posterior = _posterior(model)
    grid = np.linspace(5.0, 40.0, 300)
    band = posterior.density(grid[:, None], ci=0.9)
    ax = plotting.plot_density_band(grid, band.mean, band.lower, band.upper, data=G)
    ax.set_xlabel("velocity (1000 km/s)")
    save(ax, "galaxies_density", "galaxies: posterior density, 90% band")
    save(
        plotting.plot_coclustering(posterior),
        "galaxies_coclustering",
        "galaxies: co-clustering",
    )
    given = posterior.given_n_components()
    print(
        f"\nposterior summary given the most probable K={given.attrs['given_n_components']} "
        f"({100 * given.attrs['draws_kept']:.0f}% of the draws, relabelled among themselves):"
    )
    print(given.summary(ci=0.9, var_names=["weights", "means"]).round(3).to_string())

    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _posterior(model):
    """The model's :class:`MixturePosterior`; convergence warnings are printed
    as notes: the demo reports, it does not fail."""
    from .exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        post = model.posterior()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"note: {w.message}")
    return post


# ------------------------------------------------------------------------- main
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help shows its default, except flags and unset options
    (their help says what happens without them)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    fmt = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="bayesmix",
        description="Gaussian mixtures by EM, variational Bayes and collapsed Gibbs sampling.",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit the bundled data with every engine and write plots", formatter_class=fmt
    )
    demo.add_argument("--out", type=Path, default=Path("bayesmix-demo"), help="output directory")
    demo.add_argument("--quick", action="store_true", help="a smaller grid and shorter chains")
    demo.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    fit = sub.add_parser(
        "fit",
        help="fit a table (CSV, TSV, Parquet) and write a summary, labels, plots",
        formatter_class=fmt,
        description=(
            "Fit a Gaussian mixture to the numeric columns of a table. The delimiter is "
            "sniffed (comma, semicolon, tab, bar); an unnamed first column (the index "
            "pandas' to_csv writes) and a column named like an identifier holding distinct "
            "integers are taken as row IDs, not features, and said so; text columns must "
            "be left out with --exclude."
        ),
    )
    fit.add_argument("data", help="CSV / TSV / Parquet file: one row per observation")
    fit.add_argument("--method", choices=("em", "vb", "gibbs"), default="em", help="engine")
    fit.add_argument(
        "--components",
        default="auto",
        help="'auto' (EM: choose K by BIC; VB: truncation 10; Gibbs: DP) or an integer",
    )
    fit.add_argument(
        "--covariance",
        choices=(*COVARIANCE_TYPES, *MCLUST_MODELS, *MCLUST_MODELS_1D, "auto"),
        default="auto",
        help=(
            "covariance type: scikit-learn's four or mclust's names ('auto': EM compares "
            "mclust's 14 models by BIC, VB and Gibbs use full; VB takes "
            "full/tied/diag/spherical = VVV/EEE/VVI/VII only)"
        ),
    )
    fit.add_argument("--out", type=Path, default=Path("bayesmix-out"), help="output directory")
    fit.add_argument(
        "--columns", action="append", help="columns to fit, comma-separated (default: all)"
    )
    fit.add_argument(
        "--exclude",
        action="append",
        metavar="NAME",
        help="columns to leave out, comma-separated or repeated (text columns must be)",
    )
    fit.add_argument(
        "--id-column",
        metavar="NAME",
        help="a column of row IDs: not fitted, written as the first column of labels.csv "
        "(default: an unnamed first column, or a column named like an identifier)",
    )
    fit.add_argument("--delimiter", help="field separator, e.g. ';' or '\\t' (default: sniffed)")
    fit.add_argument(
        "--features",
        action="append",
        metavar="NAMES",
        help="columns to draw, comma-separated (default: all, at most "
        f"{MAX_PAIRS}: those the components separate most; with more than two, the "
        "components, classification and uncertainty figures are pairs plots)",
    )
    fit.add_argument("--no-header", action="store_true", help="the first line is data")
    fit.add_argument(
        "--n-init",
        type=_n_init,
        default=None,
        help="restarts for EM and VB: an integer or 'auto' (default: the API's own, the same "
        "answer as a script gets: 'auto' for one EM fit and for VB; one hierarchical start "
        "shared by the grid when EM chooses K, as mclust)",
    )
    fit.add_argument("--n-iter", type=int, default=None, help="Gibbs sweeps per chain")
    fit.add_argument("--seed", type=int, default=0, help="random seed")
    fit.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main(argv=None) -> int:
    """Entry point of the ``bayesmix`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if getattr(args, "delimiter", None) is not None:
        args.delimiter = {"\\t": "\t", "tab": "\t"}.get(args.delimiter, args.delimiter)
    try:
        if args.command == "demo":
            return _demo(args.out, args.quick, args.quiet)
        return _fit_command(args)
    except CLIError as exc:
        print(f"bayesmix: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bayesmix: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
