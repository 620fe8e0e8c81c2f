"""Saving and loading fitted models without pickle.

A saved model is one ``.npz`` archive (a zip of ``.npy`` arrays, readable
with ``numpy.load(path, allow_pickle=False)``) holding every array of the
model, plus one member ``__bayesmix__.npy``: the UTF-8 bytes of a JSON
document that names the estimator class, its constructor parameters and its
fitted state.  Arrays appear in the JSON as references into the archive.

Nothing in a file can execute code: arrays are read with
``allow_pickle=False``, the JSON can only rebuild numbers, strings, lists,
tuples, dicts, numpy arrays and scalars, numpy random generators, the
covariance structures of :mod:`bayesmix.covariance`, and instances of
classes defined inside bayesmix (created without calling their
constructors, then given their saved attributes).

Results are saved the same way: :class:`~bayesmix.MixturePosterior` and
:class:`~bayesmix.ModelSelection` (classes that set ``_bayesmix_result =
True``) are stored attribute by attribute, their pandas tables column by
column and the models they hold as nested models, and :func:`load` reads any
of them back.

Engines need no code of their own to be saved: every instance attribute is
stored.  A class is a bayesmix estimator, one that :func:`save` writes and
:func:`load` rebuilds, when it sets the class attribute
``_bayesmix_estimator = True`` and has scikit-learn's ``get_params`` and a
classmethod ``_param_names`` (``bayesmix._base.BaseMixture`` provides all
three); io recognises it by that marker, so it imports no engine.  An engine
that caches something it can rebuild lists it in a class attribute
``_unsaved_attributes`` and rebuilds it in ``_after_load()``.

File layout (version 1)
-----------------------
``__bayesmix__.npy`` (uint8): JSON ``{"format": "bayesmix-model",
"format_version": 1, "bayesmix_version", "class": "module:QualName",
"params": {...}, "state": {...}}`` (a result has no ``"params"``); ``a0.npy``,
``a1.npy``, ...: the arrays.
"""

from __future__ import annotations

import importlib
import io as _stdio
import json
import math
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ._load_checks import MAX_BYTES_FLOOR, MAX_RATIO, check_members, check_state
from ._version import __version__
from .covariance import CovarianceStructure, get_structure

__all__ = ["FORMAT_VERSION", "MAX_BYTES_FLOOR", "MAX_RATIO", "load", "save"]

FORMAT = "bayesmix-model"
FORMAT_VERSION = 1
_META = "__bayesmix__"
_TAG = "__bm__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MODULE_RE = re.compile(r"^bayesmix(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_QUALNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# --------------------------------------------------------------------- encoding
class _Encoder:
    """Turns a value into JSON-able data, moving every array into ``arrays``."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, arr: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def __call__(self, value, where: str):
        if isinstance(value, np.generic):  # before float: np.float64 subclasses float
            if value.dtype.kind == "O":  # pragma: no cover - numpy never makes these
                raise TypeError(f"cannot save {where}: object scalar")
            return {_TAG: "scalar", "key": self._store(np.asarray(value))}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return {_TAG: "float", "value": repr(value)}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, list):
            if value and all(isinstance(v, np.generic) for v in value):
                dtypes = {v.dtype for v in value}
                if len(dtypes) == 1 and next(iter(dtypes)).kind in "biufc":
                    return {_TAG: "scalarlist", "key": self._store(np.asarray(value))}
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        cls = type(value)
        if isinstance(value, tuple) and _is_bayesmix_namedtuple(cls):
            return {
                _TAG: "namedtuple",
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "items": [self(v, f"{where}.{n}") for n, v in zip(cls._fields, value, strict=True)],
            }
        if isinstance(value, tuple):
            return {_TAG: "tuple", "items": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            items = sorted(value, key=repr)
            return {
                _TAG: "frozenset" if isinstance(value, frozenset) else "set",
                "items": [self(v, f"{where} item") for v in items],
            }
        if isinstance(value, range):
            return {_TAG: "range", "args": [value.start, value.stop, value.step]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and _TAG not in value:
                return {k: self(v, f"{where}[{k!r}]") for k, v in value.items()}
            return {
                _TAG: "dict",
                "items": [[self(k, where), self(v, f"{where}[{k!r}]")] for k, v in value.items()],
            }
        if isinstance(value, np.random.Generator):
            return {_TAG: "generator", "state": self(value.bit_generator.state, where)}
        if isinstance(value, np.random.RandomState):
            return {_TAG: "randomstate", "state": self(value.get_state(legacy=False), where)}
        if isinstance(value, CovarianceStructure):
            return {_TAG: "covariance", "name": value.name}
        if _is_estimator(cls):  # a model held by a result: params + state, as save() writes
            return {_TAG: "estimator", **_estimator_record(value, self)}
        if _is_dataframe(value):
            return self._frame(value, where)
        if _MODULE_RE.match(cls.__module__ or "") and hasattr(value, "__dict__"):
            return {
                _TAG: "object",
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "state": {k: self(v, f"{where}.{k}") for k, v in vars(value).items()},
            }
        raise TypeError(
            f"cannot save {where}: values of type {cls.__module__}.{cls.__qualname__} have no "
            "safe file representation. An engine keeping such a cache should list it in "
            "_unsaved_attributes and rebuild it in _after_load()."
        )

    def _column(self, values, where: str):
        """A pandas column or index: numeric ones as arrays, text ones as lists."""
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
            return {"dtype": dtype.str, "values": self._array(np.asarray(values), where)}
        name = str(dtype)
        if name not in _TEXT_DTYPES:
            raise TypeError(f"cannot save {where}: columns of dtype {name} are not supported")
        items = [None if _is_na(v) else v for v in values.tolist()]
        return {"dtype": name, "values": self(items, where)}

    def _frame(self, frame, where: str):
        import pandas as pd

        if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
            raise TypeError(f"cannot save {where}: a table needs distinct string column names")
        index = frame.index
        if isinstance(index, pd.RangeIndex):
            index_record = {"range": [index.start, index.stop, index.step]}
        else:
            index_record = self._column(index, f"{where}.index")
        return {
            _TAG: "dataframe",
            "columns": [[c, self._column(frame[c], f"{where}[{c!r}]")] for c in frame.columns],
            "index": index_record,
            "attrs": self(dict(frame.attrs), f"{where}.attrs"),
        }

    def _array(self, arr: np.ndarray, where: str):
        if arr.dtype.kind == "O":
            flat = arr.ravel().tolist()
            if not all(isinstance(v, str) for v in flat):
                raise TypeError(
                    f"cannot save {where}: an object array that is not all strings has no "
                    "safe file representation."
                )
            return {_TAG: "strarray", "shape": list(arr.shape), "items": flat}
        if arr.dtype.hasobject:
            raise TypeError(f"cannot save {where}: structured arrays with objects are not safe.")
        return {_TAG: "array", "key": self._store(arr)}


# --------------------------------------------------------------------- decoding
class _Decoder:
    def __init__(self, arrays):
        self.arrays = arrays
        self.used: set[str] = set()  # the members the metadata referred to

    def _get(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"the metadata refers to an array {key!r} that the file lacks")
        self.used.add(key)
        return self.arrays[key]

    def __call__(self, data):
        if data is None or isinstance(data, (bool, str, int, float)):
            return data
        if isinstance(data, list):
            return [self(v) for v in data]
        if not isinstance(data, dict):  # pragma: no cover - json gives no other types
            raise ValueError(f"unexpected value of type {type(data).__name__}")
        tag = data.get(_TAG)
        if tag is None:
            return {k: self(v) for k, v in data.items()}
        handler = getattr(self, f"_tag_{tag}", None) if isinstance(tag, str) else None
        if handler is None:
            raise ValueError(f"unknown record type {tag!r}")
        try:
            return handler(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed {tag!r} record ({exc})") from None

    def _tag_float(self, d):
        if d["value"] not in ("nan", "inf", "-inf"):
            raise ValueError(f"bad float {d['value']!r}")
        return float(d["value"])

    def _tag_array(self, d):
        return self._get(d["key"])

    def _tag_scalar(self, d):
        arr = self._get(d["key"])
        if arr.ndim != 0:
            raise ValueError("a scalar record points to an array that is not 0-dimensional")
        return arr[()]

    def _tag_scalarlist(self, d):
        arr = self._get(d["key"])
        if arr.ndim != 1:
            raise ValueError("a list record points to an array that is not 1-dimensional")
        return list(arr)

    def _tag_strarray(self, d):
        items = d["items"]
        if not all(isinstance(v, str) for v in items):
            raise ValueError("a string array holds non-strings")
        return np.array(items, dtype=object).reshape(tuple(d["shape"]))

    def _tag_tuple(self, d):
        return tuple(self(v) for v in d["items"])

    def _tag_set(self, d):
        return {self(v) for v in d["items"]}

    def _tag_frozenset(self, d):
        return frozenset(self(v) for v in d["items"])

    def _tag_range(self, d):
        start, stop, step = d["args"]
        if not all(type(v) is int for v in (start, stop, step)):
            raise ValueError("range bounds must be integers")
        return range(start, stop, step)

    def _tag_dict(self, d):
        return {self(k): self(v) for k, v in d["items"]}

    def _tag_generator(self, d):
        state = self(d["state"])
        name = state["bit_generator"]
        if name not in _BIT_GENERATORS:
            raise ValueError(f"unknown bit generator {name!r}")
        bit_gen = getattr(np.random, name)()
        bit_gen.state = state
        return np.random.Generator(bit_gen)

    def _tag_randomstate(self, d):
        state = self(d["state"])
        if state.get("bit_generator") != "MT19937":
            raise ValueError("a RandomState must use MT19937")
        rs = np.random.RandomState()
        rs.set_state(state)
        return rs

    def _tag_covariance(self, d):
        return get_structure(d["name"])

    def _tag_namedtuple(self, d):
        cls = _resolve_class(d["class"], namedtuple=True)
        items = [self(v) for v in d["items"]]
        if len(items) != len(cls._fields):
            raise ValueError(f"{d['class']} has {len(cls._fields)} fields, the file {len(items)}")
        return cls._make(items)

    def _tag_estimator(self, d):
        return _rebuild_estimator(d, self)  # the nested model's checks run there

    def _column(self, d):
        import pandas as pd

        dtype, values = d["dtype"], self(d["values"])
        if dtype in _TEXT_DTYPES:
            if not isinstance(values, list) or not all(
                v is None or isinstance(v, (str, bool, int, float)) for v in values
            ):
                raise ValueError("a text column holds values that are not plain")
            return pd.array(values, dtype=dtype) if dtype != "object" else _object_array(values)
        if not isinstance(values, np.ndarray) or values.dtype.str != dtype:
            raise ValueError("a numeric column does not match its recorded dtype")
        return values

    def _tag_dataframe(self, d):
        import pandas as pd

        columns = {}
        for name, record in d["columns"]:
            if not isinstance(name, str) or name in columns:
                raise ValueError("table column names must be distinct strings")
            columns[name] = self._column(record)
        index = d["index"]
        if "range" in index:
            start, stop, step = index["range"]
            if not all(type(v) is int for v in (start, stop, step)):
                raise ValueError("range bounds must be integers")
            index = pd.RangeIndex(start, stop, step)
        else:
            index = pd.Index(self._column(index))
        frame = pd.DataFrame(columns, index=index)
        if len(frame.columns) == 0:
            frame = pd.DataFrame(index=index)
        attrs = self(d["attrs"])
        if not isinstance(attrs, dict):
            raise ValueError("table attrs must be a dict")
        frame.attrs.update(attrs)
        return frame

    def _tag_object(self, d):
        cls = _resolve_class(d["class"])
        obj = object.__new__(cls)
        obj.__dict__.update(_checked_names(self(d["state"]), d["class"]))
        return obj


def _checked_names(state, where: str) -> dict:
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and k.isidentifier() and not k.startswith("__") for k in state
    ):
        raise ValueError(f"the attributes stored for {where} are not plain attribute names")
    return state


# Private classes that moved between modules since files were first written:
# an old file names the old place, and loads as the class now found at the new one.
_MOVED = {
    "bayesmix._base:Standardiser": "bayesmix._data:Standardiser",
    "bayesmix.em:_Params": "bayesmix._em_core:Params",
    "bayesmix.vb:_Prior": "bayesmix._vb_core:Prior",
    "bayesmix.vb:_Posterior": "bayesmix._vb_core:Posterior",
    "bayesmix.vb:_Full": "bayesmix._vb_core:LegacyFamily",
    "bayesmix.vb:_Tied": "bayesmix._vb_core:LegacyFamily",
    "bayesmix.vb:_Diag": "bayesmix._vb_core:LegacyFamily",
    "bayesmix.vb:_Spherical": "bayesmix._vb_core:LegacyFamily",
}


def _resolve_class(spec, namedtuple: bool = False) -> type:
    """A class defined inside bayesmix, from ``"module:QualName"``; nothing else
    (with ``namedtuple=True``: a NamedTuple class defined inside bayesmix)."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(f"bad class reference {spec!r}")
    spec = _MOVED.get(spec, spec)
    module_name, qualname = spec.split(":")
    if not _MODULE_RE.match(module_name) or not _QUALNAME_RE.match(qualname):
        raise ValueError(f"class {spec!r} is not a bayesmix class")
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        raise ValueError(f"class {spec!r} is not available in this version of bayesmix") from None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or obj.__module__ != module_name:
        raise ValueError(f"class {spec!r} is not available in this version of bayesmix")
    if namedtuple:
        if not _is_bayesmix_namedtuple(obj):
            raise ValueError(f"class {spec!r} is not a named tuple")
        return obj
    if obj.__new__ is not object.__new__:
        raise ValueError(f"class {spec!r} cannot be restored from a file")
    return obj


def _is_bayesmix_namedtuple(cls) -> bool:
    return (
        isinstance(cls, type)
        and issubclass(cls, tuple)
        and isinstance(getattr(cls, "_fields", None), tuple)
        and bool(_MODULE_RE.match(cls.__module__ or ""))
    )


_TEXT_DTYPES = ("object", "str", "string")


def _is_dataframe(value) -> bool:
    pd = sys.modules.get("pandas")  # a DataFrame exists only if pandas was imported
    return pd is not None and isinstance(value, pd.DataFrame)


def _is_na(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _object_array(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


# ------------------------------------------------------------------------ public
def _is_estimator(cls) -> bool:
    """Whether ``cls`` declares itself a bayesmix estimator (see the module docstring)."""
    return getattr(cls, "_bayesmix_estimator", False) is True


def _is_result(cls) -> bool:
    """Whether ``cls`` declares itself a saveable bayesmix result (a posterior, a selection)."""
    return getattr(cls, "_bayesmix_result", False) is True


def _estimator_record(model, enc: _Encoder) -> dict:
    cls = type(model)
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "params": {k: enc(v, f"parameter {k!r}") for k, v in model.get_params().items()},
        "state": {k: enc(getattr(model, k), f"attribute {k!r}") for k in _state_names(model)},
    }


def _result_record(result, enc: _Encoder) -> dict:
    cls = type(result)
    skip = set(getattr(cls, "_unsaved_attributes", ()))
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "state": {k: enc(v, f"attribute {k!r}") for k, v in vars(result).items() if k not in skip},
    }


def _state_names(model) -> list[str]:
    params = set(model.get_params())
    skip = set(getattr(type(model), "_unsaved_attributes", ()))
    return [k for k in vars(model) if k not in params and k not in skip]


def save(model, path) -> None:
    """Write a model (fitted or not), a posterior or a model selection to
    ``path`` as npz + JSON metadata.

    Parameters
    ----------
    model : GaussianMixture, VariationalGaussianMixture, DirichletProcessMixture,
        MixturePosterior or ModelSelection
    path : str or path-like
        Written exactly as given (no extension is added); ``.npz`` is the
        conventional suffix.  The file is written to a temporary name and then
        renamed, so an interrupted save never leaves a half-written model.

    Raises
    ------
    TypeError
        If ``model`` is not a bayesmix estimator, or holds a value that has no
        safe file representation (the message names the attribute).

    See Also
    --------
    load : read the model back.
    """
    cls = type(model)
    if not (_is_estimator(cls) or _is_result(cls)):
        raise TypeError(
            "model must be a bayesmix estimator (GaussianMixture, ...), a MixturePosterior "
            f"or a ModelSelection, got {cls.__name__}."
        )
    enc = _Encoder()
    record = _estimator_record(model, enc) if _is_estimator(cls) else _result_record(model, enc)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bayesmix_version": __version__,
        **record,
    }
    text = json.dumps(meta, allow_nan=False, separators=(",", ":"))
    members = dict(enc.arrays)
    members[_META] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    path = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **members)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, *, max_bytes: int | None = None):
    """Read a model, posterior or model selection written by :func:`save`
    (or by its ``save`` method).

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, optional
        The most memory the arrays may take once decompressed.  By default
        ``max(MAX_BYTES_FLOOR, MAX_RATIO * file size)`` (64 MiB, or 64 times the
        file), so a small file cannot expand into gigabytes; pass a larger value
        for a file you trust whose arrays compress unusually well.

    Returns
    -------
    model
        An estimator of the saved class, with the saved parameters and, if it
        was fitted, every fitted attribute restored exactly (bit for bit), so
        ``predict``, ``score_samples`` and the rest give the same results; or
        the saved :class:`~bayesmix.MixturePosterior` /
        :class:`~bayesmix.ModelSelection`, every array and table restored exactly.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, corrupted, not a bayesmix model, written by a
        newer file-format version, holds members it should not (unknown,
        duplicate or unreferenced names, arrays larger than ``max_bytes``), or
        a fitted state whose arrays do not agree in shape, dtype or range with
        the model's metadata and with each other (checked before any compiled
        code reads them).  No content of the file is ever executed: arrays are
        read with ``allow_pickle=False``.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")

    def bad(reason: str) -> ValueError:
        return ValueError(f"{path} is not a readable bayesmix model file: {reason}.")

    with open(path, "rb") as fh:
        raw = fh.read()
    if not raw.startswith(b"PK\x03\x04"):
        raise bad("it is not an .npz (zip) archive")
    try:
        check_members(raw, max_bytes, bad)
        with np.load(_stdio.BytesIO(raw), allow_pickle=False) as npz:
            names = set(npz.files)
            if _META not in names:
                raise bad("it is an .npz archive without bayesmix metadata (a foreign file?)")
            arrays = {name: npz[name] for name in names}
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise bad(f"an array could not be read safely ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError) as exc:
        raise bad(f"the archive is truncated or corrupted ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # zlib.error and other decoder failures of damaged bytes
        raise bad(f"the archive is corrupted ({type(exc).__name__}: {exc})") from None

    meta_bytes = arrays.pop(_META)
    if meta_bytes.dtype != np.uint8 or meta_bytes.ndim != 1:
        raise bad("its metadata record is not a byte string")
    try:
        meta = json.loads(meta_bytes.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad(f"its metadata is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad("its metadata does not describe a bayesmix model")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise bad(f"unknown format version {version!r}")
    if version > FORMAT_VERSION:
        raise bad(
            f"it was written in format version {version} by bayesmix "
            f"{meta.get('bayesmix_version')}; this bayesmix reads up to version "
            f"{FORMAT_VERSION}, so upgrade bayesmix"
        )
    try:
        obj = _rebuild(meta, arrays)
    except ValueError as exc:
        raise bad(str(exc)) from None
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        # a value of the wrong kind where a constructor or _after_load expected another
        raise bad(f"its saved state is malformed ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise bad("its metadata is nested too deeply") from None
    return obj


def load_as(path, cls: type):
    """:func:`load`, checking that the file holds a ``cls``."""
    obj = load(path)
    if not isinstance(obj, cls):
        raise TypeError(
            f"{path} holds a {type(obj).__name__}, not a {cls.__name__}; read it with bayesmix.load"
        )
    return obj


# Parameters added to an estimator after files of it were written: for each, the
# value that reproduces what a file saved without it was fitted with (a refit of
# a loaded model must behave as the saved one did). A parameter missing from a
# file and not listed here makes the file unreadable rather than silently changed.
_ADDED_PARAMS: dict[str, dict[str, object]] = {
    "VariationalGaussianMixture": {
        "moves": False,
        "total_samples": 1e6,
        "learning_decay": 0.7,
        "learning_offset": 10.0,
    },
    "GaussianMixture": {"learning_decay": 0.6, "learning_offset": 1.0},
}


def _added_params(cls, missing: set) -> dict:
    known = _ADDED_PARAMS.get(cls.__name__, {})
    unknown = sorted(missing - set(known))
    if unknown:
        raise ValueError(
            f"the saved parameters lack {unknown}, which {cls.__name__} needs; "
            "the file was not written by bayesmix"
        )
    return {name: known[name] for name in missing}


def _rebuild(meta: dict, arrays: dict):
    decode = _Decoder(arrays)
    obj = _rebuild_object(meta, decode)
    unused = sorted(set(arrays) - decode.used)
    if unused:
        raise ValueError(f"it holds members the metadata never refers to: {unused[:5]}")
    return obj


def _rebuild_object(meta: dict, decode: _Decoder):
    cls = _resolve_class(meta.get("class"))
    if _is_result(cls) and "params" not in meta:
        result = object.__new__(cls)
        state = _checked_names(decode(meta.get("state")), meta.get("class"))
        check_state(cls.__name__, state)  # before any compiled code can read it
        result.__dict__.update(state)
        after = getattr(result, "_after_load", None)
        if after is not None:
            after()
        return result
    return _rebuild_estimator(meta, decode)


def _rebuild_estimator(meta: dict, decode: _Decoder):
    cls = _resolve_class(meta.get("class"))
    if not _is_estimator(cls):
        raise ValueError(f"class {meta.get('class')!r} is not a bayesmix estimator")
    params = decode(meta.get("params"))
    state = decode(meta.get("state"))
    names = set(cls._param_names())
    if not isinstance(params, dict) or not set(params) <= names:
        raise ValueError(
            f"the saved parameters do not match {cls.__name__}'s parameters {sorted(names)}"
        )
    params = {**_added_params(cls, names - set(params)), **params}
    state = _checked_names(state, "the model")
    check_state(cls.__name__, state)  # before any compiled code can read it
    model = cls(**params)
    for name, value in state.items():
        setattr(model, name, value)
    after = getattr(model, "_after_load", None)
    if after is not None:
        after()
    return model
