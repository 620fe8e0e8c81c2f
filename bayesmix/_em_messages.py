"""The DegenerateDataWarning messages of an EM fit: regularisation and
re-seeding during the iterations, constant columns, collapsed components.
Each names what happened and the cure."""

from __future__ import annotations

import numpy as np

from ._data import Data
from .covariance import CovarianceStructure

__all__ = ["EventLog", "collapse_messages", "constant_feature_messages"]


class EventLog:
    """Regularisation and re-seeding steps of one EM run, summarised into one
    message per kind for the DegenerateDataWarning."""

    def __init__(self, structure: CovarianceStructure, scale: float):
        self._shared = structure.shared
        self._scale2 = scale * scale
        self._jitter: dict[int, float] = {}
        self._jitter_iters: list[int] = []
        self._reseeds: dict[int, list[int]] = {}

    def jitter(self, added, iteration: int) -> None:
        if added is None:
            return
        for k in np.flatnonzero(added > 0).tolist():
            self._jitter[k] = max(self._jitter.get(k, 0.0), float(added[k]))
        self._jitter_iters.append(iteration)

    def reseed(self, components, iteration: int) -> None:
        for k in components.tolist():
            self._reseeds.setdefault(k, []).append(iteration)

    def messages(self) -> list[str]:
        out = []
        if self._jitter:
            which = (
                "the tied covariance"
                if self._shared
                else f"the covariance of component(s) {sorted(self._jitter)}"
            )
            iters = sorted(set(self._jitter_iters))
            out.append(
                f"{which} was not numerically positive definite (at iteration(s) "
                f"{_short_list(iters)}; 0 is the initialisation); added up to "
                f"{max(self._jitter.values()) * self._scale2:.3g} to its diagonal. Set "
                "reg_covar > 0 (e.g. 'auto') to regularise every component."
            )
        for k, iters in sorted(self._reseeds.items()):
            out.append(
                f"component {k} lost all its weight (at iteration(s) {_short_list(iters)}) "
                "and was re-seeded at the worst-explained row with the pooled covariance"
            )
        return out


def _short_list(values: list[int], limit: int = 8) -> str:
    if len(values) <= limit:
        return str(values)
    return f"{values[: limit // 2]} ... {values[-limit // 2 :]} ({len(values)} in all)"


def _reg_text(reg, scale: float, features=None) -> str:
    """``reg_covar`` in data units, for messages: one value, or the values of
    ``features`` (all when None) for a per-feature regulariser."""
    reg = np.asarray(reg, dtype=float) * scale**2
    if reg.ndim == 0:
        return f"reg_covar={float(reg):.3g}"
    if features is not None:
        reg = reg[features]
    if np.ptp(reg) <= 1e-12 * reg.max():
        return f"reg_covar={reg[0]:.3g}"
    if reg.size <= 4:
        return "reg_covar=[" + ", ".join(f"{r:.3g}" for r in reg) + "] (per feature)"
    return f"reg_covar between {reg.min():.3g} and {reg.max():.3g} (1e-6 x each feature's variance)"


def constant_feature_messages(structure: CovarianceStructure, data: Data, reg) -> list[str]:
    std = data.std
    if std.mean_variance == 0.0:
        return [
            "every row of X is the same point; the covariance is reg_covar * I with "
            f"{_reg_text(reg, std.scale)}"
        ]
    var = data.variances
    const = np.flatnonzero(var <= 1e-24 * var.max())
    if const.size == 0:
        return []
    if structure.isotropic:
        effect = "they only shrink the spherical variances"
    else:
        effect = f"the variance along them is {_reg_text(reg, std.scale, const)}"
    return [
        f"feature(s) {const.tolist()} of X are constant and carry no information about "
        f"the components; {effect}. Drop them to silence this warning."
    ]


def collapse_messages(structure: CovarianceStructure, collapsed, ctx) -> list[str]:
    """Components whose covariance is (nearly) ``reg_covar`` in some direction:
    they sit on a point or a subspace, so only the regularisation keeps them
    finite."""
    if collapsed.size == 0:
        return []
    which = "the tied covariance" if structure.shared else f"component(s) {collapsed.tolist()}"
    if not np.any(ctx.reg):
        cure = "it is (nearly) singular; set reg_covar > 0 to regularise it"
    else:
        cure = f"the covariance was regularised by {_reg_text(ctx.reg, ctx.scale)} on the diagonal"
    return [
        f"{which} collapsed onto a point or a lower-dimensional set (duplicated rows, a "
        f"singleton cluster, or constant or collinear columns); {cure}"
    ]
