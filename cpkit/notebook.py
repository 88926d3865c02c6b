"""The start of every phase notebook: open the dataset, check the parameters, set up
the display for the language and the mode.

A phase notebook's second cell is::

    from cpkit.notebook import open_phase
    nb = open_phase(dataset, phase=5, lang=lang, interactive=interactive,
                    teaching=teaching, discount_rate=discount_rate)

``open_phase`` gives a clear one-paragraph message, not a traceback wall, for a missing
or invalid dataset or an unknown parameter value: inside a kernel it installs a handler
that shows cpkit errors as a short message (the cell still fails, so papermill and the
batch renderer still see the failure).
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpkit.errors import CpkitError

LANGS = ("zh", "en")

#: CPython's cyclic garbage collector thresholds in a notebook kernel (Python's default
#: is (700, 10, 10)). Importing pandas, scipy, sympy and Altair creates about a million
#: long-lived objects, and with the default thresholds the collector walks all of them in
#: full collections again and again: 0.35-0.75 s of a phase notebook's 1-4 s (measured
#: with gc.callbacks, benchmarks/bench_notebooks.py). Fewer young collections, together
#: with freezing the imported heap in :func:`open_phase`, leave about 0.1 s.
KERNEL_GC_THRESHOLD = (10_000, 20, 20)
_gc_state = {"tuned": False, "frozen": False}


def tune_kernel_gc() -> bool:
    """Set the garbage collector's thresholds for a notebook kernel
    (:data:`KERNEL_GC_THRESHOLD`); True if set.

    Only inside an IPython kernel (a notebook, papermill, the batch renderer's warm
    kernels), never in a plain Python process; ``CPKIT_GC=default`` keeps Python's own
    policy. Called when this module or :mod:`cpkit.display` is imported, i.e. at the top
    of every phase notebook's first cell, before pandas and scipy load. Cycles are still
    collected, only less often; the objects involved are a notebook's small tables.
    """
    if _gc_state["tuned"]:
        return True
    if os.environ.get("CPKIT_GC", "").strip().lower() in ("default", "0", "off"):
        return False
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return False
    gc.set_threshold(*KERNEL_GC_THRESHOLD)
    _gc_state["tuned"] = True
    return True


def _freeze_imported_heap() -> None:
    """Once per kernel, after the first cell's imports: move every object alive now (the
    modules, their classes and functions) to the collector's permanent generation, so
    later full collections skip them (``gc.freeze``). Only where :func:`tune_kernel_gc`
    applied; objects frozen are still freed by reference counting."""
    if _gc_state["tuned"] and not _gc_state["frozen"]:
        gc.freeze()
        _gc_state["frozen"] = True


tune_kernel_gc()


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def resolve_dataset(dataset: str | os.PathLike) -> Path:
    """Find the dataset: as given (relative to the working directory), else relative to
    the repository root (so ``data/samples/...`` works from ``notebooks/`` too)."""
    if dataset is None or str(dataset).strip() == "":
        raise CpkitError("parameter 'dataset' is empty: give the path of a dataset folder or .xlsx")
    p = Path(dataset).expanduser()
    if p.exists():
        return p.resolve()
    alt = _repo_root() / p
    if not p.is_absolute() and alt.exists():
        return alt.resolve()
    raise CpkitError(f"dataset not found: {dataset} (looked in {Path.cwd()} and {_repo_root()})")


def _install_error_display() -> None:
    """Show CpkitError in a kernel as a short message instead of a full traceback."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None or getattr(ip, "_cpkit_errors", False):
        return

    def handler(shell, etype, evalue, tb, tb_offset=None):
        from IPython.display import HTML, display
        from markupsafe import escape

        text = str(evalue)
        display(
            HTML(
                '<div class="cp-note cp-warning"><strong>cpkit: '
                f"{escape(etype.__name__)}</strong><pre>{escape(text)}</pre></div>"
            )
        )
        # keep a one-line traceback so papermill reports the cell and the message
        return shell.showtraceback((etype, evalue, None), tb_offset=0, exception_only=True)

    ip.set_custom_exc((CpkitError,), handler)
    ip._cpkit_errors = True


@dataclass(frozen=True)
class PhaseContext:
    """What a phase notebook works with: the dataset, the language and the modes."""

    ds: Any
    phase: int
    lang: str
    interactive: bool
    teaching: bool
    overrides: dict[str, Any]

    @property
    def parameters(self):
        """The dataset's resolved parameters with this notebook's overrides applied."""
        return self.ds.parameters


def _apply_overrides(ds: Any, overrides: dict[str, Any]) -> Any:
    """Return ``ds`` with parameter overrides applied (None means: keep the dataset's)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return ds
    params = ds.parameters
    known = set(type(params).model_fields)
    unknown = sorted(set(given) - known)
    if unknown:
        raise CpkitError(
            f"unknown parameter(s) {', '.join(unknown)}; known parameters: {', '.join(sorted(known))}"
        )
    from pydantic import ValidationError

    try:
        new_params = type(params).model_validate({**params.model_dump(), **given})
    except ValidationError as exc:
        lines = [
            f"parameter {'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise CpkitError("invalid parameter value:\n" + "\n".join(lines)) from None
    import dataclasses

    return dataclasses.replace(ds, parameters=new_params)


def open_phase(
    dataset: str | os.PathLike,
    *,
    phase: int,
    lang: str = "zh",
    interactive: bool = True,
    teaching: bool = False,
    **overrides: Any,
) -> PhaseContext:
    """Load and validate the dataset, check the notebook parameters, configure charts.

    ``overrides`` are the notebook's phase parameters (e.g. ``discount_rate``); a value
    of None keeps the dataset's own parameter.
    """
    _install_error_display()
    if lang not in LANGS:
        raise CpkitError(f"parameter lang must be one of {', '.join(LANGS)}, got {lang!r}")
    for name, value in (("interactive", interactive), ("teaching", teaching)):
        if not isinstance(value, bool):
            raise CpkitError(f"parameter {name} must be True or False, got {value!r}")
    if phase not in range(1, 8):
        raise CpkitError(f"phase must be 1..7, got {phase!r}")
    from cpkit.dataset import load
    from cpkit.display import setup_charts

    path = resolve_dataset(dataset)
    ds = _apply_overrides(load(path), overrides)
    setup_charts(interactive)
    _freeze_imported_heap()
    return PhaseContext(
        ds=ds,
        phase=phase,
        lang=lang,
        interactive=interactive,
        teaching=teaching,
        overrides={k: v for k, v in overrides.items() if v is not None},
    )
