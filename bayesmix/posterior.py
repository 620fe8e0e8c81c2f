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

NaN cells of ``X`` are missing values: each row's likelihood, responsibilities
(so partitions, co-clustering, relabelling) are those of its observed features
under each draw (see :mod:`bayesmix._draws`).

The layer is split by idea and imports no engine: this module builds,
relabels and reads the draws; :mod:`bayesmix._draws` checks raw draws and
runs their kernel passes, :mod:`bayesmix._relabel` undoes label switching,
:mod:`bayesmix._partition` summarises partitions, :mod:`bayesmix._summary`
makes the tables and :mod:`bayesmix._arviz` the ArviZ DataTree.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _arviz, _draws, _partition, _relabel, _summary
from . import io as _io
from ._display import posterior_html
from ._validation import check_choice, check_int, check_random_state, check_X

__all__ = ["DensityBand", "MixturePosterior"]

KINDS = ("bootstrap", "variational", "gibbs")
_INDEPENDENT_KINDS = ("bootstrap", "variational")
_RELABEL_BUDGET = 20_000_000  # draws x rows x components held for relabelling


class DensityBand(NamedTuple):
    """Posterior mean and equal-tailed credible band of the mixture density at
    given points, each of shape (n_points,)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


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

    # what bayesmix.io looks for in a result it saves (io imports no posterior code)
    _bayesmix_result = True
    _unsaved_attributes = ("_cache",)  # derived quantities, recomputed on demand

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
            and data-based relabelling.  NaN cells are missing values (missing
            at random): every per-row quantity is then that of the row's
            observed features, the marginal of each drawn mixture.  A row
            with every feature missing, and infinity, are errors.
        sample_weight : (n_samples,), optional
            Frequency weights of the rows of ``X`` (they weight the total
            log-likelihood).
        feature_names : sequence of str, optional
            Names of the features (taken from a DataFrame ``X`` otherwise).
        kind : {"bootstrap", "variational", "gibbs"}
            What the draws are; "gibbs" draws are Markov chains and get
            convergence diagnostics.
        relabel : bool, default=True
            Undo label switching, then number the components by decreasing
            posterior mean weight (``False`` keeps the engine's numbering).
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
        draws = _draws.check_draws(weights, means, covariances)
        n_chains, n_draws, n_components, n_features = draws.means.shape
        self.weights, self.means, self.covariances = draws.weights, draws.means, draws.covariances
        self._unused = draws.unused
        # kernel arrays of every draw, flattened to (n_chains * n_draws, K, ...)
        self._kernel = _draws.kernel_components(draws)
        self.concentration = _draws.check_concentration(concentration, n_chains, n_draws)
        data = _draws.check_data(X, sample_weight, feature_names, n_features, labels is not None)
        self.X, self.sample_weight, self.feature_names = data
        if labels is not None:
            labels = _draws.check_labels(labels, self._unused, self.X.shape[0])
        self.labels = labels
        # A seed of our own: sampling partitions later must not advance a
        # Generator the caller passed in at some unpredictable time.
        self._seed = int(check_random_state(random_state).integers(0, 2**63 - 1))
        self.attrs = dict(attrs or {})
        self.sample_stats = _draws.check_sample_stats(sample_stats, n_chains, n_draws)
        self._cache: dict = {}

        perm = np.tile(np.arange(n_components), (n_chains * n_draws, 1))
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
            # The relabelled numbering is the pivot draw's, which means nothing:
            # number the components by decreasing posterior mean weight instead
            # (as the engines number their point estimates by size).
            order = np.argsort(-np.nanmean(self.weights, axis=(0, 1)), kind="stable")
            if not np.array_equal(order, np.arange(order.size)):
                by_weight = np.tile(order, (n_chains * n_draws, 1))
                self._apply(by_weight)
                perm = np.take_along_axis(perm, by_weight, axis=1)
        self.permutation = perm.reshape(n_chains, n_draws, -1)

        if check_convergence and self.kind not in _INDEPENDENT_KINDS and self.n_draws >= 8:
            _summary.warn_if_not_converged(self._label_invariant())
        return self

    # ------------------------------------------------------------- files
    def save(self, path) -> None:
        """Write this posterior to ``path`` (npz + JSON metadata, no pickle, as
        models are saved); read it back with :func:`bayesmix.load` or
        :meth:`MixturePosterior.load`.  Every array (draws, relabelling
        permutations, data, partitions) is restored bit for bit, so summaries,
        densities and :meth:`to_arviz` give the same results.  For ArviZ's own
        formats, ``to_arviz().to_netcdf(path)`` needs the ``netcdf`` extra
        (``pip install bayesmix[netcdf]``)."""
        _io.save(self, path)

    @classmethod
    def load(cls, path) -> MixturePosterior:
        """Read a posterior written by :meth:`save` (TypeError for another kind of file)."""
        return _io.load_as(path, cls)

    def _after_load(self) -> None:
        self._cache = {}

    # ------------------------------------------------ kernels, relabelling
    def _rows(self, X) -> _draws.Rows:
        """Rows of ``X`` for the kernels: centred on the training mean (so large
        offsets lose no precision), feature-major, rows with missing cells
        apart (see :func:`bayesmix._draws.rows_of`)."""
        if not hasattr(self, "_center"):
            self._center = _draws.data_center(self.X, self.means.shape[-1])
        return _draws.rows_of(X, self._center)

    def _full(self, rows: _draws.Rows) -> _draws.FullDraws | None:
        """The draws' full parameters, which rows with missing cells need
        (None for complete rows: their pass reads the kernel arrays only)."""
        if rows.holey is None:
            return None
        if "full_draws" not in self._cache:
            self._cache["full_draws"] = _draws.full_draws(
                self.weights, self.means, self.covariances
            )
        return self._cache["full_draws"]

    def _relabel_permutation(self):
        """Stephens' algorithm on allocation probabilities of a subset of rows
        (or the draws' parameters without data); see :mod:`bayesmix._relabel`."""
        n_chains, n_draws, n_components, _ = self.means.shape
        n_flat = n_chains * n_draws
        if self.X is None:
            means = self.means.reshape(n_flat, n_components, -1)
            covs = self.covariances.reshape(n_flat, n_components, *self.covariances.shape[-2:])
            return _relabel.match_parameters(means, covs, pivot=0)
        n_samples = self.X.shape[0]
        n_rows = int(min(n_samples, max(50, _RELABEL_BUDGET // (n_flat * n_components))))
        rows = np.unique(np.linspace(0, n_samples - 1, n_rows).round().astype(np.int64))
        data = self._rows(self.X[rows])
        probs, score = _draws.relabelling_probabilities(
            self._kernel, data, self.sample_weight[rows], self._full(data)
        )
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
        self._kernel = _draws.permute_components(self._kernel, perm)
        self._cache.pop("full_draws", None)
        if self.labels is not None:
            inverse = np.argsort(perm, axis=1)
            lab = self.labels.reshape(flat[0], -1)
            self.labels = np.take_along_axis(inverse, lab, axis=1).reshape(self.labels.shape)

    def _keep_components(self, keep):
        self.weights = self.weights[:, :, keep]
        self.means = self.means[:, :, keep]
        self.covariances = self.covariances[:, :, keep]
        self._unused = self._unused[:, :, keep]
        self._kernel = _draws.keep_components(self._kernel, keep)
        self._cache.pop("full_draws", None)
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
        rows = self._rows(self.X)
        sample = self.labels is None
        lse, alloc = _draws.evaluate(self._kernel, rows, self._seed, sample, self._full(rows))
        shape = (self.n_chains, self.n_draws, self.X.shape[0])
        self._cache["log_likelihood"] = lse.reshape(shape)
        if sample:
            self._cache["allocations"] = alloc.reshape(shape)

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

    def _occupied(self) -> np.ndarray:
        """Occupied component slots of every draw, (n_chains * n_draws, K) bool:
        given a row by the draw's partition, or (without data) a positive weight."""
        k = self.weights.shape[2]
        if self.X is None:
            return ~self._unused.reshape(-1, k)
        alloc = self.allocations
        return _partition.occupied(alloc.reshape(-1, alloc.shape[-1]), k)

    def _n_occupied(self) -> np.ndarray:
        """Occupied components per draw (n_chains, n_draws)."""
        if "n_occupied" not in self._cache:
            occ = self._occupied().sum(axis=1).reshape(self.n_chains, self.n_draws)
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
        occupied = self._occupied()[keep]
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
            alloc = self.allocations.reshape(n_flat, -1)[keep]
            labels = np.take_along_axis(rank, alloc, axis=1)[None]

        def pooled(arr):
            if arr is None:
                return None
            arr = np.asarray(arr)
            return arr.reshape(n_flat, -1)[keep].reshape(1, keep.size, *arr.shape[2:])

        return MixturePosterior.from_draws(
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
        modal = _partition.modal_labels(flat, self.weights.shape[2])
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
            NaN marks a missing value: such a point gets the density of its
            observed features (the marginal mixture).
        ci : float in (0, 1)

        Returns
        -------
        DensityBand
            ``mean``, ``lower``, ``upper``, each (n_points,).
        """
        ci = _summary.check_ci(ci)
        X, _ = check_X(X, allow_nan=True)
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the posterior has {self.n_features}."
            )
        rows = self._rows(X)
        dens = _draws.densities(self._kernel, rows, self._full(rows))
        alpha = 0.5 * (1.0 - ci)
        lower, upper = np.quantile(dens, [alpha, 1.0 - alpha], axis=0)
        return DensityBand(dens.mean(axis=0), lower, upper)

    # ------------------------------------------------------------ reporting
    def _label_invariant(self) -> dict:
        """Label-invariant scalar quantities per draw, (n_chains, n_draws) each."""
        out = {}
        if self.X is not None:
            out["total_log_likelihood"] = self.total_log_likelihood
        out["n_occupied"] = self._n_occupied().astype(np.float64)
        if self.concentration is not None:
            out["concentration"] = self.concentration
        return out

    def summary(self, ci: float = 0.95, var_names=None, components="occupied"):
        """Summary table of every scalar quantity (pandas DataFrame).

        Rows: ``weights[k]``, ``means[k, feature]``, ``covariances[k, f, g]``
        (upper triangle) for the relabelled components, then the
        label-invariant ``total_log_likelihood``, ``n_occupied`` and, when
        learned, ``concentration``.  Columns: the tidy ``variable``,
        ``component``, ``feature``, ``feature_bis`` (for filtering and
        pivoting: ``table[table.variable == "means"].pivot(index="component",
        columns="feature", values="mean")``), then ``mean``, ``sd``,
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
        components : "occupied", "all" or sequence of int, default="occupied"
            Which components get rows.  ``"occupied"``: those the draws'
            partitions give at least one row on average (posterior expected
            number of observations >= 1); a component expected to hold less
            than one observation describes no data (without data, every
            component is listed).  ``"all"``: every component.
        """
        ci = _summary.check_ci(ci)
        names = self.feature_names or list(range(self.n_features))
        rows = _summary.component_rows(
            self.weights, self.means, self.covariances, names, self._listed(components)
        )
        rows += list(self._label_invariant().items())
        return _summary.summary_table(rows, ci, var_names, kind=self.kind)

    def expected_counts(self) -> np.ndarray:
        """Posterior expected number of observations (total sample weight) of
        each component, (n_components,), from the draws' partitions."""
        self._need_X("The expected counts")
        alloc = self.allocations.reshape(-1, self.X.shape[0])
        k = self.weights.shape[2]
        counts = np.zeros(k)
        for row in alloc:  # one bincount per draw: memory stays O(K)
            counts += np.bincount(row, weights=self.sample_weight, minlength=k)
        return counts / alloc.shape[0]

    def _listed(self, components) -> list[int]:
        k = self.weights.shape[2]
        if isinstance(components, str):
            check_choice(components, "components", ("occupied", "all"))
            if components == "all" or self.X is None:
                return list(range(k))
            return [int(j) for j in np.flatnonzero(self.expected_counts() >= 1.0)]
        listed = [check_int(j, "each components entry", low=0) for j in components]
        bad = [j for j in listed if j >= k]
        if bad:
            raise ValueError(
                f"components {bad} do not exist: this posterior has {k} components (0..{k - 1})."
            )
        return listed

    def diagnostics(self):
        """R-hat and ESS of the label-invariant quantities (a DataFrame, the
        label-invariant rows of :meth:`summary`)."""
        return self.summary(var_names=list(self._label_invariant()))

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
        return _arviz.to_datatree(self, self._n_occupied())
