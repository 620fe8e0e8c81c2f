"""Sphinx configuration of the bayesmix documentation (``docs/build.sh`` builds it)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import bayesmix

project = "bayesmix"
author = "the bayesmix developers"
copyright = "the bayesmix developers"
version = release = bayesmix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = [
    "_build",
    "sg_config.py",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "**.zip",
]
templates_path: list[str] = []

# --- API reference from the docstrings (numpydoc format)
autodoc_typehints = "none"  # the docstrings state types and shapes
autodoc_member_order = "groupwise"
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False  # members are listed by autodoc itself
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- gallery: every examples/plot_*.py runs at build time, figures captured
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for sg_config
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "reset_modules": ("matplotlib",),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "write_computation_times": False,
    "reset_argv": "sg_config.reset_argv",
}

# --- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"bayesmix {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
