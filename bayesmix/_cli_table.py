"""Reading a data table for ``bayesmix fit``: CSV, TSV or Parquet, through pandas.

pandas is installed with bayesmix's dependencies (xarray, which arviz-base
needs, requires it) and is imported only when a table is read, so that
``import bayesmix`` stays light.  Its C parser reads a 100 MB CSV of numbers
in seconds with memory a small multiple of the data; Parquet needs pyarrow
(an optional install).

What real tables carry and this module handles, each with a message that
names the cure:

* a delimiter other than a comma (semicolons, tabs, bars) -- sniffed from the
  first lines, or given with ``--delimiter``; a semicolon file whose numbers
  use decimal commas is read as such;
* an unnamed first column (the index that ``DataFrame.to_csv()`` writes by
  default) -- used as the rows' IDs and reported, never fitted as a feature;
* an identifier column (``--id-column NAME``, or a column named ``id`` /
  ``index`` / ``*_id`` holding distinct integers or text, reported) -- carried into
  ``labels.csv``, never fitted;
* text columns -- refused with the cure: ``--exclude NAME``;
* missing cells (empty, ``NA``, ``nan``, ``?`` ...) -- NaN when the engine
  handles missing values (``allow_missing``; every engine does), otherwise refused with the
  line, the column and that cure; non-finite numbers -- refused.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CLIError", "Table", "read_table"]

_NA_VALUES = ["?"]  # on top of pandas' defaults ("", "NA", "nan", "NULL", "None", ...)
_DELIMITERS = ("\t", ";", ",", "|")  # preference order when several are consistent
_ID_NAME = re.compile(r"^(id|index|row|row_?id|.*[_ ]id)$", re.IGNORECASE)
_PARQUET = (".parquet", ".pq")
_SNIFF_BYTES = 64 * 1024


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


@dataclass
class Table:
    """The numeric data of a table and what was set aside."""

    X: np.ndarray  # (n_samples, n_features) float64
    names: list[str]
    ids: object = None  # a pandas Series of row IDs, or None
    id_name: str | None = None
    notes: list[str] = field(default_factory=list)  # what was detected, for stderr
    delimiter: str | None = None
    n_missing: int = 0  # missing cells of X (NaN), with allow_missing


def _describe_delimiter(sep: str) -> str:
    return {"\t": "tab", ";": "semicolon", ",": "comma", "|": "bar", " ": "space"}.get(
        sep, repr(sep)
    )


def _sample_lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read(_SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    lines = text.splitlines()
    if len(text) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return [line for line in lines if line.strip()][:50]


def sniff_delimiter(lines: list[str], suffix: str) -> str:
    """The delimiter of a text table from its first non-blank lines.

    A candidate is *consistent* when it occurs the same, non-zero number of
    times on every sampled line; the first consistent one in the order tab,
    semicolon, comma, bar wins (a semicolon file with decimal commas has
    consistent commas too, which is why semicolons come first).  ``.tsv`` /
    ``.tab`` files are tab-separated; otherwise csv.Sniffer decides, then comma.
    """
    if suffix in (".tsv", ".tab"):
        return "\t"
    if not lines:
        return ","
    for sep in _DELIMITERS:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and counts != {0}:
            return sep
    try:  # quoted text holding delimiters: the sniffer knows about quotes
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        return ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep))


def _raw_cell(path: Path, sep: str, header: bool, row: int, col: int) -> tuple[int, str]:
    """The physical line number and text of data row ``row``, column ``col``
    (error path only: it re-reads the file up to that row)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        seen = -1 if header else 0
        for line_no, cells in enumerate(csv.reader(fh, delimiter=sep), start=1):
            if not any(c.strip() for c in cells):
                continue  # pandas skips blank lines too
            if seen == row:
                return line_no, cells[col].strip() if col < len(cells) else ""
            seen += 1
    return -1, ""  # pragma: no cover - pandas read that row


def _read_frame(path: Path, sep: str | None, header: bool | None):
    """The file as a DataFrame (numbers parsed by pandas' C reader), its
    delimiter, whether it has a header line, and the decimal mark."""
    import pandas as pd

    if path.suffix.lower() in _PARQUET:
        if importlib.util.find_spec("pyarrow") is None:
            raise CLIError(
                f"{path}: reading Parquet needs pyarrow, which is not installed; "
                "install it (pip install pyarrow) or save the table as CSV"
            )
        try:
            return pd.read_parquet(path), None, True
        except Exception as exc:  # pyarrow's errors have many types
            raise CLIError(f"{path}: not a readable Parquet file ({exc})") from None

    lines = _sample_lines(path)
    if not lines:
        raise CLIError(f"{path}: the file is empty")
    if sep is None:
        sep = sniff_delimiter(lines, path.suffix.lower())
    first = [c.strip() for c in _split(lines[0], sep)]
    decimal = "."
    if sep == ";" and len(lines) > 1:
        cells = [c.strip() for c in _split(lines[1], sep)]
        if any(re.fullmatch(r"[-+]?\d+,\d+", c) for c in cells) and not any(
            re.fullmatch(r"[-+]?\d*\.\d+", c) for c in cells
        ):
            decimal = ","  # "1,5;2,3": European decimal commas
    counting = False
    if header is None:
        header = not all(_is_number(c.replace(decimal, ".")) for c in first)
        # pandas' to_csv of a frame made from an array names the columns 0, 1, 2, ...:
        # a first line of three or more cells counting up from 0 is those names
        # (two cells "0,1" could be a row of binary data)
        counting = (
            not header
            and len(first) >= 3
            and first == [str(j) for j in range(len(first))]
            and len(lines) > 1
            and [c.strip() for c in _split(lines[1], sep)] != first
        )
        header = header or counting
    row_names = False
    if header:
        # R's write.table writes no header cell over its row names: every data
        # line then has one field more than the header; name that column "" so
        # it is taken as the rows' IDs like a pandas index
        widths = {len(_split(line, sep)) for line in lines[1:]}
        row_names = widths == {len(first) + 1}
        named = [c for c in first if c]
        dup = sorted({c for c in named if named.count(c) > 1})
        if dup:
            raise CLIError(f"{path}: the header repeats a column name: {dup[0]!r} in {first}")
    try:
        with warnings.catch_warnings():
            # chunked parsing (low_memory) halves the peak memory; a column whose
            # chunks disagree on type is checked cell by cell below anyway
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                header=0 if header else None,
                names=["", *first] if row_names else None,
                decimal=decimal,
                na_values=_NA_VALUES,
                skipinitialspace=True,
                encoding="utf-8-sig",
                index_col=False,  # a row with one extra field is an error, not an index
                engine="c",
            )
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, saw = found.groups()
            raise CLIError(
                f"{path}: line {line} has {saw} columns but the "
                f"{'header' if header else 'first line'} has {expected}"
            ) from None
        raise CLIError(
            f"{path}: not a readable {_describe_delimiter(sep)}-separated file"
        ) from None
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    if not header:
        frame.columns = [f"x{j}" for j in range(frame.shape[1])]
    frame.attrs["decimal"] = decimal
    frame.attrs["counting_header"] = counting
    return frame, sep, header


def _is_unnamed(name) -> bool:
    return str(name).strip() == "" or bool(re.fullmatch(r"Unnamed: \d+", str(name)))


def _looks_like_ids(series) -> bool:
    """Distinct integers or distinct text (``W000``, ``W001`` ...)."""
    import pandas as pd

    kind = series.dtype
    usable = pd.api.types.is_integer_dtype(kind) or not pd.api.types.is_numeric_dtype(kind)
    return bool(usable and series.is_unique and len(series) > 1)


def read_table(
    path,
    *,
    columns=None,
    exclude=None,
    id_column: str | None = None,
    header: bool | None = None,
    delimiter: str | None = None,
    allow_missing: bool = False,
) -> Table:
    """Read the numeric features of a CSV / TSV / Parquet file.

    Parameters
    ----------
    path : path-like
    columns : list of str, optional
        The feature columns (default: every column not excluded, not the IDs).
    exclude : list of str, optional
        Columns to leave out (text columns must be left out or named as IDs).
    id_column : str, optional
        A column holding the rows' IDs: not fitted, written to ``labels.csv``.
        Without it an unnamed first column (a pandas index) or a column named
        like an identifier that holds distinct integers or text is taken as the IDs,
        with a note saying so.
    header : bool, optional
        Whether the first line names the columns (default: when any of its
        cells is not a number).
    delimiter : str, optional
        The field separator (default: sniffed from the first lines).
    allow_missing : bool, default=False
        Missing cells become NaN (for an engine that handles missing values)
        instead of an error.

    Returns
    -------
    Table
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if path.is_dir():
        raise CLIError(f"{path}: is a directory, not a data file")
    frame, sep, has_header = _read_frame(path, delimiter, header)
    if frame.shape[0] == 0:
        raise CLIError(f"{path}: no data rows after the header")
    notes = []
    if frame.attrs.get("counting_header"):
        notes.append(
            f"the first line ({', '.join(str(c) for c in frame.columns)}) counts the columns, "
            "as pandas names an array's columns: read as the header (--no-header if it is data)"
        )
    if sep is not None and sep != ",":
        mark = " with decimal commas" if frame.attrs.get("decimal") == "," else ""
        notes.append(f"{_describe_delimiter(sep)}-separated{mark}")
    names = [str(c) for c in frame.columns]
    frame.columns = names
    exclude = list(exclude or ())
    for name in [*exclude, *(columns or ()), *([id_column] if id_column else [])]:
        if name not in names:
            shown = [n for n in names if not _is_unnamed(n)]
            raise CLIError(f"{path}: no column named {name!r}; the columns are {shown}")

    ids, id_name = None, None
    index_col = names[0] if has_header and names and _is_unnamed(names[0]) else None
    named = [
        n
        for n in names
        if n not in exclude and n != index_col and _ID_NAME.match(n) and _looks_like_ids(frame[n])
    ]
    if id_column is not None:
        ids, id_name = frame[id_column], id_column
    elif not columns and named:
        ids, id_name = frame[named[0]], named[0]
        notes.append(
            f"column {named[0]!r} holds distinct values and is named like an identifier: "
            f"used as the rows' IDs, not as a feature (--columns or --id-column to change)"
        )
    elif not columns and index_col is not None:
        ids, id_name = frame[index_col], "index"
    if not columns and index_col is not None and index_col != id_column:
        notes.append(
            "the first column has no name (an index written by pandas' to_csv or R's row names?): "
            + ("used as the rows' IDs" if id_name == "index" else "left out")
            + ", not used as a feature"
        )
        exclude.append(index_col)
    if id_name is not None and id_name in names:
        exclude.append(id_name)

    keep = list(columns) if columns else [n for n in names if n not in exclude]
    if columns:
        clash = [c for c in columns if c in exclude]
        if clash:
            raise CLIError(f"{path}: column {clash[0]!r} is both in --columns and left out")
    if not keep:
        raise CLIError(f"{path}: no feature columns are left to fit")
    data = frame[keep]
    X = _numeric(path, data, sep, has_header, names, allow_missing)
    reported = {index_col, id_name}  # said above: the IDs and the unnamed first column
    dropped = [n for n in dict.fromkeys(exclude) if n not in reported]
    if dropped:
        notes.append(f"left out: {', '.join(repr(n) for n in dropped)}")
    return Table(X, keep, ids, id_name, notes, sep, int(np.isnan(X).sum()))


def _numeric(
    path: Path, data, sep, header: bool, all_names: list[str], allow_missing: bool = False
) -> np.ndarray:
    """``data`` as a float64 array (missing cells NaN with ``allow_missing``),
    or a :class:`CLIError` at its first bad cell."""
    import pandas as pd

    for name in data.columns:
        col = data[name]
        j = all_names.index(name)
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            values = pd.to_numeric(col, errors="coerce")
            bad = values.isna() & col.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                text = str(col.iloc[row]).strip()
                mostly_text = values.isna().mean() > 0.5
                where = _where(path, sep, header, row, j, name)
                cure = (
                    f"a column of text cannot be fitted: leave it out with --exclude {name}"
                    if mostly_text
                    else f"fix the cell, or leave the column out with --exclude {name}"
                )
                raise CLIError(f"{where}: {text!r} is not a number; {cure}")
        missing = col.isna().to_numpy()
        if missing.any() and not allow_missing:
            row = int(np.flatnonzero(missing)[0])
            where = _where(path, sep, header, row, j, name)
            raw = _raw_cell(path, sep, header, row, j)[1] if sep is not None else "null"
            raise CLIError(
                f"{where}: missing value {raw!r}; remove or fill this row (read the table "
                "with allow_missing=True to fit missing cells as missing at random)"
            )
    try:
        X = data.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:  # pragma: no cover - checked above
        raise CLIError(f"{path}: the columns are not all numbers ({exc})") from None
    finite = np.isfinite(X) | np.isnan(X) if allow_missing else np.isfinite(X)
    if not finite.all():
        row, jj = (int(v) for v in np.argwhere(~finite)[0])
        name = data.columns[jj]
        where = _where(path, sep, header, row, all_names.index(name), name)
        raw = (
            _raw_cell(path, sep, header, row, all_names.index(name))[1]
            if sep is not None
            else repr(X[row, jj])
        )
        raise CLIError(f"{where}: {raw!r} is not a finite number")
    empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if empty.size:  # a row with no value tells the mixture nothing
        row = int(empty[0])
        where = f"row {row + 1}"
        if sep is not None:
            where = f"line {_raw_cell(path, sep, header, row, 0)[0]}"
        raise CLIError(
            f"{path}: {where} has no value in any fitted column"
            + (f" ({empty.size} such rows)" if empty.size > 1 else "")
            + "; remove it, or leave out the columns that make it empty"
        )
    return X


def _where(path: Path, sep, header: bool, row: int, col: int, name: str) -> str:
    if sep is None:  # Parquet: no lines
        return f"{path}: row {row + 1}, column {name!r}"
    line, _ = _raw_cell(path, sep, header, row, col)
    return f"{path}: line {line}, column {col + 1} ({name!r})"
