"""Coordinate-ascent variational inference for Gaussian mixtures, as pure
functions over a small state (standardised units).

Bishop (2006) §10.2; Blei & Jordan (2006) for the stick-breaking weights;
Kurihara, Welling & Teh (2007) for the truncated DP bound.  One iteration
(:func:`step`) is

* an **E-step** through the shared kernel: ``E_q[log pi_k] + E_q[log N(x |
  mu_k, Sigma_k)]`` is a Gaussian log-density (built by
  :func:`bayesmix._components.expected_gaussian`) whose quadratic form uses
  ``E_q[Sigma_k^-1]``, so one kernel pass gives the responsibilities,
  ``sum_i w_i log sum_k exp(...)`` and the weighted sufficient statistics;
* an **update of the variational posteriors** from those statistics
  (:func:`update`: closed-form conjugate updates in O(K D^3), no further pass
  over the data; the covariance type's part is
  :meth:`~bayesmix.covariance.CovarianceStructure.conjugate_update`), and
  their expectations and KL divergences (:func:`expect`).

The ELBO is assembled from the same statistics (:func:`energy`).  Nothing here
reads an estimator: :class:`~bayesmix.VariationalGaussianMixture` is the
shell that validates, calls :func:`cavi` per initialisation and publishes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from scipy.special import betaln, digamma, gammaln

from . import _vb_hyper
from ._components import Components, expected_gaussian
from ._conjugate import gamma_kl
from ._kernels import MixtureStats, log_prob_pass
from ._vb_uncertainty import missing_information
from .covariance import CovarianceStructure
from .priors import Gamma

__all__ = [
    "LegacyFamily",
    "Posterior",
    "Prior",
    "Run",
    "cavi",
    "draw_parameters",
    "draw_predictive",
    "effective",
    "energy",
    "energy_terms",
    "expect",
    "init",
    "mean_weights",
    "predictive_log_prob",
    "step",
    "try_reorder",
    "update",
    "weight_elbo",
    "weight_posterior",
]


# ------------------------------------------------------------------------ state
@dataclass
class Prior:
    """The resolved prior in standardised units."""

    mean: np.ndarray  # (D,)
    kappa: float
    dof: float
    scale: np.ndarray  # (D, D)
    scale_t: object  # prior scale in the covariance type's shape
    dp: bool
    concentration: float  # Dirichlet concentration, or the fixed / prior-mean DP one
    gamma: Gamma | None  # hyperprior of the DP concentration when learned
    # hyperpriors of the base measure (:mod:`bayesmix._vb_hyper`); None: fixed.
    # When learned, ``scale`` / ``kappa`` above are only the starting values.
    scale_gamma: Gamma | None = None  # b ~ Gamma, Psi0 = b diag(base)
    base: np.ndarray | None = None  # (D,) diagonal of A (standardised units)
    b_start: float | None = None  # the starting E[b]
    kappa_gamma: Gamma | None = None  # kappa0 ~ Gamma

    @property
    def learned(self) -> bool:
        """True when a base-measure hyperparameter is learned."""
        return self.scale_gamma is not None or self.kappa_gamma is not None


@dataclass
class Posterior:
    """Variational parameters in standardised units, and (after :func:`expect`)
    the expectations an iteration reads."""

    weight_a: np.ndarray  # Dirichlet alpha_k, or the first Beta parameter of each stick
    weight_b: np.ndarray | None  # second Beta parameter of each stick (DP), else None
    conc_shape: float | None  # q(concentration) = Gamma(shape, rate) when learned
    conc_rate: float | None
    kappa: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    dof: np.ndarray  # (K,)
    scale: np.ndarray  # covariance type's shape
    # q(b) and q(kappa0) = Gamma(shape, rate) when learned (:mod:`._vb_hyper`)
    b_shape: float | None = None
    b_rate: float | None = None
    k_shape: float | None = None
    k_rate: float | None = None
    # derived arrays (filled by expect)
    prec: np.ndarray = field(default=None, repr=False)  # kernel factors of E[Lambda]
    log_det_u: np.ndarray = field(default=None, repr=False)
    e_prec: np.ndarray = field(default=None, repr=False)  # E[Lambda] (K,D,D) or diag (K,D)
    e_log_pi: np.ndarray = field(default=None, repr=False)
    log_const: np.ndarray = field(default=None, repr=False)
    kl: float = 0.0
    # the hyperparameters' part of ``kl`` (:func:`bayesmix._vb_hyper.kl`): a
    # constant for the moves, which score candidates at a fixed q(b) q(kappa0)
    kl_hyper: float = 0.0
    # KL of each component's q(mu, Sigma) (K,); None for a shared covariance
    kl_components: np.ndarray = field(default=None, repr=False)


class LegacyFamily:
    """What files saved by bayesmix 0.1.0 hold as ``_family`` (``bayesmix.vb:_Full``
    and its siblings): only its ``structure`` is read, by
    ``VariationalGaussianMixture._after_load``."""


@dataclass
class Run:
    """The result of one initialisation."""

    post: Posterior
    lower_bounds: list
    elbo: float
    nk: np.ndarray
    converged: bool
    moves: list = field(default_factory=list)  # accepted merge / delete moves


# ---------------------------------------------------------------------- updates
def update(stats, shift, prior: Prior, structure: CovarianceStructure, old) -> Posterior:
    """Conjugate updates of q(pi) (and q(alpha)) and q(mu, Sigma) from the
    statistics ``stats`` (``nk``, ``s1``, ``s2``) accumulated around ``shift``
    (K, D); ``old`` is the previous posterior (None at the start).  The
    returned posterior has no expectations yet (see :func:`expect`).  Learned
    base-measure hyperparameters keep ``old``'s ``q`` (the prior's start when
    ``old`` is None) and enter at their expectations."""
    if old is None:
        k, d = stats.s1.shape
        hyper = _vb_hyper.start(prior, structure, k, d)
    else:
        hyper = {f: getattr(old, f) for f in ("b_shape", "b_rate", "k_shape", "k_rate")}
    weights = weight_posterior(stats.nk, prior, old)
    prior = _vb_hyper.at(prior, SimpleNamespace(**hyper), structure)
    nk = stats.nk
    s1 = stats.s1
    kappa = prior.kappa + nk
    m0 = prior.mean[None, :] - shift  # prior mean relative to the shift
    means = shift + (prior.kappa * m0 + s1) / kappa[:, None]
    c = (prior.kappa * nk / kappa)[:, None]
    if structure.diagonal:
        incr = (
            stats.s2[:, 0, :]
            - s1 * s1 / kappa[:, None]
            + c * m0 * m0
            - 2.0 * prior.kappa * m0 * s1 / kappa[:, None]
        )
    else:
        cross = m0[:, :, None] * s1[:, None, :]
        incr = (
            stats.s2
            - s1[:, :, None] * s1[:, None, :] / kappa[:, None, None]
            + c[:, :, None] * m0[:, :, None] * m0[:, None, :]
            - prior.kappa * (cross + np.swapaxes(cross, 1, 2)) / kappa[:, None, None]
        )
        incr = 0.5 * (incr + np.swapaxes(incr, 1, 2))
    dof, scale = structure.conjugate_update(prior.scale_t, prior.dof, nk, incr)

    return Posterior(*weights, kappa, means, dof, scale, **hyper)


def weight_posterior(nk, prior: Prior, old):
    """``(weight_a, weight_b, conc_shape, conc_rate)``: the conjugate update of
    q(pi) (or of the sticks q(v) and q(alpha)) from the counts ``nk`` (K,);
    ``old`` (a Posterior or None) supplies ``E[alpha]`` when it is learned."""
    conc_shape = conc_rate = None
    if prior.dp:
        if prior.gamma is not None:
            conc = prior.concentration if old is None else old.conc_shape / old.conc_rate
        else:
            conc = prior.concentration
        tail = np.concatenate((np.cumsum(nk[::-1])[-2::-1], [0.0]))
        weight_a, weight_b = 1.0 + nk, conc + tail
        if prior.gamma is not None:
            e_log_1mv = digamma(weight_b) - digamma(weight_a + weight_b)
            conc_shape = prior.gamma.shape + nk.shape[0]
            conc_rate = prior.gamma.rate - e_log_1mv.sum()
    else:
        weight_a, weight_b = prior.concentration + nk, None
    return weight_a, weight_b, conc_shape, conc_rate


def weight_elbo(nk, prior: Prior, old) -> float:
    """The part of ``ELBO(r, q(r))`` that depends on the weights alone:
    ``sum_k nk_k E[log pi_k] - KL(q(pi or v) q(alpha) || prior)`` with ``q`` the
    conjugate update from the counts ``nk`` (K,), in their order."""
    a, b, shape, rate = weight_posterior(nk, prior, old)
    post = SimpleNamespace(weight_a=a, weight_b=b, conc_shape=shape, conc_rate=rate)
    e_log_pi, kl_w = _weight_terms(post, prior, nk.shape[0])
    return float(nk @ e_log_pi - kl_w)


def _weight_terms(post: Posterior, prior: Prior, n_components: int):
    """``E[log pi]`` (K,) and KL(q(pi or v) q(alpha) || prior)."""
    a, b = post.weight_a, post.weight_b
    if b is None:
        e_log_pi = digamma(a) - digamma(a.sum())
        alpha0 = prior.concentration
        kl_w = (
            gammaln(a.sum())
            - gammaln(a).sum()
            - gammaln(n_components * alpha0)
            + n_components * gammaln(alpha0)
            + ((a - alpha0) * e_log_pi).sum()
        )
        return e_log_pi, kl_w
    dab = digamma(a + b)
    e_log_v = digamma(a) - dab
    e_log_1mv = digamma(b) - dab
    e_log_pi = e_log_v + np.concatenate(([0.0], np.cumsum(e_log_1mv)[:-1]))
    if post.conc_shape is None:
        e_conc, e_log_conc, kl_conc = prior.concentration, np.log(prior.concentration), 0.0
    else:
        e_conc = post.conc_shape / post.conc_rate
        e_log_conc = digamma(post.conc_shape) - np.log(post.conc_rate)
        kl_conc = gamma_kl(post.conc_shape, post.conc_rate, prior.gamma.shape, prior.gamma.rate)
    # KL(q(v) || p(v | alpha)) with p(v | alpha) = Beta(1, alpha)
    e_log_q = -betaln(a, b) + (a - 1.0) * e_log_v + (b - 1.0) * e_log_1mv
    e_log_p = e_log_conc + (e_conc - 1.0) * e_log_1mv
    return e_log_pi, float((e_log_q - e_log_p).sum()) + kl_conc


def _kernel_precision(prec, diagonal: bool):
    """``E[Lambda]`` from its kernel factors: (K, D, D), or its diagonals (K, D)
    in diagonal mode (with D = 1 the two modes have the same ``prec`` shape)."""
    if diagonal:
        return prec[:, 0, :] ** 2
    return prec @ np.swapaxes(prec, 1, 2)


def expect(post: Posterior, prior: Prior, structure: CovarianceStructure) -> Posterior:
    """``post`` with its kernel arrays, E[log pi], E[Lambda] and KL(q || prior)."""
    k, d = post.means.shape
    kl_hyper = _vb_hyper.kl(post, prior, structure)
    prior = _vb_hyper.at(prior, post, structure)
    e_cov = structure.expected_covariance(post.dof, post.scale, d)
    _, prec_chol, _ = structure.factorise(e_cov)
    prec, log_det_u = structure.kernel_arrays(prec_chol, k, d)
    e_prec = _kernel_precision(prec, structure.diagonal)
    e_log_det = 2.0 * log_det_u + structure.elogdet_correction(post.dof, d)
    e_log_pi, kl_w = _weight_terms(post, prior, k)

    # components: Wishart blocks + the Gaussian of each mean given its precision
    diff = post.means - prior.mean
    if e_prec.ndim == 2:
        maha = (diff * diff * e_prec).sum(axis=1)
    else:
        maha = np.einsum("ki,kij,kj->k", diff, e_prec, diff)
    ratio = prior.kappa / post.kappa
    kl_mean_k = 0.5 * (d * ratio - d - d * np.log(ratio) + prior.kappa * maha)
    kl_mean = kl_mean_k.sum()
    kl_prec_k = structure.precision_kl_terms(
        post.dof, post.scale, log_det_u, e_prec, prior.dof, prior.scale_t
    )
    kl_prec = kl_prec_k.sum()
    # a shared covariance's KL belongs to no one component
    kl_components = None if structure.shared else kl_mean_k + kl_prec_k
    comps = expected_gaussian(e_log_pi, post.means, prec, e_log_det, post.kappa)
    return dataclasses.replace(
        post,
        prec=comps.prec,
        log_det_u=log_det_u,
        e_prec=e_prec,
        e_log_pi=e_log_pi,
        log_const=comps.log_const,
        kl=float(kl_w + kl_mean + kl_prec + kl_hyper),
        kl_hyper=kl_hyper,
        kl_components=kl_components,
    )


def _quadratic(post: Posterior, stats, shift) -> np.ndarray:
    """``sum_i w_i r_ik (x_i - m_k)^T E[Lambda_k] (x_i - m_k)`` (K,) from
    statistics accumulated around ``shift``."""
    nk = stats.nk
    dm = post.means - shift
    s1 = stats.s1
    if post.e_prec.ndim == 2:
        s2 = stats.s2[:, 0, :] - 2.0 * s1 * dm + nk[:, None] * dm * dm
        return (post.e_prec * s2).sum(axis=1)
    cross = s1[:, :, None] * dm[:, None, :]
    s2 = stats.s2 - cross - np.swapaxes(cross, 1, 2)
    s2 = s2 + nk[:, None, None] * dm[:, :, None] * dm[:, None, :]
    return (post.e_prec * s2).sum(axis=(1, 2))


def energy(post: Posterior, stats, shift) -> float:
    """``sum_ik w_i r_ik log_p_ik`` under ``post`` for the responsibilities
    whose statistics ``stats`` were accumulated around ``shift``."""
    return float(stats.nk @ post.log_const - 0.5 * _quadratic(post, stats, shift).sum())


def energy_terms(post: Posterior, stats, shift) -> np.ndarray:
    """:func:`energy` per component, (K,)."""
    return stats.nk * post.log_const - 0.5 * _quadratic(post, stats, shift)


def try_reorder(post, elbo, entropy, stats, old, prior, structure):
    """Relabel the components by decreasing expected count when that raises
    the ELBO: the stick-breaking prior favours large early sticks, and an
    emptied stick in front of a used one costs ELBO for nothing.  Returns
    ``(post, elbo)``, relabelled or as given."""
    order = np.argsort(-stats.nk, kind="stable")
    if np.array_equal(order, np.arange(order.size)):
        return post, elbo
    permuted = SimpleNamespace(nk=stats.nk[order], s1=stats.s1[order], s2=stats.s2[order])
    shift = old.means[order]
    candidate = expect(update(permuted, shift, prior, structure, old), prior, structure)
    cand_elbo = entropy + energy(candidate, permuted, shift) - candidate.kl
    if cand_elbo > elbo:
        return candidate, cand_elbo
    return post, elbo


# ------------------------------------------------------------------- iterations
def init(Xt, w, resp, prior: Prior, structure: CovarianceStructure, hyper=None, stats=None):
    """The statistics workspace and the first posterior from initial
    responsibilities ``resp`` (n_samples, K); learned hyperparameters start
    from ``hyper``'s ``q`` (a Posterior) when given.  ``stats``: the workspace
    to use (data with missing cells: :class:`bayesmix._vb_missing.PatternStats`);
    None: the kernels' :class:`~bayesmix._kernels.MixtureStats`."""
    n_features = Xt.shape[0]
    k = resp.shape[1]
    if stats is None:
        stats = MixtureStats(Xt.shape[1], k, n_features, structure.diagonal)
    shift = np.zeros((k, n_features))
    stats.from_resp(Xt, w, resp, shift)
    post = expect(update(stats, shift, prior, structure, hyper), prior, structure)
    return stats, refresh_hyper(stats, shift, post, prior, structure)


# Rounds of coordinate steps q(b) q(kappa0) <-> q(mu, Sigma) per iteration
# (responsibilities fixed): they need no pass over the data, so the
# hyperparameters reach their optimum for the current responsibilities within
# each iteration instead of creeping towards it one E-step at a time.
_HYPER_ROUNDS = 10
_HYPER_RTOL = 1e-6


def _rates(post) -> np.ndarray:
    return np.array([post.b_rate or 1.0, post.k_rate or 1.0])


def _hyper_step(stats, shift, post, prior, structure, rates=None):
    """``q(b) q(kappa0)`` updated from ``post`` (or set to the given ``rates``,
    shapes kept), then ``q(mu, Sigma)`` and the weights updated for them."""
    if rates is None:
        hyper = _vb_hyper.update(post, prior, structure)
    else:
        hyper = dataclasses.replace(
            post,
            b_rate=None if post.b_rate is None else float(rates[0]),
            k_rate=None if post.k_rate is None else float(rates[1]),
        )
    return expect(update(stats, shift, prior, structure, hyper), prior, structure)


def refresh_hyper(stats, shift, post: Posterior, prior: Prior, structure) -> Posterior:
    """Raise the ELBO over ``q(b) q(kappa0)``, ``q(mu, Sigma)`` and the weights
    for the statistics ``stats`` around ``shift`` (``post`` as given when no
    hyperparameter is learned).

    Each round is two exact coordinate steps, which cannot lower the ELBO,
    then an Aitken extrapolation of the two Gamma rates (the coordinate steps
    converge linearly: the components the data leave empty pull ``q(b)``
    towards its current value), kept only when its ELBO is higher.
    """
    if not prior.learned:
        return post
    for _ in range(_HYPER_ROUNDS):
        first = _hyper_step(stats, shift, post, prior, structure)
        if np.all(np.abs(_rates(first) - _rates(post)) <= _HYPER_RTOL * _rates(first)):
            return first
        second = _hyper_step(stats, shift, first, prior, structure)
        r0, r1, r2 = _rates(post), _rates(first), _rates(second)
        best = second
        if np.all(np.abs(r2 - r1) <= _HYPER_RTOL * r2):
            return best
        with np.errstate(divide="ignore", invalid="ignore"):
            jump = r2 - (r2 - r1) ** 2 / (r2 - 2.0 * r1 + r0)
        jump = np.where(np.isfinite(jump) & (jump > 0), jump, r2)
        if post.b_rate is not None:  # stay in the family (``_vb_hyper.max_rate``)
            jump[0] = min(jump[0], _vb_hyper.max_rate(prior, post.b_shape))
        if not np.array_equal(jump, r2):
            cand = _hyper_step(stats, shift, second, prior, structure, jump)
            if energy(cand, stats, shift) - cand.kl > energy(second, stats, shift) - second.kl:
                best = cand
        post = best
    return post


def step(Xt, w, stats, post: Posterior, prior: Prior, structure, reorder: bool):
    """One CAVI iteration from ``post``: ``(new posterior, ELBO)``.  ``stats``
    is the workspace of :func:`init`; it ends holding this E-step's
    statistics."""
    old = post
    stats.e_step(Xt, w, old.means, old.prec, old.log_const)
    post = expect(update(stats, old.means, prior, structure, old), prior, structure)
    post = refresh_hyper(stats, old.means, post, prior, structure)
    # ELBO(r_t, q_t) = H(r_t) + energy of r_t under q_t - KL(q_t), where the
    # entropy H(r_t) = sum_i w_i lse_i - energy of r_t under q_{t-1}
    entropy = stats.log_likelihood - energy(old, stats, old.means)
    elbo = entropy + energy(post, stats, old.means) - post.kl
    if prior.dp and reorder:
        post, elbo = try_reorder(post, elbo, entropy, stats, old, prior, structure)
    return post, elbo


def cavi(
    Xt,
    w,
    resp,
    prior,
    structure,
    max_iter,
    tol,
    *,
    reorder=True,
    verbose=0,
    hyper=None,
    stats=None,
    total=None,
) -> Run:
    """Coordinate ascent from initial responsibilities until the ELBO grows by
    less than ``tol`` per unit of weight, or ``max_iter`` iterations (learned
    hyperparameters start from ``hyper``'s ``q`` when given; ``stats`` as for
    :func:`init`; ``total``: the data's total weight when ``w`` are not all
    of it, as for chunked data)."""
    stats, post = init(Xt, w, resp, prior, structure, hyper, stats)
    total = w.sum() if total is None else total
    lower_bounds = []
    converged = False
    for it in range(max_iter):
        post, elbo = step(Xt, w, stats, post, prior, structure, reorder)
        lower_bounds.append(elbo)
        if verbose >= 2:
            print(f"  iteration {it + 1}: ELBO {lower_bounds[-1]:.8f}")
        if it > 0 and lower_bounds[-1] - lower_bounds[-2] < tol * total:
            converged = True
            break
    # the fitted q with its optimal responsibilities: ELBO = sum_i w_i lse_i - KL(q)
    stats.e_step(Xt, w, post.means, post.prec, post.log_const)
    return Run(post, lower_bounds, stats.log_likelihood - post.kl, stats.nk.copy(), converged)


# ----------------------------------------------------------------------- output
def mean_weights(post: Posterior) -> np.ndarray:
    """``E_q[pi]`` (K,), normalised over the K components (for a DP the stick
    mass beyond the truncation is spread proportionally)."""
    if post.weight_b is None:
        return post.weight_a / post.weight_a.sum()
    frac = post.weight_a / (post.weight_a + post.weight_b)
    weights = frac * np.concatenate(([1.0], np.cumprod(1.0 - frac)[:-1]))
    return weights / weights.sum()


def draw_parameters(post: Posterior, structure, n_draws: int, rng, effective) -> dict:
    """``n_draws`` independent draws from ``q`` (standardised units): ``weights``
    (n_draws, K), ``means`` (n_draws, K, D), ``covariances`` (n_draws, K, D, D)
    and, when the DP concentration is learned, ``concentration`` (n_draws,).

    Only the components in the boolean mask ``effective`` (K,) get weight: the
    others' weights are 0 and the rest are normalised to sum to 1.
    """
    k, d = post.means.shape
    if post.weight_b is None:
        weights = rng.dirichlet(post.weight_a, size=n_draws)
    else:
        v = rng.beta(post.weight_a, post.weight_b, size=(n_draws, k))
        rest = np.cumprod(1.0 - v, axis=1)
        weights = v * np.concatenate((np.ones((n_draws, 1)), rest[:, :-1]), axis=1)
    weights[:, ~effective] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    covs = structure.draw_covariances(rng, post.dof, post.scale, n_draws, k, d)
    chol = np.linalg.cholesky(covs)
    z = rng.standard_normal((n_draws, k, d))
    means = post.means + np.einsum("skij,skj->ski", chol, z) / np.sqrt(post.kappa)[:, None]
    out = {"weights": weights, "means": means, "covariances": covs}
    if post.conc_shape is not None:
        out["concentration"] = rng.gamma(post.conc_shape, 1.0 / post.conc_rate, n_draws)
    return out


def predictive_log_prob(Xt, comps: Components, want_resp: bool):
    """``(row_lse (n_samples,), resp or None)`` of the Student-t predictive
    mixture ``comps`` at the standardised rows ``Xt`` (D, n_samples).

    Components with per-feature inverse scales (``prec`` of shape (K, D), see
    :func:`bayesmix._components.student_t_per_feature`) are products of
    univariate Student-t densities: the shared kernel's Student-t is
    multivariate, so each univariate factor is one kernel pass over one feature
    with one component (exact: no responsibilities to underflow).
    """
    means, prec, log_const, dof = comps
    n_samples = Xt.shape[1]
    if prec.ndim == 3:
        row_lse = np.empty(n_samples)
        resp = np.empty((n_samples, means.shape[0])) if want_resp else None
        log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse, resp=resp, dof=dof)
        return row_lse, resp
    logp = _per_feature_logpdf(Xt, means, prec, log_const, dof)
    top = logp.max(axis=0)
    shifted = np.exp(logp - top)
    total = shifted.sum(axis=0)
    row_lse = top + np.log(total)
    resp = np.ascontiguousarray((shifted / total).T) if want_resp else None
    return row_lse, resp


def _per_feature_logpdf(Xt, means, inv_scale, log_const, dof_t):
    """Log-density (K, n_samples) of products of univariate Student-t densities:
    component ``k`` has ``dof_t[k]`` degrees of freedom, centres ``means[k]``,
    inverse scales ``inv_scale[k]`` and normalising constant (and log-weight)
    ``log_const[k]``."""
    n_features, n_samples = Xt.shape
    n_components = means.shape[0]
    logp = np.empty((n_components, n_samples))
    row = np.empty(n_samples)
    zero = np.zeros(1)
    for k in range(n_components):
        logp[k] = log_const[k]
        dof = np.array([dof_t[k]])
        for f in range(n_features):
            centre = np.array([[means[k, f]]])
            prec = np.array([[[inv_scale[k, f]]]])
            log_prob_pass(Xt[f : f + 1], centre, prec, zero, row_lse=row, dof=dof)
            logp[k] += row
    return logp


def draw_predictive(post: Posterior, structure, weights, n_samples: int, rng):
    """``n_samples`` rows (standardised units) from the posterior predictive (a
    mixture of Student-t densities with weights ``weights``), and their
    component labels."""
    k, d = post.means.shape
    dof_t, cov_t = structure.predictive_scale(post.dof, post.scale, post.kappa, d)
    counts = rng.multinomial(n_samples, weights)
    labels = np.repeat(np.arange(k), counts)
    z = rng.standard_normal((n_samples, d))
    per_feature = structure.feature_blocks
    chi2 = rng.chisquare(dof_t[labels][:, None], size=(n_samples, d if per_feature else 1))
    z *= np.sqrt(dof_t[labels][:, None] / chi2)
    if per_feature:
        return post.means[labels] + np.sqrt(cov_t)[labels] * z, labels
    full = structure.per_component().to_full(cov_t, k, d)
    chol = np.linalg.cholesky(full)
    return post.means[labels] + np.einsum("nij,nj->ni", chol[labels], z), labels


def effective(Xt, w, post: Posterior, predictive: Components, structure, *, proba=None, stats=None):
    """``(effective (K,) bool, missing information)``: the components that are
    the most probable under the predictive mixture for at least one row of
    positive weight, and the fraction of missing information of their weights
    (:func:`bayesmix._vb_uncertainty.missing_information`, from the E-step
    responsibilities restricted to them: empty components carry none).
    ``proba`` (n_samples, K): the predictive membership probabilities when
    already known; ``stats``: the E-step workspace, as for :func:`init`."""
    k, n_features = post.means.shape
    if proba is None:
        _, proba = predictive_log_prob(Xt, predictive, True)
    mask = np.zeros(k, dtype=bool)
    mask[np.unique(proba[w > 0].argmax(axis=1))] = True
    resp = np.empty((Xt.shape[1], k))
    if stats is None:
        stats = MixtureStats(Xt.shape[1], k, n_features, structure.diagonal)
    stats.e_step(Xt, w, post.means, post.prec, post.log_const, resp=resp)
    resp = resp[:, mask]
    resp /= resp.sum(axis=1, keepdims=True)
    return mask, missing_information(resp, w)
