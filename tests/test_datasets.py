import numpy as np

from bayesmix.datasets import IRIS_SPECIES, load_faithful, load_galaxies, load_iris


def test_faithful():
    X = load_faithful()
    assert X.shape == (272, 2) and X.dtype == np.float64
    # R's summary(faithful): eruptions 1.6 .. 5.1, waiting 43 .. 96
    assert X[:, 0].min() == 1.6 and X[:, 0].max() == 5.1
    assert X[:, 1].min() == 43 and X[:, 1].max() == 96
    np.testing.assert_array_equal(X[:2], [[3.6, 79], [1.8, 54]])


def test_galaxies_units():
    v = load_galaxies()
    assert v.shape == (82, 1)
    assert v.min() == 9172 and v.max() == 34279
    np.testing.assert_allclose(load_galaxies(unit=1000.0), v / 1000.0)


def test_iris_follows_fishers_table():
    X, species = load_iris(return_species=True)
    assert X.shape == (150, 4) and X.flags.c_contiguous
    np.testing.assert_array_equal(np.bincount(species), [50, 50, 50])
    assert len(IRIS_SPECIES) == 3
    # rows 35 and 38 as in Fisher (1936) and R, where the UCI copy differs
    np.testing.assert_array_equal(X[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(X[37], [4.9, 3.6, 1.4, 0.1])
    # R's colMeans(iris[1:4])
    np.testing.assert_allclose(X.mean(0), [5.843333, 3.057333, 3.758, 1.199333], atol=1e-6)
    np.testing.assert_array_equal(load_iris(), X)


def test_frames():
    import pandas as pd

    frame = load_faithful(as_frame=True)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["eruptions", "waiting"]
    assert list(load_galaxies(as_frame=True).columns) == ["v"]
    iris, species = load_iris(as_frame=True, return_species=True)
    assert list(iris.columns) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    np.testing.assert_array_equal(iris.to_numpy(), load_iris())
    assert species.dtype == np.int64


def test_data_files_document_their_sources():
    from importlib import resources

    text = resources.files("bayesmix.datasets").joinpath("data", "README.md").read_text()
    for name in ("faithful.csv", "galaxies.csv", "iris.csv"):
        assert name in text
    assert "BSD-3-Clause" in text and "Fisher (1936)" in text
