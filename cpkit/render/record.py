"""Key figures a phase notebook hands to the batch index: ``record(key, value)``.

A notebook calls, for instance::

    from cpkit.render import record
    record("cp_level", "II")
    record("energy_tce", 12345.6, unit="tce")
    record("indicator.textile_dyeing.unit_water_intake", 1.82, unit="t/100m",
           better="lower", label={"zh": "单位产品取水量", "en": "Water intake per product"})

Inside a kernel each call displays one output whose only MIME type is
:data:`RECORD_MIME` (JSON: key, value, unit, better, label). The batch renderer collects
these outputs from the executed notebooks (the last value of a key wins), keeps them out
of the report, stores them in ``<enterprise>/.render.json`` and shows them in the index.
JupyterLab does not draw them (an empty text/plain part keeps the cell quiet), and the
executed notebook keeps them, so any tool can read them back.

Values are numbers, text, booleans or None (not applicable). NaN and infinity are refused
(:class:`RecordError`): an index must not show a silent NaN.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cpkit.errors import CpkitError

#: MIME type of a record output.
RECORD_MIME = "application/vnd.cpkit.record+json"

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*")
_BETTER = (None, "lower", "higher")

_RECORDS: dict[str, dict[str, Any]] = {}


class RecordError(CpkitError):
    """A key figure cannot be recorded (bad key, value that is not JSON, NaN)."""


def _plain_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise RecordError(f"record({key!r}): value is {value}; record None when not applicable")
        return value
    # numpy / pandas scalars and Decimal
    try:
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return _plain_value(key, float(value))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    from decimal import Decimal

    if isinstance(value, Decimal):
        return _plain_value(key, float(value))
    raise RecordError(
        f"record({key!r}): value must be a number, text, True/False or None, "
        f"got {type(value).__name__}"
    )


def record(
    key: str,
    value: Any,
    *,
    unit: str | None = None,
    better: str | None = None,
    label: str | dict[str, str] | None = None,
) -> None:
    """Record a key figure of this enterprise for the batch index.

    ``key``: dotted id (``energy_tce``, ``indicator.<system>.<indicator>``); the keys
    the index shows as columns are listed in templates/report/index.yaml.
    ``unit``: the unit of ``value`` (shown by the index). ``better``: ``"lower"`` or
    ``"higher"`` makes the index rank enterprises on this figure. ``label``: text or
    ``{zh, en}`` shown for keys the index does not know.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise RecordError(
            f"record key {key!r} is not a dotted id (letters, digits, _ and -, parts joined by .)"
        )
    if better not in _BETTER:
        raise RecordError(f"record({key!r}): better must be 'lower', 'higher' or None")
    if label is not None and not isinstance(label, str | dict):
        raise RecordError(f"record({key!r}): label must be text or a {{zh, en}} mapping")
    payload: dict[str, Any] = {"key": key, "value": _plain_value(key, value)}
    if unit is not None:
        payload["unit"] = str(unit)
    if better is not None:
        payload["better"] = better
    if label is not None:
        payload["label"] = dict(label) if isinstance(label, dict) else str(label)
    _RECORDS[key] = payload
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is None:
        return
    from IPython.display import display

    display({RECORD_MIME: payload, "text/plain": ""}, raw=True)


def recorded() -> dict[str, dict[str, Any]]:
    """The figures recorded in this process so far (``{key: payload}``, a copy)."""
    return {k: dict(v) for k, v in _RECORDS.items()}


def collect(outputs_of_notebooks) -> dict[str, dict[str, Any]]:
    """Records found in executed notebooks (an iterable of NotebookNodes), in order;
    the last value of a key wins."""
    found: dict[str, dict[str, Any]] = {}
    for nb in outputs_of_notebooks:
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
                data = out.get("data") or {}
                payload = data.get(RECORD_MIME)
                if isinstance(payload, dict) and isinstance(payload.get("key"), str):
                    found[payload["key"]] = dict(payload)
    return found
