"""Fail when a committed notebook carries outputs or execution counts.

Usage: python scripts/check_notebooks.py [FOLDER ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def dirty_notebooks(folders: list[str]) -> list[str]:
    """Return the notebooks (path: reason) under ``folders`` that carry outputs."""
    problems = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(f"{path}: unreadable ({exc})")
                continue
            for i, cell in enumerate(nb.get("cells", [])):
                if cell.get("cell_type") != "code":
                    continue
                if cell.get("outputs") or cell.get("execution_count") is not None:
                    problems.append(f"{path}: cell {i} has outputs or an execution count")
                    break
    return problems


def main(argv: list[str]) -> int:
    problems = dirty_notebooks(argv or ["notebooks"])
    for p in problems:
        print(p)
    if problems:
        print("strip them with: jupyter nbconvert --clear-output --inplace <notebook>")
        return 1
    print("notebooks: no outputs committed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
