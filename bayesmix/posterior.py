"""The common posterior-summary layer: one class for the draws of every engine.

:class:`MixturePosterior` wraps ``(chain, draw, ...)`` draws of a Gaussian
mixture's parameters, whichever engine made them:

========== ======================================= ==========================
kind        what a draw is                          chains
========== ======================================= ==========================
bootstrap   an EM fit to a resampled / reweighted   one (independent draws)
            data set (:func:`bootstrap_em`)
variational a draw from the variational posterior   one (independent draws)
gibbs       component parameters drawn from the     Markov chains
            NIW posterior of a sampled partition
========== ======================================= ==========================

Label-invariant and component-specific quantities
-------------------------------------------------
*Label-invariant* quantities do not depend on how components are numbered and
are reported exactly as drawn: the pointwise and total log-likelihood, the
number of occupied components (:meth:`MixturePosterior.n_components`), the
density at given points (:meth:`~MixturePosterior.density`), the co-clustering
matrix and the point partition.  Convergence diagnostics use only these.

*Component-specific* quantities (``weights``, ``means``, ``covariances`` and
the labels of a partition) are meaningful only after every draw has been
relabelled to a common numbering; :meth:`MixturePosterior.from_draws` does that
(Stephens' algorithm on allocation probabilities, started from the draw of
highest likelihood; see :mod:`bayesmix._relabel`) before anything is stored.
When the posterior is genuinely multimodal in the labels, component summaries
describe the relabelled posterior and should be read with that in mind.
When the number of occupied components varies between draws, read component
summaries from :meth:`MixturePosterior.given_n_components`: the draws of the
most probable size, relabelled among themselves.

Partitions
----------
The Gibbs engine hands over its sampled partitions.  For the other engines
each draw's partition is sampled from that draw's responsibilities (one
categorical draw per row, from ``random_state``), so the posterior of a
partition combines parameter uncertainty and classification uncertainty in the
same way for every engine.  A component is *occupied* in a draw when its
partition gives it at least one row.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from . import _partition, _relabel
from ._kernels import log_prob_pass
from ._validation import (
    check_choice,
    check_int,
    check_random_state,
    check_real,
    check_sample_weight,
    check_X,
)
from .covariance import gaussian_log_const
from .exceptions import ConvergenceWarning

__all__ = ["DensityBand", "MixturePosterior", "bootstrap_em"]

KINDS = ("bootstrap", "variational", "gibbs")
_INDEPENDENT_KINDS = ("bootstrap", "variational")
RHAT_THRESHOLD = 1.01
_RELABEL_BUDGET = 20_000_000  # draws x rows x components held for relabelling


class DensityBand(NamedTuple):
    """Posterior mean and equal-tailed credible band of the mixture density at
    given points, each of shape (n_points,)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _as_float(value, name, ndim, shape_hint):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers {shape_hint}.") from None
    if arr.ndim != ndim:
        cure = (
            "add a chain axis with arr[None] for a single chain"
            if arr.ndim == ndim - 1 and name != "covariances"
            else "pass one value per chain and draw"
        )
        if name == "covariances":
            cure = "pass full matrices (expand diag, spherical or tied types)"
        raise ValueError(
            f"{name} must have shape {shape_hint}, got an array of shape {arr.shape}; {cure}."
        )
    return arr


class MixturePosterior:
    """Draws of a Gaussian mixture from any engine, relabelled and summarised.

    Build it with :meth:`from_draws`; the engines' ``posterior()`` methods do.

    Attributes
    ----------
    kind : {"bootstrap", "variational", "gibbs"}
    weights : (n_chains, n_draws, n_components)
        Relabelled; unused slots have weight 0.  Components unused in every
        draw are dropped, so ``n_components`` here is the largest number of
        components any draw uses (after relabelling).
    means : (n_chains, n_draws, n_components, n_features)
        Relabelled; NaN for unused slots.
    covariances : (n_chains, n_draws, n_components, n_features, n_features)
        Full matrices whatever the covariance type; NaN for unused slots.
    labels : (n_chains, n_draws, n_samples) int or None
        The engine's partitions (Gibbs), relabelled.
    concentration : (n_chains, n_draws) or None
        Draws of a learned Dirichlet-process concentration.
    X, sample_weight, feature_names :
        The data the draws describe (``X`` may be None).
    permutation : (n_chains, n_draws, n_components) int
        ``permutation[c, s, j]`` is the engine's slot that became component ``j``.
    relabel_converged : bool
    """

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                "Build a MixturePosterior with MixturePosterior.from_draws(weights=..., "
                "means=..., covariances=..., ...)."
            )

    # ------------------------------------------------------------ building
    @classmethod
    def from_draws(
        cls,
        weights,
        means,
        covariances,
        *,
        labels=None,
        concentration=None,
        X=None,
        sample_weight=None,
        feature_names=None,
        kind: str = "gibbs",
        relabel: bool = True,
        check_convergence: bool = True,
        random_state=0,
        sample_stats: dict | None = None,
        attrs: dict | None = None,
    ) -> MixturePosterior:
        """Wrap raw draws from an engine.

        Parameters
        ----------
        weights : (n_chains, n_draws, n_components)
            Mixture weights.  A slot with weight 0 or NaN, or with NaN in its
            mean or covariance, is an unused component (Gibbs slots beyond a
            draw's number of clusters).  Weights are normalised to sum to 1 in
            each draw.
        means : (n_chains, n_draws, n_components, n_features)
        covariances : (n_chains, n_draws, n_components, n_features, n_features)
            Full covariance matrices (expand diag / spherical / tied types).
        labels : (n_chains, n_draws, n_samples) int, optional
            Sampled partitions: ``labels[c, s, i]`` is the slot of row ``i`` in
            that draw (it must be a used slot).  Needs ``X``.
        concentration : (n_chains, n_draws), optional
            Draws of a learned concentration parameter.
        X : (n_samples, n_features), optional
            The data; needed for the log-likelihood, partitions, co-clustering
            and data-based relabelling.
        sample_weight : (n_samples,), optional
            Frequency weights of the rows of ``X`` (they weight the total
            log-likelihood).
        feature_names : sequence of str, optional
            Names of the features (taken from a DataFrame ``X`` otherwise).
        kind : {"bootstrap", "variational", "gibbs"}
            What the draws are; "gibbs" draws are Markov chains and get
            convergence diagnostics.
        relabel : bool, default=True
            Undo label switching (``False`` keeps the engine's numbering).
        check_convergence : bool, default=True
            For Markov-chain draws, warn with a
            :class:`~bayesmix.exceptions.ConvergenceWarning` when the R-hat of a
            label-invariant quantity exceeds 1.01.
        random_state : None, int or Generator, default=0
            Seeds the partitions sampled from responsibilities (engines other
            than Gibbs), so the same draws give the same summaries.
        sample_stats : dict of (n_chains, n_draws) arrays, optional
            Engine statistics per draw (e.g. a sampler's ``log_joint``), copied
            to the ``sample_stats`` group of :meth:`to_arviz`.
        attrs : dict, optional
            Extra metadata copied to :meth:`to_arviz`'s root attributes.

        Returns
        -------
        MixturePosterior
        """
        self = cls()
        self.kind = check_choice(kind, "kind", KINDS)
        weights = _as_float(weights, "weights", 3, "(n_chains, n_draws, n_components)")
        n_chains, n_draws, n_components = weights.shape
        if n_chains < 1 or n_draws < 1 or n_components < 1:
            raise ValueError(
                f"weights has shape {weights.shape}; every axis needs length >= 1 "
                "(at least one chain, one draw and one component)."
            )
        means = _as_float(means, "means", 4, "(n_chains, n_draws, n_components, n_features)")
        if means.shape[:3] != weights.shape:
            raise ValueError(
                f"means has shape {means.shape}; its first three axes must match weights "
                f"{weights.shape}."
            )
        n_features = means.shape[3]
        covariances = _as_float(
            covariances,
            "covariances",
            5,
            "(n_chains, n_draws, n_components, n_features, n_features)",
        )
        if covariances.shape != (*means.shape, n_features):
            raise ValueError(
                f"covariances must have shape {(*means.shape, n_features)} (full matrices; "
                f"expand diagonal, spherical or tied types), got {covariances.shape}."
            )

        unused = (
            ~np.isfinite(weights)
            | (weights == 0)
            | ~np.isfinite(means).all(axis=3)
            | ~np.isfinite(covariances).all(axis=(3, 4))
        )
        if (weights[~unused] < 0).any():
            raise ValueError("weights must be non-negative.")
        weights = np.where(unused, 0.0, weights)
        totals = weights.sum(axis=2, keepdims=True)
        if (totals <= 0).any():
            c, s = map(int, np.argwhere(totals[..., 0] <= 0)[0])
            raise ValueError(
                f"draw (chain {c}, draw {s}) has no used component (all weights zero or NaN)."
            )
        weights = weights / totals
        means[unused] = np.nan
        covariances[unused] = np.nan
        self.weights, self.means, self.covariances = weights, means, covariances
        self._unused = unused
        self._prepare_components()

        if concentration is not None:
            concentration = _as_float(concentration, "concentration", 2, "(n_chains, n_draws)")
            if concentration.shape != (n_chains, n_draws):
                raise ValueError(
                    f"concentration must have shape {(n_chains, n_draws)}, got "
                    f"{concentration.shape}."
                )
        self.concentration = concentration

        if X is not None:
            X, names = check_X(X)
            if X.shape[1] != n_features:
                raise ValueError(
                    f"X has {X.shape[1]} features but the draws have {n_features}; pass the "
                    "data the engine was fitted to."
                )
            if feature_names is None and names is not None:
                feature_names = names
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        elif labels is not None or sample_weight is not None:
            raise ValueError("labels and sample_weight describe rows of X; pass X as well.")
        self.X, self.sample_weight = X, sample_weight
        if feature_names is not None:
            feature_names = [str(f) for f in feature_names]
            if len(feature_names) != n_features:
                raise ValueError(
                    f"feature_names has {len(feature_names)} entries but there are "
                    f"{n_features} features."
                )
        self.feature_names = feature_names

        if labels is not None:
            labels = np.asarray(labels)
            if labels.dtype.kind not in "iu":
                raise TypeError("labels must be an integer array.")
            if labels.shape != (n_chains, n_draws, X.shape[0]):
                raise ValueError(
                    f"labels must have shape {(n_chains, n_draws, X.shape[0])} "
                    f"(n_chains, n_draws, n_samples), got {labels.shape}."
                )
            if labels.min() < 0 or labels.max() >= n_components:
                raise ValueError(f"labels must index components, 0 <= label < {n_components}.")
            slot_unused = np.take_along_axis(unused, labels, axis=2)
            if slot_unused.any():
                raise ValueError(
                    "labels assign rows to a component slot with zero weight or NaN "
                    "parameters; every labelled slot must be a used component."
                )
            labels = labels.astype(np.int64)
        self.labels = labels
        # A seed of our own: sampling partitions later must not advance a
        # Generator the caller passed in at some unpredictable time.
        self._seed = int(check_random_state(random_state).integers(0, 2**63 - 1))
        self.attrs = dict(attrs or {})
        self.sample_stats = {}
        for name, value in (sample_stats or {}).items():
            arr = np.asarray(value)
            if arr.shape[:2] != (n_chains, n_draws):
                raise ValueError(
                    f"sample_stats[{name!r}] must have leading shape {(n_chains, n_draws)} "
                    f"(chain, draw), got {arr.shape}."
                )
            self.sample_stats[str(name)] = arr
        self._cache: dict = {}

        n_flat = n_chains * n_draws
        perm = np.tile(np.arange(n_components), (n_flat, 1))
        self.relabel_converged = True
        if relabel and n_components > 1:
            perm, self.relabel_converged = self._relabel_permutation()
            self._apply(perm)
            # Components that no draw uses carry nothing; after relabelling they
            # are whole columns of unused slots (the engines' spare capacity).
            keep = ~self._unused.all(axis=(0, 1))
            if not keep.all():
                self._keep_components(keep)
                perm = perm[:, keep]
        self.permutation = perm.reshape(n_chains, n_draws, -1)

        if check_convergence and self.kind not in _INDEPENDENT_KINDS:
            self._warn_if_not_converged()
        return self

    def _prepare_components(self):
        """Kernel arrays for every draw: ``means`` shifted to the data centre,
        upper precision Cholesky factors and additive constants."""
        _n_chains, n_draws, n_components, n_features = self.means.shape
        unused = self._unused.reshape(-1, n_components)
        means = self.means.reshape(-1, n_components, n_features).copy()
        covs = self.covariances.reshape(-1, n_components, n_features, n_features).copy()
        means[unused] = 0.0
        covs[unused] = np.eye(n_features)
        if not np.allclose(covs, np.swapaxes(covs, -1, -2), rtol=1e-8, atol=1e-12):
            raise ValueError("covariances must be symmetric matrices.")
        try:
            chol = np.linalg.cholesky(covs)
        except np.linalg.LinAlgError:
            bad = np.linalg.eigvalsh(covs)[..., 0] <= 0
            flat, k = map(int, np.argwhere(bad)[0])
            c, s = divmod(flat, n_draws)
            raise ValueError(
                f"covariance of component {k} in chain {c}, draw {s} is not positive definite."
            ) from None
        eye = np.broadcast_to(np.eye(n_features), chol.shape)
        lower_inv = np.linalg.solve(chol, eye)
        self._k_means = means
        self._k_prec = np.ascontiguousarray(np.swapaxes(lower_inv, -1, -2))
        log_det = -np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights.reshape(-1, n_components))
        self._k_log_const = gaussian_log_const(log_w, log_det, n_features)

    # -------------------------------------------------------- kernel passes
    def _pass(self, Xt, flat: int, row_lse=None, resp=None):
        log_prob_pass(
            Xt,
            np.ascontiguousarray(self._k_means[flat] - self._center),
            self._k_prec[flat],
            np.ascontiguousarray(self._k_log_const[flat]),
            row_lse=row_lse,
            resp=resp,
        )

    def _feature_major(self, X):
        """Data centred on the training mean (so large offsets lose no
        precision), feature-major for the kernels."""
        if not hasattr(self, "_center"):
            self._center = (
                self.X.mean(axis=0) if self.X is not None else np.zeros(self.means.shape[-1])
            )
        return np.ascontiguousarray((X - self._center).T)

    def _relabel_permutation(self):
        n_chains, n_draws, n_components, _ = self.means.shape
        n_flat = n_chains * n_draws
        if self.X is None:
            means = self.means.reshape(n_flat, n_components, -1)
            covs = self.covariances.reshape(n_flat, n_components, *self.covariances.shape[-2:])
            return _relabel.match_parameters(means, covs, pivot=0)
        n_samples = self.X.shape[0]
        n_rows = int(min(n_samples, max(50, _RELABEL_BUDGET // (n_flat * n_components))))
        rows = np.unique(np.linspace(0, n_samples - 1, n_rows).round().astype(np.int64))
        Xt = self._feature_major(self.X[rows])
        w = self.sample_weight[rows]
        probs = np.empty((n_flat, rows.size, n_components))
        score = np.empty(n_flat)
        row_lse = np.empty(rows.size)
        resp = np.empty((rows.size, n_components))
        for flat in range(n_flat):
            self._pass(Xt, flat, row_lse=row_lse, resp=resp)
            score[flat] = w @ row_lse
            probs[flat] = resp
        if self.labels is not None:
            probs[:] = 0.0
            lab = self.labels.reshape(n_flat, -1)[:, rows]
            np.put_along_axis(probs, lab[:, :, None], 1.0, axis=2)
        return _relabel.stephens(probs, pivot=int(np.argmax(score)))

    def _apply(self, perm):
        """Permute every component-specific array (and the kernel arrays)."""
        n_chains, n_draws, n_components, n_features = self.means.shape
        shape3 = (n_chains, n_draws, n_components)
        flat = (n_chains * n_draws, n_components)

        def permute(arr, tail):
            out = _relabel.apply_permutation(arr.reshape(flat + tail), perm, axis=1)
            return out.reshape(shape3 + tail)

        self.weights = permute(self.weights, ())
        self.means = permute(self.means, (n_features,))
        self.covariances = permute(self.covariances, (n_features, n_features))
        self._unused = permute(self._unused, ())
        self._k_means = _relabel.apply_permutation(self._k_means, perm, axis=1)
        self._k_prec = np.ascontiguousarray(_relabel.apply_permutation(self._k_prec, perm, axis=1))
        self._k_log_const = _relabel.apply_permutation(self._k_log_const, perm, axis=1)
        if self.labels is not None:
            inverse = np.argsort(perm, axis=1)
            lab = self.labels.reshape(flat[0], -1)
            self.labels = np.take_along_axis(inverse, lab, axis=1).reshape(self.labels.shape)

    def _keep_components(self, keep):
        self.weights = self.weights[:, :, keep]
        self.means = self.means[:, :, keep]
        self.covariances = self.covariances[:, :, keep]
        self._unused = self._unused[:, :, keep]
        self._k_means = self._k_means[:, keep]
        self._k_prec = np.ascontiguousarray(self._k_prec[:, keep])
        self._k_log_const = self._k_log_const[:, keep]
        if self.labels is not None:
            remap = np.cumsum(keep) - 1
            self.labels = remap[self.labels]

    # ------------------------------------------------------------- shapes
    @property
    def n_chains(self) -> int:
        return self.weights.shape[0]

    @property
    def n_draws(self) -> int:
        return self.weights.shape[1]

    @property
    def n_features(self) -> int:
        return self.means.shape[3]

    @property
    def n_samples(self) -> int | None:
        return None if self.X is None else self.X.shape[0]

    def __repr__(self) -> str:
        data = "no data" if self.X is None else f"n_samples={self.n_samples}"
        return (
            f"MixturePosterior(kind={self.kind!r}, n_chains={self.n_chains}, "
            f"n_draws={self.n_draws}, components={self.weights.shape[2]}, "
            f"n_features={self.n_features}, {data})"
        )

    def _repr_html_(self) -> str:
        from ._display import posterior_html

        return posterior_html(self)

    # ------------------------------------------- label-invariant quantities
    def _need_X(self, what):
        if self.X is None:
            raise ValueError(
                f"{what} needs the data: build the posterior with X (engines pass it)."
            )

    def _evaluate(self):
        """One kernel pass per draw over X: pointwise log-likelihood and (engines
        without partitions) partitions sampled from the responsibilities."""
        if "log_likelihood" in self._cache:
            return
        n_chains, n_draws, n_components, _ = self.means.shape
        n_samples = self.X.shape[0]
        Xt = self._feature_major(self.X)
        lse = np.empty((n_chains * n_draws, n_samples))
        sample = self.labels is None
        alloc = np.empty((n_chains * n_draws, n_samples), dtype=np.int64) if sample else None
        resp = np.empty((n_samples, n_components)) if sample else None
        rng = np.random.default_rng(self._seed)
        for flat in range(n_chains * n_draws):
            self._pass(Xt, flat, row_lse=lse[flat], resp=resp)
            if sample:
                u = rng.random(n_samples)
                cum = np.cumsum(resp, axis=1)
                alloc[flat] = np.minimum(
                    (cum < (u * cum[:, -1])[:, None]).sum(axis=1), n_components - 1
                )
        self._cache["log_likelihood"] = lse.reshape(n_chains, n_draws, n_samples)
        if sample:
            self._cache["allocations"] = alloc.reshape(n_chains, n_draws, n_samples)

    @property
    def log_likelihood(self) -> np.ndarray:
        """Pointwise log-likelihood ``log p(x_i | theta_s)``, (n_chains, n_draws, n_samples)."""
        self._need_X("The log-likelihood")
        self._evaluate()
        return self._cache["log_likelihood"]

    @property
    def total_log_likelihood(self) -> np.ndarray:
        """``sum_i w_i log p(x_i | theta_s)``, (n_chains, n_draws)."""
        return self.log_likelihood @ self.sample_weight

    @property
    def allocations(self) -> np.ndarray:
        """The partition of each draw, (n_chains, n_draws, n_samples) int: the
        engine's labels, or labels sampled from each draw's responsibilities."""
        self._need_X("Partitions")
        if self.labels is not None:
            return self.labels
        self._evaluate()
        return self._cache["allocations"]

    def _n_occupied(self) -> np.ndarray:
        """Occupied components per draw (n_chains, n_draws)."""
        if "n_occupied" not in self._cache:
            if self.X is None:
                occ = (~self._unused).sum(axis=2)
            else:
                alloc = self.allocations
                k = self.weights.shape[2]
                flat = alloc.reshape(-1, alloc.shape[-1])
                seen = np.zeros((flat.shape[0], k), dtype=bool)
                np.put_along_axis(seen, flat, True, axis=1)
                occ = seen.sum(axis=1).reshape(alloc.shape[:2])
            self._cache["n_occupied"] = occ
        return self._cache["n_occupied"]

    def n_components(self) -> np.ndarray:
        """Posterior distribution of the number of occupied components.

        Returns
        -------
        probs : (max_components + 1,)
            ``probs[k]`` is the posterior probability that exactly ``k``
            components are occupied (``probs[0] == 0``); sums to 1.  With data,
            occupied means given at least one row by the draw's partition;
            without data, having positive weight.
        """
        occ = self._n_occupied().ravel()
        counts = np.bincount(occ, minlength=self.weights.shape[2] + 1)
        return counts / counts.sum()

    def given_n_components(self, n_components: int | None = None) -> MixturePosterior:
        """The draws with exactly ``n_components`` occupied components, each
        cut to those components and relabelled among themselves.

        When the number of components varies between draws (Gibbs, or a
        variational fit whose weight prior prunes), no single numbering
        serves every draw: a cluster that some draws split in two shares its
        label with another cluster elsewhere, and component summaries mix
        them.  Conditioning on the number of occupied components (the mode of
        :meth:`n_components` by default) leaves draws of one size, for which
        relabelling is the usual fixed-K problem; this is the post-processing
        of Frühwirth-Schnatter & Malsiner-Walli (2019).  Label-invariant
        summaries should still be read from the full posterior.

        Parameters
        ----------
        n_components : int, optional
            Default: the most probable number of occupied components.

        Returns
        -------
        MixturePosterior
            The kept draws of every chain pooled into one chain (so no R-hat),
            with ``attrs["given_n_components"]`` and ``attrs["draws_kept"]``
            (the fraction of draws kept).  Partitions (sampled ones too) are
            carried over, so occupancy means the same in both.
        """
        probs = self.n_components()
        if n_components is None:
            n_components = int(np.argmax(probs))
        n_components = check_int(n_components, "n_components", low=1)
        occ = self._n_occupied().ravel()
        keep = np.flatnonzero(occ == n_components)
        if keep.size == 0:
            have = ", ".join(str(k) for k in np.flatnonzero(probs))
            raise ValueError(
                f"no draw has {n_components} occupied components (the draws have {have}); "
                "pass one of those, or None for the most probable."
            )
        n_flat, k_all = self.n_chains * self.n_draws, self.weights.shape[2]
        if self.X is not None:
            alloc = self.allocations.reshape(n_flat, -1)[keep]
            occupied = np.zeros((keep.size, k_all), dtype=bool)
            np.put_along_axis(occupied, alloc, True, axis=1)
        else:
            occupied = ~self._unused.reshape(n_flat, k_all)[keep]
        # each kept draw's occupied slots, in slot order: (n_kept, n_components)
        slots = np.argsort(~occupied, axis=1, kind="stable")[:, :n_components]

        def take(arr, tail=()):
            flat = arr.reshape((n_flat, k_all, *tail))[keep]
            idx = slots.reshape(slots.shape + (1,) * len(tail))
            return np.take_along_axis(flat, idx, axis=1)[None]

        labels = None
        if self.X is not None:
            # slot -> its rank among the draw's occupied slots
            rank = np.zeros((keep.size, k_all), dtype=np.int64)
            np.put_along_axis(rank, slots, np.arange(n_components)[None], axis=1)
            labels = np.take_along_axis(rank, alloc, axis=1)[None]

        def pooled(arr):
            return (
                None
                if arr is None
                else np.asarray(arr)
                .reshape(n_flat, -1)[keep]
                .reshape(1, keep.size, *np.asarray(arr).shape[2:])
            )

        post = MixturePosterior.from_draws(
            take(self.weights),
            take(self.means, (self.n_features,)),
            take(self.covariances, (self.n_features, self.n_features)),
            labels=labels,
            concentration=pooled(self.concentration),
            X=self.X,
            sample_weight=self.sample_weight,
            feature_names=self.feature_names,
            kind=self.kind,
            check_convergence=False,
            random_state=self._seed,
            sample_stats={name: pooled(v) for name, v in self.sample_stats.items()},
            attrs={
                **self.attrs,
                "given_n_components": n_components,
                "draws_kept": keep.size / n_flat,
            },
        )
        return post

    def coclustering(self) -> np.ndarray:
        """Posterior probability that rows ``i`` and ``j`` share a component,
        (n_samples, n_samples); label-invariant."""
        if "coclustering" not in self._cache:
            alloc = self.allocations
            self._cache["coclustering"] = _partition.coclustering(
                alloc.reshape(-1, alloc.shape[-1])
            )
        return self._cache["coclustering"]

    def point_partition(
        self, loss: str = "binder", *, max_candidates: int = 100, return_loss: bool = False
    ):
        """The partition minimising the posterior expected loss.

        Candidates are the most frequent distinct partitions among the draws
        and the relabelled modal allocation; the best is improved by greedy
        single-row moves (a SALSO-like sweep) until no move lowers the loss.

        Parameters
        ----------
        loss : {"binder", "vi"}
            Binder's loss with unit costs (expected from the co-clustering
            matrix), or the variation of information (averaged exactly over
            the draws; Wade & Ghahramani 2018).
        max_candidates : int
            Distinct draws scored as starting points.
        return_loss : bool
            Also return the expected loss (Binder: per pair of rows; VI: nats).

        Returns
        -------
        labels : (n_samples,) int, numbered 0, 1, ... by first appearance
        """
        check_choice(loss, "loss", ("binder", "vi"))
        check_int(max_candidates, "max_candidates", low=1)
        alloc = self.allocations
        flat = alloc.reshape(-1, alloc.shape[-1])
        onehot = np.zeros((alloc.shape[-1], self.weights.shape[2]))
        for row in flat:
            onehot[np.arange(row.size), row] += 1.0
        modal = onehot.argmax(axis=1)
        coclust = self.coclustering() if loss == "binder" else None
        labels, value = _partition.minimise_loss(
            flat, loss, candidates=modal[None], coclust=coclust, max_candidates=max_candidates
        )
        return (labels, value) if return_loss else labels

    def density(self, X, ci: float = 0.95) -> DensityBand:
        """Posterior mean and equal-tailed ``ci`` credible band of the mixture
        density at the rows of ``X`` (label-invariant).

        Parameters
        ----------
        X : (n_points, n_features)
        ci : float in (0, 1)

        Returns
        -------
        DensityBand
            ``mean``, ``lower``, ``upper``, each (n_points,).
        """
        ci = check_real(ci, "ci", low=0.0, strict=True)
        if ci >= 1.0:
            raise ValueError(f"ci must be in (0, 1), got {ci}.")
        X, _ = check_X(X)
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the posterior has {self.n_features}."
            )
        Xt = self._feature_major(X)
        n_flat = self.n_chains * self.n_draws
        dens = np.empty((n_flat, X.shape[0]))
        for flat in range(n_flat):
            self._pass(Xt, flat, row_lse=dens[flat])
        np.exp(dens, out=dens)
        alpha = 0.5 * (1.0 - ci)
        lower, upper = np.quantile(dens, [alpha, 1.0 - alpha], axis=0)
        return DensityBand(dens.mean(axis=0), lower, upper)

    # ------------------------------------------------------------ reporting
    def _feature_labels(self):
        if self.feature_names is not None:
            return list(self.feature_names)
        return list(range(self.n_features))

    def _label_invariant(self) -> dict:
        """Label-invariant scalar quantities per draw, (n_chains, n_draws) each."""
        out = {}
        if self.X is not None:
            out["total_log_likelihood"] = self.total_log_likelihood
        out["n_occupied"] = self._n_occupied().astype(np.float64)
        if self.concentration is not None:
            out["concentration"] = self.concentration
        return out

    def _variables(self):
        """(name, array (C, S, ...), index labels) for every summarised scalar."""
        k = self.weights.shape[2]
        names = self._feature_labels()
        rows = []
        for j in range(k):
            rows.append((f"weights[{j}]", self.weights[:, :, j]))
        for j in range(k):
            for f in range(self.n_features):
                rows.append((f"means[{j}, {names[f]}]", self.means[:, :, j, f]))
        for j in range(k):
            for f in range(self.n_features):
                for g in range(f, self.n_features):
                    rows.append(
                        (
                            f"covariances[{j}, {names[f]}, {names[g]}]",
                            self.covariances[:, :, j, f, g],
                        )
                    )
        for name, arr in self._label_invariant().items():
            rows.append((name, arr))
        return rows

    def summary(self, ci: float = 0.95, var_names=None):
        """Summary table of every scalar quantity (pandas DataFrame).

        Rows: ``weights[k]``, ``means[k, feature]``, ``covariances[k, f, g]``
        (upper triangle) for the relabelled components, then the
        label-invariant ``total_log_likelihood``, ``n_occupied`` and, when
        learned, ``concentration``.  Columns: ``mean``, ``sd``,
        ``eti{ci}_lb`` / ``eti{ci}_ub`` (equal-tailed credible interval),
        ``ess_bulk``, ``ess_tail`` and ``r_hat`` (rank-normalised split R-hat,
        Vehtari et al. 2021; a single chain is split in two halves).  NaN
        draws (unused Gibbs slots) are left out of the mean, sd and interval
        and make the diagnostics NaN.

        Parameters
        ----------
        ci : float in (0, 1), default=0.95
        var_names : sequence of str, optional
            Keep only rows whose name starts with one of these
            (e.g. ``["weights", "n_occupied"]``).
        """
        import pandas as pd  # a dependency of xarray, hence of arviz-base

        ci = check_real(ci, "ci", low=0.0, strict=True)
        if ci >= 1.0:
            raise ValueError(f"ci must be in (0, 1), got {ci}.")
        rows = self._variables()
        if var_names is not None:
            var_names = [var_names] if isinstance(var_names, str) else list(var_names)
            rows = [r for r in rows if any(r[0].split("[")[0] == v for v in var_names)]
        pct = f"{100 * ci:g}"
        index = [r[0] for r in rows]
        if not rows:
            return pd.DataFrame(columns=["mean", "sd", f"eti{pct}_lb", f"eti{pct}_ub"])
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
        diag = _diagnostics(stack)
        table.update(diag)
        frame = pd.DataFrame(table, index=index)
        frame.attrs["kind"] = self.kind
        return frame

    def diagnostics(self):
        """R-hat and ESS of the label-invariant quantities (a DataFrame, the
        label-invariant rows of :meth:`summary`)."""
        return self.summary(var_names=list(self._label_invariant()))

    def _warn_if_not_converged(self):
        if self.n_draws < 8:
            return
        names = list(self._label_invariant())
        stack = np.stack([self._label_invariant()[n] for n in names])
        rhat = _diagnostics(stack)["r_hat"]
        bad = [
            f"{n} (r_hat={r:.3f})" for n, r in zip(names, rhat, strict=True) if r > RHAT_THRESHOLD
        ]
        if bad:
            warnings.warn(
                f"The chains have not mixed: R-hat > {RHAT_THRESHOLD} for {', '.join(bad)}. "
                "Run longer chains (more n_iter, a longer burn_in) or more chains, and "
                "check posterior.diagnostics() before trusting the summaries.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def to_arviz(self):
        """The draws as an ArviZ ``xarray.DataTree``.

        Groups: ``posterior`` (``weights``, ``means``, ``covariances``,
        relabelled, and ``concentration`` when learned), ``sample_stats``
        (label-invariant ``total_log_likelihood``, ``n_occupied`` and, for
        Gibbs, the partitions ``labels``), ``log_likelihood`` (pointwise
        ``X``, so ``arviz_stats.loo`` works), ``observed_data`` (``X``) and,
        with non-unit sample weights, ``constant_data`` (``sample_weight``).
        Dims: ``chain, draw, component, feature, feature_bis, obs_id``.
        """
        from arviz_base import from_dict

        posterior = {
            "weights": self.weights,
            "means": self.means,
            "covariances": self.covariances,
        }
        if self.concentration is not None:
            posterior["concentration"] = self.concentration
        sample_stats = {**self.sample_stats, "n_occupied": self._n_occupied()}
        dims = {
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
        }
        names = self._feature_labels()
        coords = {
            "component": np.arange(self.weights.shape[2]),
            "feature": names,
            "feature_bis": names,
        }
        data = {"posterior": posterior, "sample_stats": sample_stats}
        if self.X is not None:
            sample_stats["total_log_likelihood"] = self.total_log_likelihood
            if self.labels is not None:
                sample_stats["labels"] = self.labels
                dims["labels"] = ["obs_id"]
            data["log_likelihood"] = {"X": self.log_likelihood}
            dims["X"] = ["obs_id"]
            coords["obs_id"] = np.arange(self.X.shape[0])
            if not np.all(self.sample_weight == 1.0):
                data["constant_data"] = {"sample_weight": self.sample_weight}
                dims["sample_weight"] = ["obs_id"]
        attrs = {"/": {"bayesmix_kind": self.kind, **self.attrs}}
        tree = from_dict(data, dims=dims, coords=coords, attrs=attrs)
        if self.X is not None:
            # The observed X is (obs_id, feature) while its log-likelihood is one value
            # per row, so the two share a name but not dims: convert them separately.
            observed = from_dict(
                {"observed_data": {"X": self.X}},
                dims={"X": ["obs_id", "feature"]},
                coords={"obs_id": coords["obs_id"], "feature": names},
            )
            tree["observed_data"] = observed["observed_data"]
        return tree


def _diagnostics(stack: np.ndarray) -> dict:
    """ess_bulk, ess_tail and rank-normalised R-hat of (n_rows, C, S) draws;
    one chain is split in two halves.  NaN where undefined."""
    from arviz_stats.base import array_stats

    n_rows, n_chains, n_draws = stack.shape
    arr = stack
    if n_chains == 1 and n_draws >= 8:
        half = n_draws // 2
        arr = np.stack([stack[:, 0, :half], stack[:, 0, half : 2 * half]], axis=1)
    out = {"ess_bulk": np.full(n_rows, np.nan), "ess_tail": np.full(n_rows, np.nan)}
    out["r_hat"] = np.full(n_rows, np.nan)
    if n_draws < 4:
        return out
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(n_rows):
            row = stack[i]
            if not np.isfinite(row).all() or np.ptp(row) == 0:
                continue
            out["ess_bulk"][i] = array_stats.ess(row, chain_axis=0, draw_axis=1, method="bulk")
            out["ess_tail"][i] = array_stats.ess(
                row, chain_axis=0, draw_axis=1, method="tail", prob=0.05
            )
            if arr.shape[1] >= 2:
                out["r_hat"][i] = array_stats.rhat(arr[i], chain_axis=0, draw_axis=1)
    return out


# ---------------------------------------------------------------- EM bootstrap
def _bootstrap_weights(rng, w, method):
    """One replicate's frequency weights, keeping the total weight."""
    total = w.sum()
    counts_like = np.all(w == np.round(w))
    if method == "nonparametric":
        if counts_like:
            return rng.multinomial(round(total), w / total).astype(np.float64)
        n = w.shape[0]
        return rng.multinomial(n, w / total) * (total / n)
    # weighted likelihood bootstrap: Dirichlet weights of the (expanded) rows
    g = rng.standard_gamma(w) if counts_like else w * rng.standard_exponential(w.shape[0])
    return g * (total / g.sum())


def bootstrap_em(
    model,
    X,
    n_boot: int = 200,
    method: str = "nonparametric",
    sample_weight=None,
    random_state=None,
) -> MixturePosterior:
    """Bootstrap a fitted :class:`~bayesmix.GaussianMixture` into draws.

    Each replicate refits EM to the data with bootstrap frequency weights,
    started from the full-data fit (its first E-step reproduces the
    full-data responsibilities), so components keep their labels, as
    mclust's ``MclustBootstrap`` does; a relabelling pass then catches any
    replicate that swapped.

    Parameters
    ----------
    model : fitted GaussianMixture
    X : (n_samples, n_features)
        The data the model was fitted to.
    n_boot : int, default=200
        Number of replicates (draws).
    method : {"nonparametric", "weighted"}
        ``"nonparametric"``: rows resampled with replacement (multinomial
        counts).  ``"weighted"``: the weighted-likelihood (Bayesian) bootstrap,
        Dirichlet(1, ..., 1) weights times ``n`` (Newton & Raftery 1994).
        With ``sample_weight`` the weights multiply: integer weights count
        repeated rows exactly; other weights resample ``n_samples`` rows.
    sample_weight : (n_samples,), optional
        Frequency weights used for the original fit.
    random_state : None, int or Generator

    Returns
    -------
    MixturePosterior
        ``kind="bootstrap"``, one chain of ``n_boot`` draws (replicates that
        fail are left out, with a warning).

    References
    ----------
    Efron & Tibshirani (1993); Newton & Raftery (1994) JRSS B 56, 3-48;
    O'Hagan, Murphy, Scrucca & Gormley (2019) Comput. Stat. 34, 1739-1760.
    """
    from ._validation import check_fitted
    from .em import GaussianMixture
    from .selection import _single_threaded_blas

    check_fitted(model)
    n_boot = check_int(n_boot, "n_boot", low=1)
    check_choice(method, "method", ("nonparametric", "weighted"))
    X_arr, names = check_X(X, min_samples=2)
    if X_arr.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {X_arr.shape[1]} features, but the model was fitted with "
            f"{model.n_features_in_}; pass the data used in fit."
        )
    w = check_sample_weight(sample_weight, X_arr.shape[0])
    rng = check_random_state(random_state)
    k, d = model.means_.shape
    structure = model._structure
    params = model.get_params()
    params.update(
        weights_init=model.weights_,
        means_init=model.means_,
        precisions_init=model.precisions_,
        n_init=1,
        warm_start=False,
        verbose=0,
    )
    seeds = rng.integers(0, 2**63 - 1, size=n_boot)
    weights, means, covs = [], [], []
    failures, not_converged, degenerate = [], 0, 0
    replicates = [_bootstrap_weights(rng, w, method) for _ in range(n_boot)]
    with _single_threaded_blas():
        for b, wb in enumerate(replicates):
            params["random_state"] = int(seeds[b])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    fit = GaussianMixture(**params).fit(X_arr, sample_weight=wb)
                except (ValueError, np.linalg.LinAlgError) as exc:
                    failures.append(str(exc))
                    continue
            not_converged += any(issubclass(c.category, ConvergenceWarning) for c in caught)
            degenerate += any(not issubclass(c.category, ConvergenceWarning) for c in caught)
            weights.append(fit.weights_)
            means.append(fit.means_)
            covs.append(structure.to_full(fit.covariances_, k, d))
    if not weights:
        raise ValueError(
            f"every bootstrap replicate failed (first reason: {failures[0]}); the model "
            "cannot be refitted to resampled data - lower n_components."
        )
    notes = []
    if failures:
        notes.append(f"{len(failures)} replicate(s) failed and were dropped ({failures[0]})")
    if not_converged:
        notes.append(f"{not_converged} replicate(s) stopped at max_iter={model.max_iter}")
    if degenerate:
        notes.append(f"{degenerate} replicate(s) needed regularisation or re-seeding")
    if notes:
        warnings.warn(
            f"Bootstrap of {n_boot} EM replicates: {'; '.join(notes)}. Intervals from "
            "such replicates are less reliable; consider fewer components or a larger "
            "max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return MixturePosterior.from_draws(
        np.asarray(weights)[None],
        np.asarray(means)[None],
        np.asarray(covs)[None],
        X=X_arr,
        sample_weight=sample_weight,
        feature_names=names if names is not None else getattr(model, "feature_names_in_", None),
        kind="bootstrap",
        random_state=rng,
        attrs={"bootstrap_method": method, "n_boot": n_boot},
    )
