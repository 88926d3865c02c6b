"""cpkit: a Jupyter kit for cleaner production audits (清洁生产审核).

The public entry points are re-exported here lazily so that ``import cpkit`` stays
cheap (notebook kernels and batch workers import it on start-up).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load": ("cpkit.dataset", "load"),
    "validate": ("cpkit.validate", "validate"),
    "Dataset": ("cpkit.dataset", "Dataset"),
}

__all__ = ["__version__", "render", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "render":
        # the subpackage, callable: cpkit.render(paths, out, ...) renders reports
        return import_module("cpkit.render")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'cpkit' has no attribute {name!r}")
