"""Hyperpriors on the base measure of the collapsed Gibbs sampler, sampled
between sweeps.

The base measure is ``NIW(m0, kappa0, nu0, Psi0)``.  With a
:class:`~bayesmix.priors.RandomScale` ``Psi0 = b A``, ``A = 2 diag(R_f^2)``
(``R_f`` the range of feature ``f``) and ``b ~ Gamma(g, h)`` (Richardson &
Green 1997, §2.3, generalised to ``D`` features); with a
:class:`~bayesmix.priors.Gamma` ``kappa``, ``kappa0 ~ Gamma(a, r)`` (Escobar &
West 1995, §4; Görür & Rasmussen 2010).  The sampler is collapsed over the
cluster parameters, so each update augments the state with them (Gibbs
sampling with data augmentation, Tanner & Wong 1987): given the partition
and the current hyperparameters,

* ``Lambda_k = Sigma_k^-1 ~ Wishart(nu_n, Psi_n^-1)`` and ``mu_k | Sigma_k ~
  N(m_n, Sigma_k / kappa_n)`` for every cluster (the NIW posterior);
* ``b | Sigma ~ Gamma(g + K D nu0 / 2, h + sum_k tr(A Lambda_k) / 2)``;
* ``kappa0 | mu, Sigma ~ Gamma(a + K D / 2, r + sum_k (mu_k - m0)^T Lambda_k
  (mu_k - m0) / 2)``;

then the cluster parameters are dropped again.  With ``kappa0`` fixed (the
default) ``b`` is instead drawn from ``p(b | partition, X)`` itself, the
cluster parameters integrated out (:func:`draw_b_collapsed`, slice sampling,
Neal 2003): in several dimensions ``b`` and the cluster precisions are so
tightly coupled that the augmented update moves ``b`` by small steps.  Both conditionals are
conjugate, so the update is exact and costs ``O(K D^3)``; the kernels' prior
arrays (the tables, the factor of ``Psi0``, the prior predictive of each row)
are then refreshed in ``O(n D)`` because ``Psi0`` is diagonal.

References
----------
Richardson & Green (1997), JRSS B 59, 731-792; Escobar & West (1995), JASA
90, 577-588; Görür & Rasmussen (2010), J. Comput. Sci. Technol. 25, 653-664;
Tanner & Wong (1987), JASA 82, 528-540; Neal (2003), Ann. Statist. 31,
705-767.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._gibbs_model import Model, SamplerRows, niw_tables, prepare_model, table_g
from ._kernels._gibbs import (
    cluster_posteriors,
    hyper_statistics,
    scale_eigenvalues,
    slice_log_b,
)
from .priors import Gamma, NormalInverseWishart, RandomScale

__all__ = [
    "Hyper",
    "HyperState",
    "draw_b_collapsed",
    "draw_hyper",
    "initial_state",
    "log_b_conditional",
    "log_hyperprior",
    "log_partition_posterior",
    "model_at",
    "prepare",
    "prior_at",
    "resolve_prior",
    "summarise_hyper",
]

KAPPA_DEFAULT = 0.01  # Fraley & Raftery (2007); the mean of Escobar & West's Gamma(1/2, 50)


class Hyper(NamedTuple):
    """The hyperpriors of a fit, in standardised units (``None``: fixed value)."""

    scale: Gamma | None  # prior of b, Psi0 = b diag(base)
    kappa: Gamma | None  # prior of kappa0
    base: np.ndarray  # (n_features,) diagonal of A (standardised units)
    sq_dist: np.ndarray  # (n_samples,) (x_i - m0)^T Psi0^-1 (x_i - m0), times b when learned
    tables0: np.ndarray  # niw_tables at the initial kappa0 and log|Psi0| = 0
    b_min: float = 0.0  # floor of b: 1e-6 of its start (degenerate data only)

    @property
    def learned(self) -> bool:
        return self.scale is not None or self.kappa is not None


class HyperState(NamedTuple):
    """A chain's current hyperparameters (fixed ones keep their value)."""

    b: float  # Psi0 = b diag(base); NaN when the scale is fixed
    kappa: float


def resolve_prior(
    prior: NormalInverseWishart, X: np.ndarray, weights: np.ndarray | None = None
) -> NormalInverseWishart:
    """Fill the ``None`` fields of a Gibbs component prior from ``X``
    (n_samples, n_features): ``scale=None`` becomes ``RandomScale()``, the
    other fields follow :meth:`NormalInverseWishart.resolve` (mean: the data
    mean; kappa: 0.01; dof: ``D + 3`` under a ``RandomScale``, Richardson &
    Green's ``sigma^-2 ~ Gamma(2, beta)`` being ``dof = 4 = D + 3`` in one
    dimension, else ``D + 2``).  Hyperpriors and explicit values are kept
    exactly."""
    scale = RandomScale() if prior.scale is None else prior.scale
    dof = prior.dof
    if dof is None and isinstance(scale, RandomScale):
        dof = X.shape[1] + 3.0
    fixed = NormalInverseWishart(
        mean=prior.mean,
        kappa=None if isinstance(prior.kappa, Gamma) else prior.kappa,
        dof=dof,
        scale=np.eye(X.shape[1]) if isinstance(scale, RandomScale) else scale,
    ).resolve(X, weights, n_components=1)
    return NormalInverseWishart(
        mean=fixed.mean,
        kappa=prior.kappa if isinstance(prior.kappa, Gamma) else fixed.kappa,
        dof=fixed.dof,
        scale=scale if isinstance(scale, RandomScale) else fixed.scale,
    )


def initial_state(model: Model, hyper: Hyper) -> HyperState:
    """The hyperparameters of ``model`` (built by :func:`start`)."""
    p = model.prior
    b = float(p.scale[0, 0] / hyper.base[0]) if hyper.scale is not None else math.nan
    return HyperState(b, float(p.kappa))


def model_at(model: Model, hyper: Hyper, state: HyperState) -> Model:
    """``model`` with the base measure at ``state``: a diagonal ``Psi0 = b A`` (or
    the fixed scale) and ``kappa0``; ``O(n D)``."""
    p = model.prior
    d = model.X.shape[1]
    if hyper.scale is not None:
        diag = state.b * hyper.base
        R0 = np.diag(np.sqrt(diag))
        logdet0 = float(np.log(diag).sum())
        q = hyper.sq_dist / state.b
    else:
        R0, logdet0 = model.R0, float(model.consts[2])
        q = hyper.sq_dist
    if hyper.kappa is not None:
        tables = niw_tables(model.tables.shape[1] - 1, d, state.kappa, p.dof, logdet0)
    else:
        tables = hyper.tables0.copy()
        tables[1] += 0.5 * p.dof * logdet0
    new = prior_at(p, hyper.base if hyper.scale is not None else None, state.b, state.kappa)
    log_prior_pred = tables[0, 0] - 0.5 * logdet0 - 0.5 * (p.dof + 1.0) * np.log1p(tables[2, 0] * q)
    consts = np.array([state.kappa, p.dof, logdet0, d])
    inv0 = 1.0 / np.diag(R0)
    return model._replace(
        prior=new, consts=consts, tables=tables, R0=R0, inv0=inv0, log_prior_pred=log_prior_pred
    )


def draw_hyper(
    rng,
    model: Model,
    hyper: Hyper,
    state: HyperState,
    labels: np.ndarray,
    n_clusters: int,
    mult: np.ndarray | None = None,
) -> HyperState:
    """One data-augmentation update of the hyperparameters given the partition
    ``labels`` (n_samples,) of ``n_clusters`` clusters (module docstring), the
    rows holding ``mult`` copies (``model.start_mult`` if None).

    ``model`` is the model at ``state``.  Draws, in order: the Bartlett
    chi-square variates of every cluster's precision, the normals below their
    diagonals, the normals of the means (only when ``kappa0`` is learned),
    then ``b``, then ``kappa0``; the statistics come from one kernel call.
    """
    p = model.prior
    d = model.X.shape[1]
    mult = model.start_mult if mult is None else mult
    if hyper.kappa is None and hyper.scale is not None:
        b = draw_b_collapsed(rng, model, hyper, state, labels, n_clusters, mult)
        return HyperState(b, state.kappa)
    counts, mu, R, _ = cluster_posteriors(
        model.X, mult, labels, n_clusters, p.mean, p.scale, p.kappa
    )
    K = n_clusters
    chi = np.sqrt(rng.chisquare(p.dof + counts[:, None] - np.arange(d)[None, :]))
    normals = rng.standard_normal((K, d * (d - 1) // 2))
    if hyper.kappa is not None:
        z = rng.standard_normal((K, d)) / np.sqrt(p.kappa + counts)[:, None]
    else:
        z = np.zeros((K, d))
    trace_sum, quad_sum = hyper_statistics(R, chi, normals, mu - p.mean, z, np.sqrt(hyper.base))
    b, kappa = state
    if hyper.scale is not None:
        g = hyper.scale
        shape = g.shape + 0.5 * n_clusters * d * p.dof
        b = float(rng.gamma(shape, 1.0 / (g.rate + 0.5 * trace_sum)))
        # Rows that all coincide drive b to 0; keep the scale regularised as
        # reg_covar="auto" does (1e-6 of the data's variance), never binding otherwise.
        b = max(b, hyper.b_min)
    if hyper.kappa is not None:
        g = hyper.kappa
        kappa = float(rng.gamma(g.shape + 0.5 * n_clusters * d, 1.0 / (g.rate + 0.5 * quad_sum)))
    return HyperState(b, kappa)


def log_b_conditional(u, g: Gamma, nu0: float, counts, lam) -> np.ndarray:
    """``log p(u | partition, X)`` up to a constant, ``u = log b``, with the
    cluster parameters integrated out (``kappa0`` fixed).

    ``Psi_n = b A + B_k`` with ``B_k = S_k + kappa0 n_k / (kappa0 + n_k) (xbar_k
    - m0)(xbar_k - m0)^T`` free of ``b``, so ``log|Psi_n| = log|A| + sum_j log(b
    + lam_kj)``, ``lam_k`` the eigenvalues of ``A^-1/2 B_k A^-1/2`` (K, D); the
    NIW marginal likelihoods then give ``g u - h e^u + sum_k [nu0 D u / 2 -
    (nu0 + n_k) / 2 sum_j log(e^u + lam_kj)]`` (with the Jacobian of ``u``),
    concave in ``u``."""
    u = np.atleast_1d(np.asarray(u, dtype=float))
    b = np.exp(u)
    K, d = lam.shape
    out = (g.shape + 0.5 * K * d * nu0) * u - g.rate * b
    weights = np.repeat(0.5 * (nu0 + counts), d)  # (K D,), cluster by cluster
    return out - np.log(b[:, None] + lam.reshape(-1)[None, :]) @ weights


def draw_b_collapsed(
    rng,
    model: Model,
    hyper: Hyper,
    state: HyperState,
    labels: np.ndarray,
    n_clusters: int,
    mult: np.ndarray,
) -> float:
    """One draw of ``b`` from ``p(b | partition, X)``, the cluster parameters
    integrated out (:func:`log_b_conditional`), by slice sampling ``u = log b``
    with stepping out and shrinkage (Neal 2003), given the partition ``labels``
    (n_samples,) of ``n_clusters`` clusters; ``model`` is the model at ``state``.

    Unlike the data-augmentation update, whose ``b`` and cluster precisions
    are so tightly coupled in several dimensions that ``b`` moves by a small
    step per iteration, this draws ``b`` from its conditional given the
    partition alone.  ``b`` stays above ``hyper.b_min`` (a truncation of the
    conditional that binds only for coincident rows)."""
    p = model.prior
    K = n_clusters
    d = model.X.shape[1]
    counts = np.empty(K, dtype=np.int64)
    lam = np.empty((K, d))
    scale_eigenvalues(model.X, mult, labels, K, p.mean, float(p.kappa), hyper.base, counts, lam)
    nu0 = p.dof
    g = hyper.scale
    lo_bound = math.log(hyper.b_min) if hyper.b_min > 0 else -math.inf
    width = 2.0 / math.sqrt(g.shape + 0.5 * K * d * nu0)  # about the conditional's sd
    weights = np.ascontiguousarray(np.repeat(0.5 * (nu0 + counts), d), dtype=np.float64)
    head = g.shape + 0.5 * K * d * nu0
    seed = int(rng.integers(0, 2**63))
    return float(
        slice_log_b(
            math.log(state.b), head, g.rate, lam.reshape(-1), weights, lo_bound, width, seed
        )
    )


def log_partition_posterior(
    model: Model,
    hyper: Hyper | None,
    labels: np.ndarray,
    n_clusters: int,
    alpha: float,
    mult: np.ndarray | None = None,
) -> float:
    """``log p(c | X)`` up to a constant for a compact partition ``labels``
    (n_samples,) of ``n_clusters`` clusters under the DP concentration
    ``alpha``: ``K log alpha + sum_k [lgamma(n_k) + log ML_k]``, with ``b``
    integrated out (its Gamma hyperprior, by quadrature over ``log b`` about
    the mode of :func:`log_b_conditional`) when the scale is learned, else at
    ``model``'s prior (a learned ``kappa0`` at its current value).  Used to
    compare candidate starting partitions."""
    from scipy.special import gammaln, logsumexp

    p = model.prior
    K = n_clusters
    d = model.X.shape[1]
    mult = model.start_mult if mult is None else mult
    if hyper is not None and hyper.scale is not None:
        counts = np.empty(K, dtype=np.int64)
        lam = np.empty((K, d))
        scale_eigenvalues(model.X, mult, labels, K, p.mean, float(p.kappa), hyper.base, counts, lam)
        g = hyper.scale
        coarse = np.arange(-25.0, 25.0, 0.05)  # concave in u: the mode is within a step
        top = coarse[np.argmax(log_b_conditional(coarse, g, p.dof, counts, lam))]
        # the conditional's sd from its curvature there: -f'' = h b + sum w b lam / (b + lam)^2
        b = math.exp(top)
        curv = g.rate * b + np.sum(
            np.repeat(0.5 * (p.dof + counts), d) * b * lam.ravel() / (b + lam.ravel()) ** 2
        )
        width = min(12.0 / math.sqrt(max(curv, 1e-12)), 30.0)
        u = np.linspace(top - 0.05 - width, top + 0.05 + width, 801)
        log_ml = logsumexp(log_b_conditional(u, g, p.dof, counts, lam)) + math.log(u[1] - u[0])
        consts0 = np.array([p.kappa, p.dof, 0.0, d])
        log_ml += table_g(hyper.tables0, consts0, counts).sum()
    else:
        counts, _, _, logdet = cluster_posteriors(
            model.X, mult, labels, K, p.mean, p.scale, p.kappa
        )
        g = table_g(model.tables, model.consts, counts)
        log_ml = float(np.sum(g - 0.5 * (p.dof + counts) * logdet))
    return float(K * math.log(alpha) + gammaln(counts).sum() + log_ml)


def log_hyperprior(hyper: Hyper, state: HyperState) -> float:
    """``log p(b) + log p(kappa0)`` over the learned hyperparameters."""
    out = 0.0
    for g, x in ((hyper.scale, state.b), (hyper.kappa, state.kappa)):
        if g is not None:
            out += g.shape * math.log(g.rate) - math.lgamma(g.shape)
            out += (g.shape - 1.0) * math.log(x) - g.rate * x
    return out


def prepare(
    X: np.ndarray, prior: NormalInverseWishart, rows: SamplerRows | None = None
) -> tuple[Model, Hyper | None]:
    """The model of the sampler's rows ``X`` (n_samples, n_features, data units;
    ``rows`` says how many copies each holds) under a resolved ``prior``
    (:func:`resolve_prior`), and its hyperpriors (None when every value is
    fixed: the model is then exactly ``prepare_model``'s)."""
    if not prior.learned:
        return prepare_model(X, prior, rows), None
    d = X.shape[1]
    placeholder = NormalInverseWishart(
        mean=prior.mean,
        kappa=prior.kappa.mean if isinstance(prior.kappa, Gamma) else prior.kappa,
        dof=prior.dof,
        scale=np.eye(d) if isinstance(prior.scale, RandomScale) else prior.scale,
    )
    model = prepare_model(X, placeholder, rows)
    p = model.prior
    Xs = model.X
    w = model.start_mult.astype(np.float64)
    base = RandomScale.base(Xs)
    scale_prior = prior.scale.gamma if isinstance(prior.scale, RandomScale) else None
    kappa_prior = prior.kappa if isinstance(prior.kappa, Gamma) else None
    diff = Xs - p.mean
    if scale_prior is not None:  # q = sq_dist / b
        sq_dist = (diff**2 / base).sum(axis=1)
        # start where E[Sigma] is about the data's per-feature variance
        if model.mult is None:
            var = Xs.var(axis=0)
        else:
            mean = w @ Xs / w.sum()
            var = w @ (Xs - mean) ** 2 / w.sum()
        var = np.where(var > 0, var, base / 2.0)
        b0 = max(p.dof - d - 1.0, 1.0) * float(np.mean(var / base))
    else:  # q = sq_dist
        sq_dist = np.einsum("ij,ij->i", diff @ np.linalg.inv(p.scale), diff)
        b0 = math.nan
    tables0 = niw_tables(model.tables.shape[1] - 1, d, p.kappa, p.dof, 0.0)
    b_min = 1e-6 * b0 if scale_prior is not None else 0.0
    hyper = Hyper(scale_prior, kappa_prior, base, sq_dist, tables0, b_min)
    return model_at(model, hyper, HyperState(b0, float(p.kappa))), hyper


def prior_at(prior: NormalInverseWishart, base: np.ndarray | None, b: float, kappa: float):
    """``prior`` (standardised) with ``kappa0 = kappa`` and, unless ``base`` is
    None (a fixed scale), ``Psi0 = b diag(base)``; built without re-checking its
    values (they come from a checked prior)."""
    scale = prior.scale if base is None else np.diag(b * base)
    new = NormalInverseWishart.__new__(NormalInverseWishart)
    values = {"mean": prior.mean, "kappa": kappa, "dof": prior.dof, "scale": scale}
    for name, value in values.items():
        object.__setattr__(new, name, value)
    return new


def summarise_hyper(model: Model, hyper: Hyper | None, b, kappa):
    """What a fit publishes about the base measure, from the kept
    hyperparameter draws ``b`` and ``kappa`` (n_chains, n_kept) (None when
    nothing is learned).

    Returns
    -------
    scale_base : (n_features,) or None
        ``diag(A)`` (standardised) when the scale is learned.
    prior : NormalInverseWishart
        Standardised, hyperparameters at their posterior means.
    public : NormalInverseWishart
        The same prior in data units (``component_prior_``).
    scale_samples : (n_chains, n_kept, n_features) or None
        Diagonal of the scale of each draw, data units.
    kappa_samples : (n_chains, n_kept) or None
    """
    std = model.standardiser
    p = model.prior
    scale_base = scale_samples = kappa_samples = None
    if hyper is not None:
        p = model_at(model, hyper, HyperState(float(np.mean(b)), float(np.mean(kappa)))).prior
        if hyper.scale is not None:
            scale_base = hyper.base
            scale_samples = b[..., None] * (hyper.base * std.scale**2)
        if hyper.kappa is not None:
            kappa_samples = kappa
    public = NormalInverseWishart(
        mean=p.mean * std.scale + std.center,
        kappa=p.kappa,
        dof=p.dof,
        scale=p.scale * std.scale**2,
    )
    return scale_base, p, public, scale_samples, kappa_samples
