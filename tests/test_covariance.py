"""The covariance registry: the one jitter policy, collapsed components, and the
conjugate pieces every entry owns."""

import numpy as np
import pytest
from scipy import stats

from bayesmix.covariance import COVARIANCE_TYPES, get_structure

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _singular(structure, k=3, d=3, seed=0):
    """Covariances of this type with component 1 (or the shared one) singular."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, d, d))
    full = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    full[1] = np.outer(A[1, 0], A[1, 0])  # rank one
    if structure.shared:
        full[:] = full[1]
    if structure.diagonal:
        full[1] = 0.0
    return structure.from_full(full)


@pytest.mark.parametrize("name", COV_TYPES)
def test_precision_cholesky_reports_failures_without_jitter(name):
    structure = get_structure(name)
    covs = _singular(structure)
    prec_chol, failed = structure.precision_cholesky(covs)
    assert np.isnan(prec_chol).any()  # the failed factors are NaN, the others finite
    assert structure.shared or not np.isnan(prec_chol[0]).any()
    expected = [True] if structure.shared else [False, True, False]
    np.testing.assert_array_equal(failed, expected)


@pytest.mark.parametrize("name", COV_TYPES)
def test_factorise_adds_growing_jitter_to_failing_components_only(name):
    structure = get_structure(name)
    covs = _singular(structure)
    out, prec_chol, added = structure.factorise(covs)
    assert added is not None
    assert added.shape == ((1,) if structure.shared else (3,))
    assert np.all(added[~(added > 0)] == 0)
    # the jitter is a power of ten times 1e-10, and it stays in the covariances
    amount = added[added > 0]
    assert np.allclose(np.log10(amount / 1e-10), np.round(np.log10(amount / 1e-10)))
    np.testing.assert_array_equal(out, structure.add_to_diagonal(covs, added))
    prec = structure.to_full(structure.precisions(prec_chol), 3, 3)
    np.testing.assert_allclose(
        prec @ structure.to_full(out, 3, 3), np.broadcast_to(np.eye(3), prec.shape), atol=1e-6
    )
    # positive-definite input passes through untouched
    good = structure.from_full(np.broadcast_to(np.eye(3) * 2.0, (3, 3, 3)).copy())
    same, _, none = structure.factorise(good)
    assert none is None and same is good


@pytest.mark.parametrize("name", COV_TYPES)
def test_collapsed_finds_the_regularised_components(name):
    structure = get_structure(name)
    reg = 1e-6
    full = np.broadcast_to(np.eye(2), (3, 2, 2)).copy()
    full[2] = np.diag([reg, reg])  # nothing but the regularisation
    if structure.shared:
        full[:] = full[2]
    found = structure.collapsed(structure.from_full(full), 3, 2, reg)
    np.testing.assert_array_equal(found, [0] if structure.shared else [2])


def test_flags_name_the_right_entries():
    # entries by their own name: mclust's aliases (VVV, EEE, VVI, VII) are the same entries
    entries = {s.name: s for s in COVARIANCE_TYPES.values()}
    assert [n for n, s in entries.items() if s.shared] == ["tied"]
    assert [n for n, s in entries.items() if s.isotropic] == ["spherical", "E", "V", "EII"]
    assert [n for n, s in entries.items() if s.feature_blocks] == ["diag"]


@pytest.mark.parametrize("name", COV_TYPES)
def test_conjugate_pieces_in_one_dimension_agree(name):
    """With D = 1 every type is the same inverse-Gamma model."""
    structure, full = get_structure(name), get_structure("full")
    dof, kappa = np.array([4.5, 7.0]), np.array([2.0, 3.5])
    psi = np.array([[[1.5]], [[0.7]]])
    scale = structure.from_full(psi)
    if structure.shared:
        dof, psi, scale = np.full(2, 4.5), psi[:1].repeat(2, axis=0), psi[0]
    want = full.expected_covariance(dof, psi, 1)
    got = structure.to_full(structure.expected_covariance(dof, scale, 1), 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(
        structure.elogdet_correction(dof, 1), full.elogdet_correction(dof, 1), rtol=1e-14
    )
    comps = structure.predictive(np.log([0.3, 0.7]), np.array([[0.0], [1.0]]), dof, scale, kappa)
    ref = full.predictive(np.log([0.3, 0.7]), np.array([[0.0], [1.0]]), dof, psi, kappa)
    np.testing.assert_allclose(comps.log_const, ref.log_const, rtol=1e-13)
    np.testing.assert_allclose(np.ravel(comps.prec), np.ravel(ref.prec), rtol=1e-14)


@pytest.mark.parametrize("name", COV_TYPES)
def test_covariance_draws_follow_the_inverse_wishart(name):
    structure = get_structure(name)
    k, d, n_draws = 2, 2, 20000
    psi = np.array([[[2.0, 0.3], [0.3, 1.0]], [[1.0, -0.2], [-0.2, 0.5]]])
    dof = np.array([6.0, 9.0])
    if structure.shared:
        scale, dof = structure.prior_scale(psi[0]), np.full(k, 6.0)
    else:
        scale = np.stack([structure.prior_scale(p) for p in psi])
    draws = structure.draw_covariances(np.random.default_rng(0), dof, scale, n_draws, k, d)
    assert draws.shape == (n_draws, k, d, d)
    # E[Sigma^-1] = E_q[Lambda] = expected_covariance^-1
    mean_prec = np.linalg.inv(draws).mean(axis=0)
    want = np.linalg.inv(structure.to_full(structure.expected_covariance(dof, scale, d), k, d))
    np.testing.assert_allclose(mean_prec, want, rtol=0.03, atol=0.03 * np.abs(want).max())
    if name == "full":
        ks = stats.kstest(
            draws[:, 0, 0, 0], stats.invgamma((dof[0] - d + 1) / 2, scale=psi[0, 0, 0] / 2).cdf
        )
        assert ks.pvalue > 1e-3
