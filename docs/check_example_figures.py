"""Check that every gallery example wrote its figures as PNG files.

Usage: python docs/check_example_figures.py OUTPUT_DIR [examples/plot_x.py ...]

An example ``plot_<stem>.py`` writes ``<stem>*.png`` files into the directory
given as its first argument, one per ``keep(...)`` / ``.savefig(...)`` call in
its source.  The docs build (``docs/build.sh``) runs every example with
``OUTPUT_DIR = docs/_build/example_output`` and then this check; a missing or
extra PNG fails the build.  Exit status 1 names the example at fault.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_CALL = re.compile(r"^\s*(keep\(|[\w.\[\]]+\.savefig\()", re.MULTILINE)


def expected_figures(example: Path) -> int:
    """The number of figure-writing calls in ``example`` (the ``keep`` helper's
    own ``savefig`` line, which formats ``{name}``, is not one)."""
    return sum("{name}" not in m.string[m.start() : m.string.find("\n", m.start())]
               for m in _CALL.finditer(example.read_text()))  # fmt: skip


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    examples = [Path(a) for a in argv[1:]] or sorted(EXAMPLES.glob("plot_*.py"))
    bad, total = [], 0
    for example in examples:
        stem = example.stem.removeprefix("plot_")
        written = sorted(p.name for p in out.glob(f"{stem}*.png") if p.stat().st_size > 0)
        expected = expected_figures(example)
        total += len(written)
        if expected == 0 or len(written) != expected:
            bad.append(f"{example.name}: {len(written)} PNG files in {out}, expected {expected}")
    for line in bad:
        print(f"check_example_figures: {line}", file=sys.stderr)
    print(f"{total} PNG figures from {len(examples)} examples in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
