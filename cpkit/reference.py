"""Access to the versioned reference data under ``data/reference``.

Reference data (conversion coefficients, grid factors, indicator systems, option
libraries, thresholds, default weights) is data, not code: each file is listed in
``data/reference/catalog.yaml`` with its title, source, edition and verification status,
and a new industry is added by adding files, never by editing cpkit.

Functions here return copies, so callers may modify what they get.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cpkit.errors import ReferenceDataError

#: libyaml's safe loader when available (10x faster on the indicator systems).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def reference_root() -> Path:
    """Folder holding the reference data: the repository's ``data/reference`` in a
    checkout, or the copy packed into the wheel (``cpkit/_data/reference``)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "data" / "reference", here / "_data" / "reference"):
        if (candidate / "catalog.yaml").is_file():
            return candidate
    raise ReferenceDataError("cpkit reference data not found (data/reference/catalog.yaml)")


def path(relative: str) -> Path:
    """Absolute path of a reference file, e.g. ``path("energy/coefficients.csv")``."""
    p = reference_root() / relative
    if not p.exists():
        raise ReferenceDataError(f"reference file not found: data/reference/{relative}")
    return p


@functools.cache
def _catalog(folder: str) -> dict[str, Any]:
    cat = reference_root() / folder / "catalog.yaml"
    if not cat.is_file():
        return {}
    with open(cat, encoding="utf-8") as fh:
        return (yaml.load(fh, Loader=_YAML_LOADER) or {}).get("files", {}) or {}


def meta(relative: str) -> dict[str, Any]:
    """Catalogue entry (title, source, edition, version, status) of a reference file.

    Each folder of data/reference has a ``catalog.yaml`` listing its files, keyed by
    file name; the root catalogue lists the root files.
    """
    folder, _, name = relative.rpartition("/")
    entries = _catalog(folder)
    if name not in entries:
        raise ReferenceDataError(
            f"data/reference/{relative} is not listed in data/reference/{folder + '/' if folder else ''}catalog.yaml"
        )
    return dict(entries[name])


@functools.cache
def _read_csv(relative: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path(relative), encoding="utf-8", comment=None)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReferenceDataError(f"data/reference/{relative}: cannot be read ({exc})") from exc


def table(relative: str) -> pd.DataFrame:
    """A reference CSV as a DataFrame (a fresh copy each call)."""
    return _read_csv(relative).copy()


@functools.cache
def _read_yaml(relative: str) -> Any:
    with open(path(relative), encoding="utf-8") as fh:
        try:
            return yaml.load(fh, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            raise ReferenceDataError(f"data/reference/{relative}: invalid YAML ({exc})") from exc


def load_yaml(relative: str) -> Any:
    """A reference YAML document (a fresh deep copy each call)."""
    import copy

    return copy.deepcopy(_read_yaml(relative))


def listing(folder: str, suffix: str) -> list[str]:
    """Relative paths of the reference files in ``folder`` ending with ``suffix``, sorted."""
    root = reference_root()
    return sorted(str(p.relative_to(root)) for p in (root / folder).glob(f"*{suffix}"))
