"""Batch rendering of audit reports: phase notebooks -> HTML and PDF per enterprise.

``cpkit.render.render(paths, out, ...)`` runs the seven phase notebooks for every dataset
on warm kernels, assembles one report per enterprise and language (cover, contents,
chapters, annexes), writes HTML and PDF, an index and a summary; see docs/rendering.md.

``cpkit.render.record(key, value)`` is what a phase notebook calls to hand a key figure
to the index. This package's ``__init__`` stays light because notebook kernels import it:
the renderer itself (nbclient, papermill, WeasyPrint) is imported on first use.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import Any

from cpkit.render.record import RECORD_MIME, record, recorded

_LAZY = {
    "render": ("cpkit.render.runner", "render"),
    "RenderSummary": ("cpkit.render.runner", "RenderSummary"),
    "EnterpriseResult": ("cpkit.render.runner", "EnterpriseResult"),
    "RenderError": ("cpkit.render.runner", "RenderError"),
    "WarmKernel": ("cpkit.render.kernel", "WarmKernel"),
    "assemble_report": ("cpkit.render.assembly", "assemble_report"),
    "html_to_pdf": ("cpkit.render.pdf", "html_to_pdf"),
    "write_pdf": ("cpkit.render.pdf", "write_pdf"),
}

__all__ = ["RECORD_MIME", "record", "recorded", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'cpkit.render' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``cpkit.render(...)`` calls :func:`cpkit.render.runner.render`: the package is
    both the namespace of the renderer and the function users call."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return import_module("cpkit.render.runner").render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
