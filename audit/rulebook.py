"""The rule book (质控规则库): id, severity, messages and thresholds of every check, from TOML.

The bundled book is ``audit/rules.toml``.  A user's file is merged onto it: it
may name only some rules and only some keys of each, e.g. ::

    [rules.PDX_SEQUELA]
    enabled = false                 # switch a rule off

    [rules.NEWBORN_WEIGHT_RANGE]
    min_g = 500                     # change a threshold
    severity = "warning"

Keys of a rule
--------------
``severity`` (``error``, ``warning``, ``info``; ``fatal`` only for the fatal
rules, whose severity and ``enabled`` are fixed), ``enabled``, ``title_zh``,
``message_zh``, ``message_en``, ``suggestion`` (修改建议), ``field`` (the record
column or columns, comma-separated, the rule reads; fixed by the bundled book)
and the rule's parameters.  A parameter keeps the type of its default.  By
name: ``…codes`` holds code ranges as text (``"T90-T98, B90-B94, E64"``: a
range compares the code's first characters, as many as the bound has, so
``T90-T98`` is the categories T90 to T98 and ``60-64`` the ICD-9-CM-3
chapters 60 to 64); ``…pattern`` a regular expression; numbers must not be
negative, and ``min_X`` may not exceed ``max_X``.

Messages are :meth:`str.format` templates.  They may use the placeholders the
bundled texts of that rule use and the rule's parameters (``{min_g}``).
Every problem — a TOML syntax error, an unknown rule or key, a wrong type, a
bad range, an unknown placeholder — raises :class:`RuleBookError` naming the
file, the rule and the key.
"""

from __future__ import annotations

import itertools
import re
import string
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.findings import FEW, SEVERITIES
from foundation.remembered import per_text
from foundation.sort_keys import lexicographic_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUNDLED = Path(__file__).with_name("rules.toml")
#: Keys every rule of the bundled book has; anything else is a parameter.
TEXT_KEYS = ("title_zh", "message_zh", "message_en", "suggestion")
STANDARD_KEYS = ("severity", "enabled", "field", *TEXT_KEYS)
TEMPLATE_KEYS = ("message_zh", "message_en", "suggestion")

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.]*$")
_RANGE_ITEM = re.compile(r"\s*[,，、;；]\s*|\s+")
_DASH = re.compile(r"\s*[-–—~～]\s*")


class RuleBookError(ValueError):
    """A rule book file that cannot be used; the message names the file, rule and key."""


@lru_cache(maxsize=256)
def code_ranges(text: str) -> tuple[tuple[str, str], ...]:
    """Parse code ranges such as ``"T90-T98, E64"`` into ``(low, high)`` pairs (upper case).

    Raises
    ------
    ValueError
        On an empty item, a bound that is not a code, or a low bound above the high one.
    """
    ranges = []
    for item in _RANGE_ITEM.split(_DASH.sub("-", text.strip().upper())):
        if not item:
            continue
        low, _, high = item.partition("-")
        high = high or low
        for bound in (low, high):
            if not _CODE.match(bound):
                raise ValueError(f"{item!r} is not a code or a range of codes such as T90-T98")
        if low > high[: len(low)]:
            raise ValueError(f"range {item!r} runs backwards ({low} is after {high})")
        ranges.append((low, high))
    return tuple(ranges)


@dataclass(frozen=True)
class Rule:
    """One check of the rule book.

    Attributes
    ----------
    id, severity, enabled, field, title_zh : as in the rule book
    params : dict
        The rule's thresholds and code ranges, by name.
    message_zh, message_en, suggestion : str
        :meth:`str.format` templates filled per finding.
    """

    id: str
    severity: str
    enabled: bool
    params: dict
    message_zh: str
    message_en: str
    suggestion: str
    field: str
    title_zh: str

    @property
    def fields(self) -> tuple[str, ...]:
        """The record columns the rule reads (``field`` split on commas)."""
        return tuple(f.strip() for f in self.field.split(",") if f.strip())

    @property
    def placeholders(self) -> frozenset[str]:
        """Names used by the three message templates."""
        return frozenset(name for key in TEMPLATE_KEYS for name in _template_names(getattr(self, key)))

    def format(self, **values) -> tuple[str, str, str]:
        """``(message_zh, message_en, suggestion)`` of one finding; parameters fill in by themselves."""
        filled = {**{k: _param_text(v) for k, v in self.params.items()}, **values}
        return tuple(getattr(self, key).format(**filled) for key in TEMPLATE_KEYS)

    def fill(self, n: int, values: dict) -> tuple[tuple[list, list, list], np.ndarray]:
        """The three texts of ``n`` findings, each template filled once per distinct combination of values.

        The texts of a combination are remembered across calls (up to :data:`REMEMBERED` per rule and its
        templates and parameters), so a batch or request repeating earlier combinations formats none.

        Parameters
        ----------
        n : int
            Number of findings.
        values : dict
            Each placeholder the templates use (other than parameters): one value for all findings, or
            ``n`` values (Arrow, or NumPy holding integers or text); missing values read as ``""``.

        Returns
        -------
        texts : tuple of three lists of str
            ``message_zh``, ``message_en`` and ``suggestion`` of each distinct combination of values.
        index : numpy.ndarray
            Each finding's combination (int64).
        """
        names = _placeholders(self)
        missing = [name for name in names if name not in values]
        if missing:
            raise KeyError(f"rule {self.id}: no value for placeholder(s) {', '.join(missing)}")
        combos, index = _combinations([values[name] for name in names], n)
        question = ("messages", self.message_zh, self.message_en, self.suggestion, *names,
                    *(f"{k}={v!r}" for k, v in self.params.items()))
        texts = per_text(combos, question, lambda new: [self.format(**dict(zip(names, combo))) for combo in new],
                         limit=REMEMBERED)
        return tuple([t[k] for t in texts] for k in range(3)), index

    def render(self, n: int, **values) -> tuple[pa.Array, pa.Array, pa.Array]:
        """The three texts of ``n`` findings as dictionary arrays (:meth:`fill`).

        Parameters
        ----------
        n : int
            Number of findings.
        **values : str or pyarrow.Array
            Each placeholder the templates use (other than parameters): one
            text for all findings or an array of ``n`` values.

        Returns
        -------
        tuple of pyarrow.DictionaryArray
            ``message_zh``, ``message_en``, ``suggestion``.
        """
        texts, index = self.fill(n, values)
        indices = pa.array(index.astype(np.int32))
        return tuple(pa.DictionaryArray.from_arrays(indices, pa.array(texts[k], pa.string())) for k in range(3))


#: Combinations remembered per rule: messages quoting dates or amounts are nearly all distinct, and a
#: long-running service would otherwise keep up to :data:`foundation.remembered.LIMIT` texts of each.
REMEMBERED = 4096
_PLACEHOLDERS: dict[tuple, list[str]] = {}


def _placeholders(rule: Rule) -> list[str]:
    """The placeholders of the rule's templates that are not its parameters (templates parsed once)."""
    key = (rule.message_zh, rule.message_en, rule.suggestion, tuple(rule.params))
    names = _PLACEHOLDERS.get(key)
    if names is None:
        if len(_PLACEHOLDERS) >= 1024:  # rule books edited in a long-running process
            _PLACEHOLDERS.clear()
        names = _PLACEHOLDERS[key] = sorted(rule.placeholders - set(rule.params))
    return names


def _combinations(columns: list, n: int) -> tuple[list[tuple], np.ndarray]:
    """The distinct combinations (tuples of text) of the value columns and each row's combination: a few
    findings (one record's) grouped in Python, many with NumPy and Arrow, whose fixed cost per call is then
    the smaller part."""
    if n <= FEW:
        combos: dict[tuple, int] = {}
        rows = zip(*(_few_texts(column, n) for column in columns)) if columns else itertools.repeat((), n)
        index = np.fromiter((combos.setdefault(row, len(combos)) for row in rows), np.int64, n)
        return list(combos), index
    parts = [_many_texts(column, n) for column in columns]
    key = lexicographic_key([(codes, len(texts)) for codes, texts in parts], n)
    _, first, index = np.unique(key, return_index=True, return_inverse=True)
    return [tuple(texts[codes[row]] for codes, texts in parts) for row in first.tolist()], index.astype(np.int64)


def _few_texts(value, n: int):
    """A value as text for each of ``n`` findings, in Python."""
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        value = (value if value.type == pa.string() else value.cast(pa.string())).to_pylist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    else:
        return itertools.repeat(str(value), n)
    return ["" if v is None else str(v) for v in value]


def _many_texts(value, n: int) -> tuple[np.ndarray, list[str]]:
    """A value as codes into its distinct texts, for ``n`` findings, with Arrow."""
    if not isinstance(value, (pa.Array, pa.ChunkedArray, np.ndarray)):
        return np.zeros(n, dtype=np.int64), [str(value)]
    if isinstance(value, np.ndarray):
        value = pa.array(value)
    if isinstance(value, pa.DictionaryArray) and pa.types.is_string(value.type.value_type):
        # codes into texts already (e.g. :func:`grouper.results.take_text`): no text is read; a null is one more code
        texts = ["" if text is None else text for text in value.dictionary.to_pylist()]
        codes = pc.fill_null(value.indices.cast(pa.int64()), len(texts)).to_numpy(zero_copy_only=False)
        return codes, texts + [""]
    encoded = pc.fill_null(value.cast(pa.string()), "").dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _template_names(template: str) -> list[str]:
    names = []
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is not None:
            if not name.isidentifier():
                raise ValueError(f"placeholder {{{name}}} must be a plain name")
            names.append(name)
            names.extend(_template_names(spec or ""))
    return names


def _param_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


class RuleBook:
    """The rules in book order, by id.

    Use :meth:`load`.  ``book.rule(id)`` gives a :class:`Rule`,
    ``book.enabled(id)`` whether it runs.
    """

    def __init__(self, rules: dict[str, Rule], sources: tuple[str, ...]):
        self._rules = dict(rules)
        self.sources = sources

    @classmethod
    def load(cls, path: str | Path | None = None, *, bundled: Path = BUNDLED) -> "RuleBook":
        """The bundled rule book, with a user's file merged onto it when ``path`` is given.

        ``bundled`` names another book of the same format (the audit screens' ``audit/screens.toml``).

        Raises
        ------
        RuleBookError
            Naming the file, rule and key of the first problem.
        """
        book = _bundled(Path(bundled))
        if path is None:
            return book
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise RuleBookError(f"rule book {path} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleBookError(f"rule book {path} cannot be read: {exc}") from None
        return book.merged(text, str(path))

    @classmethod
    def loads(cls, text: str, source: str = "<text>", *, bundled: Path = BUNDLED) -> "RuleBook":
        """The bundled rule book with the TOML ``text`` merged onto it."""
        return _bundled(Path(bundled)).merged(text, source)

    def merged(self, text: str, source: str) -> "RuleBook":
        """A new book: this one with the rules of the TOML ``text`` (partial) laid over it."""
        changes = _rules_table(_parse(text, source), source)
        rules = dict(self._rules)
        for rule_id, keys in changes.items():
            where = f"{source}: rule {rule_id}"
            if rule_id not in rules:
                raise RuleBookError(f"{where}: unknown rule; known rules: {', '.join(rules)}")
            rules[rule_id] = _override(rules[rule_id], keys, where)
        return RuleBook(rules, (*self.sources, source))

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError naming the known ids when there is none)."""
        try:
            return self._rules[rule_id]
        except KeyError:
            raise KeyError(f"unknown rule {rule_id!r}; known rules: {', '.join(self._rules)}") from None

    def enabled(self, rule_id: str) -> bool:
        """Whether the rule runs."""
        return self.rule(rule_id).enabled

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._rules)

    def __iter__(self):
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: id, severity, enabled, field, title_zh, params (text), messages."""
        return pd.DataFrame([{
            "rule_id": r.id, "severity": r.severity, "enabled": r.enabled, "field": r.field,
            "title_zh": r.title_zh,
            "params": "; ".join(f"{k} = {_param_text(v)}" for k, v in r.params.items()),
            "message_zh": r.message_zh, "message_en": r.message_en, "suggestion": r.suggestion,
        } for r in self])


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleBookError(f"{source}: not valid TOML: {exc}") from None


def _rules_table(data: dict, source: str) -> dict:
    unknown = [k for k in data if k not in ("rules", "description")]
    if unknown:
        raise RuleBookError(f"{source}: unknown top-level key(s) {', '.join(unknown)}; rules go in [rules.RULE_ID] tables")
    rules = data.get("rules", {})
    if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
        raise RuleBookError(f"{source}: each rule must be a table [rules.RULE_ID]")
    return rules


@lru_cache(maxsize=4)
def _bundled(path: Path = BUNDLED) -> RuleBook:
    source = str(path)
    rules = {}
    for rule_id, keys in _rules_table(_parse(path.read_text(encoding="utf-8"), source), source).items():
        where = f"{source}: rule {rule_id}"
        missing = [k for k in STANDARD_KEYS if k not in keys]
        if missing:
            raise RuleBookError(f"{where}: missing key(s) {', '.join(missing)}")
        params = {k: v for k, v in keys.items() if k not in STANDARD_KEYS}
        rule = Rule(rule_id, keys["severity"], keys["enabled"], params, keys["message_zh"], keys["message_en"],
                    keys["suggestion"], keys["field"], keys["title_zh"])
        _check(rule, rule, where, fatal_ok=True)
        rules[rule_id] = rule
    return RuleBook(rules, (source,))


def _override(default: Rule, keys: dict, where: str) -> Rule:
    changes, params = {}, dict(default.params)
    for key, value in keys.items():
        if key == "field":
            raise RuleBookError(f"{where}: key 'field' is fixed by the bundled rule book and cannot be changed")
        if key in STANDARD_KEYS:
            changes[key] = value
        elif key in default.params:
            params[key] = value
        else:
            known = [k for k in STANDARD_KEYS if k != "field"] + list(default.params)
            raise RuleBookError(f"{where}: unknown key {key!r}; keys of this rule: {', '.join(known)}")
    if default.severity == "fatal":
        for key in ("severity", "enabled"):
            if key in changes and changes[key] != getattr(default, key):
                raise RuleBookError(
                    f"{where}: '{key}' of a fatal rule is fixed: fatal findings are exactly the records "
                    "the grouper marks invalid (诊断/手术操作不能转换、信息校验不通过)"
                )
    rule = replace(default, params=params, **changes)
    _check(rule, default, where, fatal_ok=default.severity == "fatal")
    return rule


def _check(rule: Rule, default: Rule, where: str, *, fatal_ok: bool) -> None:
    """Validate ``rule`` against its bundled form ``default`` (types, ranges, placeholders)."""
    allowed = ("fatal",) if fatal_ok and default.severity == "fatal" else tuple(s for s in SEVERITIES if s != "fatal")
    if rule.severity not in allowed:
        raise RuleBookError(f"{where}: severity {rule.severity!r} is not one of {', '.join(allowed)}")
    if not isinstance(rule.enabled, bool):
        raise RuleBookError(f"{where}: 'enabled' must be true or false, not {rule.enabled!r}")
    for key in ("field", *TEXT_KEYS):
        if not isinstance(getattr(rule, key), str):
            raise RuleBookError(f"{where}: {key!r} must be text, not {getattr(rule, key)!r}")
    for key, value in rule.params.items():
        _check_param(key, value, default.params[key], f"{where}, key {key!r}")
    for key, value in rule.params.items():
        if key.startswith("min_") and f"max_{key[4:]}" in rule.params and value > rule.params[f"max_{key[4:]}"]:
            raise RuleBookError(f"{where}: {key} = {value} is above max_{key[4:]} = {rule.params[f'max_{key[4:]}']}")
    known = set(rule.params) | (default.placeholders if default is not rule else set())
    for key in TEMPLATE_KEYS:
        try:
            names = _template_names(getattr(rule, key))
        except ValueError as exc:
            raise RuleBookError(f"{where}, key {key!r}: bad template: {exc}") from None
        unknown = sorted(set(names) - known) if default is not rule else []
        if unknown:
            raise RuleBookError(
                f"{where}, key {key!r}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                f"this rule offers {', '.join('{' + n + '}' for n in sorted(known))}"
            )


def _check_param(key: str, value, default, where: str) -> None:
    def kind(v) -> str:
        if isinstance(v, bool):
            return "true or false"
        if isinstance(v, int):
            return "a whole number"
        if isinstance(v, float):
            return "a number"
        if isinstance(v, str):
            return "text"
        if isinstance(v, list):
            return "a list"
        return type(v).__name__

    same = kind(value) == kind(default) or (isinstance(default, float) and isinstance(value, int)
                                            and not isinstance(value, bool))
    if not same:
        raise RuleBookError(f"{where}: must be {kind(default)}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise RuleBookError(f"{where}: must not be negative, found {value}")
    if isinstance(value, list):
        inner = default[0] if default else value[0] if value else ""
        if any(kind(v) != kind(inner) for v in value):
            raise RuleBookError(f"{where}: every item must be {kind(inner)}, found {value!r}")
    if key.endswith("codes"):
        try:
            code_ranges(value)
        except ValueError as exc:
            raise RuleBookError(f"{where}: {exc}") from None
    if key.endswith("pattern"):
        try:
            re.compile(value)
        except re.error as exc:
            raise RuleBookError(f"{where}: not a regular expression: {exc}") from None


__all__ = ["BUNDLED", "Rule", "RuleBook", "RuleBookError", "code_ranges"]
