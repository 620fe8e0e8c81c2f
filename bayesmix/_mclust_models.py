"""M-steps of mclust's volume / shape / orientation covariance models.

Celeux & Govaert (1995) write each component covariance as

    Sigma_k = lambda_k D_k A_k D_k^T,

``lambda_k = |Sigma_k|^(1/d)`` its volume, ``A_k`` a diagonal shape matrix with
``|A_k| = 1`` and ``D_k`` an orthogonal orientation.  Each factor is Equal for
every component, Variable, or (shape and orientation) the Identity; the three
letters of a model name say which (Fraley & Raftery 2002, table 1).

Every function here maximises the expected complete-data log-likelihood of
one model, that is minimises over the model's covariances

    sum_k [ n_k log |Sigma_k| + tr(W_k Sigma_k^-1) ],

given the weighted counts ``nk`` (K,) and the weighted scatter matrices about
the new means ``W_k`` (K, D, D) (only their diagonals (K, D) for the diagonal
models).  Regularisation adds ``n_k * reg`` to the diagonal of each scatter
(:func:`scatter`), which for VVV, EEE, VVI and VII is exactly the old
``Sigma + reg I`` and for the others keeps the model's structure.

Closed forms: EII, VII, EEI, EVI, VVI, EEE, EEV, EVV, VVV (Celeux & Govaert
1995, §3).  Iterative: VEI, VEE, VEV alternate the volumes and the common
shape (or shape and orientation) by fixed-point iteration (Celeux & Govaert
1995, §3.2-3.4); EVE and VVE alternate closed-form volumes and shapes with a
minorise-maximise step on the common orientation (Browne & McNicholas 2014,
"Estimating common principal components in high dimensions", ADAC 8) and a
sweep of exact plane rotations (as in Flury & Gautschi 1986), without which
the MM step crawls on ill-conditioned scatters (wine's raw columns: 1e5
passes instead of 80).  The loops are compiled
(:mod:`bayesmix._kernels._mclust`).  Every
pass of an iteration lowers the objective, so started from the previous EM
parameters (``previous``) an M-step never does worse than those parameters
and the EM log-likelihood never decreases; without ``previous`` the iteration
starts from the closest closed-form model.  Iterations stop when the largest
relative change of a volume or shape, or the largest change of an orientation
entry, is below ``INNER_TOL`` (or after ``INNER_MAX_ITER`` passes).

Every function returns the covariances as a (K, D, D) stack, standardised
units in, standardised units out.
"""

from __future__ import annotations

import numpy as np

from ._kernels._mclust import common_orientation, vee_fixed_point, volume_shape_fixed_point

__all__ = [
    "INNER_MAX_ITER",
    "INNER_TOL",
    "INNER_WARM_ITER",
    "M_STEPS",
    "factors",
    "flat_components",
    "n_cov_parameters",
    "scatter",
]

# mclust's inner tolerance is sqrt(machine eps) ~ 1.5e-8 on its own criterion;
# ours is on the parameters themselves, tighter, so that two implementations agree
# to about 1e-8 and a warm-started step ends where a cold one does.
INNER_TOL = 1e-10
INNER_MAX_ITER = 1000
SCATTER_FLOOR = 1e-10  # see scatter(); the jitter policy's first step, per unit weight
INNER_WARM_ITER = 8  # EVE / VVE orientation passes per EM iteration (see _common_orientation_step)


# ------------------------------------------------------------------- helpers
def scatter(nk, centred, reg, diagonal: bool) -> np.ndarray:
    """Regularised scatter: ``W_k + n_k diag(reg)``.

    ``centred`` (K, P, D) holds the weighted second moments about the new
    means (P = 1: their diagonals); ``reg`` is one value or one per feature.
    Returns (K, D) diagonals when ``diagonal``, else (K, D, D).
    """
    added = nk[:, None] * np.asarray(reg, dtype=float)  # (K, 1) or (K, D)
    # With reg_covar = 0 a scatter can be singular (duplicated rows, constant or
    # collinear columns), and the shapes and volumes are ratios of its
    # determinants: such a scatter gets SCATTER_FLOOR per unit weight (standardised
    # units, where the data's variance is about 1) in its flat directions, so the
    # M-step stays finite and the fit is reported as collapsed.
    # A per-feature reg (reg_covar="auto": 1e-6 of each feature's variance)
    # already keeps every scatter positive definite in each feature's own
    # units; an absolute floor there would swamp a feature whose variance is
    # below 1e-10 of the largest one's (raw tables with columns of very
    # different scales), so it only serves a single (or zero) reg.
    floor = nk * SCATTER_FLOOR
    reg_arr = np.asarray(reg, dtype=float)
    if reg_arr.ndim and (reg_arr > 0).all():
        floor = np.zeros_like(floor)
    if diagonal:
        return np.maximum(centred[:, 0, :] + added, floor[:, None])
    out = np.array(centred, dtype=float)
    diag = np.einsum("kii->ki", out)  # a writable view of the diagonals
    diag += added
    if not floor.any():
        return out
    low = np.linalg.eigvalsh(out)[:, 0]
    flat = low <= floor
    if flat.any():
        diag += np.where(flat, floor - np.minimum(low, 0.0), 0.0)[:, None]
    return out


def _geomean(x):
    """Geometric mean over the last axis (positive entries)."""
    return np.exp(np.log(x).mean(axis=-1))


def _diag_stack(v):
    """(K, D) -> (K, D, D) diagonal matrices."""
    return v[..., :, None] * np.eye(v.shape[-1])


def _eigh_desc(mats):
    """Eigenvalues (K, D) in decreasing order and their vectors (K, D, D)."""
    vals, vecs = np.linalg.eigh(mats)
    return np.maximum(vals[..., ::-1], 0.0), vecs[..., ::-1]


def _previous_volumes(previous, d):
    """Volumes ``|Sigma_k|^(1/d)`` (K,) of previous covariances (K, D, D)."""
    sign, logdet = np.linalg.slogdet(previous)
    if not (sign > 0).all():
        return None
    return np.exp(logdet / d)


def _common_orientation(previous):
    """An orthogonal D (D, D) diagonalising every previous covariance (K, D, D)
    of a common-orientation model: the eigenvectors of an unevenly weighted
    sum, so that equal eigenvalues of one component are separated by another's."""
    k = previous.shape[0]
    coef = 1.0 / (np.arange(k) + np.sqrt(2.0))
    _, vecs = np.linalg.eigh(np.einsum("k,kij->ij", coef, previous))
    return vecs[:, ::-1]


# ----------------------------------------------------------- diagonal models
# W: (K, D) diagonals of the regularised scatter; returns (K, D, D).
def _eii(nk, W, previous=None):
    k, d = W.shape
    lam = W.sum() / (nk.sum() * d)
    return np.broadcast_to(lam * np.eye(d), (k, d, d)).copy()


def _vii(nk, W, previous=None):
    d = W.shape[1]
    return (W.sum(axis=1) / (nk * d))[:, None, None] * np.eye(d)


def _eei(nk, W, previous=None):
    k, d = W.shape
    return np.broadcast_to(np.diag(W.sum(axis=0) / nk.sum()), (k, d, d)).copy()


def _vei(nk, W, previous=None):
    """Sigma_k = lambda_k B: B given the volumes, then the volumes given B."""
    d = W.shape[1]
    lam = None if previous is None else _previous_volumes(previous, d)
    if lam is None:
        lam = W.sum(axis=1) / (nk * d)  # VII's volumes
    lam, shape, _ = volume_shape_fixed_point(
        np.ascontiguousarray(W), nk, lam, INNER_MAX_ITER, INNER_TOL
    )
    return _diag_stack(lam[:, None] * shape)


def _evi(nk, W, previous=None):
    g = _geomean(W)  # |diag W_k|^(1/d)
    lam = g.sum() / nk.sum()
    return _diag_stack(lam * W / g[:, None])


def _vvi(nk, W, previous=None):
    return _diag_stack(W / nk[:, None])


# --------------------------------------------------------------- full models
# W: (K, D, D) regularised scatter; returns (K, D, D).
def _eee(nk, W, previous=None):
    return np.broadcast_to(W.sum(axis=0) / nk.sum(), W.shape).copy()


def _vee(nk, W, previous=None):
    """Sigma_k = lambda_k C, |C| = 1: C given the volumes, then the volumes."""
    d = W.shape[-1]
    lam = None if previous is None else _previous_volumes(previous, d)
    if lam is None:
        lam = np.trace(W, axis1=1, axis2=2) / (nk * d)
    lam, c, _ = vee_fixed_point(np.ascontiguousarray(W), nk, lam, INNER_MAX_ITER, INNER_TOL)
    return lam[:, None, None] * c


def _eev(nk, W, previous=None):
    omega, vecs = _eigh_desc(W)
    a = omega.sum(axis=0) / nk.sum()  # lambda A
    return np.einsum("kij,j,klj->kil", vecs, a, vecs)


def _vev(nk, W, previous=None):
    """Sigma_k = lambda_k D_k A D_k^T: D_k are W_k's eigenvectors (decreasing
    eigenvalues paired with A's decreasing entries), then A and the volumes
    alternate as in VEI, on the eigenvalues."""
    d = W.shape[-1]
    omega, vecs = _eigh_desc(W)
    lam = None if previous is None else _previous_volumes(previous, d)
    if lam is None:
        lam = omega.sum(axis=1) / (nk * d)
    omega = np.maximum(np.ascontiguousarray(omega), 1e-300)
    lam, shape, _ = volume_shape_fixed_point(omega, nk, lam, INNER_MAX_ITER, INNER_TOL)
    return np.einsum("kij,kj,klj->kil", vecs, lam[:, None] * shape, vecs)


def _evv(nk, W, previous=None):
    d = W.shape[-1]
    g = np.exp(np.linalg.slogdet(W)[1] / d)  # |W_k|^(1/d)
    lam = g.sum() / nk.sum()
    return lam * W / g[:, None, None]


def _vvv(nk, W, previous=None):
    return W / nk[:, None, None]


def _common_orientation_step(nk, W, equal_volume: bool, previous=None):
    """EVE (``equal_volume``) and VVE: Sigma_k = lambda_(k) D A_k D^T.

    Given D, the volumes and shapes are closed form (m_k = diag(D^T W_k D):
    VVE's ``lambda_k A_k = diag(m_k) / n_k``; EVE's ``A_k = m_k / |m_k|^(1/d)``,
    ``lambda = sum_k |m_k|^(1/d) / n``).  Given those, D minimises
    ``sum_k tr(W_k D C_k D^T)`` with ``C_k = (lambda_k A_k)^-1``: each term is
    ``w_k tr(C_k)`` plus a concave function of D (``W_k - w_k I`` is negative
    semi-definite, ``w_k`` the largest eigenvalue of W_k), so the tangent plane
    majorises it, and the majoriser's minimum over orthogonal matrices is
    ``U V^T`` for the SVD ``U S V^T`` of ``sum_k (w_k I - W_k) D C_k``
    (Browne & McNicholas 2014, §3).
    """
    if previous is None:
        orient = _eigh_desc(W.sum(axis=0))[1]  # EEE's orientation
    else:
        orient = _common_orientation(previous)
    # From the previous parameters a few passes suffice: each lowers the objective,
    # so EM stays monotone (a generalised EM, Dempster et al. 1977 §3) and the
    # orientation converges along with the EM iterations, at a fraction of the cost.
    max_iter = INNER_MAX_ITER if previous is None else INNER_WARM_ITER
    orient, var, _ = common_orientation(
        np.ascontiguousarray(W), nk, np.ascontiguousarray(orient), equal_volume, max_iter, INNER_TOL
    )
    return np.einsum("ij,kj,lj->kil", orient, var, orient)


def _eve(nk, W, previous=None):
    return _common_orientation_step(nk, W, True, previous)


def _vve(nk, W, previous=None):
    return _common_orientation_step(nk, W, False, previous)


# --------------------------------------------------------------------- tables
#: model name -> (diagonal, M-step)
M_STEPS = {
    "EII": (True, _eii),
    "VII": (True, _vii),
    "EEI": (True, _eei),
    "VEI": (True, _vei),
    "EVI": (True, _evi),
    "VVI": (True, _vvi),
    "EEE": (False, _eee),
    "VEE": (False, _vee),
    "EVE": (False, _eve),
    "VVE": (False, _vve),
    "EEV": (False, _eev),
    "VEV": (False, _vev),
    "EVV": (False, _evv),
    "VVV": (False, _vvv),
    "E": (True, _eii),
    "V": (True, _vii),
}


def n_cov_parameters(name: str, k: int, d: int) -> int:
    """Free covariance parameters of model ``name`` with ``k`` components in
    ``d`` dimensions: mclust's ``nVarParams`` (Fraley & Raftery 2002, table 1)."""
    rot = d * (d - 1) // 2  # an orientation
    return {
        "E": 1,
        "V": k,
        "EII": 1,
        "VII": k,
        "EEI": d,
        "VEI": k + d - 1,
        "EVI": 1 + k * (d - 1),
        "VVI": k * d,
        "EEE": d * (d + 1) // 2,
        "VEE": k + d - 1 + rot,
        "EVE": 1 + k * (d - 1) + rot,
        "VVE": k + k * (d - 1) + rot,
        "EEV": 1 + d - 1 + k * rot,
        "VEV": k + d - 1 + k * rot,
        "EVV": 1 + k * (d * (d + 1) // 2 - 1),
        "VVV": k * d * (d + 1) // 2,
    }[name]


# ---------------------------------------------------------------- singularity
def flat_components(name: str, diagonal: bool, nk, s1, s2, unit=None) -> np.ndarray:
    """Components (indices) of a model with variable shapes (EVI, VVI, EVE,
    VVE, EVV, VVV) whose weighted scatter about its mean is flat in some
    direction: at most 1e-10 per unit weight, in standardised units
    (duplicated points, fewer points than dimensions, collinear ones).  Such
    a component's covariance is singular without ``reg_covar``, and mclust
    reports the fit as singular.  Models that pool the shape are not
    concerned.  ``nk`` (K,), ``s1`` (K, D), ``s2`` (K, P, D) as in
    :meth:`bayesmix.covariance.CovarianceStructure.estimate`; ``unit``
    (D,), optional: each feature's variance, the scatter is then judged in
    those units (so a column of tiny variance is not "flat")."""
    if len(name) != 3 or name[1] != "V":
        return np.empty(0, dtype=np.intp)
    inv = 1.0 if unit is None else 1.0 / np.sqrt(np.asarray(unit, dtype=float))
    if diagonal:
        low = ((s2[:, 0, :] - s1 * s1 / nk[:, None]) * inv * inv).min(axis=1)
    else:
        w = s2 - s1[:, :, None] * s1[:, None, :] / nk[:, None, None]
        if unit is not None:
            w = w * inv[:, None] * inv[None, :]
        low = np.linalg.eigvalsh(w)[:, 0]
    return np.flatnonzero(low <= 1e-10 * nk)


# -------------------------------------------------------------------- factors
def factors(name: str, covariances: np.ndarray) -> dict:
    """Volume, shape and orientation of fitted covariances (K, D, D).

    Returns ``{"volumes_": (K,), "shapes_": (K, D), "orientations_": (K, D, D)}``,
    the entries a model has: every model has volumes; models whose shape is
    not the identity have shapes (diagonal models in feature order, the others
    in decreasing order); models with an orientation other than the identity
    have orientations, whose columns go with the shapes' entries.  A common
    orientation (EVE, VVE, VEE, EEE) is found once for all components.
    """
    covs = np.asarray(covariances, dtype=float)
    d = covs.shape[-1]
    _, logdet = np.linalg.slogdet(covs)
    volumes = np.exp(logdet / d)
    out = {"volumes_": volumes}
    if name in ("E", "V", "EII", "VII"):
        return out
    if name.endswith("I"):
        out["shapes_"] = np.diagonal(covs, axis1=1, axis2=2) / volumes[:, None]
        return out
    if name[2] == "E":  # one orientation for every component
        orient = _common_orientation(covs)
        var = np.einsum("ji,kjl,li->ki", orient, covs, orient)
        out["shapes_"] = var / volumes[:, None]
        out["orientations_"] = np.broadcast_to(orient, covs.shape).copy()
    else:
        vals, vecs = _eigh_desc(covs)
        out["shapes_"] = vals / volumes[:, None]
        out["orientations_"] = vecs
    return out
