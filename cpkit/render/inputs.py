"""What a render run works on: datasets, their folder names, notebooks, fingerprints."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cpkit import __version__
from cpkit.errors import CpkitError

#: Phase notebooks are the files ``NN_<name>.ipynb`` of the notebooks folder.
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_\-]+\.ipynb$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}


class InputError(CpkitError):
    """The paths, notebooks or options given to the renderer cannot be used."""


@dataclass(frozen=True)
class Source:
    """One dataset to render: where it is, its id and its output folder name."""

    path: Path
    eid: str  # folder name under the output directory (sanitised, unique)
    dataset_id: str | None  # the id written in the dataset, if readable


def _is_dataset_folder(p: Path) -> bool:
    return (p / "enterprise.yaml").is_file() or any(p.glob("*.csv"))


def _is_workbook(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".xlsx" and not p.name.startswith("~$")


def expand_paths(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Dataset paths from what the user gave: globs expanded, folders of datasets
    opened one level; returns (datasets, notes about what was skipped)."""
    found: list[Path] = []
    notes: list[str] = []
    for given in paths:
        text = str(given)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise InputError(f"no file or folder matches {text!r}")
        for m in matches:
            p = Path(m)
            if not p.exists():
                raise InputError(f"dataset not found: {m}")
            if _is_workbook(p) or (p.is_dir() and _is_dataset_folder(p)):
                found.append(p.resolve())
            elif p.is_dir():
                inner = sorted(
                    c
                    for c in p.iterdir()
                    if _is_workbook(c) or (c.is_dir() and _is_dataset_folder(c))
                )
                if inner:
                    found.extend(c.resolve() for c in inner)
                else:
                    notes.append(f"skipped {m}: not a dataset folder (no enterprise.yaml) or .xlsx")
            else:
                notes.append(f"skipped {m}: not a dataset folder or .xlsx workbook")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError("no dataset to render" + (f" ({'; '.join(notes)})" if notes else ""))
    return unique, notes


def read_dataset_id(path: Path) -> str | None:
    """The ``id`` written in the dataset (enterprise.yaml or the workbook's enterprise
    sheet), read cheaply without validating anything; None if it cannot be read."""
    try:
        if path.is_dir():
            doc = yaml.safe_load((path / "enterprise.yaml").read_text(encoding="utf-8-sig"))
            value = doc.get("id") if isinstance(doc, dict) else None
        else:
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                value = None
                if "enterprise" in wb.sheetnames:
                    # key/value rows; the template puts a marker column before the key
                    for row in wb["enterprise"].iter_rows(max_col=3, values_only=True):
                        cells = [c.strip() if isinstance(c, str) else c for c in row]
                        if "id" in cells and cells.index("id") + 1 < len(cells):
                            value = cells[cells.index("id") + 1]
                            break
            finally:
                wb.close()
    except Exception:
        return None
    return str(value).strip() if value not in (None, "") else None


def sanitize_id(text: str) -> str:
    """A safe folder name for an enterprise id.

    Keeps letters, digits, ``.``, ``_`` and ``-``; anything else (path separators, ``..``,
    spaces, Chinese characters) becomes ``-``. When the id had to change, a short hash of
    the original is appended so that two different ids never share a folder. The result
    never starts with a dot, is never a Windows device name and has at most 80 chars.
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-_")
    cleaned = re.sub(r"-{2,}", "-", cleaned)[:64]
    if cleaned != text or not cleaned or cleaned.lower() in _WINDOWS_RESERVED:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}" if cleaned else f"enterprise-{digest}"
    return cleaned


def assign_ids(paths: Sequence[Path]) -> list[Source]:
    """Sources with unique, safe folder names (the dataset id, else the file/folder name).

    Two datasets with the same id get ``<id>``, ``<id>-2``, ... in the order given.
    """
    taken: set[str] = set()
    out = []
    for p in paths:
        dataset_id = read_dataset_id(p)
        base = sanitize_id(dataset_id or (p.stem if p.is_file() else p.name))
        eid, n = base, 1
        while eid.lower() in taken:
            n += 1
            eid = f"{base}-{n}"
        taken.add(eid.lower())
        out.append(Source(p, eid, dataset_id))
    return out


def find_notebooks(folder: str | os.PathLike | None) -> list[Path]:
    """The phase notebooks (``NN_name.ipynb``) of ``folder`` (default: the repository's
    notebooks/), in order."""
    if folder is None:
        here = Path(__file__).resolve().parent.parent
        candidates = [here.parent / "notebooks", here / "_data" / "notebooks"]
        folder = next((c for c in candidates if c.is_dir()), candidates[0])
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"notebooks folder not found: {folder}")
    found = sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise InputError(f"no phase notebooks (NN_<name>.ipynb) in {folder}")
    return found


# --------------------------------------------------------------------------- fingerprints
def _hash_files(h: hashlib._Hash, root: Path, files: Iterable[Path]) -> None:
    for f in sorted(files):
        rel = f.relative_to(root).as_posix()
        h.update(rel.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())


def _visible_files(folder: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))]
        for name in files:
            if name.startswith((".", "~$")):
                continue
            if suffixes and not name.endswith(suffixes):
                continue
            out.append(Path(root, name))
    return out


def input_digest(path: Path) -> str:
    """Hash of a dataset's files (the folder's visible files, or the workbook)."""
    h = hashlib.sha256()
    if path.is_dir():
        _hash_files(h, path, _visible_files(path))
    else:
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def environment_digest(notebooks: Sequence[Path], templates: Path) -> str:
    """Hash of everything besides the dataset that shapes a report: cpkit's version, its
    message catalogue, the reference data, the report templates and the phase notebooks
    (names and contents). cpkit's code enters through its version only: after changing
    code in a development checkout without a version bump, render with ``force``."""
    h = hashlib.sha256(f"cpkit {__version__}".encode())
    messages = Path(__file__).resolve().parent.parent / "messages"
    _hash_files(h, messages, _visible_files(messages))
    try:
        from cpkit.reference import reference_root

        ref = reference_root()
        _hash_files(h, ref, _visible_files(ref))
    except CpkitError:  # pragma: no cover - the loader reports a missing reference folder
        pass
    _hash_files(h, templates, _visible_files(templates))
    for nb in notebooks:
        h.update(nb.name.encode() + b"\0" + hashlib.sha256(nb.read_bytes()).digest())
    return h.hexdigest()


def fingerprint(source_digest: str, env_digest: str, settings: Mapping[str, Any]) -> str:
    """The fingerprint of one enterprise's render: inputs + environment + settings."""
    payload = json.dumps(settings, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{source_digest}\n{env_digest}\n{payload}".encode()).hexdigest()
