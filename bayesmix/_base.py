"""What every engine shares: scikit-learn estimator plumbing without a
scikit-learn dependency, and the predict / score / sample methods of a fitted
mixture.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import _dask
from ._display import model_html, short_repr
from ._kernels import log_prob_pass
from ._validation import (
    check_fitted,
    check_n_draws,
    check_predict_X,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .io import save as _save

__all__ = ["BaseMixture"]


class BaseMixture:
    """scikit-learn conventions: parameters in ``__init__`` stored as given,
    learned attributes end in ``_``, ``fit`` returns ``self``."""

    # what bayesmix.io looks for in a class it saves or loads (io imports no engine)
    _bayesmix_estimator = True

    # --- estimator plumbing -------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD
        ]

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator (scikit-learn API)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set parameters (scikit-learn API); returns ``self``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}; valid parameters "
                    f"are {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = bool(value == default) if not isinstance(value, np.ndarray) else False
            except Exception:
                same = False
            if not same:
                changed.append(f"{name}={short_repr(value)}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _repr_html_(self) -> str:
        return model_html(self)

    def save(self, path) -> None:
        """Write this model to ``path`` (npz + JSON metadata, no pickle); read it
        back with :func:`bayesmix.load`.  See :func:`bayesmix.io.save`."""
        _save(self, path)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "weights_")

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so importing it here adds no runtime dependency.
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="density_estimator",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(allow_nan=False),
        )

    # --- a fitted mixture -----------------------------------------------------
    def _component_arrays(self):
        """``(means, prec, log_const)`` in standardised units for the kernels
        (Gaussian components for EM, the engine's own choice otherwise)."""
        raise NotImplementedError  # pragma: no cover - every engine defines it

    def _log_prob(self, X, want_resp: bool):
        if _dask.is_dask(X):  # lazy: one block per row chunk
            return _dask.log_prob(self, X, want_resp)
        X = check_predict_X(self, X)
        Xt = self._standardiser.transform(X)
        means, prec, log_const = self._component_arrays()
        row_lse = np.empty(X.shape[0])
        resp = np.empty((X.shape[0], means.shape[0])) if want_resp else None
        log_prob_pass(Xt, means, prec, log_const, row_lse=row_lse, resp=resp)
        row_lse -= X.shape[1] * self._standardiser.log_scale
        return row_lse, resp

    def score_samples(self, X) -> np.ndarray:
        """Log density of each row of ``X`` under the fitted mixture, shape (n_samples,)
        (a lazy Dask array for a Dask array ``X``)."""
        return self._log_prob(X, want_resp=False)[0]

    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean log density per row of ``X`` (weighted mean with ``sample_weight``);
        one pass over the chunks of a Dask array ``X``."""
        if _dask.is_dask(X):
            return _dask.score(self, X, sample_weight)
        w = self._check_score_weight(X, sample_weight)
        lse = self.score_samples(X)
        if w is None:
            return float(lse.mean())
        return float(w @ lse / w.sum())

    def _check_score_weight(self, X, sample_weight):
        """``sample_weight`` for scoring ``X`` (None stays None), checked before
        any kernel runs; ``X`` itself is validated again by the caller."""
        if sample_weight is None:
            return None
        check_fitted(self)
        n_samples = check_X(X)[0].shape[0]
        return check_sample_weight(sample_weight, n_samples)

    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each component for each row, shape (n_samples,
        n_components) (a lazy Dask array for a Dask array ``X``)."""
        return self._log_prob(X, want_resp=True)[1]

    def predict(self, X) -> np.ndarray:
        """Most probable component of each row, shape (n_samples,) (a lazy Dask
        array for a Dask array ``X``)."""
        return self.predict_proba(X).argmax(axis=1)

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return the labels of the training rows (same as ``fit(X).predict(X)``)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples: int = 1):
        """Draw ``n_samples`` points; returns ``(X, labels)``.

        Uses ``random_state``, so repeated calls with an integer seed repeat.
        """
        check_fitted(self)
        n_samples = check_n_draws(n_samples, self.n_features_in_)
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        means, covs = self._sampling_components()
        out = [
            rng.multivariate_normal(means[k], covs[k], size=c, method="cholesky")
            for k, c in enumerate(counts)
        ]
        labels = np.repeat(np.arange(len(counts)), counts)
        return np.vstack(out), labels
