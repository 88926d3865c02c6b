"""The enterprise dataset as one frozen, validated object: :class:`Dataset` and :func:`load`.

``load(path)`` reads a dataset folder (``enterprise.yaml`` + ``<table>.csv``) or an
``.xlsx`` workbook (see :mod:`cpkit.excel`), validates it (:mod:`cpkit.validate`) and
returns a :class:`Dataset`:

* ``profile``, ``parameters`` and ``continuous`` are frozen pydantic models built from the
  schema; every parameter is resolved (the dataset's value, else the default from a
  ``defaults.yaml`` under ``data/reference``; ``parameter_sources`` says which);
* ``tables`` is a read-only mapping of every schema table to a DataFrame with the
  schema's columns in order plus ``note``, nullable dtypes (``string``, ``Float64``,
  ``Int64``, ``boolean``, ``datetime64[us]``) so an empty cell stays ``<NA>`` and is never
  0, and quantities converted to their canonical units (the unit column rewritten);
* ``row_numbers`` maps each table to the row a person sees for each frame row (CSV line
  or Excel row), for error messages of later calculations.

Loading is memoised on (resolved path, file names, sizes and modification times): the
seven phase notebooks may each call ``load`` without reading the files again. Every call
returns its own DataFrame objects (copy-on-write), so changing a table in a notebook never
changes what the next ``load`` returns.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pydantic

from cpkit import reference
from cpkit.cache import cache_dir
from cpkit.errors import DatasetError, ReferenceDataError
from cpkit.schema import Column, schema

__all__ = [
    "Dataset",
    "clear_cache",
    "load",
    "models",
    "parameter_defaults",
]


# ======================================================================= models


def _annotation(col: Column) -> Any:
    base: Any = {
        "id": str,
        "string": str,
        "text": str,
        "unit": str,
        "int": int,
        "year": int,
        "float": float,
        "bool": bool,
        "date": dt.date,
    }.get(col.element_type, str)
    if col.element_type == "enum" and col.allowed:
        base = Literal[tuple(col.allowed)]  # type: ignore[valid-type]
    if col.type == "list":
        return tuple[base, ...]
    return base


@functools.cache
def models() -> tuple[type[pydantic.BaseModel], type[pydantic.BaseModel], type[pydantic.BaseModel]]:
    """The (Profile, Parameters, Continuous) pydantic model classes built from the schema.

    Required profile keys are required fields; every parameter and narrative field is
    optional (None, or an empty tuple for lists).
    """
    s = schema()
    # defer_build: the validation schema is built on first validation, not here (a kernel
    # that only unpickles a cached dataset never validates: ~40 ms less per notebook)
    config = pydantic.ConfigDict(frozen=True, extra="forbid", defer_build=True)
    built = []
    for section, cls_name in (
        ("profile", "Profile"),
        ("parameters", "Parameters"),
        ("continuous", "Continuous"),
    ):
        fields: dict[str, Any] = {}
        for col in s.section(section):
            ann = _annotation(col)
            desc = f"{col.zh} / {col.en}"
            # the schema's bounds hold for values set after loading too (notebook overrides)
            bounds = {}
            if col.type in ("int", "float", "year") and col.min is not None:
                bounds["ge"] = col.min
            if col.type in ("int", "float", "year") and col.max is not None:
                bounds["le"] = col.max
            if col.required and section == "profile":
                fields[col.key] = (ann, pydantic.Field(description=desc, **bounds))
            elif col.type == "list":
                fields[col.key] = (ann, pydantic.Field(default=(), description=desc))
            else:
                fields[col.key] = (
                    ann | None,
                    pydantic.Field(default=None, description=desc, **bounds),
                )
        model = pydantic.create_model(cls_name, __config__=config, **fields)
        model.__module__ = __name__
        built.append(model)
    return built[0], built[1], built[2]


@functools.cache
def _defaults_files() -> tuple[str, ...]:
    root = reference.reference_root()
    found = sorted(str(p.relative_to(root)) for p in root.glob("*/defaults.yaml"))
    # finance first: it holds the economic defaults the schema's parameters mostly name
    return tuple(sorted(found, key=lambda p: (not p.startswith("finance/"), p)))


def parameter_defaults() -> dict[str, tuple[Any, str]]:
    """parameter → (default value, where it comes from) for every schema parameter that has
    a default in a ``data/reference/<folder>/defaults.yaml`` (finance first)."""
    return dict(_parameter_defaults())


@functools.cache
def _parameter_defaults() -> dict[str, tuple[Any, str]]:
    from cpkit import validate

    out: dict[str, tuple[Any, str]] = {}
    for col in schema().section("parameters"):
        for rel in _defaults_files():
            doc = reference.load_yaml(rel) or {}
            if col.key not in doc:
                continue
            entry = doc[col.key]
            value = entry.get("value") if isinstance(entry, dict) else entry
            try:
                typed = validate._convert_value(col, value)
            except validate._Bad as bad:
                raise ReferenceDataError(
                    f"data/reference/{rel}: default of {col.key} is invalid ({bad.message})"
                ) from None
            source = entry.get("source", "") if isinstance(entry, dict) else ""
            out[col.key] = (typed, f"data/reference/{rel}" + (f": {source}" if source else ""))
            break
    return out


# ======================================================================= the object


class ReadOnlyMap(Mapping[str, Any]):
    """A read-only mapping (picklable, unlike ``types.MappingProxyType``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None):
        object.__setattr__(self, "_data", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only mapping")

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyMap, (self._data,))

    def __repr__(self) -> str:
        return f"ReadOnlyMap({list(self._data)})"


def __getattr__(name: str) -> Any:
    # Profile, Parameters and Continuous are built from the schema on first use; exposing
    # them as module attributes lets pickle (dask workers) find them.
    classes = {"Profile": 0, "Parameters": 1, "Continuous": 2}
    if name in classes:
        return models()[classes[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, eq=False)
class Dataset:
    """One enterprise's audit dataset, validated, typed and in canonical units.

    Equality (``==``) compares id, schema version, profile, parameters, continuous and
    every table (column names, dtypes and values; ``<NA>`` equals ``<NA>``); not the
    source path. :meth:`differences` says what differs.
    """

    id: str
    profile: Any
    parameters: Any
    continuous: Any
    tables: Mapping[str, pd.DataFrame]
    source: Path
    schema_version: int = 1
    parameter_sources: Mapping[str, str] = field(default_factory=dict)
    row_numbers: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return not self.differences(other)

    def differences(self, other: Dataset) -> list[str]:
        """What differs from ``other``, one line per item (empty if equal)."""
        out: list[str] = []
        if self.id != other.id:
            out.append(f"id: {self.id!r} != {other.id!r}")
        if self.schema_version != other.schema_version:
            out.append(f"schema_version: {self.schema_version} != {other.schema_version}")
        for part in ("profile", "parameters", "continuous"):
            a, b = getattr(self, part).model_dump(), getattr(other, part).model_dump()
            for key in a:
                if a[key] != b.get(key):
                    out.append(f"{part}.{key}: {a[key]!r} != {b.get(key)!r}")
        for name in sorted(set(self.tables) | set(other.tables)):
            a, b = self.tables.get(name), other.tables.get(name)
            if a is None or b is None:
                out.append(f"table {name}: present on one side only")
                continue
            if a.equals(b):
                continue
            try:
                pd.testing.assert_frame_equal(a, b, check_exact=True)
                out.append(f"table {name}: differs")  # pragma: no cover
            except AssertionError as exc:
                detail = " ".join(str(exc).split())
                out.append(f"table {name}: {detail[:400]}")
        return out

    def table(self, name: str) -> pd.DataFrame:
        """``tables[name]`` with a helpful KeyError."""
        try:
            return self.tables[name]
        except KeyError:
            from cpkit.validate import suggest

            raise KeyError(f"no table {name!r}{suggest(name, self.tables)}") from None

    def __repr__(self) -> str:
        rows = sum(len(t) for t in self.tables.values())
        filled = sum(1 for t in self.tables.values() if len(t))
        return (
            f"Dataset(id={self.id!r}, source={str(self.source)!r}, "
            f"tables={filled}/{len(self.tables)} filled, rows={rows})"
        )


# ======================================================================= loading

_MEMO: OrderedDict[tuple[Any, ...], Dataset] = OrderedDict()
_MEMO_SIZE = 32
_LOCK = threading.Lock()


def _fingerprint(path: Path) -> tuple[Any, ...]:
    resolved = path.resolve()
    if resolved.is_dir():
        entries = []
        with os.scandir(resolved) as it:
            for e in it:
                if e.is_file() and (e.name.endswith(".csv") or e.name == "enterprise.yaml"):
                    st = e.stat()
                    entries.append((e.name, st.st_size, st.st_mtime_ns))
        return (str(resolved), tuple(sorted(entries)))
    st = resolved.stat()
    return (str(resolved), ((resolved.name, st.st_size, st.st_mtime_ns),))


def _fresh(ds: Dataset, source: Path) -> Dataset:
    """The same dataset with new DataFrame objects (copy-on-write shares the data)."""
    tables = ReadOnlyMap({k: v.copy(deep=False) for k, v in ds.tables.items()})
    return Dataset(
        id=ds.id,
        profile=ds.profile,
        parameters=ds.parameters,
        continuous=ds.continuous,
        tables=tables,
        source=source,
        schema_version=ds.schema_version,
        parameter_sources=ds.parameter_sources,
        row_numbers=ds.row_numbers,
    )


def clear_cache() -> None:
    """Forget memoised datasets (load reads the files again). The disk cache (see
    :func:`load`) is kept; delete its folder to empty it."""
    with _LOCK:
        _MEMO.clear()


# ----------------------------------------------------------------- disk cache

_DISK_MAX_FILES = 256
_CODE_FILES = (
    "units.py",
    "schema.py",
    "dataset.py",
    "validate.py",
    "excel.py",
    "dataset_schema.yaml",
)


def _dataset_cache_dir() -> Path | None:
    base = cache_dir()
    return None if base is None else base / "datasets"


def _tree_stamp(root: Path) -> list[tuple[str, int, int]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            out.append(
                (os.path.relpath(os.path.join(dirpath, name), root), st.st_size, st.st_mtime_ns)
            )
    return out


def _disk_key(memo_key: tuple[Any, ...]) -> str:
    import hashlib
    import sys

    import cpkit

    here = Path(__file__).resolve().parent
    code = [(n, *_stat(here / n)) for n in _CODE_FILES]
    parts = (
        cpkit.__version__,
        sys.version_info[:2],
        pd.__version__,
        pydantic.VERSION,
        code,
        _tree_stamp(reference.reference_root()),
        memo_key,
    )
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:32]


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _disk_get(folder: Path, key: str) -> Dataset | None:
    import pickle

    try:
        with open(folder / f"{key}.pickle", "rb") as fh:
            ds = pickle.load(fh)  # our own cache folder
    except Exception:
        return None
    return ds if isinstance(ds, Dataset) else None


def _disk_put(folder: Path, key: str, ds: Dataset) -> None:
    import contextlib
    import pickle
    import tempfile

    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(ds, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{key}.pickle")
        tmp = None
        files = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in files[:-_DISK_MAX_FILES]:
            old.unlink(missing_ok=True)
    except Exception:  # a cache that cannot be written is not an error
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def load(path: str | os.PathLike[str], *, cache: bool = True) -> Dataset:
    """Load, validate and type the dataset at ``path`` (folder or .xlsx workbook).

    Raises :class:`cpkit.errors.DatasetError` listing every problem (file, sheet, row,
    column) if the dataset is not valid; see :func:`cpkit.validate.validate`.

    Results are memoised on (resolved path, file names, sizes and modification times): in
    the process, and on disk (:func:`cache_dir`) so that the next notebook kernel loading
    the same unchanged dataset does not read, validate and convert it again (nor import
    pint). The disk key also covers the cpkit code, the schema and every file under
    ``data/reference``. Only valid datasets are cached. ``cache=False`` reads the files.
    """
    p = Path(path)
    key = None
    if cache:
        try:
            key = _fingerprint(p)
        except OSError:
            key = None
        if key is not None:
            with _LOCK:
                hit = _MEMO.get(key)
                if hit is not None:
                    _MEMO.move_to_end(key)
                    return _fresh(hit, p)
    folder = _dataset_cache_dir() if key is not None else None
    disk_key = None
    ds = None
    if folder is not None:
        try:
            disk_key = _disk_key(key)  # type: ignore[arg-type]
        except OSError:
            disk_key = None
        if disk_key is not None:
            ds = _disk_get(folder, disk_key)
    if ds is None:
        ds = _load_uncached(p)
        if folder is not None and disk_key is not None:
            _disk_put(folder, disk_key, ds)
    if key is not None:
        with _LOCK:
            _MEMO[key] = ds
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
        return _fresh(ds, p)
    return ds


def _load_uncached(p: Path) -> Dataset:
    from cpkit.validate import check

    checked = check(p)
    if checked.problems:
        raise DatasetError(checked.problems)
    return build(checked, p)


def build(checked: Any, source: Path) -> Dataset:
    """Assemble a Dataset from a problem-free :class:`cpkit.validate.Checked`."""
    profile_cls, params_cls, cont_cls = models()
    ent = checked.enterprise
    given = dict(ent.get("parameters") or {})
    params: dict[str, Any] = {}
    sources: dict[str, str] = {}
    defaults = parameter_defaults()
    for col in schema().section("parameters"):
        value = given.get(col.key)
        if value is not None:
            params[col.key] = value
            sources[col.key] = "dataset"
        elif col.key in defaults:
            params[col.key], sources[col.key] = defaults[col.key]
    try:
        profile = profile_cls(**_drop_none(ent.get("profile") or {}))
        parameters = params_cls(**params)
        continuous = cont_cls(**_drop_none(ent.get("continuous") or {}))
    except pydantic.ValidationError as exc:  # pragma: no cover - validation runs first
        from cpkit.errors import Problem

        raise DatasetError([Problem(str(source), f"enterprise values rejected: {exc}")]) from exc
    tables = {}
    for name, frame in checked.tables.items():
        frame = frame.reset_index(drop=True)
        tables[name] = frame
    return Dataset(
        id=str(ent.get("id")),
        profile=profile,
        parameters=parameters,
        continuous=continuous,
        tables=ReadOnlyMap(tables),
        source=Path(source),
        schema_version=int(ent.get("schema_version") or schema().version),
        parameter_sources=ReadOnlyMap(sources),
        row_numbers=ReadOnlyMap({k: tuple(v) for k, v in checked.row_numbers.items()}),
    )


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
