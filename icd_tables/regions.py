"""Pooling regions (统筹区) of definition packs, weight tables and policies, and whether two of them agree.

A regional pack's manifest records its region as the first part of its name (``haerbin`` for
``haerbin-2022``); a weight table or a policy may declare one too, spelled as the pack does, in
another romanisation (``harbin``) or in Chinese (``哈尔滨``).  National packs accept any region.
"""

from __future__ import annotations

#: Region key → Chinese name, for the regions of the packs we know; others show their key only.
REGION_NAMES = {
    "anyang": "安阳", "beijing": "北京", "changsha": "长沙", "changzhou": "常州", "chongqing": "重庆",
    "foshan": "佛山", "guangxi": "广西", "haerbin": "哈尔滨", "handan": "邯郸", "hefei": "合肥",
    "lanzhou": "兰州", "liaocheng": "聊城", "linfen": "临汾", "qingdao": "青岛", "wlmq": "乌鲁木齐",
    "wuhan": "武汉", "yancheng": "盐城", "yantai": "烟台", "yinchuan": "银川", "yunnan": "云南",
    "zhejiang": "浙江",
}
#: Other spellings → region key.
ALIASES = {"harbin": "haerbin", "urumqi": "wlmq", "wulumuqi": "wlmq", **{zh: key for key, zh in REGION_NAMES.items()}}
#: Region of the national packs, which accept weights and policies of any region.
NATIONAL = "全国 (national)"


def region_key(text: str | None) -> str:
    """The canonical key of a region as written anywhere: lower case, year and 市/省 suffixes dropped.

    ``"Harbin-2022"``, ``"haerbin"`` and ``"哈尔滨市"`` all give ``"haerbin"``; ``""`` for none.
    """
    key = (text or "").strip().lower()
    head, _, tail = key.rpartition("-")
    if head and tail.isdigit():
        key = head
    key = key.removesuffix("市").removesuffix("省")
    return ALIASES.get(key, key)


def region_label(region: str) -> str:
    """A region for display: its key with the Chinese name where known (``haerbin 哈尔滨``)."""
    if region == NATIONAL or not region:
        return region or "-"
    key = region_key(region)
    return f"{key} {REGION_NAMES[key]}" if key in REGION_NAMES else region


def is_national(region: str) -> bool:
    return region == NATIONAL or region_key(region) in ("全国", "national")


def region_conflict(pack_region: str, other_region: str | None) -> bool:
    """True when a regional pack meets a table or policy declaring another region (no declaration: no conflict)."""
    if not other_region or not pack_region or is_national(pack_region):
        return False
    return region_key(pack_region) != region_key(other_region)


class RegionMismatchError(ValueError):
    """A weight table or policy of one region meets a pack of another."""


def check_regions(pack: str, pack_region: str, pack_year: str, others, *, force: bool = False) -> list[str]:
    """Refuse tables or policies of another region than the pack's; warn where only the year differs.

    Parameters
    ----------
    pack : str
        The pack's name, for messages.
    pack_region, pack_year : str
        From the pack's manifest (``version`` is the year of a regional pack).
    others : iterable of (what, region, year)
        E.g. ``("weight table harbin-2022", "harbin", 2022)``; an empty region or year declares none.
    force : bool
        Accept a region mismatch (it becomes a warning).

    Returns
    -------
    list of str
        Warnings (year differences, forced mismatches), English and Chinese.

    Raises
    ------
    RegionMismatchError
        A declared region differs from a regional pack's, without ``force``.
    """
    warnings = []
    for what, region, year in others:
        if region_conflict(pack_region, region):
            message = (f"{what} is for region {region_label(region)}, but pack {pack} is for "
                       f"{region_label(pack_region)} ({what} 的统筹区与分组方案 {pack} 不一致)")
            if not force:
                raise RegionMismatchError(f"{message}; use the pack of that region, or --force to use them anyway")
            warnings.append(f"warning: {message}; used anyway (--force)")
        if year and pack_year.isdigit() and str(year) != pack_year and not is_national(pack_region):
            warnings.append(f"warning: {what} is for {year}, pack {pack} for {pack_year} "
                            f"(年度不一致，仅提示)")
    return warnings


__all__ = ["NATIONAL", "REGION_NAMES", "RegionMismatchError", "check_regions", "is_national", "region_conflict",
           "region_key", "region_label"]
