"""Files saved by bayesmix 0.1.0 (before the core was reorganised) still load
and predict exactly as they did: nothing already saved is lost when private
classes move between modules."""

from pathlib import Path

import numpy as np
import pytest

import bayesmix
from bayesmix.datasets import load_faithful, load_galaxies

HERE = Path(__file__).parent / "data" / "saved_0_1_0"
NAMES = sorted(p.stem for p in HERE.glob("*.npz") if p.stem != "expected")


def test_the_fixture_files_are_there():
    assert len(NAMES) == 10


@pytest.mark.parametrize("name", NAMES)
def test_old_file_loads_and_predicts_as_before(name):
    expected = np.load(HERE / "expected.npz")
    data = (load_galaxies() if name == "gibbs" else load_faithful())[:25]
    model = bayesmix.load(HERE / f"{name}.npz")
    np.testing.assert_allclose(model.score_samples(data), expected[name + ".score"], rtol=1e-12)
    np.testing.assert_allclose(
        model.predict_proba(data), expected[name + ".proba"], rtol=1e-10, atol=1e-14
    )


@pytest.mark.parametrize("name", NAMES)
def test_old_file_resaves_and_reloads(name, tmp_path):
    model = bayesmix.load(HERE / f"{name}.npz")
    model.save(tmp_path / "again.npz")
    again = bayesmix.load(tmp_path / "again.npz")
    data = (load_galaxies() if name == "gibbs" else load_faithful())[:25]
    np.testing.assert_array_equal(again.score_samples(data), model.score_samples(data))
