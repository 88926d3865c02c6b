"""Teaching mode: explanations beside the data, formulas in symbolic form, exercises.

Every function takes the notebook context (``cpkit.notebook.PhaseContext``) first and
returns ``None`` (shows nothing) when ``ctx.teaching`` is off, so a notebook cell can call
it unconditionally. Explanations are the project's own words from the message catalogue;
formulas are sympy expressions shown as offline SVG; an exercise's expected answer is
computed by the same cpkit function the audit uses, and :meth:`Exercise.check` compares a
trainee's answer with it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import escape


def _on(ctx: Any) -> bool:
    return bool(getattr(ctx, "teaching", False))


def explain(ctx: Any, text: str):
    """A method explanation box (already-translated ``text``), shown only in teaching mode."""
    if not _on(ctx):
        return None
    from IPython.display import HTML

    paras = "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
    return HTML(f'<div class="cp-teach">{paras}</div>')


def formula(ctx: Any, expr: Any, *, lhs: Any = None, substitutions: dict | None = None):
    """Show a sympy expression (or a LaTeX string) as vector maths, in teaching mode.

    With ``lhs`` the formula is shown as ``lhs = expr``. With ``substitutions`` (symbol
    -> number) the same formula is shown a second time with the numbers put in and the
    evaluated result, so a trainee sees the formula being applied to the data.
    """
    if not _on(ctx):
        return None
    from IPython.display import HTML

    from cpkit.display import math_svg

    latex = _latex(expr, lhs)
    parts = [math_svg(latex)]
    if substitutions:
        import sympy

        subs = {
            sympy.Symbol(str(k)) if isinstance(k, str) else k: v for k, v in substitutions.items()
        }
        filled = sympy.sympify(expr).subs(subs, simultaneous=True)
        # the numbers put in, as written and not multiplied out: each symbol is replaced
        # by a symbol named after its formatted value, so sympy neither evaluates 10*8 +
        # 9*9 to 161 nor prints "(-1)68.0"; products get an explicit times sign
        with sympy.evaluate(False):
            shown = sympy.sympify(expr).xreplace(
                {k: sympy.Symbol(_number_text(v)) for k, v in subs.items()}
            )
        value = float(sympy.N(filled))
        latex_filled = _latex(shown, lhs, mul_symbol="times")
        parts.append(math_svg(f"{latex_filled} = {_number_text(value, paren=False)}"))
    return HTML('<div class="cp-teach cp-math">' + "<br>".join(parts) + "</div>")


def _number_text(value: Any, *, paren: bool = True) -> str:
    """A number as a trainee would write it: up to 6 significant digits, no trailing
    zeros, negative numbers in brackets when they stand inside a formula."""
    x = float(value)
    text = f"{x:.6g}"
    if "e" in text:  # very large or small: keep plain digits
        text = f"{x:.6f}".rstrip("0").rstrip(".")
    return f"({text})" if paren and x < 0 else text


def _latex(expr: Any, lhs: Any = None, **options: Any) -> str:
    import sympy

    body = expr if isinstance(expr, str) else sympy.latex(expr, order="none", **options)
    if lhs is None:
        return body
    head = lhs if isinstance(lhs, str) else sympy.latex(lhs)
    return f"{head} = {body}"


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer."""

    correct: bool
    expected: float
    given: float | None
    message: str

    def _repr_html_(self) -> str:
        kind = "ok" if self.correct else "warning"
        return f'<div class="cp-note cp-{kind}">{escape(self.message)}</div>'


@dataclass(frozen=True)
class Exercise:
    """A short exercise with an answer computed by cpkit.

    ``question`` and the feedback texts are already translated. ``rel_tol`` is the
    relative tolerance accepted (answers are usually rounded by hand), ``abs_tol`` guards
    answers near zero.
    """

    key: str
    question: str
    expected: float
    unit: str = ""
    rel_tol: float = 0.01
    abs_tol: float = 1e-9
    lang: str = "zh"
    active: bool = True

    def check(self, answer: float | None = None) -> Feedback | Any:
        """With no answer, show the question; with a number, say whether it is right.

        An inactive exercise (teaching mode off) shows nothing."""
        if not self.active:
            return None
        if answer is None:
            from IPython.display import HTML

            return HTML(
                f'<div class="cp-exercise"><strong>?</strong> {escape(self.question)}</div>'
            )
        try:
            given = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, self.expected, None, _msg(self.lang, "nan", answer=answer))
        ok = math.isclose(given, self.expected, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        key = "right" if ok else "wrong"
        return Feedback(
            ok,
            self.expected,
            given,
            _msg(self.lang, key, given=given, expected=self.expected, unit=self.unit),
        )


_FEEDBACK = {
    "zh": {
        "right": "正确：{given:.4g} {unit}（参考答案 {expected:.4g} {unit}）。",
        "wrong": "再想一想：你的答案是 {given:.4g} {unit}，与参考答案不符。提示：检查公式中的每一项和单位。",
        "nan": "请填入一个数字（收到的是 {answer!r}）。",
    },
    "en": {
        "right": "Correct: {given:.4g} {unit} (reference answer {expected:.4g} {unit}).",
        "wrong": "Not yet: your answer {given:.4g} {unit} does not match. Hint: check every term and the units.",
        "nan": "Please enter a number (got {answer!r}).",
    },
}


def _msg(lang: str, key: str, **fmt: Any) -> str:
    table = _FEEDBACK.get(lang, _FEEDBACK["en"])
    text = table[key].format(**fmt).replace("  ", " ").strip()
    # an empty unit leaves a space before closing punctuation: "1 （参考答案 1 ）"
    return re.sub(r" +([)）（。.,，])", r"\1", text)


def exercise(ctx: Any, key: str, question: str, expected: float, **kwargs: Any) -> Exercise:
    """Create an exercise; show it with ``.check()`` and answer with ``.check(value)``.

    Outside teaching mode the exercise is inactive: ``check`` shows nothing, so the
    notebook's exercise cells need no ``if``."""
    return Exercise(
        key=key,
        question=question,
        expected=float(expected),
        lang=ctx.lang,
        active=_on(ctx),
        **kwargs,
    )
