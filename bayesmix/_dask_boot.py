"""The EM bootstrap on Dask arrays: replicate weights drawn chunk by chunk.

:func:`bayesmix.bootstrap_em` (and ``GaussianMixture.posterior``) hands Dask
input to :func:`bootstrap`.  A replicate's weights must not need the whole
data in one place, so they are drawn independently per row, in each chunk by
its own generator seeded by the replicate's seed and the chunk's position
(deterministic for a ``random_state`` and a chunking; no data move):

* ``"nonparametric"``: the **Poisson bootstrap** -- each row's count is
  ``Poisson(w_i)`` instead of the multinomial's counts with a fixed total.  The
  multinomial's counts are Poisson counts conditioned on their sum, and the two
  give the same intervals to ``O(1/n)`` (Hanley & MacGibbon 2006; Chamandy,
  Muralidharan, Najmi & Naidu 2012 use it at Google for data that live on many
  machines);
* ``"weighted"``: the weighted-likelihood (Bayesian) bootstrap, **exactly**:
  ``Exponential(1)`` weights (``Gamma(w_i)`` for integer weights ``w_i``) are
  Dirichlet weights up to their total, which EM ignores (Rubin 1981; Newton &
  Raftery 1994).

Each replicate is then refitted as in memory (:func:`bayesmix._replicates.refit`:
the full-data fit as the first start, four screened starts besides, run to
``tol="auto"``), through the Dask EM, one replicate after another (Dask
spreads each replicate's passes over the workers).  The posterior carries no
observed data (``X`` is not pulled into memory).
"""

from __future__ import annotations

import numpy as np

from . import _dask
from ._process_state import capturing_warnings, warning_sink
from ._replicates import aligned, refit, replicate_params, warn_troubles
from ._validation import (
    check_choice,
    check_fitted,
    check_int,
    check_random_state,
)

__all__ = ["bootstrap"]


def _chunk_weights(w, n_rows: int, seed: int, index: int, method: str, counts_like: bool):
    """One chunk's replicate weights (n_rows,) from its own generator."""
    rng = np.random.default_rng([seed, index])
    w = np.ones(n_rows) if w is None else np.asarray(w, dtype=np.float64)
    if method == "nonparametric":
        if counts_like:
            return rng.poisson(w).astype(np.float64)
        return w * rng.poisson(1.0, n_rows)
    return rng.standard_gamma(w) if counts_like else w * rng.standard_exponential(n_rows)


def replicate_weights(X, w, seed: int, method: str, counts_like: bool):
    """Lazy replicate weights of the rows of the Dask array ``X`` (original
    weights ``w``, a Dask array or None), one block per row chunk."""
    import dask
    import dask.array as da

    call = dask.delayed(_chunk_weights, pure=True)
    ws = [None] * len(X.chunks[0]) if w is None else list(w.to_delayed().ravel())
    blocks = [
        da.from_delayed(call(wc, n, seed, i, method, counts_like), (n,), dtype=np.float64)
        for i, (wc, n) in enumerate(zip(ws, X.chunks[0], strict=True))
    ]
    return da.concatenate(blocks)


def _refit(params: dict, X, weights):
    """A replicate's refit (:func:`bayesmix._replicates.refit`) through the Dask EM."""
    return refit(
        params,
        lambda config, rng: _dask.prepare(X, weights, config.n_components, rng, allow_missing=True),
    )


def bootstrap(model, X, n_boot, method, sample_weight, random_state):
    """:func:`bayesmix.bootstrap_em` for Dask input (module docstring)."""
    import dask

    from .posterior import MixturePosterior

    check_fitted(model)
    n_boot = check_int(n_boot, "n_boot", low=1)
    check_choice(method, "method", ("nonparametric", "weighted"))
    X, w = _dask._as_dask_pair(X, sample_weight, allow_missing=True)
    if X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model was fitted with "
            f"{model.n_features_in_}; pass the data used in fit."
        )
    counts_like = True
    if w is not None:
        counts_like = bool(dask.compute((w == w.round()).all())[0])
    rng = check_random_state(random_state)
    params = replicate_params(model)
    seeds = rng.integers(0, 2**63 - 1, size=n_boot)
    weight_seeds = rng.integers(0, 2**63 - 1, size=n_boot)
    caught: list[str] = []
    fits = []
    with capturing_warnings(), warning_sink(caught):
        for b in range(n_boot):
            wb = replicate_weights(X, w, int(weight_seeds[b]), method, counts_like)
            try:
                fits.append(_refit({**params, "random_state": int(seeds[b])}, X, wb))
            except (ValueError, np.linalg.LinAlgError) as exc:
                fits.append(str(exc))
    weights, means, covs = aligned(model, warn_troubles(model, n_boot, fits, caught, 3))
    return MixturePosterior.from_draws(
        weights[None],
        means[None],
        covs[None],
        relabel=False,
        feature_names=getattr(model, "feature_names_in_", None),
        kind="bootstrap",
        random_state=rng,
        attrs={"bootstrap_method": f"{method} (per-chunk draws)", "n_boot": n_boot},
    )
