import json
import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from bayesmix import load
from bayesmix.__main__ import main, read_csv
from bayesmix.datasets import load_faithful

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def faithful_csv(tmp_path):
    X = load_faithful()
    path = tmp_path / "faithful.csv"
    lines = ["eruptions,waiting"] + [f"{float(a)!r},{float(b)!r}" for a, b in X]
    path.write_text("\n".join(lines) + "\n")
    return path, X


def test_read_csv_with_and_without_header(tmp_path, faithful_csv):
    path, X = faithful_csv
    got, names = read_csv(path)
    assert names == ["eruptions", "waiting"]
    np.testing.assert_array_equal(got, X)
    got, names = read_csv(path, columns=["waiting"])
    np.testing.assert_array_equal(got, X[:, [1]])
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2\n3,4.5\n\n5,6e1\n")  # a blank line is skipped
    got, names = read_csv(plain)
    assert names == ["x0", "x1"]
    np.testing.assert_array_equal(got, [[1, 2], [3, 4.5], [5, 60]])


def test_pandas_default_column_names_are_a_header(tmp_path, capsys):
    """pd.DataFrame(array).to_csv(index=False) writes the header 0,1,2,...: it
    was read as a data row (an outlier at the origin: mclust's banknote table
    then chose EEE with K=5 instead of VVE with K=3)."""
    import pandas as pd

    X = load_faithful()
    X3 = np.column_stack([X, X[:, 0] * X[:, 1]])
    path = tmp_path / "arr.csv"
    pd.DataFrame(X3).to_csv(path, index=False)
    got, names = read_csv(path)
    assert names == ["0", "1", "2"] and got.shape == X3.shape
    np.testing.assert_allclose(got, X3)
    got, _ = read_csv(path, header=False)  # --no-header: the line is data
    assert got.shape == (X3.shape[0] + 1, 3)
    assert main(["fit", str(path), "--components", "2", "--out", str(tmp_path / "o")]) == 0
    assert "counts the columns" in capsys.readouterr().err
    two = tmp_path / "two.csv"  # "0,1" can be binary data: still a row
    two.write_text("0,1\n1,0\n0,0\n")
    assert read_csv(two)[0].shape == (3, 2)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a,b\n1,2\n3,x\n", "line 3, column 2 ('b'): 'x' is not a number"),
        ("a,b\n1,2\n3,4\nnan,nan\n", "line 4 has no value in any fitted column"),
        ("a,b\n1,2\n3,inf\n", "line 3, column 2 ('b'): 'inf' is not a finite number"),
        ("a,b\n1,2\n3,4,5\n", "line 3 has 3 columns but the header has 2"),
        ("", "the file is empty"),
        ("a,b\n", "no data rows after the header"),
        ("a,a\n1,2\n3,4\n", "repeats a column name"),
    ],
    ids=["text", "nan-row", "inf", "ragged", "empty", "header-only", "dup"],
)
def test_bad_csv_exits_with_one_line(content, expected, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    # single missing cells are missing values (tests/test_missing.py); a row of them is not
    status = main(["fit", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1, err
    assert err.startswith("bayesmix: error: ") and str(path) in err
    assert expected in err
    assert not (tmp_path / "out").exists()


def test_missing_file_and_bad_options(tmp_path, capsys, faithful_csv):
    assert main(["fit", str(tmp_path / "nope.csv")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"bayesmix: error: {tmp_path / 'nope.csv'}: no such file"
    path, _ = faithful_csv
    assert main(["fit", str(path), "--components", "two", "--quiet"]) == 1
    assert "--components must be 'auto' or a positive integer" in capsys.readouterr().err
    assert main(["fit", str(path), "--columns", "speed", "--quiet"]) == 1
    assert "no column named 'speed'" in capsys.readouterr().err


def test_bad_csv_in_a_real_process_has_no_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,oops\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bayesmix", "fit", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"bayesmix: error: {path}: line 3, column 2 ('y'): 'oops' is not a number; "
        "fix the cell, or leave the column out with --exclude y"
    ]


def test_fit_em_fixed_k_writes_summary_labels_model_and_plots(faithful_csv, tmp_path, capsys):
    path, X = faithful_csv
    out = tmp_path / "out"
    status = main(
        ["fit", str(path), "--components", "2", "--covariance", "full", "--out", str(out)]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "EM full K=2" in captured.err  # progress goes to stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_samples"] == 272 and summary["features"] == ["eruptions", "waiting"]
    assert summary["model"] == "GaussianMixture" and summary["n_components"] == 2
    assert sum(summary["weights"]) == pytest.approx(1.0)
    assert np.shape(summary["covariances"]) == (2, 2, 2)
    assert summary["selection"] is None
    model = load(out / "model.npz")
    import pandas as pd

    assert summary["bic"] == pytest.approx(
        model.bic(pd.DataFrame(X, columns=["eruptions", "waiting"]))
    )
    assert summary["weights"] == pytest.approx(model.weights_.tolist())

    rows = np.genfromtxt(out / "labels.csv", delimiter=",", names=True)
    assert rows.dtype.names == ("row", "label", "uncertainty")
    assert rows.shape == (272,)
    np.testing.assert_array_equal(rows["row"], np.arange(1, 273))
    with pytest.warns(UserWarning, match="feature names"):
        resp = model.predict_proba(X)  # fitted on named columns, called on an array
    np.testing.assert_array_equal(rows["label"], resp.argmax(axis=1))
    np.testing.assert_allclose(rows["uncertainty"], 1 - resp.max(axis=1), rtol=1e-5, atol=1e-12)
    assert summary["label_counts"] == np.bincount(resp.argmax(axis=1)).tolist()

    for name in ("components", "density", "uncertainty", "convergence"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert str(png) in summary["files"]
    assert not (out / "criterion.png").exists()


def test_fit_em_auto_chooses_k_by_bic(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(8, 1, (60, 2))])
    path = tmp_path / "two.csv"
    np.savetxt(path, X, delimiter=",")
    out = tmp_path / "out"
    status = main(
        ["fit", str(path), "--covariance", "spherical", "--n-init", "2", "--out", str(out)]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "fitting 9 EM models (spherical; K = 1..9" in captured.err
    assert "... 9 fits in" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    table = summary["selection"]
    assert [r["n_components"] for r in table] == list(range(1, 10))
    # a singular fit (a component collapsed onto a point) has no BIC: null in JSON
    bics = np.array([np.nan if r["bic"] is None else r["bic"] for r in table])
    assert summary["n_components"] == table[int(np.nanargmin(bics))]["n_components"] == 2
    assert summary["bic"] == pytest.approx(np.nanmin(bics))
    assert (out / "criterion.png").read_bytes()[:8] == PNG_MAGIC
    assert "spherical   2" in captured.out  # the table is printed
    assert "best by BIC: spherical, K=2" in captured.out  # and the choice named

    assert main(["fit", str(path), "--quiet", "--components", "2", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no progress lines


def test_fit_defaults_are_the_apis(tmp_path, faithful_csv):
    """Without --n-init the CLI fits what a script with default arguments fits
    (it used to restart EM and VB five times)."""
    from bayesmix import GaussianMixture, VariationalGaussianMixture

    path, X = faithful_csv
    for method, api in (
        ("em", GaussianMixture(3, random_state=0)),
        ("vb", VariationalGaussianMixture(3, random_state=0)),
    ):
        out = tmp_path / method
        args = ["fit", str(path), "--method", method, "--components", "3"]
        assert main([*args, "--covariance", "full", "--quiet", "--out", str(out)]) == 0
        cli = load(out / "model.npz")
        np.testing.assert_array_equal(cli.means_, api.fit(X).means_)


def test_n_init_takes_a_positive_integer_or_auto(tmp_path, faithful_csv, capsys):
    path, _ = faithful_csv
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            main(["fit", str(path), "--n-init", bad])
        assert "expected a positive integer or 'auto'" in capsys.readouterr().err
    out = tmp_path / "o"
    args = ["fit", str(path), "--components", "2", "--quiet", "--out", str(out)]
    assert main([*args, "--n-init", "auto"]) == 0
    assert main([*args, "--method", "vb", "--n-init", "auto"]) == 0


def test_fit_with_vb(tmp_path, faithful_csv, capsys):
    path, _ = faithful_csv
    out = tmp_path / "vb"
    assert (
        main(["fit", str(path), "--method", "vb", "--n-init", "1", "--quiet", "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "VariationalGaussianMixture"
    assert summary["n_components"] == 10 and "elbo" in summary
    assert 1 <= summary["n_effective_components"] <= 10


def test_gibbs_needs_auto_components(tmp_path, faithful_csv, capsys):
    path, _ = faithful_csv
    status = main(["fit", str(path), "--method", "gibbs", "--components", "3", "--quiet"])
    assert status == 1
    err = capsys.readouterr().err
    assert "use --components auto" in err or "not in this version" in err


@pytest.mark.slow
def test_demo_quick_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best by BIC" in text and "spherical" in text
    for name in ("faithful_bic", "faithful_em", "faithful_uncertainty", "faithful_density"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert all(p in text for p in pngs)  # every figure written is reported


def test_fit_with_gibbs_reports_the_posterior_of_k(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(10, 1, (40, 2))])
    path = tmp_path / "two.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    out = tmp_path / "gibbs"
    args = ["fit", str(path), "--method", "gibbs", "--n-iter", "200", "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert all(
        line.startswith("bayesmix: warning: ") for line in err.splitlines() if "Warn" in line
    )
    assert "posterior of the number of occupied components: mode 2 (probability" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "DirichletProcessMixture"
    probs = summary["posterior_n_components"]
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max(probs, key=probs.get) == "2"  # two well-separated clusters
    for name in ("components", "n_components", "trace_n_components"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    labels = np.genfromtxt(out / "labels.csv", delimiter=",", names=True)
    assert len(np.unique(labels["label"])) == 2


def test_fit_with_gibbs_reports_a_restarted_chain(tmp_path, capsys, monkeypatch):
    """A chain continued from another's state (``chain_restarts_``) is said on
    the console and in summary.json; the restart is forced here, once."""
    from bayesmix import _gibbs_core

    def force(chains):
        if force.done:
            return np.empty((0, 3))
        force.done = True
        chains[1].restart_from(chains[0])
        return np.array([[1.0, 0.0, 25.0]])

    force.done = False
    monkeypatch.setattr(_gibbs_core, "restart_stranded", force)
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(9, 1, (30, 2))])
    path = tmp_path / "two.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    out = tmp_path / "gibbs"
    monkeypatch.setattr(_gibbs_core, "AUTO_MIN_ESS", 10**9)  # fail the first check
    monkeypatch.setattr("bayesmix.gibbs.AUTO_TIME_BUDGET", 2.0)
    assert main(["fit", str(path), "--method", "gibbs", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "chain 1 was stranded in a mode of 25 nats less posterior mass than chain 0's and "
        "continued from its state" in printed
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chain_restarts"] == [{"chain": 1, "continued_from": 0, "log_mass_gap": 25.0}]


# ------------------------------------------------------------- real tables
def _two_blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n, 2)), rng.normal(8, 1, (n, 2))])


def _fit_args(path, out, *extra):
    return ["fit", str(path), "--components", "2", "--covariance", "full", "--n-init", "1",
            "--out", str(out), *extra]  # fmt: skip


def test_pandas_index_column_is_ids_not_a_feature(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    frame = pd.DataFrame(X, columns=["a", "b"], index=np.arange(100, 100 + len(X)))
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)  # writes the index as an unnamed first column
    out = tmp_path / "out"
    assert main(_fit_args(path, out)) == 0
    err = capsys.readouterr().err
    assert "first column has no name" in err and "rows' IDs" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["features"] == ["a", "b"] and summary["n_features"] == 2
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels.columns) == ["index", "label", "uncertainty"]
    np.testing.assert_array_equal(labels["index"], frame.index)


def test_r_write_table_row_names_are_ids(tmp_path, capsys):
    # R's write.table(x, sep=";", dec=",") writes no header cell over the row
    # names: each data line has one field more than the header
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    names = [f"car {i}" for i in range(len(X))]
    lines = ['"a";"b"'] + [
        f'"{n}";{a:.6f};{b:.6f}'.replace(".", ",") for n, (a, b) in zip(names, X, strict=True)
    ]
    path = tmp_path / "r_table.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(_fit_args(path, out)) == 0
    err = capsys.readouterr().err
    assert "R's row names" in err and "rows' IDs" in err and "decimal commas" in err
    assert "left out" not in err  # the IDs are reported once, as IDs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["features"] == ["a", "b"]
    labels = pd.read_csv(out / "labels.csv")
    assert labels["index"].tolist() == names
    np.testing.assert_allclose(load(out / "model.npz").means_[:, 0].min(), 0.0, atol=0.5)


def test_id_column_is_carried_into_labels(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    ids = [f"W{i:03d}" for i in range(len(X))]
    frame = pd.DataFrame({"sample": ids, "a": X[:, 0], "b": X[:, 1]})
    path = tmp_path / "named.csv"
    frame.to_csv(path, index=False)
    # without the option, the text column is refused with the cure named
    status = main(_fit_args(path, tmp_path / "refused"))
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert "line 2, column 1 ('sample'): 'W000' is not a number" in err
    assert "--exclude sample" in err
    assert not (tmp_path / "refused").exists()

    out = tmp_path / "out"
    assert main(_fit_args(path, out, "--id-column", "sample")) == 0
    capsys.readouterr()
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels.columns) == ["sample", "label", "uncertainty"]
    assert labels["sample"].tolist() == ids
    model = load(out / "model.npz")
    assert list(model.feature_names_in_) == ["a", "b"]
    np.testing.assert_array_equal(
        labels["label"], model.predict(pd.DataFrame(X, columns=["a", "b"]))
    )

    # --exclude leaves the text column out; the rows are then numbered
    out2 = tmp_path / "out2"
    assert main(_fit_args(path, out2, "--exclude", "sample")) == 0
    assert "left out: 'sample'" in capsys.readouterr().err
    labels2 = pd.read_csv(out2 / "labels.csv")
    assert list(labels2.columns) == ["row", "label", "uncertainty"]
    np.testing.assert_array_equal(labels2["label"], labels["label"])


def test_text_id_column_beside_a_pandas_index(tmp_path, capsys):
    # DataFrame.to_csv() writes its index; the named text IDs win over it
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    ids = [f"W{i:03d}" for i in range(len(X))]
    frame = pd.DataFrame({"sample_id": ids, "a": X[:, 0], "b": X[:, 1]})
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)
    out = tmp_path / "out"
    assert main(_fit_args(path, out)) == 0
    err = capsys.readouterr().err
    assert "column 'sample_id' holds distinct values" in err
    assert "the first column has no name" in err and "left out" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["features"] == ["a", "b"] and summary["id_column"] == "sample_id"
    assert list(pd.read_csv(out / "labels.csv")["sample_id"]) == ids


def test_numeric_id_column_is_detected_and_said(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    frame = pd.DataFrame({"id": np.arange(1, len(X) + 1) * 7, "a": X[:, 0], "b": X[:, 1]})
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(_fit_args(path, out)) == 0
    assert "column 'id' holds distinct values" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["features"] == ["a", "b"] and summary["id_column"] == "id"
    labels = pd.read_csv(out / "labels.csv")
    np.testing.assert_array_equal(labels["id"], frame["id"])
    # naming the columns turns the detection off
    out2 = tmp_path / "out2"
    assert main(_fit_args(path, out2, "--columns", "id,a,b")) == 0
    assert json.loads((out2 / "summary.json").read_text())["features"] == ["id", "a", "b"]


@pytest.mark.parametrize(
    ("sep", "decimal", "suffix"),
    [(";", ".", ".csv"), (";", ",", ".csv"), ("\t", ".", ".tsv"), ("|", ".", ".txt")],
    ids=["semicolon", "semicolon-decimal-comma", "tsv", "bar"],
)
def test_delimiter_is_sniffed(tmp_path, sep, decimal, suffix):
    X = np.round(_two_blobs(10), 3)
    lines = [sep.join(["a", "b"])]
    lines += [sep.join(repr(float(v)).replace(".", decimal) for v in row) for row in X]
    path = tmp_path / f"data{suffix}"
    path.write_text("\n".join(lines) + "\n")
    got, names = read_csv(path)
    assert names == ["a", "b"]
    np.testing.assert_array_equal(got, X)


def test_explicit_delimiter_and_text_column_from_cli(tmp_path, capsys):
    path = tmp_path / "semi.txt"
    path.write_text("name;a;b\nx;1;2\ny;3;4\nz;5;7\n")
    status = main(["fit", str(path), "--delimiter", ";", "--quiet", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 1
    assert "column 1 ('name'): 'x' is not a number; a column of text cannot be fitted" in err
    assert "--exclude name" in err


def test_unwritable_out_is_refused_before_reading_or_fitting(tmp_path, capsys, faithful_csv):
    path, _ = faithful_csv
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "sub"):
        status = main(["fit", str(path), "--quiet", "--out", str(out)])
        err = capsys.readouterr().err
        assert status == 1 and err.startswith(f"bayesmix: error: --out {out}: ")
        assert "directory" in err
    # refused before the data are read: a missing data file is not what it reports
    status = main(["fit", str(tmp_path / "missing.csv"), "--quiet", "--out", str(blocker)])
    assert status == 1 and "--out" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_out_is_refused(tmp_path, capsys, faithful_csv):
    path, _ = faithful_csv
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status = main(["fit", str(path), "--quiet", "--out", str(locked / "out")])
    finally:
        locked.chmod(0o700)
    assert status == 1 and "not writable" in capsys.readouterr().err


def test_parquet_needs_pyarrow_or_reads(tmp_path):
    pd = pytest.importorskip("pandas")
    import importlib.util

    path = tmp_path / "data.parquet"
    X = _two_blobs(10)
    if importlib.util.find_spec("pyarrow") is None:
        path.write_bytes(b"PAR1")
        with pytest.raises(Exception, match="reading Parquet needs pyarrow"):
            read_csv(path)
        return
    pd.DataFrame(X, columns=["a", "b"]).to_parquet(path)
    got, names = read_csv(path)
    assert names == ["a", "b"]
    np.testing.assert_array_equal(got, X)


def test_fit_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: em)", "(default: auto)", "(default: the API's own", "(default: 0)"):
        assert default in text
    assert "--exclude" in text and "--id-column" in text and "(default: None)" not in text


def test_more_than_two_features_get_pairs_plots(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    from bayesmix.datasets import load_iris

    frame = pd.DataFrame(load_iris(), columns=["sl", "sw", "pl", "pw"])
    path = tmp_path / "iris.csv"
    frame.to_csv(path)  # with its index column
    out = tmp_path / "out"
    assert main(_fit_args(path, out, "--features", "pl,pw,sl")) == 0
    capsys.readouterr()
    import matplotlib.image

    sizes = {}
    for name in ("components", "classification", "uncertainty", "density"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        sizes[name] = matplotlib.image.imread(png).shape
    # a 3 x 3 grid is larger than the single density panel
    assert sizes["components"][0] > 1.5 * sizes["density"][0]
    assert main(_fit_args(path, tmp_path / "o2", "--features", "nope,pl")) == 1
    assert "--features: 'nope' is not a fitted column" in capsys.readouterr().err


def test_wide_table_draws_the_features_the_components_separate(tmp_path, capsys):
    """Without --features, a table wider than MAX_PAIRS columns is drawn on the
    MAX_PAIRS that the components separate most (a 30-column table made 900
    panels a figure), and stderr and summary.json name them."""
    pd = pytest.importorskip("pandas")
    from bayesmix.__main__ import MAX_PAIRS

    rng = np.random.default_rng(3)
    n, d = 60, MAX_PAIRS + 4
    X = rng.normal(size=(2 * n, d))
    apart = [d - 1, 2]  # two columns carry the clusters, the rest is noise
    X[n:, apart] += 6.0
    names = [f"c{j}" for j in range(d)]
    pd.DataFrame(X, columns=names).to_csv(tmp_path / "wide.csv")
    out = tmp_path / "out"
    assert main(_fit_args(tmp_path / "wide.csv", out)) == 0
    err = capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    shown = summary["figures_features"]
    assert len(shown) == MAX_PAIRS and len(set(shown)) == MAX_PAIRS
    assert set(shown[:2]) == {"c2", f"c{d - 1}"}  # most separated first
    assert f"the {MAX_PAIRS} of {d} features" in err and ", ".join(shown) in err
    import matplotlib.image

    side = matplotlib.image.imread(out / "components.png").shape[0]
    assert main(_fit_args(tmp_path / "wide.csv", tmp_path / "o2", "--features", "c0,c1,c2")) == 0
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert summary["figures_features"] == ["c0", "c1", "c2"]
    # a MAX_PAIRS x MAX_PAIRS grid, not d x d: about MAX_PAIRS / 3 times the 3 x 3 one
    ratio = side / matplotlib.image.imread(tmp_path / "o2" / "components.png").shape[0]
    assert 0.7 * MAX_PAIRS / 3 < ratio < 1.3 * MAX_PAIRS / 3


def test_vb_using_its_whole_truncation_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    centres = [(0, 0), (10, 0), (0, 10)]
    X = np.vstack([rng.normal(c, 1.0, (40, 2)) for c in centres])
    path = tmp_path / "three.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    args = ["fit", str(path), "--method", "vb", "--n-init", "1", "--quiet"]
    assert main([*args, "--components", "2", "--out", str(tmp_path / "k2")]) == 0
    summary = json.loads((tmp_path / "k2" / "summary.json").read_text())
    assert summary["n_effective_components"] == 2
    assert "all 2 components are effective" in capsys.readouterr().err
    assert main([*args, "--components", "6", "--out", str(tmp_path / "k6")]) == 0
    summary = json.loads((tmp_path / "k6" / "summary.json").read_text())
    assert summary["n_effective_components"] == 3
    assert "components are effective" not in capsys.readouterr().err


def test_posterior_k_line_names_mode_and_a_90_percent_range():
    from bayesmix.__main__ import _posterior_k_line

    draws = np.repeat([1, 2, 3, 4, 6], [3, 84, 7, 4, 2])
    line = _posterior_k_line(draws)
    # 2 alone holds 0.84; 3 (0.07) is likelier than 1 (0.03): 2..3 holds 0.91
    assert line.endswith("mode 2 (probability 0.84), 2..3 with 0.91")
    line = _posterior_k_line(np.repeat([3, 4, 5], [45, 10, 45]))
    assert "mode 3 (probability 0.45), 3..5 with 1.00" in line
