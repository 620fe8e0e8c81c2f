"""Helpers referenced by name from ``conf.py``'s ``sphinx_gallery_conf``
(Sphinx can only cache configuration values it can pickle)."""

from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "_build" / "example_output"


def reset_argv(gallery_conf, script_vars):
    """Run every example as ``python plot_x.py OUTPUT``: examples that keep
    their figures as PNG files write them under ``_build``, not next to the
    sources."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return [str(OUTPUT)]
