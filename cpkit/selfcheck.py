"""Self-check: what a reviewer checks in a CP audit, item by item, before submission.

The checklist is data (``data/reference/selfcheck/checklist.yaml``): each item names what is
checked (zh/en), the clause it comes from (seed 004 sections 5.1-5.7 and 6.4; seed 003
articles 15 and 21 on evaluation and acceptance; the Beijing acceptance sheet's veto items),
how cpkit checks it, and the test below that does it, with its settings. Each item ends as
``passed``, ``missing`` or ``not_applicable``, with the evidence found (ids, names, counts)
in Chinese and English. It is a checklist, not a score: a reviewer still reads the report.

:func:`self_check` takes a loaded dataset (``cpkit.dataset.Dataset``: ``tables``,
``profile``, ``parameters``, ``continuous``); the tests read only those attributes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cpkit import grading, i18n, reference, screening
from cpkit.errors import CpkitError
from cpkit.schema import schema

__all__ = ["CHECKS", "Outcome", "SelfCheckError", "checklist", "self_check"]

PASSED, MISSING, NOT_APPLICABLE = "passed", "missing", "not_applicable"
_STAGE_ZH = {"before": "审核前", "after": "审核后"}


class SelfCheckError(CpkitError):
    """The checklist data or the dataset object cannot be used for the self-check."""


@dataclass(frozen=True)
class Outcome:
    """Result of one checklist item: status and the evidence found (zh and en)."""

    status: str
    zh: str
    en: str


def _ok(zh: str, en: str) -> Outcome:
    return Outcome(PASSED, zh, en)


def _miss(zh: str, en: str) -> Outcome:
    return Outcome(MISSING, zh, en)


def _na(zh: str, en: str) -> Outcome:
    return Outcome(NOT_APPLICABLE, zh, en)


def _attr(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, list | tuple | set | dict):
        return len(v) == 0
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _ids(values: list[str], limit: int = 12, sep: str = ", ") -> str:
    shown = sep.join(values[:limit])
    return shown + (f" … (+{len(values) - limit})" if len(values) > limit else "")


def _zids(values: list[str], limit: int = 12) -> str:
    """:func:`_ids` with the Chinese list separator."""
    return _ids(values, limit, "、")


def _label(enum: str, value: Any) -> tuple[str, str]:
    """(zh, en) label of a schema enum value from the message catalogue
    (``common.<enum>.<value>``); the value itself when the catalogue has none."""
    key = f"common.{enum}.{value}"
    if i18n.has(key):
        return i18n.t(key, "zh"), i18n.t(key, "en")
    return str(value), str(value)


def _labels(enum: str, values: list[Any]) -> tuple[list[str], list[str]]:
    pairs = [_label(enum, v) for v in values]
    return [z for z, _ in pairs], [e for _, e in pairs]


def _table_label(name: str) -> tuple[str, str]:
    """(zh, en) short title of a dataset table (the schema's title without its note)."""
    try:
        t = schema().table(name)
    except KeyError:
        return name, name
    return re.sub(r"（.*?）", "", t.zh) or name, re.sub(r" \(.*?\)", "", t.en) or name


def _field_label(dotted: str) -> tuple[str, str]:
    """(zh, en) label of an enterprise.yaml key, e.g. ``continuous.funding``."""
    try:
        f = schema().field(dotted)
    except KeyError:
        return dotted, dotted
    return f.zh or dotted, f.en or dotted


def _named(pid: str, name: str) -> str:
    """A pollutant, material or indicator shown by name with its id: ``COD（W06）``."""
    return f"{name}（{pid}）" if name and name != pid else pid


def _named_en(pid: str, name: str) -> str:
    return f"{name} ({pid})" if name and name != pid else pid


class _Context:
    """The dataset plus facts several checks share, computed once."""

    def __init__(self, ds: Any):
        self.ds = ds
        tables = _attr(ds, "tables")
        if tables is None:
            raise SelfCheckError(
                "the dataset object has no tables (expected cpkit.dataset.Dataset)"
            )
        self.tables = tables
        self.profile = _attr(ds, "profile")
        self.parameters = _attr(ds, "parameters")
        self.continuous = _attr(ds, "continuous")
        self._cache: dict[str, Any] = {}

    def table(self, name: str) -> pd.DataFrame:
        try:
            df = self.tables[name]
        except KeyError:
            return pd.DataFrame()
        return df if df is not None else pd.DataFrame()

    def p(self, name: str) -> Any:
        return _attr(self.profile, name)

    def categories(self) -> set[str]:
        return {str(c) for c in (self.p("categories") or [])}

    def once(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = fn()
            except CpkitError as exc:
                self._cache[key] = exc
        return self._cache[key]

    # ---- shared facts
    def system(self) -> Any:
        sid = self.p("indicator_system")
        return self.once("system", lambda: grading.load_system(str(sid)) if sid else None)

    def grade(self, stage: str) -> Any:
        def run() -> Any:
            sys = self.system()
            if sys is None or isinstance(sys, Exception):
                return sys
            return grading.grade(sys, self.table("indicator_values"), stage)

        return self.once(f"grade_{stage}", run)

    def cost_classes(self) -> dict[str, str]:
        def run() -> dict[str, str]:
            opts = self.table("options")
            if opts.empty:
                return {}
            th = screening.cost_thresholds(
                _attr(self.parameters, "cost_class_thresholds"),
                no_low_cost_max_10k_cny=_attr(self.parameters, "no_low_cost_max_10k_cny"),
            )
            cc = screening.classify_cost(opts, th)
            return dict(zip(cc["option_id"].astype(str), cc["cost_class"].astype(str), strict=True))

        return self.once("cost_classes", run)

    def live_options(self) -> pd.DataFrame:
        opts = self.table("options")
        if opts.empty or "status" not in opts:
            return opts
        return opts[opts["status"].astype("string").fillna("") != "rejected"]

    def exceeding(self) -> list[dict[str, Any]]:
        """Pollutants above their limit (concentration > limit) or above their cap (emission
        of the baseline year in the history table > cap_t)."""

        def run() -> list[dict[str, Any]]:
            pol = self.table("pollutants")
            if pol.empty:
                return []
            hist = self.table("history")
            base = self.p("baseline_year")
            out = []
            for r in pol.to_dict("records"):
                why = []
                c, lim = r.get("concentration"), r.get("limit")
                if not _blank(c) and not _blank(lim) and float(c) > float(lim):
                    why.append(
                        f"{float(c):g} > {float(lim):g} {r.get('concentration_unit') or ''}".strip()
                    )
                cap = r.get("cap_t")
                if not _blank(cap) and not hist.empty and base is not None:
                    h = hist[
                        (hist["category"].astype("string") == "emission")
                        & (hist["item"].astype("string") == str(r["pollutant_id"]))
                        & (hist["year"].astype("Int64") == int(base))
                    ]
                    if len(h) and float(h["quantity"].sum()) > float(cap):
                        why.append(f"{float(h['quantity'].sum()):g} t > cap {float(cap):g} t")
                if why:
                    out.append(
                        {
                            "id": str(r["pollutant_id"]),
                            "name": str(r["name"]),
                            "why": "; ".join(why),
                        }
                    )
            return out

        return self.once("exceeding", run)

    def toxic_things(self) -> list[tuple[str, str]]:
        """(id, name) of toxic materials and toxic pollutants."""
        out = []
        for tname, idc in (("materials", "material_id"), ("pollutants", "pollutant_id")):
            t = self.table(tname)
            if not t.empty and "toxic" in t:
                for r in t[t["toxic"].astype("boolean").fillna(False)].to_dict("records"):
                    out.append((str(r[idc]), str(r["name"])))
        return out

    def focus_text(self) -> tuple[str | None, str]:
        fid = self.p("audit_focus")
        cand = self.table("focus_candidates")
        if _blank(fid) or cand.empty:
            return (None if _blank(fid) else str(fid)), ""
        row = cand[cand["candidate_id"].astype("string") == str(fid)]
        if row.empty:
            return str(fid), ""
        r = row.iloc[0]
        return str(fid), " ".join(
            str(r[c]) for c in ("name", "reasons") if c in r and not _blank(r[c])
        )


# --------------------------------------------------------------------------- the tests


def _team_leader(ctx: _Context, params: dict[str, Any]) -> Outcome:
    team = ctx.table("team")
    if team.empty:
        return _miss("审核小组表为空", "the team table is empty")
    lead = team[team["role"].astype("string") == "leader"]
    if lead.empty:
        return _miss("审核小组中没有组长", "no team member has the role leader")
    names = [f"{r['name']}（{r['department']}）" for r in lead.to_dict("records")]
    names_en = [f"{r['name']} ({r['department']})" for r in lead.to_dict("records")]
    return _ok(
        f"组长：{'、'.join(names)}；小组 {len(team)} 人",
        f"leader: {', '.join(names_en)}; {len(team)} members",
    )


def _external_expert(ctx: _Context, params: dict[str, Any]) -> Outcome:
    cons = ctx.p("consultancy")
    team = ctx.table("team")
    experts = team[team["role"].astype("string") == "external_expert"] if not team.empty else team
    gaps_zh, gaps_en = [], []
    if _blank(cons):
        gaps_zh.append("未填写咨询机构名称")
        gaps_en.append("no consultancy named in the profile")
    if experts.empty:
        gaps_zh.append("审核小组中没有外聘专家")
        gaps_en.append("no external_expert in the team")
    if gaps_en:
        return _miss("；".join(gaps_zh), "; ".join(gaps_en))
    names = ", ".join(str(x) for x in experts["name"])
    return _ok(
        f"咨询机构：{cons}；外聘专家：{names}", f"consultancy: {cons}; external experts: {names}"
    )


def _work_plan(ctx: _Context, params: dict[str, Any]) -> Outcome:
    plan = ctx.table("work_plan")
    if plan.empty:
        return _miss("审核工作计划表为空", "the work plan is empty")
    phases = [int(x) for x in params.get("phases", [1, 2, 3, 4, 5, 6, 7])]
    have = {int(x) for x in plan["phase"].dropna()}
    lacking = [p for p in phases if p not in have]
    need = ["owner", "start", "end", "expected_output"]
    incomplete = [
        str(r["task_id"]) for r in plan.to_dict("records") if any(_blank(r.get(c)) for c in need)
    ]
    if lacking or incomplete:
        zh, en = [], []
        if lacking:
            zh.append(f"缺少阶段 {', '.join(map(str, lacking))} 的任务")
            en.append(f"no task for phase(s) {', '.join(map(str, lacking))}")
        if incomplete:
            zh.append(f"任务信息不全：{_zids(incomplete)}")
            en.append(f"tasks lacking owner, dates or output: {_ids(incomplete)}")
        return _miss("；".join(zh), "; ".join(en))
    return _ok(
        f"{len(plan)} 项任务覆盖阶段 {min(have)}-{max(have)}",
        f"{len(plan)} tasks covering phases {min(have)}-{max(have)}",
    )


def _training_done(ctx: _Context, params: dict[str, Any]) -> Outcome:
    tr = ctx.table("training")
    done = tr[tr["status"].astype("string") == "done"] if not tr.empty else tr
    if done.empty:
        return _miss("没有已完成的培训记录", "no training session with status done")
    people = int(done["participants"].fillna(0).sum()) if "participants" in done else 0
    return _ok(
        f"已完成培训 {len(done)} 次，共 {people} 人次",
        f"{len(done)} sessions done, {people} participants in all",
    )


def _barriers(ctx: _Context, params: dict[str, Any]) -> Outcome:
    b = ctx.table("barriers")
    if b.empty:
        return _miss("障碍调查表为空", "the barrier survey is empty")
    lacking = [
        str(r["barrier_id"]) for r in b.to_dict("records") if _blank(r.get("countermeasure"))
    ]
    if lacking:
        return _miss(
            f"无对策的障碍：{_zids(lacking)}", f"barriers without a countermeasure: {_ids(lacking)}"
        )
    return _ok(f"{len(b)} 条障碍均有对策", f"all {len(b)} barriers have a countermeasure")


def _history_years(ctx: _Context, params: dict[str, Any]) -> Outcome:
    years = [int(y) for y in (ctx.p("history_years") or [])]
    if not years:
        return _miss("企业信息未给出历史数据年份", "the profile gives no history years")
    hist = ctx.table("history")
    cats = list(params.get("categories", []))
    gaps = []
    for y in years:
        for c in cats:
            if (
                hist.empty
                or not (
                    (hist["year"].astype("Int64") == y) & (hist["category"].astype("string") == c)
                ).any()
            ):
                gaps.append((y, c))
    if gaps:
        zh = [f"{y}年{_label('history_category', c)[0]}" for y, c in gaps]
        en = [f"{_label('history_category', c)[1].lower()} {y}" for y, c in gaps]
        return _miss(f"缺少数据：{_zids(zh)}", f"no data for: {_ids(en)}")
    zh, en = _labels("history_category", cats)
    return _ok(
        f"{'、'.join(map(str, years))}年均有{'、'.join(zh)}数据",
        f"{', '.join(e.lower() for e in en)} present for {', '.join(map(str, years))}",
    )


def _compliance_data(ctx: _Context, params: dict[str, Any]) -> Outcome:
    pol = ctx.table("pollutants")
    media = set(params.get("media", ["water", "air"]))
    if pol.empty:
        return _miss("污染物表为空", "the pollutants table is empty")
    sub = pol[pol["medium"].astype("string").isin(media)]
    if sub.empty:
        return _na("没有废水、废气污染物", "no water or air pollutants listed")
    lacking = [
        str(r["pollutant_id"])
        for r in sub.to_dict("records")
        if any(_blank(r.get(c)) for c in ("concentration", "limit", "limit_standard"))
    ]
    if lacking:
        return _miss(
            f"缺少实测浓度、限值或执行标准：{_zids(lacking)}",
            f"lacking concentration, limit or standard: {_ids(lacking)}",
        )
    over = ctx.exceeding()
    tail_zh = (
        f"；超标 {len(over)} 项：{_zids([_named(o['id'], o['name']) for o in over])}"
        if over
        else "；均达标"
    )
    tail_en = (
        f"; {len(over)} above limit or cap: {_ids([_named_en(o['id'], o['name']) for o in over])}"
        if over
        else "; all within limits"
    )
    return _ok(f"{len(sub)} 个污染物数据齐全{tail_zh}", f"{len(sub)} pollutants complete{tail_en}")


def _grade_outcome(ctx: _Context, stage: str) -> tuple[Any, Outcome | None]:
    g = ctx.grade(stage)
    if isinstance(g, Exception):
        return None, _miss(f"评级无法完成：{g}", f"grading failed: {g}")
    if g is None:
        return None, _na("未指定指标体系", "no indicator system named")
    return g, None


def _level_graded(ctx: _Context, params: dict[str, Any]) -> Outcome:
    stage = str(params.get("stage", "before"))
    g, bad = _grade_outcome(ctx, stage)
    if bad is not None:
        return bad
    sc = "，".join(f"{k}={v:.1f}" for k, v in g.scores.items())
    sc_en = ", ".join(f"{k} = {v:.1f}" for k, v in g.scores.items())
    zh_stage = _STAGE_ZH.get(stage, stage)
    return _ok(
        f"{zh_stage}：{g.level_name['zh']}（{sc}）", f"{stage}: {g.level_name['en']} ({sc_en})"
    )


def _focus_method(ctx: _Context, params: dict[str, Any]) -> Outcome:
    fid, _ = ctx.focus_text()
    cand = ctx.table("focus_candidates")
    scores = ctx.table("focus_scores")
    zh, en = [], []
    if fid is None:
        zh.append("企业信息未写明确定的审核重点")
        en.append("the profile names no audit focus")
    elif cand.empty or str(fid) not in set(cand["candidate_id"].astype(str)):
        zh.append(f"审核重点 {fid} 不在备选重点表中")
        en.append(f"the focus {fid} is not among the candidates")
    n_min = int(params.get("min_candidates", 2))
    if len(cand) < n_min:
        zh.append(f"备选重点只有 {len(cand)} 个（至少 {n_min} 个）")
        en.append(f"only {len(cand)} candidate(s) (at least {n_min})")
    crit_tab = ctx.table("focus_criteria")
    crits = (
        list(crit_tab["criterion_id"].astype(str))
        if not crit_tab.empty
        else list(reference.table("scoring/focus_criteria.csv")["criterion_id"].astype(str))
    )
    have = (
        set(
            zip(scores["candidate_id"].astype(str), scores["criterion_id"].astype(str), strict=True)
        )
        if not scores.empty
        else set()
    )
    gaps = (
        [f"{c}/{k}" for c in cand["candidate_id"].astype(str) for k in crits if (c, k) not in have]
        if not cand.empty
        else []
    )
    if gaps:
        zh.append(f"未评分（重点/因素）：{_zids(gaps)}")
        en.append(f"not scored (candidate/criterion): {_ids(gaps)}")
    if zh:
        return _miss("；".join(zh), "; ".join(en))
    return _ok(
        f"从 {len(cand)} 个备选重点按 {len(crits)} 个因素评分，确定 {fid}",
        f"{fid} chosen among {len(cand)} candidates scored on {len(crits)} criteria",
    )


def _mentions(text: str, name: str, pid: str) -> bool:
    t = text.lower()
    return (bool(name) and name.lower() in t) or (
        bool(pid)
        and re.search(rf"(?<![a-z0-9_]){re.escape(pid.lower())}(?![a-z0-9_])", t) is not None
    )


def _focus_exceeding(ctx: _Context, params: dict[str, Any]) -> Outcome:
    over = ctx.exceeding()
    if not over and "double_exceeding" not in ctx.categories():
        return _na("无超标或超总量的污染物", "no pollutant above its limit or cap")
    if not over:
        return _miss(
            "企业类别为“双超”，但污染物表中看不出哪项超标（填写浓度与限值或总量）",
            "the enterprise is double-exceeding but no pollutant shows above its limit or cap (fill concentration, limit or cap)",
        )
    fid, text = ctx.focus_text()
    if fid is None:
        return _miss("未确定审核重点", "no audit focus chosen")
    streams = ctx.table("streams")
    comps = set(streams["component"].astype(str)) if not streams.empty else set()
    hit, lost = [], []
    for o in over:
        (hit if _mentions(text, o["name"], o["id"]) or o["id"] in comps else lost).append(o["id"])
    if lost:
        return _miss(
            f"审核重点 {fid} 未涉及超标污染物：{_zids(lost)}",
            f"the focus {fid} does not address the exceeding pollutant(s): {_ids(lost)}",
        )
    names = {o["id"]: o["name"] for o in over}
    return _ok(
        f"审核重点 {fid} 涉及超标污染物：{_zids([_named(h, names[h]) for h in hit])}",
        f"the focus {fid} addresses: {_ids([_named_en(h, names[h]) for h in hit])}",
    )


def _focus_keywords(ctx: _Context, params: dict[str, Any]) -> Outcome:
    fid, text = ctx.focus_text()
    if fid is None:
        return _miss("未确定审核重点", "no audit focus chosen")
    found = []
    if params.get("toxic_names"):
        found += [name for pid, name in ctx.toxic_things() if _mentions(text, name, pid)]
    low = text.lower()
    found += [k for k in params.get("keywords", []) if str(k).lower() in low]
    if not found:
        return _miss(
            f"审核重点 {fid} 的名称和理由中未见相关内容",
            f"the name and reasons of the focus {fid} do not mention it",
        )
    words = list(dict.fromkeys(found))
    return _ok(
        f"审核重点 {fid} 提到：{'、'.join(words)}", f"the focus {fid} mentions: {', '.join(words)}"
    )


def _date(v: Any) -> pd.Timestamp | None:
    if _blank(v):
        return None
    try:
        return pd.Timestamp(v)
    except (TypeError, ValueError):
        return None


def _targets_quantified(ctx: _Context, params: dict[str, Any]) -> Outcome:
    t = ctx.table("targets")
    if t.empty:
        return _miss("未设置清洁生产目标", "no targets set")
    bad, bad_zh = [], []
    for r in t.to_dict("records"):
        tid = str(r["target_id"])
        if any(_blank(r.get(c)) for c in ("baseline", "near_term", "near_term_deadline", "unit")):
            bad.append(f"{tid} (incomplete)")
            bad_zh.append(f"{tid}（基准值、近期目标、期限或单位未填）")
            continue
        b, n = float(r["baseline"]), float(r["near_term"])
        d = str(r.get("direction"))
        if (d == "decrease" and not n < b) or (d == "increase" and not n > b):
            bad.append(f"{tid} ({d}: {b:g} -> {n:g})")
            bad_zh.append(f"{tid}（{_label('direction', d)[0]}：{b:g}→{n:g}）")
        if not _blank(r.get("mid_term")) and _blank(r.get("mid_term_deadline")):
            bad.append(f"{tid} (mid-term without deadline)")
            bad_zh.append(f"{tid}（中远期目标无期限）")
    if bad:
        return _miss(f"目标有问题：{_zids(bad_zh)}", f"targets with problems: {_ids(bad)}")
    return _ok(f"{len(t)} 个目标均量化并有期限", f"all {len(t)} targets quantified and time-bound")


def _target_for(t: pd.DataFrame, pid: str, name: str) -> list[dict[str, Any]]:
    out = []
    for r in t.to_dict("records"):
        metric = "" if _blank(r.get("metric")) else str(r["metric"])
        if metric == pid or _mentions(f"{r.get('indicator') or ''} {metric}", name, pid):
            out.append(r)
    return out


def _compliance_target(ctx: _Context, params: dict[str, Any]) -> Outcome:
    over = ctx.exceeding()
    if not over:
        return _na("无超标或超总量的污染物", "no pollutant above its limit or cap")
    t = ctx.table("targets")
    start = _date(ctx.p("audit_start"))
    years = int(params.get("max_years", 2))
    limit = start + pd.DateOffset(years=years) if start is not None else None
    lost, late, fine = [], [], []
    for o in over:
        rows = _target_for(t, o["id"], o["name"]) if not t.empty else []
        if not rows:
            lost.append(o)
            continue
        dl = min(
            (d for d in (_date(r.get("near_term_deadline")) for r in rows) if d is not None),
            default=None,
        )
        (late if limit is None or dl is None or dl > limit else fine).append((o, dl))

    def dated(pairs: list[tuple[dict[str, Any], Any]], lang: str) -> list[str]:
        out = []
        for o, dl in pairs:
            if lang == "zh":
                when = str(dl.date()) if dl is not None else "无期限"
                out.append(f"{_named(o['id'], o['name'])}，{when}")
            else:
                when = str(dl.date()) if dl is not None else "no deadline"
                out.append(f"{_named_en(o['id'], o['name'])}, {when}")
        return out

    if lost or late:
        zh, en = [], []
        if lost:
            zh.append(f"无达标目标：{_zids([_named(o['id'], o['name']) for o in lost])}")
            en.append(f"no target for: {_ids([_named_en(o['id'], o['name']) for o in lost])}")
        if late:
            zh.append(f"期限超过审核开始后{years}年：{_ids(dated(late, 'zh'), sep='；')}")
            en.append(
                f"deadline later than {years} years after the audit start: "
                + _ids(dated(late, "en"), sep="; ")
            )
        return _miss("；".join(zh), "; ".join(en))
    return _ok(
        f"达标目标及期限：{_ids(dated(fine, 'zh'), sep='；')}",
        f"compliance targets and deadlines: {_ids(dated(fine, 'en'), sep='; ')}",
    )


def _toxic_target(ctx: _Context, params: dict[str, Any]) -> Outcome:
    toxic = ctx.toxic_things()
    if not toxic:
        return _miss(
            "企业类别为“双有”，但原辅材料和污染物表中没有标记有毒有害的项目",
            "the enterprise is double-toxic but no material or pollutant is flagged toxic",
        )
    t = ctx.table("targets")
    hits = [pid for pid, name in toxic if not t.empty and _target_for(t, pid, name)]
    if not hits:
        return _miss(
            f"没有针对有毒有害物质（{_zids([p for p, _ in toxic])}）的减量目标",
            f"no target on the toxic substances ({_ids([p for p, _ in toxic])})",
        )
    return _ok(
        f"有减量目标的有毒有害物质：{_zids(hits)}", f"toxic substances with a target: {_ids(hits)}"
    )


def _level_target(ctx: _Context, params: dict[str, Any]) -> Outcome:
    g, bad = _grade_outcome(ctx, "before")
    if bad is not None:
        return bad
    if g.level != grading.NONE_LEVEL:
        return _na(f"审核前已达到 {g.level} 级", f"level {g.level} reached before the audit")
    ids = set(g.indicators["indicator_id"].astype(str))
    t = ctx.table("targets")
    linked = (
        [
            str(r["target_id"])
            for r in t.to_dict("records")
            if not _blank(r.get("metric")) and str(r["metric"]) in ids
        ]
        if not t.empty
        else []
    )
    if not linked:
        return _miss(
            "审核前未达到最低等级，但没有目标关联到指标体系的指标",
            "below the lowest level before the audit, and no target's metric is an indicator of the system",
        )
    return _ok(
        f"关联指标体系的目标：{_zids(linked)}", f"targets on system indicators: {_ids(linked)}"
    )


def _tables_present(ctx: _Context, params: dict[str, Any]) -> Outcome:
    names = list(params.get("tables", []))
    sizes = {n: len(ctx.table(n)) for n in names}
    empty = [n for n, k in sizes.items() if k == 0]
    ok = len(empty) < len(names) if params.get("any") else not empty
    zh = {n: _table_label(n)[0] for n in names}
    en = {n: _table_label(n)[1] for n in names}
    if not ok:
        return _miss(
            f"表为空：{'、'.join(zh[n] for n in empty)}",
            f"empty table(s): {', '.join(en[n] for n in empty)}",
        )
    return _ok(
        "；".join(f"{zh[n]} {k} 行" for n, k in sizes.items()),
        "; ".join(f"{en[n]}: {k} rows" for n, k in sizes.items()),
    )


def _waste_causes(ctx: _Context, params: dict[str, Any]) -> Outcome:
    wc = ctx.table("waste_causes")
    if wc.empty:
        return _miss("废弃物产生原因表为空", "the waste-cause table is empty")
    order = list(reference.table("aspects.csv")["aspect_id"].astype(str))
    have = set(wc["aspect"].astype(str))
    asp = [a for a in order if a in have] + sorted(have - set(order))
    zh, en = _labels("aspect", asp)
    return _ok(
        f"{len(wc)} 条原因，涉及{len(asp)}个方面：{'、'.join(zh)}",
        f"{len(wc)} causes over {len(asp)} aspects: {', '.join(e.lower() for e in en)}",
    )


def _options_aspects(ctx: _Context, params: dict[str, Any]) -> Outcome:
    opts = ctx.table("options")
    aspects = list(reference.table("aspects.csv")["aspect_id"].astype(str))
    have = set(opts["aspect"].astype(str)) if not opts.empty else set()
    lacking = [a for a in aspects if a not in have]
    counts = Counter(opts["aspect"].astype(str)) if not opts.empty else Counter()
    shown_zh = "、".join(f"{_label('aspect', a)[0]} {counts.get(a, 0)} 项" for a in aspects)
    shown_en = ", ".join(f"{_label('aspect', a)[1].lower()}: {counts.get(a, 0)}" for a in aspects)
    if lacking:
        zh, en = _labels("aspect", lacking)
        return _miss(
            f"没有方案的方面：{'、'.join(zh)}",
            f"aspects without an option: {', '.join(e.lower() for e in en)}",
        )
    return _ok(f"八个方面均有方案（{shown_zh}）", f"all eight aspects have options ({shown_en})")


def _norm(s: Any) -> str:
    return "" if _blank(s) else re.sub(r"\s+", "", str(s)).lower()


def _causes_have_options(ctx: _Context, params: dict[str, Any]) -> Outcome:
    from cpkit import library

    wc = ctx.table("waste_causes")
    if wc.empty:
        return _na("没有废弃物产生原因记录", "no waste causes recorded")
    opts = ctx.live_options()
    thr = float(params.get("min_similarity", 0.3))
    orecs = opts.to_dict("records") if not opts.empty else []
    otext = [
        library.text_tokens(
            f"{o.get('name') or ''} {o.get('problem') or ''} {o.get('cause') or ''}"
        )
        for o in orecs
    ]
    lost, matched = [], []
    for r in wc.to_dict("records"):
        ctext = library.text_tokens(f"{r.get('waste') or ''} {r.get('cause') or ''}")
        best = None
        for o, ot in zip(orecs, otext, strict=True):
            if str(o.get("aspect")) != str(r.get("aspect")):
                continue
            same_loc = _norm(o.get("location")) and _norm(o.get("location")) == _norm(
                r.get("location")
            )
            if same_loc or library.cosine(ctext, ot) >= thr:
                best = str(o["option_id"])
                break
        (matched if best else lost).append(
            f"{r['cause_id']}→{best}" if best else str(r["cause_id"])
        )
    if lost:
        return _miss(
            f"以下原因未找到同方面、同部位或描述相近的方案（请人工确认）：{_zids(lost)}",
            f"no option of the same aspect at the same location or with a similar text for: {_ids(lost)} (confirm by hand)",
        )
    return _ok(f"每条原因都有方案：{_zids(matched)}", f"every cause has an option: {_ids(matched)}")


def _lagging_have_options(ctx: _Context, params: dict[str, Any]) -> Outcome:
    from cpkit import library

    g, bad = _grade_outcome(ctx, str(params.get("stage", "before")))
    if bad is not None:
        return bad
    below = str(params.get("below", g.levels[-1]))
    if below not in g.levels:
        raise SelfCheckError(f"checklist: level {below!r} is not a level of system {g.system_id}")
    cut = g.levels.index(below)
    lag = grading.lagging_indicators(g)
    rank = [g.levels.index(str(x)) if str(x) in g.levels else len(g.levels) for x in lag["level"]]
    lag = lag[[r > cut for r in rank]]
    if lag.empty:
        return _na(f"没有低于 {below} 级的指标", f"no indicator below level {below}")
    opts = ctx.table("options")
    if opts.empty:
        return _miss(
            f"低于 {below} 级的指标没有方案：{_zids(list(lag['indicator_id']))}",
            f"no options for the indicators below {below}: {_ids(list(lag['indicator_id']))}",
        )
    cov = library.lagging_coverage(lag, opts)
    names = {
        str(r["indicator_id"]): (str(r["name_zh"]), str(r["name_en"]))
        for r in g.indicators.to_dict("records")
    }

    def zh_name(i: str) -> str:
        return names.get(i, (i, i))[0]

    def en_name(i: str) -> str:
        return names.get(i, (i, i))[1]

    lost = list(cov.loc[~cov["addressed"], "indicator_id"].astype(str))
    addressed = [
        (str(r["indicator_id"]), [o for o in str(r["options"]).split(";") if o])
        for r in cov[cov["addressed"]].to_dict("records")
    ]
    if lost:
        return _miss(
            f"低于 {below} 级但没有方案关联的指标：{_zids([_named(i, zh_name(i)) for i in lost])}",
            f"indicators below {below} with no linked option: {_ids([_named_en(i, en_name(i)) for i in lost])}",
        )
    return _ok(
        f"低于 {below} 级的指标均有方案："
        + _ids([f"{zh_name(i)}（{'、'.join(o)}）" for i, o in addressed], sep="；"),
        f"all indicators below {below} have options: "
        + _ids([f"{en_name(i)} ({', '.join(o)})" for i, o in addressed], sep="; "),
    )


def _exceeding_addressed(ctx: _Context, params: dict[str, Any]) -> Outcome:
    over = ctx.exceeding()
    if not over:
        return _na("无超标或超总量的污染物", "no pollutant above its limit or cap")
    live = (
        set(ctx.live_options()["option_id"].astype(str))
        if not ctx.table("options").empty
        else set()
    )
    eff = ctx.table("option_effects")
    by_item: dict[str, list[str]] = {}
    if not eff.empty:
        for r in eff.to_dict("records"):
            if str(r["option_id"]) in live:
                by_item.setdefault(str(r["item"]), []).append(str(r["option_id"]))
    lost = [o for o in over if o["id"] not in by_item]
    if lost:
        return _miss(
            f"没有削减方案的超标污染物：{_zids([_named(o['id'], o['name']) for o in lost])}",
            f"exceeding pollutants no option reduces: {_ids([_named_en(o['id'], o['name']) for o in lost])}",
        )
    got_zh = [f"{_named(o['id'], o['name'])}：{'、'.join(by_item[o['id']])}" for o in over]
    got_en = [f"{_named_en(o['id'], o['name'])}: {', '.join(by_item[o['id']])}" for o in over]
    return _ok(
        f"超标污染物均有削减方案：{_ids(got_zh, sep='；')}",
        f"every exceeding pollutant has options: {_ids(got_en, sep='; ')}",
    )


def _mandatory_issue(ctx: _Context, params: dict[str, Any]) -> Outcome:
    live = ctx.live_options()
    if live.empty or "mandatory_issue" not in live:
        return _miss("没有标记为针对强制性审核问题的方案", "no option flagged mandatory_issue")
    flagged = live[live["mandatory_issue"].astype("boolean").fillna(False)]
    if flagged.empty:
        return _miss("没有标记为针对强制性审核问题的方案", "no option flagged mandatory_issue")
    ids = list(flagged["option_id"].astype(str))
    return _ok(
        f"针对强制性问题的方案：{_zids(ids)}", f"options on the mandatory issue: {_ids(ids)}"
    )


def _screening_recorded(ctx: _Context, params: dict[str, Any]) -> Outcome:
    opts = ctx.table("options")
    if opts.empty:
        return _miss("方案表为空", "the options table is empty")
    lacking = list(opts.loc[opts["screening"].isna(), "option_id"].astype(str))
    if lacking:
        return _miss(f"未填写筛选结论：{_zids(lacking)}", f"no screening result: {_ids(lacking)}")
    c = Counter(opts["screening"].astype(str))
    order = ["feasible", "preliminary", "infeasible"]
    keys = [k for k in order if k in c] + sorted(set(c) - set(order))
    shown_zh = "、".join(f"{_label('screening', k)[0]} {c[k]} 个" for k in keys)
    shown_en = ", ".join(f"{_label('screening', k)[1].lower()}: {c[k]}" for k in keys)
    return _ok(
        f"{len(opts)} 个方案均有筛选结论（{shown_zh}）",
        f"all {len(opts)} options screened ({shown_en})",
    )


def _medium_high(ctx: _Context) -> tuple[list[dict[str, Any]], Outcome | None]:
    cc = ctx.cost_classes()
    if isinstance(cc, Exception):
        return [], _miss(f"无法确定费用类别：{cc}", f"cost classes cannot be determined: {cc}")
    live = ctx.live_options()
    recs = (
        [r for r in live.to_dict("records") if cc.get(str(r["option_id"])) == "medium_high"]
        if not live.empty
        else []
    )
    return recs, None


def _medium_high_assessed(ctx: _Context, params: dict[str, Any]) -> Outcome:
    recs, bad = _medium_high(ctx)
    if bad is not None:
        return bad
    if not recs:
        return _na("没有中/高费方案", "no medium/high-cost option")
    gaps = []
    for r in recs:
        lack = [
            c
            for c in (
                "technical_assessment",
                "environmental_assessment",
                "investment_10k_cny",
                "lifetime_years",
            )
            if _blank(r.get(c))
        ]
        if _blank(r.get("annual_cost_saving_10k_cny")) and _blank(
            r.get("annual_revenue_increase_10k_cny")
        ):
            lack.append("annual saving or revenue")
        if lack:
            gaps.append((str(r["option_id"]), lack))
    if gaps:

        def col(c: str, k: int) -> str:
            if c == "annual saving or revenue":
                return ("年节约费用或年增收", c)[k]
            try:
                spec = schema().table("options").column(c)
            except KeyError:
                return c
            return (spec.zh or c, spec.en or c)[k]

        return _miss(
            "评估不全的中/高费方案："
            + _ids(
                [f"{o}（缺{'、'.join(col(c, 0) for c in lack)}）" for o, lack in gaps], sep="；"
            ),
            "medium/high-cost options lacking assessments: "
            + _ids([f"{o} ({', '.join(col(c, 1) for c in lack)})" for o, lack in gaps], sep="; "),
        )
    ids = [str(r["option_id"]) for r in recs]
    return _ok(
        f"{len(ids)} 个中/高费方案均有三项评估：{_zids(ids)}",
        f"all {len(ids)} medium/high-cost options assessed: {_ids(ids)}",
    )


def _toxic_options(ctx: _Context, params: dict[str, Any]) -> Outcome:
    toxic = dict(ctx.toxic_things())
    if not toxic:
        return _miss(
            "没有标记为有毒有害的原辅材料或污染物", "no material or pollutant is flagged toxic"
        )
    live = (
        set(ctx.live_options()["option_id"].astype(str))
        if not ctx.table("options").empty
        else set()
    )
    eff = ctx.table("option_effects")
    hits = (
        sorted(
            {
                f"{r['option_id']}→{r['item']}"
                for r in eff.to_dict("records")
                if str(r["item"]) in toxic and str(r["option_id"]) in live
            }
        )
        if not eff.empty
        else []
    )
    if not hits:
        return _miss(
            f"没有方案削减有毒有害物质（{_zids(list(toxic))}）",
            f"no option reduces a toxic substance ({_ids(list(toxic))})",
        )
    return _ok(
        f"削减有毒有害物质的方案：{_zids(hits)}", f"options on toxic substances: {_ids(hits)}"
    )


def _implemented(ctx: _Context) -> list[str]:
    opts = ctx.table("options")
    if opts.empty:
        return []
    return list(opts.loc[opts["status"].astype("string") == "implemented", "option_id"].astype(str))


def _implementation_recorded(ctx: _Context, params: dict[str, Any]) -> Outcome:
    done = _implemented(ctx)
    if not done:
        return _na("没有已实施的方案", "no implemented option")
    imp = ctx.table("implementation")
    rows = {str(r["option_id"]): r for r in imp.to_dict("records")} if not imp.empty else {}
    lost = [o for o in done if o not in rows or _blank(rows[o].get("actual_investment_10k_cny"))]
    if lost:
        return _miss(
            f"无实施记录或实际投资：{_zids(lost)}",
            f"no implementation row or actual investment: {_ids(lost)}",
        )
    return _ok(f"{len(done)} 个已实施方案均有记录", f"all {len(done)} implemented options recorded")


def _effects_measured(ctx: _Context, params: dict[str, Any]) -> Outcome:
    recs, bad = _medium_high(ctx)
    if bad is not None:
        return bad
    done = set(_implemented(ctx))
    mh = [str(r["option_id"]) for r in recs if str(r["option_id"]) in done]
    if not mh:
        return _na("没有已实施的中/高费方案", "no implemented medium/high-cost option")
    eff = ctx.table("option_effects")
    measured = (
        set(eff.loc[eff["actual"].notna(), "option_id"].astype(str)) if not eff.empty else set()
    )
    lost = [o for o in mh if o not in measured]
    if lost:
        return _miss(f"没有实际效果数据：{_zids(lost)}", f"no actual effect figures: {_ids(lost)}")
    return _ok(
        f"已实施中/高费方案均有实际效果：{_zids(mh)}",
        f"implemented medium/high-cost options with actual effects: {_ids(mh)}",
    )


def _before_after(ctx: _Context, params: dict[str, Any]) -> Outcome:
    if ctx.p("indicator_system"):
        g0, bad0 = _grade_outcome(ctx, "before")
        if bad0 is not None:
            return bad0
        g1, bad1 = _grade_outcome(ctx, "after")
        if bad1 is not None:
            return bad1
        return _ok(
            f"审核前：{g0.level_name['zh']}；审核后：{g1.level_name['zh']}",
            f"before: {g0.level_name['en']}; after: {g1.level_name['en']}",
        )
    t = ctx.table("targets")
    got = list(t.loc[t["achieved"].notna(), "target_id"].astype(str)) if not t.empty else []
    if not got:
        return _miss(
            "无指标体系，且没有目标填写审核后实际值",
            "no indicator system and no target has its achieved value",
        )
    return _ok(
        f"审核后实际值已填写的目标：{_zids(got)}", f"targets with achieved values: {_ids(got)}"
    )


def _targets_achieved(ctx: _Context, params: dict[str, Any]) -> Outcome:
    t = ctx.table("targets")
    end = _date(ctx.p("audit_end"))
    if t.empty or end is None:
        return _na("没有目标或审核结束日期", "no targets or no audit end date")
    due = [
        r
        for r in t.to_dict("records")
        if (d := _date(r.get("near_term_deadline"))) is not None and d <= end
    ]
    if not due:
        return _na("审核结束前没有到期的目标", "no target falls due by the audit end")
    lost = [str(r["target_id"]) for r in due if _blank(r.get("achieved"))]
    if lost:
        return _miss(
            f"已到期但未填写实际值：{_zids(lost)}",
            f"due but without an achieved value: {_ids(lost)}",
        )
    return _ok(f"{len(due)} 个到期目标均已核算", f"all {len(due)} due targets have achieved values")


def _carbon_evaluated(ctx: _Context, params: dict[str, Any]) -> Outcome:
    eff = ctx.table("option_effects")
    if eff.empty:
        return _miss("方案效果表为空", "the option-effects table is empty")
    items = set(eff["item"].astype(str))
    carriers = set(reference.table("energy/carriers.csv")["carrier_id"].astype(str))
    if "co2" in items:
        return _ok("方案效果表中有二氧化碳削减量", "the option effects include CO2 reductions")
    energy = sorted(items & carriers)
    if energy:
        cars = reference.table("energy/carriers.csv").set_index("carrier_id")
        zh = [str(cars.at[e, "name_zh"]) if "name_zh" in cars else e for e in energy]
        en = [str(cars.at[e, "name_en"]) if "name_en" in cars else e for e in energy]
        return _ok(
            f"有能源节约项可折算二氧化碳：{'、'.join(zh)}",
            f"energy savings convertible to CO2: {', '.join(en)}",
        )
    return _miss(
        "方案效果中既无二氧化碳也无能源节约", "option effects have neither CO2 nor energy savings"
    )


def _planned_schedule(ctx: _Context, params: dict[str, Any]) -> Outcome:
    recs, bad = _medium_high(ctx)
    if bad is not None:
        return bad
    todo = [str(r["option_id"]) for r in recs if str(r.get("status")) in ("planned", "in_progress")]
    if not todo:
        return _na("没有待实施的中/高费方案", "no medium/high-cost option still to implement")
    imp = ctx.table("implementation")
    rows = {str(r["option_id"]): r for r in imp.to_dict("records")} if not imp.empty else {}
    lost = []
    for o in todo:
        r = rows.get(o)
        if (
            r is None
            or (_blank(r.get("department")) and _blank(r.get("owner")))
            or _blank(r.get("start"))
            or _blank(r.get("end"))
        ):
            lost.append(o)
    if lost:
        return _miss(f"没有具体实施计划：{_zids(lost)}", f"no concrete schedule: {_ids(lost)}")
    return _ok(f"待实施中/高费方案均有计划：{_zids(todo)}", f"scheduled: {_ids(todo)}")


def _continuous_fields(ctx: _Context, params: dict[str, Any]) -> Outcome:
    fields = list(params.get("fields", []))
    lost = [f for f in fields if _blank(_attr(ctx.continuous, f))]
    zh = {f: _field_label(f"continuous.{f}")[0] for f in fields}
    en = {f: _field_label(f"continuous.{f}")[1] for f in fields}
    if lost:
        return _miss(
            f"未填写：{'、'.join(zh[f] for f in lost)}",
            f"not filled: {', '.join(en[f] for f in lost)}",
        )
    return _ok(
        f"已填写：{'、'.join(zh[f] for f in fields)}", f"filled: {', '.join(en[f] for f in fields)}"
    )


def _continuous_plan(ctx: _Context, params: dict[str, Any]) -> Outcome:
    out = _continuous_fields(ctx, params)
    tr = ctx.table("training")
    planned = tr[tr["status"].astype("string") == "planned"] if not tr.empty else tr
    if planned.empty:
        zh = ("" if out.status == PASSED else out.zh + "；") + "没有计划中的培训"
        en = ("" if out.status == PASSED else out.en + "; ") + "no planned training session"
        return _miss(zh, en)
    if out.status != PASSED:
        return out
    return _ok(
        out.zh + f"；计划培训 {len(planned)} 次",
        out.en + f"; {len(planned)} training sessions planned",
    )


CHECKS: dict[str, Callable[[_Context, dict[str, Any]], Outcome]] = {
    "team_leader": _team_leader,
    "external_expert": _external_expert,
    "work_plan": _work_plan,
    "training_done": _training_done,
    "barriers": _barriers,
    "history_years": _history_years,
    "compliance_data": _compliance_data,
    "level_graded": _level_graded,
    "focus_method": _focus_method,
    "focus_exceeding": _focus_exceeding,
    "focus_keywords": _focus_keywords,
    "targets_quantified": _targets_quantified,
    "compliance_target": _compliance_target,
    "toxic_target": _toxic_target,
    "level_target": _level_target,
    "tables_present": _tables_present,
    "waste_causes": _waste_causes,
    "options_aspects": _options_aspects,
    "causes_have_options": _causes_have_options,
    "lagging_have_options": _lagging_have_options,
    "exceeding_addressed": _exceeding_addressed,
    "mandatory_issue": _mandatory_issue,
    "screening_recorded": _screening_recorded,
    "medium_high_assessed": _medium_high_assessed,
    "toxic_options": _toxic_options,
    "implementation_recorded": _implementation_recorded,
    "effects_measured": _effects_measured,
    "before_after": _before_after,
    "targets_achieved": _targets_achieved,
    "carbon_evaluated": _carbon_evaluated,
    "planned_schedule": _planned_schedule,
    "continuous_fields": _continuous_fields,
    "continuous_plan": _continuous_plan,
}


# --------------------------------------------------------------------------- the checklist


def checklist(items: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """The checklist as a table (item_id, phase, zh, en, clause, how_zh, how_en, check).

    ``items``: a list in the format of ``data/reference/selfcheck/checklist.yaml``
    (default: that file). Raises SelfCheckError for an unknown test or a malformed item.
    """
    raw = items if items is not None else reference.load_yaml("selfcheck/checklist.yaml")["items"]
    rows, seen = [], set()
    for k, it in enumerate(raw):
        if not isinstance(it, dict):
            raise SelfCheckError(f"checklist item {k}: not a mapping")
        missing = [f for f in ("id", "phase", "zh", "en", "clause", "how", "check") if f not in it]
        if missing:
            raise SelfCheckError(f"checklist item {it.get('id', k)}: missing {', '.join(missing)}")
        if it["id"] in seen:
            raise SelfCheckError(f"checklist item id {it['id']!r} is used twice")
        seen.add(it["id"])
        if it["check"] not in CHECKS:
            raise SelfCheckError(
                f"checklist item {it['id']}: unknown check {it['check']!r} (known: {', '.join(sorted(CHECKS))})"
            )
        unknown = set(it.get("applies_when") or {}) - {
            "categories_any",
            "audit_kind",
            "audit_mode",
            "audit_round",
            "indicator_system",
        }
        if unknown:
            raise SelfCheckError(
                f"checklist item {it['id']}: unknown applies_when key(s) {sorted(unknown)}"
            )
        rows.append(
            {
                "item_id": it["id"],
                "phase": int(it["phase"]),
                "zh": it["zh"],
                "en": it["en"],
                "clause": it["clause"],
                "how_zh": it["how"]["zh"],
                "how_en": it["how"]["en"],
                "check": it["check"],
                "params": dict(it.get("params") or {}),
                "applies_when": dict(it.get("applies_when") or {}),
            }
        )
    return pd.DataFrame(rows)


def _applies(ctx: _Context, cond: dict[str, Any]) -> tuple[bool, str, str]:
    for key, want in cond.items():
        if key == "categories_any":
            if not ctx.categories() & set(want):
                zh, en = _labels("category", list(want))
                return (
                    False,
                    f"企业不属于{'或'.join(zh)}",
                    f"the enterprise is not a {' or '.join(e.lower() for e in en)}",
                )
        elif key == "indicator_system":
            has = not _blank(ctx.p("indicator_system"))
            if has != bool(want):
                return (
                    False,
                    "未指定适用的评价指标体系（按浙江5.2.10与同行业先进水平或历史最好水平比较）",
                    "no indicator system named (seed 004 5.2.10: compare with the industry's best or the enterprise's own best year)",
                )
        else:
            have = ctx.p(key)
            if str(have) != str(want):
                fz, fe = _field_label(f"profile.{key}")
                hz, he = _label(key, have)
                wz, we = _label(key, want)
                return (
                    False,
                    f"{fz}为{hz}，不是{wz}",
                    f"{fe.lower()} is {he.lower()}, not {we.lower()}",
                )
    return True, "", ""


def self_check(ds: Any, items: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """Run the checklist on a dataset (seed 003 articles 15 and 21; seed 004 section 5).

    ``ds``: a loaded ``cpkit.dataset.Dataset`` (or any object with ``tables``, ``profile``,
    ``parameters`` and ``continuous`` of the same shape). ``items``: another checklist in
    the format of ``data/reference/selfcheck/checklist.yaml``.

    Returns one row per item: item_id, phase, zh, en, clause, how_zh, how_en, status
    (passed | missing | not_applicable), evidence_zh, evidence_en. ``attrs["counts"]``
    holds the number of items per status. No score is computed.
    """
    items_df = checklist(items)
    ctx = _Context(ds)
    out = []
    for it in items_df.to_dict("records"):
        applies, why_zh, why_en = _applies(ctx, it["applies_when"])
        if not applies:
            res = _na(why_zh, why_en)
        else:
            try:
                res = CHECKS[it["check"]](ctx, it["params"])
            except SelfCheckError:
                raise
            except CpkitError as exc:
                res = _miss(f"无法检查：{exc}", f"cannot be checked: {exc}")
        out.append(
            {
                "item_id": it["item_id"],
                "phase": it["phase"],
                "zh": it["zh"],
                "en": it["en"],
                "clause": it["clause"],
                "how_zh": it["how_zh"],
                "how_en": it["how_en"],
                "status": res.status,
                "evidence_zh": res.zh,
                "evidence_en": res.en,
            }
        )
    df = pd.DataFrame(out)
    for c in df.columns:
        if c != "phase":
            df[c] = df[c].astype("string")
    df["phase"] = df["phase"].astype("Int64")
    df.attrs["counts"] = {
        s: int((df["status"] == s).sum()) for s in (PASSED, MISSING, NOT_APPLICABLE)
    }
    df.attrs["basis"] = {
        "checklist": "data/reference/selfcheck/checklist.yaml" if items is None else "custom"
    }
    return df
