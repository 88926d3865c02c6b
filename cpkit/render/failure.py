"""The failure page of an enterprise: what failed and where (DIR/<id>/failed.html).

For a dataset that does not validate it lists every problem (file, table, row, column,
message); for a notebook that raised it names the notebook, the cell (index and
execution count), the error and its traceback, shows the failing cell's code and links
to the executed notebook (saved with papermill's error markers); for an assembly, PDF or
internal error it gives the error. Self-contained HTML, all text escaped.
"""

from __future__ import annotations

import re
from typing import Any

from cpkit import __version__, i18n
from cpkit.render.assembly import template

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Traceback text without terminal colour codes."""
    return _ANSI.sub("", text)


def failure_page(result: Any, lang: str) -> str:
    """HTML of the failure page of ``result`` (an EnterpriseResult), in ``lang``."""
    t = i18n.t
    name = result.names.get(lang) or result.dataset_id or result.eid
    sections = []
    for f in result.failures:
        stage = f.get("stage") or "internal"
        section: dict[str, Any] = {
            "stage": t(f"failed.stage_names.{stage}", lang)
            if i18n.has(f"failed.stage_names.{stage}")
            else stage,
            "lang": f.get("lang"),
            "problems": f.get("problems") or [],
            "notebook": f.get("notebook"),
            "path": f.get("path"),
            "cell": None,
            "error": None,
            "source": f.get("source") or "",
            "traceback": strip_ansi("\n".join(f.get("traceback") or [])).strip(),
        }
        if f.get("cell_number") is not None:
            section["cell"] = t(
                "failed.cell_value",
                lang,
                index=f["cell_number"],
                count=f.get("execution_count") if f.get("execution_count") is not None else "—",
            )
        if f.get("ename") or f.get("evalue"):
            section["error"] = f"{f.get('ename') or ''}: {strip_ansi(str(f.get('evalue') or ''))}"
        elif f.get("error"):
            section["error"] = strip_ansi(str(f["error"]))
        sections.append(section)
    return template("failed.html.j2").render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        title=t("failed.title", lang, enterprise=name),
        intro=t("failed.intro", lang),
        source_label=t("failed.source", lang),
        source=result.source,
        labels={
            k: t(f"failed.{k}", lang)
            for k in (
                "stage",
                "language",
                "notebook",
                "cell",
                "error",
                "cell_source",
                "traceback",
                "executed",
                "back",
                "problem_file",
                "problem_sheet",
                "problem_row",
                "problem_column",
                "problem_message",
            )
        },
        problems_label=lambda n: t("failed.problems", lang, count=n),
        sections=sections,
        colon="：" if lang == "zh" else ": ",
        version=__version__,
    )
