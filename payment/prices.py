"""Price tables of the non-DRG tracks: 床日付费 daily rates and 单病种 fixed prices.

One row prices an item (a DRG for the per-diem track; a principal diagnosis, optionally with a
procedure, for 单病种) for a fund, a hospital level or one hospital; a blank selector matches
every case.  A case takes the most specific row that matches it: a hospital's row before a
level's before one for every hospital, and at each of these a fund's row before one for every
fund (a 单病种 row naming the case's procedure before one without).  Among rows equally specific
for a case the first listed wins; the same selectors twice are refused when the table is read.

The rows come from the policy (inline, TOML) or from a CSV/XLSX/Parquet file it names; both
are read by :func:`price_rows`, the file's headers matched by :data:`HEADERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from foundation.headers import find_columns

#: Column → aliases of a price file (the inline form uses the canonical names).
HEADERS = {
    "drg": ("DRG", "DRG组", "病组", "DRG编码"),
    "diagnosis": ("诊断编码", "主要诊断编码", "疾病编码", "病种编码"),
    "procedure": ("手术操作编码", "手术编码", "操作编码"),
    "fund": ("基金", "险种", "统筹基金", "险种类型"),
    "level": ("医院等级", "等级", "hospital_level"),
    "hospital_id": ("hospital", "医疗机构编码", "医院编码", "机构编码"),
    "rate": ("床日费用标准", "床日标准", "日定额", "daily_rate"),
    "price": ("单病种价格", "定额", "结算标准", "支付标准"),
}
LEVEL_WORDS = {"1": 1, "2": 2, "3": 3, "一级": 1, "二级": 2, "三级": 3}


@dataclass(frozen=True)
class PriceRow:
    """One price: item (DRG or diagnosis), procedure ("" = any), fund ("" = any), level (0 = any), hospital
    ("" = any) → amount in fen (a day's rate, or a case's price)."""

    item: str
    procedure: str
    fund: str
    level: int
    hospital: str
    amount_fen: int

    def rank(self) -> int:
        """Specificity: hospital 4, level 2, fund 1 (higher wins)."""
        return 4 * bool(self.hospital) + 2 * bool(self.level) + bool(self.fund)

    def matches(self, procedures: tuple[str, ...], fund_names: tuple[str, ...], level: int, hospital: str) -> bool:
        return ((not self.procedure or self.procedure in procedures) and (not self.fund or self.fund in fund_names)
                and (not self.level or self.level == level) and (not self.hospital or self.hospital == hospital))


def price_rows(rows, item: str, amount: str, units, fail) -> tuple[PriceRow, ...]:
    """Rows (dicts of canonical names or file headers) → :class:`PriceRow`.

    Parameters
    ----------
    rows : iterable of dict
    item : {"drg", "diagnosis"}
    amount : {"rate", "price"}
        The amount column (元).
    units : callable
        ``units(text, where) → fen``: the policy's reader of money (raises through ``fail``).
    fail : callable
        ``fail(where, message)`` raises the policy's error naming the row.
    """
    out = []
    for n, row in enumerate(rows, start=1):
        cols = find_columns(row.keys(), HEADERS)
        where = f"row {n}"
        text = {k: str(row[v]).strip() if row[v] is not None and str(row[v]) not in ("nan", "None") else ""
                for k, v in cols.items()}
        extra = sorted(set(map(str, row)) - set(cols.values()))
        if extra:
            fail(where, f"unknown column {extra[0]!r} (columns: {item}, "
                        f"{'procedure, ' if item == 'diagnosis' else ''}fund, level, hospital_id, {amount})")
        if not text.get(item):
            fail(where, f"missing {item} ({' / '.join(HEADERS[item][:2])})")
        if not text.get(amount):
            fail(where, f"missing {amount} ({' / '.join(HEADERS[amount][:2])}) in 元")
        level = 0
        if text.get("level"):
            level = LEVEL_WORDS.get(text["level"].removesuffix(".0"), -1)
            if level < 0:
                fail(where, f"level {text['level']!r}: use 1, 2 or 3 (一级/二级/三级), or leave it empty")
        if item == "drg" and text.get("procedure"):
            fail(where, "procedure: only 单病种 rows name a procedure")
        fen = units(text[amount], f"{where} {amount}")
        out.append(PriceRow(text[item].upper(), text.get("procedure", "").upper(), text.get("fund", ""), level,
                            text.get("hospital_id", ""), fen))
    seen = {}
    for n, r in enumerate(out, start=1):
        key = (r.item, r.procedure, r.fund, r.level, r.hospital)
        if key in seen:
            fail(f"row {n}", f"the same {item}, procedure, fund, level and hospital as row {seen[key]} "
                             "(一个病组/病种在同一基金、等级、医院只能有一个标准)")
        seen[key] = n
    return tuple(out)


def pick(rows: list[PriceRow], procedures: tuple[str, ...], fund_names: tuple[str, ...], level: int,
         hospital: str) -> int:
    """The amount of the most specific matching row (the most specific procedure row first), or -1."""
    best = None
    for r in rows:
        if r.matches(procedures, fund_names, level, hospital):
            key = (bool(r.procedure), r.rank())
            if best is None or key > best[0]:
                best = (key, r.amount_fen)
    return -1 if best is None else best[1]


__all__ = ["HEADERS", "PriceRow", "pick", "price_rows"]
