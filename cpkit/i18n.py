"""Messages and number formatting in the report languages (zh, en).

Every sentence a notebook or a report shows comes from the message catalogue: YAML files
under ``cpkit/messages/``. Each engineer (or each phase) owns one file; the files are
merged when first used, and a key defined twice -- in two files, or twice in one file --
is an error (:class:`MessageCatalogueError`), never a silent override.

File format (nested mappings; a leaf is a mapping with exactly the languages)::

    report:
      cover:
        title: {zh: 清洁生产审核报告, en: Cleaner production audit report}
        period: {zh: "审核期：{start}至{end}", en: "Audit period: {start} to {end}"}

gives the keys ``report.cover.title`` and ``report.cover.period``. Keys may also be
written dotted (``report.cover.title: {...}``). Placeholders use ``str.format`` syntax and
must be the same in every language.

Numbers are formatted once, here, for both languages:

* rounding follows GB/T 8170-2008 §3.3 (数值修约规则: round half to even, "四舍六入五成双")
  applied to the number as written (its shortest decimal representation), so 0.125 with
  two decimals gives 0.12 and 0.135 gives 0.14;
* thousands separators ``,`` and decimal point ``.`` in both languages (the usual form of
  numbers in Chinese technical and financial tables, as in English);
* empty values (None, NaN, pandas NA) show as the catalogue's ``format.missing`` mark
  ("—"), never as "nan";
* money in cpkit is kept in 10k CNY (万元); :func:`fmt_money` writes it as ``1,234.56 万元``
  in Chinese and in yuan/million yuan in English (``CNY 12.35 million``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
import string
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

import yaml

from cpkit.errors import CpkitError

#: The report languages. Every catalogue entry has a text for each.
LANGS: tuple[str, ...] = ("zh", "en")

MESSAGES_DIR = Path(__file__).resolve().parent / "messages"


class MessageCatalogueError(CpkitError):
    """The message catalogue is malformed (duplicate key, missing language, bad YAML)."""


class MissingMessageError(CpkitError, KeyError):
    """A message key is not in the catalogue (there is no fallback to the key itself)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownLanguageError(CpkitError, ValueError):
    """A language other than the catalogue's languages was asked for."""


# --------------------------------------------------------------------------- loading
#: libyaml's parser when PyYAML was built with it (about 8x faster on the catalogue: it
#: is read by the first message of every notebook kernel), else the pure-Python one.
_SafeLoaderBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoaderBase):
    """A SafeLoader that refuses duplicate keys in one mapping (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    # Keys are taken as written (``yes:``, ``on:``, ``1:`` stay the strings "yes", "on",
    # "1" instead of YAML 1.1 booleans and numbers); a key may appear once per mapping.
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise MessageCatalogueError(
                f"{loader.name}: key {key!r} appears twice in one mapping "
                f"(lines {lines[key] + 1} and {key_node.start_mark.line + 1})"
            )
        lines[key] = key_node.start_mark.line
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _is_leaf(value: Any) -> bool:
    return isinstance(value, Mapping) and any(k in LANGS for k in value)


def _flatten(
    node: Any, prefix: str, source: str, out: dict[str, dict[str, str]], origin: dict[str, str]
) -> None:
    if not isinstance(node, Mapping):
        raise MessageCatalogueError(
            f"{source}: {prefix or 'top level'} must be a mapping of keys, got {type(node).__name__}"
        )
    for raw_key, value in node.items():
        if not isinstance(raw_key, str) or not re.fullmatch(r"[A-Za-z0-9_.\-/]+", raw_key):
            raise MessageCatalogueError(
                f"{source}: invalid key {raw_key!r} under {prefix or 'top level'} "
                "(letters, digits, _ - . / only)"
            )
        key = f"{prefix}.{raw_key}" if prefix else raw_key
        if _is_leaf(value):
            extra = sorted(set(value) - set(LANGS))
            missing = [lang for lang in LANGS if lang not in value]
            if extra or missing:
                raise MessageCatalogueError(
                    f"{source}: message {key} must have exactly the languages "
                    f"{', '.join(LANGS)}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unexpected {', '.join(map(str, extra))}" if extra else "")
                )
            texts = {}
            for lang in LANGS:
                text = value[lang]
                if not isinstance(text, str):
                    raise MessageCatalogueError(
                        f"{source}: message {key} [{lang}] must be text, got {text!r}"
                    )
                texts[lang] = text
            if key in out:
                raise MessageCatalogueError(
                    f"message key {key} is defined twice: in {origin[key]} and in {source}"
                )
            out[key] = texts
            origin[key] = source
        else:
            _flatten(value, key, source, out, origin)


def load_catalogue(folder: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Read and merge every ``*.yaml`` file of ``folder`` (default ``cpkit/messages``).

    Returns ``{key: {lang: text}}``. Raises :class:`MessageCatalogueError` for invalid
    YAML, a key defined twice (within a file or across files), a message missing a
    language, or placeholders that differ between languages.
    """
    folder = Path(folder) if folder is not None else MESSAGES_DIR
    out: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        source = f"cpkit/messages/{path.name}" if folder == MESSAGES_DIR else str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise MessageCatalogueError(f"{source}: cannot be read ({exc})") from exc
        loader = _UniqueKeyLoader(text)
        loader.name = source
        try:
            doc = loader.get_single_data()
        except yaml.YAMLError as exc:
            raise MessageCatalogueError(f"{source}: invalid YAML ({exc})") from exc
        finally:
            loader.dispose()
        if doc is None:
            continue
        _flatten(doc, "", source, out, origin)
    for key, texts in out.items():
        fields = {lang: placeholders(texts[lang]) for lang in LANGS}
        if len({frozenset(f) for f in fields.values()}) > 1:
            detail = "; ".join(f"{lang}: {sorted(f)}" for lang, f in fields.items())
            raise MessageCatalogueError(
                f"{origin[key]}: message {key} has different placeholders per language ({detail})"
            )
    return out


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a message text."""
    names = set()
    try:
        for _, field, _, _ in string.Formatter().parse(text):
            if field is not None:
                names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    except ValueError as exc:
        raise MessageCatalogueError(f"malformed placeholder in {text!r}: {exc}") from exc
    return names


#: Format of the parsed-catalogue cache entries; bump to invalidate them.
_CATALOGUE_CACHE_FORMAT = 1


@functools.cache
def _catalogue() -> dict[str, dict[str, str]]:
    """:func:`load_catalogue` of ``cpkit/messages``, through an on-disk cache of the
    checked result (``messages/`` under :func:`cpkit.cache.cache_dir`, keyed by the
    YAML files' content): parsing and checking the ~200 KB of YAML costs every notebook
    kernel ~40 ms, reading the cached JSON ~2 ms. A cache that cannot be read or written
    is skipped."""
    import hashlib
    import json
    import os
    import tempfile

    from cpkit.cache import cache_dir

    base = cache_dir()
    if base is None:
        return load_catalogue()
    digest = hashlib.sha256(f"{_CATALOGUE_CACHE_FORMAT}".encode())
    try:
        for path in sorted(MESSAGES_DIR.glob("*.yaml")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return load_catalogue()  # says which file cannot be read
    target = base / "messages" / f"{digest.hexdigest()[:32]}.json"
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            return data
    except (OSError, ValueError):
        pass
    out = load_catalogue()
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(out, fh, ensure_ascii=False)
        os.replace(tmp, target)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with __import__("contextlib").suppress(OSError):
                os.unlink(tmp)
    return out


def catalogue() -> Mapping[str, Mapping[str, str]]:
    """The merged catalogue ``{key: {lang: text}}`` (loaded once per process)."""
    return _catalogue()


def reload() -> None:
    """Forget the loaded catalogue (the next call reads the files again)."""
    _catalogue.cache_clear()


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a catalogue language, else raise UnknownLanguageError."""
    if lang not in LANGS:
        raise UnknownLanguageError(
            f"unknown language {lang!r}: cpkit reports are written in {', '.join(LANGS)}"
        )
    return lang


def has(key: str) -> bool:
    """True if ``key`` is in the catalogue."""
    return key in _catalogue()


def raw(key: str, lang: str) -> str:
    """The message ``key`` in ``lang`` with its placeholders left as they are."""
    check_lang(lang)
    try:
        return _catalogue()[key][lang]
    except KeyError:
        raise MissingMessageError(
            f"message {key!r} is not in the catalogue (cpkit/messages/*.yaml)"
        ) from None


def t(key: str, lang: str, **fmt: Any) -> str:
    """The message ``key`` in ``lang``, with ``{placeholders}`` filled from ``fmt``.

    Raises :class:`MissingMessageError` for an unknown key (never falls back to the key
    or to another language) and :class:`MessageCatalogueError` when a placeholder of the
    message is not given.
    """
    text = raw(key, lang)
    if not fmt and "{" not in text:
        return text
    try:
        return text.format_map(fmt)
    except KeyError as exc:
        raise MessageCatalogueError(
            f"message {key!r} needs the value {exc.args[0]!r} (given: {', '.join(sorted(fmt)) or 'none'})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise MessageCatalogueError(f"message {key!r} cannot be formatted: {exc}") from None


def pick(texts: Mapping[str, str] | str | None, lang: str) -> str:
    """The ``lang`` text of a bilingual mapping from reference data (``{zh: .., en: ..}``).

    A plain string is returned as it is (data that is not translated, e.g. a name).
    """
    check_lang(lang)
    if texts is None:
        return missing(lang)
    if isinstance(texts, str):
        return texts
    if lang not in texts or texts[lang] in (None, ""):
        raise MissingMessageError(f"no {lang} text in {dict(texts)!r}")
    return str(texts[lang])


# --------------------------------------------------------------------------- numbers
def missing(lang: str) -> str:
    """The mark shown for an empty value."""
    return t("format.missing", lang)


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas NA/NaT."""
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(value, float | Decimal):
        return math.isnan(value)
    try:
        return bool(math.isnan(value))
    except (TypeError, ValueError):
        return False


def to_decimal(value: Any) -> Decimal:
    """``value`` as a Decimal, taken from its shortest decimal representation."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        d = Decimal(int(value))
    elif isinstance(value, int):
        d = Decimal(value)
    else:
        try:
            d = Decimal(repr(float(value)))
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise CpkitError(f"not a number: {value!r}") from exc
    return d


def round_half_even(value: Any, digits: int) -> Decimal:
    """``value`` rounded to ``digits`` decimals by GB/T 8170-2008 §3.3 (half to even),
    on its shortest decimal representation (so ``2.345`` -> ``2.34``, ``2.355`` -> ``2.36``)."""
    d = to_decimal(value)
    with localcontext() as ctx:
        ctx.prec = max(28, d.adjusted() + digits + 2)
        return d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def fmt_number(value: Any, lang: str, digits: int = 2, *, grouping: bool = True) -> str:
    """A number with thousands separators and ``digits`` decimals (GB/T 8170 rounding).

    >>> fmt_number(1234567.125, "zh")
    '1,234,567.12'
    """
    check_lang(lang)
    if is_missing(value):
        return missing(lang)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if digits < 0:
        raise CpkitError(f"digits must be >= 0, got {digits}")
    d = round_half_even(value, digits)
    if d == 0:
        d = abs(d)  # no "-0.00"
    return format(d, f"{',' if grouping else ''}.{digits}f")


def fmt_int(value: Any, lang: str) -> str:
    """A count or whole number with thousands separators."""
    return fmt_number(value, lang, 0)


def fmt_percent(fraction: Any, lang: str, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.1234`` -> ``12.3%`` (same in zh and en)."""
    if is_missing(fraction):
        return missing(lang)
    d = to_decimal(fraction) * 100  # exact: one rounding only, in fmt_number
    return t("format.percent", lang, value=fmt_number(d, lang, digits))


def fmt_quantity(value: Any, unit: str | None, lang: str, digits: int = 2) -> str:
    """A number with its unit: ``fmt_quantity(12345.6, "tce", "zh")`` -> ``12,345.60 吨标准煤``.

    Units with a catalogue entry ``unit.<unit>`` are translated; other unit strings
    (data, e.g. an indicator system's ``t/100m``) are shown as given.
    """
    number = fmt_number(value, lang, digits)
    if is_missing(value) or not unit:
        return number
    return t("format.quantity", lang, value=number, unit=unit_label(unit, lang))


def unit_label(unit: str, lang: str) -> str:
    """The display form of a cpkit unit id (``tce`` -> 吨标准煤 / tce); unknown units as given."""
    key = f"unit.{unit}"
    return t(key, lang) if has(key) else unit


def fmt_money(value_10k_cny: Any, lang: str, digits: int = 2) -> str:
    """Money held in 10k CNY (万元), written for a reader.

    zh: ``1,234.56 万元``. en: ``CNY 12.35 million`` from one million yuan up, else whole
    yuan (``CNY 3,500``). Both are the same amount; the English form avoids the "10k"
    unit that English readers do not use.
    """
    check_lang(lang)
    if is_missing(value_10k_cny):
        return missing(lang)
    if lang == "zh":
        return t("format.money_10k", lang, value=fmt_number(value_10k_cny, lang, digits))
    yuan = to_decimal(value_10k_cny) * 10000
    if abs(yuan) >= 1_000_000:
        return t("format.money_million", lang, value=fmt_number(yuan / 1_000_000, lang, digits))
    return t("format.money_yuan", lang, value=fmt_number(yuan, lang, 0))


# --------------------------------------------------------------------------- dates
def _as_date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip()[:10])
        except ValueError as exc:
            raise CpkitError(f"not an ISO date (YYYY-MM-DD): {value!r}") from exc
    raise CpkitError(f"not a date: {value!r}")


def fmt_date(value: Any, lang: str) -> str:
    """A date for a reader: ``2026年1月5日`` / ``5 January 2026``."""
    check_lang(lang)
    if is_missing(value):
        return missing(lang)
    d = _as_date(value)
    month = t(f"format.month.{d.month}", lang)
    return t("format.date", lang, year=d.year, month=month, month_number=d.month, day=d.day)


def fmt_period(start: Any, end: Any, lang: str) -> str:
    """A date range: ``2026年1月5日至2026年10月30日`` / ``5 January 2026 to 30 October 2026``."""
    return t("format.period", lang, start=fmt_date(start, lang), end=fmt_date(end, lang))


def fmt_list(items: Iterable[Any], lang: str) -> str:
    """Items joined the way the language does (``、`` in Chinese, ``, `` in English)."""
    return t("format.list_separator", lang).join(str(i) for i in items)
