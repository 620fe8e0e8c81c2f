"""Examples write their figures as PNG files when run as scripts.

The docs build runs every example (``docs/build.sh`` counts their PNGs with
``docs/check_example_figures.py``); here the quick ones run as a user would
run them, in a fresh process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CHECK = ROOT / "docs" / "check_example_figures.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this tree")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["plot_two_components", "plot_model_selection", "plot_variational_pruning"]
)
def test_example_writes_every_figure(name, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    script = EXAMPLES / f"{name}.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == PNG_MAGIC for p in pngs)
    assert all(f"wrote {p}" in proc.stdout for p in pngs)  # each figure is announced
    check = subprocess.run(
        [sys.executable, str(CHECK), str(tmp_path), str(script)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert f"{len(pngs)} PNG figures from 1 examples" in check.stdout


def test_check_counts_missing_figures(tmp_path):
    script = EXAMPLES / "plot_model_selection.py"
    (tmp_path / "model_selection_bic.png").write_bytes(PNG_MAGIC)
    check = subprocess.run(
        [sys.executable, str(CHECK), str(tmp_path), str(script)], capture_output=True, text=True
    )
    assert check.returncode == 1
    assert "plot_model_selection.py: 1 PNG files" in check.stderr and "expected 4" in check.stderr
