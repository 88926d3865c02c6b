"""Units of measurement: one pint registry with the project's units and Chinese spellings.

The registry is pint's default registry plus kgce (1 kgce = 29.3076 MJ as in GB/T 2589,
value from ``data/reference/energy/defaults.yaml``) and the definitions in
``data/reference/units/definitions.txt`` (CNY, tce, counted things such as pieces and
vehicles, dBA). Chinese and colloquial
spellings (吨, 方, 度, 万元, 吨标准煤, 天, ...) are listed in
``data/reference/units/aliases.csv`` and substituted before pint parses a string, so a new
spelling is added by data alone.

Unit strings a user may write::

    t, kg/d, m3/d, m³/h, mg/L, mg/Nm3, kWh, 万千瓦时, 吨标准煤, 10k_CNY, 万元, 元/吨, t/a,
    万件, 辆, kgce/t, GJ, 立方米/天

``万`` in front of any unit multiplies it by 10 000 (``万件`` = 10 000 pieces). A digit 2 or
3 right after a unit name is a power (``m3`` = m³). ``a`` is pint's year (365.25 days).

The registry is created once, on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import csv
import functools
import math
import re
import threading
import unicodedata
from typing import TYPE_CHECKING, Any

import numpy as np

from cpkit import reference
from cpkit.errors import CpkitError

if TYPE_CHECKING:  # pragma: no cover
    import pint

__all__ = [
    "UnitError",
    "aliases",
    "conversion_factor",
    "convert",
    "convert_column",
    "dimensionality",
    "is_compatible",
    "normalise",
    "parse_unit",
    "registry",
    "water_density_t_m3",
]


class UnitError(CpkitError, ValueError):
    """A unit string cannot be understood, or two units cannot be converted."""


_lock = threading.Lock()


@functools.cache
def registry() -> pint.UnitRegistry:
    """The project's pint ``UnitRegistry`` (created on the first call, then shared).

    Holds pint's default units, ``kgce`` defined from ``kj_per_kgce`` in
    ``data/reference/energy/defaults.yaml`` (GB/T 2589: 1 kgce = 29 307.6 kJ), and
    ``data/reference/units/definitions.txt``.
    """
    with _lock:
        import pint

        kj = reference.load_yaml("energy/defaults.yaml")["kj_per_kgce"]["value"]
        ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
        ureg.define(f"kgce = {float(kj)!r} * kilojoule")
        ureg.load_definitions(str(reference.path("units/definitions.txt")))
        return ureg


@functools.cache
def aliases() -> dict[str, str]:
    """Alias → pint expression, from ``data/reference/units/aliases.csv``."""
    out: dict[str, str] = {}
    with open(reference.path("units/aliases.csv"), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            alias = unicodedata.normalize("NFKC", (row.get("alias") or "").strip())
            definition = (row.get("definition") or "").strip()
            if alias and definition:
                out[alias] = definition
    return out


_ASCII_NAME = re.compile(r"[A-Za-z_]")


@functools.cache
def _alias_pattern() -> re.Pattern[str]:
    parts = []
    for alias in sorted(aliases(), key=len, reverse=True):
        esc = re.escape(alias)
        if _ASCII_NAME.match(alias[0]) or alias[0].isdigit():
            esc = rf"(?<![A-Za-z0-9_]){esc}(?![A-Za-z0-9_])"
        parts.append(esc)
    alternation = "|".join(parts)
    # 万 in front of an alias, or of an ASCII unit name (万m2, 万kWh).
    return re.compile(rf"(?P<wan>万)?(?P<alias>{alternation})|万(?P<ascii>[A-Za-z_][A-Za-z0-9_]*)")


_POWER = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_]+)([23])(?![A-Za-z0-9_.])")
_NUMBER_ONLY = re.compile(r"[\d.eE+\-*/ ()]+")
_SEPARATORS = str.maketrans({"·": "*", "⋅": "*", "×": "*", "•": "*", "÷": "/"})


def normalise(text: str) -> str:
    """The unit string as written for comparison: NFKC (full-width forms and ``³`` become
    ASCII), trimmed, inner blanks collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text))).strip()


def _to_pint_expression(text: str) -> str:
    s = normalise(text).translate(_SEPARATORS)
    table = aliases()

    def repl(m: re.Match[str]) -> str:
        if m.group("ascii") is not None:
            return f"(10000 * {m.group('ascii')})"
        expr = f"({table[m.group('alias')]})"
        return f"(10000 * {expr})" if m.group("wan") else expr

    s = _alias_pattern().sub(repl, s)
    return _POWER.sub(r"\1**\2", s)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    import pint

    if not text:
        raise UnitError("empty unit: write a unit such as t, kg/d, m3, kWh or 万元")
    if _NUMBER_ONLY.fullmatch(text):
        raise UnitError(f"{text!r} is a number, not a unit")
    expr = _to_pint_expression(text)
    try:
        q = registry().parse_expression(expr)
    except pint.errors.UndefinedUnitError as exc:
        names = exc.unit_names if isinstance(exc.unit_names, list | tuple) else [exc.unit_names]
        raise UnitError(
            f"unknown unit {text!r}: {', '.join(map(str, names))!s} is not a known unit "
            "(use pint names such as t, kg/d, m3/h, kWh, mg/L, or a Chinese spelling listed "
            "in data/reference/units/aliases.csv)"
        ) from None
    except Exception:  # pint raises several syntax errors (tokenize, assertions, ...)
        raise UnitError(
            f"cannot read the unit {text!r}: not a valid unit expression "
            "(write e.g. kg/d, m3/h, kWh, 元/吨)"
        ) from None
    if not isinstance(q, registry().Quantity):
        raise UnitError(f"{text!r} is a number, not a unit")
    mag = q.magnitude
    if not (isinstance(mag, int | float) and math.isfinite(mag) and mag > 0):
        raise UnitError(f"cannot read the unit {text!r}: its factor must be a positive number")
    return q


def parse_unit(text: str) -> pint.Quantity:
    """Parse a unit string (pint syntax or an alias) into a pint Quantity of magnitude ≥ 1
    carrying the factor of the spelling (``万千瓦时`` → ``10000 kWh``).

    Raises :class:`UnitError` with a message naming the unknown part.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        raise UnitError("empty unit: write a unit such as t, kg/d, m3, kWh or 万元")
    return _parse(normalise(text))


def dimensionality(unit: str) -> str:
    """The unit's physical dimension as text, e.g. ``[mass] / [time]`` for ``t/a``."""
    return _dimension(unit)[0]


def _dimension(unit: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    """(text, sorted (base dimension, exponent) pairs) of a unit; through the result
    cache, so a known spelling is answered without pint. Raises :class:`UnitError`."""
    if unit is None or (isinstance(unit, float) and math.isnan(unit)):
        parse_unit(unit)  # raises the message for an empty unit
    text = normalise(unit)
    hit = _results().get("dim", text)
    if hit is None:
        try:
            dim = parse_unit(text).dimensionality
        except UnitError as exc:
            _results().put("dim", text, {"error": str(exc)})
            raise
        hit = {"text": str(dim) if dim else "dimensionless", "items": sorted(dim.items())}
        _results().put("dim", text, hit)
    if "error" in hit:
        raise UnitError(hit["error"])
    return hit["text"], tuple((str(k), float(v)) for k, v in hit["items"])


def is_compatible(a: str, b: str, *, density_t_m3: float | None = None) -> bool:
    """True if values in unit ``a`` can be converted to unit ``b`` (same dimension, or
    mass ↔ volume through ``density_t_m3`` when given, e.g. t ↔ m3 for water).

    Raises :class:`UnitError` if either unit cannot be read.
    """
    if _dimension(a)[1] == _dimension(b)[1]:
        return True
    if density_t_m3 is None:
        return False
    try:
        conversion_factor(a, b, density_t_m3=density_t_m3)
    except UnitError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _factor(src: str, dst: str, density: float | None) -> float:
    qa, qb = parse_unit(src), parse_unit(dst)
    Q = registry().Quantity
    if qa.dimensionality != qb.dimensionality:
        if density is not None:
            rho = Q(density, "t/m**3")
            for cand in (qa / rho, qa * rho):
                if cand.dimensionality == qb.dimensionality:
                    return float(cand.to(qb.units).magnitude / qb.magnitude)
        raise UnitError(
            f"cannot convert {src!r} to {dst!r}: {src!r} is {_dim(qa)}, {dst!r} is {_dim(qb)}"
        )
    if Q(0.0, qa.units).to(qb.units).magnitude != 0.0:
        raise UnitError(f"cannot convert {src!r} to {dst!r} by a factor (offset units)")
    return float(qa.to(qb.units).magnitude / qb.magnitude)


def _dim(q: Any) -> str:
    return str(q.dimensionality) if q.dimensionality else "dimensionless"


def conversion_factor(src: str, dst: str, *, density_t_m3: float | None = None) -> float:
    """The factor f with ``value_in_dst = f * value_in_src``.

    Identical spellings give exactly 1.0. ``density_t_m3`` (t/m3) allows mass ↔ volume,
    as for water (:func:`water_density_t_m3`). Raises :class:`UnitError` if a unit is
    unknown or the two are not compatible, or if the units have an offset (°C).
    """
    if normalise(src) == normalise(dst):
        _dimension(src)  # an unknown spelling still raises
        return 1.0
    key = f"{normalise(src)}\x1f{normalise(dst)}\x1f{density_t_m3!r}"
    hit = _results().get("factor", key)
    if hit is None:
        try:
            hit = {"factor": _factor(normalise(src), normalise(dst), density_t_m3)}
        except UnitError as exc:
            hit = {"error": str(exc)}
        _results().put("factor", key, hit)
    if "error" in hit:
        raise UnitError(hit["error"])
    return float(hit["factor"])


@functools.cache
def water_density_t_m3() -> float:
    """Density of water used to convert t ↔ m3 (``water_density_t_per_m3`` in
    ``data/reference/units/conventions.yaml``: 1 t = 1 m3, water-balance practice)."""
    return float(reference.load_yaml("units/conventions.yaml")["water_density_t_per_m3"]["value"])


def convert(values: Any, src: str, dst: str, *, density_t_m3: float | None = None) -> Any:
    """Convert numbers from unit ``src`` to unit ``dst``.

    ``values`` may be a number, a list, a numpy array or a pandas Series (nullable dtypes
    keep their ``<NA>``); the result has the same kind. Offset units (°C → K) are converted
    through pint; everything else by one factor. ``density_t_m3`` as in
    :func:`conversion_factor`.
    """
    try:
        f = conversion_factor(src, dst, density_t_m3=density_t_m3)
    except UnitError:
        qa, qb = parse_unit(src), parse_unit(dst)
        if qa.dimensionality != qb.dimensionality or qa.magnitude != 1 or qb.magnitude != 1:
            raise
        arr = np.asarray(values, dtype=float)
        out = registry().Quantity(arr, qa.units).to(qb.units).magnitude
        return _like(values, out)
    if f == 1.0:
        return values.copy() if hasattr(values, "copy") else values
    if isinstance(values, list | tuple):
        return type(values)(None if v is None else v * f for v in values)
    return values * f


def _like(template: Any, out: np.ndarray) -> Any:
    import pandas as pd

    if isinstance(template, pd.Series):
        return pd.Series(out, index=template.index, name=template.name)
    if np.ndim(template) == 0:
        return float(out)
    if isinstance(template, list | tuple):
        return type(template)(out.tolist())
    return out


def convert_column(values: Any, units: Any, target: Any, *, density_t_m3: Any = None) -> Any:
    """Convert a column of numbers whose unit is given row by row.

    ``values`` and ``units`` are aligned sequences (pandas Series keep their index);
    ``target`` is one unit string or one per row. ``density_t_m3`` is None, one density
    for every row, or one per row (None where mass ↔ volume is not allowed). Returns a new
    Float64 Series; missing values stay missing. A value without a unit (or without a
    target) raises :class:`UnitError`.
    """
    import pandas as pd

    vals = pd.Series(values).astype("Float64")
    n = len(vals)
    src = [None if _missing(u) else str(u) for u in _as_list(units, n)]
    dst = [None if _missing(u) else str(u) for u in _as_list(target, n)]
    dens = _as_list(density_t_m3, n)
    present = vals.notna().to_numpy()
    factors = np.ones(n)
    memo: dict[tuple[str, str, Any], float] = {}
    for i, (s, d, rho) in enumerate(zip(src, dst, dens, strict=True)):
        if s is None or d is None:
            if present[i]:
                raise UnitError("a value has no unit (or no target unit) to convert with")
            continue
        if s == d:
            continue
        key = (s, d, rho)
        if key not in memo:
            memo[key] = conversion_factor(s, d, density_t_m3=rho)
        factors[i] = memo[key]
    return vals * factors


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raises TypeError
    except TypeError:
        return True


def _as_list(value: Any, n: int) -> list[Any]:
    if value is None or isinstance(value, str | float | int):
        return [value] * n
    out = list(value)
    if len(out) != n:
        raise ValueError(f"expected {n} entries, got {len(out)}")
    return out


# ----------------------------------------------------------------- result cache
class _ResultCache:
    """Dimensions of unit spellings and conversion factors, kept on disk between kernels.

    Creating the pint registry (importing pint, reading its definitions and the
    project's) takes 0.3-0.5 s, a sixth of a phase notebook's budget, for the few
    factors a notebook needs (t/a -> kg/d, 万元 -> 10k_CNY ...). The answers are kept in
    one JSON file under :func:`cpkit.dataset.cache_dir` (``units/``), named by a hash of
    everything they depend on: pint's version, this module, and the reference files the
    registry and the aliases are built from (``units/definitions.txt``,
    ``units/aliases.csv``, ``energy/defaults.yaml``); a change of any of them starts a new
    file. Errors (an unknown spelling) are kept too, with their message. The file is
    rewritten atomically (merged with what other kernels wrote meanwhile); one that cannot
    be read or written is ignored. ``CPKIT_CACHE=0`` switches it off.
    """

    FORMAT = 1
    SOURCES = ("units/definitions.txt", "units/aliases.csv", "energy/defaults.yaml")

    def __init__(self, folder: Any) -> None:
        self.data: dict[str, dict[str, Any]] = {"dim": {}, "factor": {}}
        self.path = self._path(folder)
        if self.path is not None:
            self.data = self._read() or self.data

    def _path(self, folder: Any) -> Any:
        import hashlib
        from importlib.metadata import PackageNotFoundError, version
        from pathlib import Path

        if folder is None:
            return None
        h = hashlib.sha256()
        try:
            h.update(f"{self.FORMAT}|{version('pint')}|".encode())
        except PackageNotFoundError:  # pragma: no cover - pint is a dependency
            return None
        try:
            h.update(Path(__file__).read_bytes())
            for name in self.SOURCES:
                h.update(reference.path(name).read_bytes())
        except OSError:
            return None
        return folder / "units" / f"{h.hexdigest()[:32]}.json"

    def _read(self) -> dict[str, dict[str, Any]] | None:
        import json

        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        return {k: dict(data.get(k) or {}) for k in ("dim", "factor")}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.data[kind].get(key)

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        import contextlib
        import json
        import os
        import tempfile

        with _lock:
            self.data[kind][key] = value
            if self.path is None:
                return
            tmp = None
            try:
                on_disk = self._read() or {}
                for k, entries in on_disk.items():
                    for kk, vv in entries.items():
                        self.data[k].setdefault(kk, vv)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self.data, fh, ensure_ascii=False)
                os.replace(tmp, self.path)
                tmp = None
            except OSError:  # a cache that cannot be written is not an error
                if tmp is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)


_caches: dict[Any, _ResultCache] = {}


def _results() -> _ResultCache:
    """The result cache of the current cache folder (``CPKIT_CACHE_DIR`` may change
    between calls, as in tests; one JSON file is read per folder and process)."""
    from cpkit.dataset import cache_dir

    folder = cache_dir()
    cache = _caches.get(folder)
    if cache is None:
        with _lock:
            cache = _caches.setdefault(folder, _ResultCache(folder))
    return cache
