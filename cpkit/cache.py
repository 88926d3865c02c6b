"""Where cpkit keeps its on-disk caches (no heavy imports: used by every module that caches)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """Root folder of cpkit's on-disk caches, or None when they are switched off.

    ``CPKIT_CACHE_DIR`` names the folder (default ``$XDG_CACHE_HOME/cpkit`` or
    ``~/.cache/cpkit``); ``CPKIT_CACHE=0`` switches the caches off. Each cache has its own
    subfolder: ``datasets`` (loaded datasets), ``svg`` (chart drawings, cpkit.display),
    ``units`` (unit conversions, cpkit.units), ``messages`` (the checked message
    catalogue, cpkit.i18n), ``js`` (the Vega bundle a batch draws charts with,
    cpkit.render.charts). Deleting the folder is always safe.
    """
    if os.environ.get("CPKIT_CACHE", "1").strip().lower() in ("0", "off", "false", "no"):
        return None
    folder = os.environ.get("CPKIT_CACHE_DIR")
    if folder:
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cpkit"
