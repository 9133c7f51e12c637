"""The one line every command prints to say what it worked with: pack, weights, policy."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def in_use_line(pack: str | None = None, weights: str | None = None, policy: str | None = None) -> str:
    """``使用 in use: 分组方案 pack chs-drg-1.1@6f43… · 权重 weights harbin-2022 · 政策 policy v1``.

    Parts not given are left out; a pack of already grouped cases is shown as the cases name it.
    """
    parts = [f"分组方案 pack {pack or '-'}"]
    if weights:
        parts.append(f"权重 weights {weights}")
    if policy:
        parts.append(f"政策 policy {policy}")
    return "使用 in use: " + " · ".join(parts)


def pack_versions(cases: pa.Table) -> str | None:
    """The pack version(s) cases were grouped with, as their ``pack_version`` column names them."""
    if "pack_version" not in cases.column_names:
        return None
    return ", ".join(sorted(v for v in pc.unique(cases.column("pack_version").cast(pa.string())).to_pylist() if v))


__all__ = ["in_use_line", "pack_versions"]
