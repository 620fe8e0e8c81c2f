#!/usr/bin/env bash
# Build the documentation with warnings as errors; the gallery runs every examples/plot_*.py.
# Needs the docs extra:  pip install '.[docs]'   (CI calls this script after installing it).
# Usage: docs/build.sh [output directory]   (default docs/_build/html)
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-_build/html}"
rm -rf auto_examples sg_execution_times.rst "$out" _build/doctrees
export MPLBACKEND=Agg
start=$(date +%s)
rm -rf _build/example_output
"${PYTHON:-python}" -m sphinx -W --keep-going -b html -d _build/doctrees . "$out"
# every example, run by the gallery, also wrote each of its figures as a PNG file
"${PYTHON:-python}" check_example_figures.py _build/example_output
echo "docs built in $(( $(date +%s) - start )) s: $(pwd)/$out/index.html"
