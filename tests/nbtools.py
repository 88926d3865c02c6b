"""Reading executed phase notebooks in tests: HTML outputs, errors, headings."""

from __future__ import annotations

import html
import json
import re


def outputs(nb, mime: str = "text/html", tag: str | None = None) -> list[str]:
    """The outputs of ``mime`` of the code cells (only those tagged ``tag`` if given)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if tag is not None and tag not in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if mime in data:
                value = data[mime]
                found.append(value if isinstance(value, str) else json.dumps(value))
    return found


def errors(nb) -> list[str]:
    """'ename: evalue' of every error output."""
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def headings(nb) -> dict[int, list[str]]:
    """The texts of the h1, h2 and h3 headings in the HTML outputs, in order."""
    found: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for text in outputs(nb):
        for level, body in re.findall(r"<h([123])[^>]*>(.*?)</h\1>", text, flags=re.S):
            found[int(level)].append(html.unescape(re.sub(r"<[^>]+>", "", body)).strip())
    return found
