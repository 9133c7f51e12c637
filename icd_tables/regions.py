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


__all__ = ["NATIONAL", "REGION_NAMES", "is_national", "region_conflict", "region_key", "region_label"]
