"""分组方案与DRG目录 (packs and the DRG catalogue)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.service.auth import NOT_FOUND
from api.service.deps import PrincipalDep, ServiceDep
from api.service.schemas import DrgEntry, ErrorOut, PackInfo

router = APIRouter(prefix="/v1/packs", tags=["目录 catalogue"])
ERRORS = {401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 429: {"model": ErrorOut}}


def _info(service) -> PackInfo:
    engine = service.engine
    return PackInfo(version=engine.pack_version, name=engine.grouper.pack.version.split("@")[0],
                    n_drgs=len(service.fast.drg) - 1, loaded=True,
                    weights_version=engine.weights_version or None, policy_version=engine.policy_version or None)


@router.get("", response_model=list[PackInfo], responses=ERRORS, summary="分组方案 packs")
def list_packs(service: ServiceDep, principal: PrincipalDep) -> list[PackInfo]:
    """The pack the service groups with, and the weight table and policy loaded beside it."""
    return [_info(service)]


@router.get("/{pack}/drgs", response_model=list[DrgEntry], responses=ERRORS, summary="DRG目录 the DRG catalogue")
def list_drgs(pack: str, service: ServiceDep, principal: PrincipalDep) -> list[DrgEntry]:
    """Every DRG of the pack (``pack``: its name or ``name@digest``) with its name, ADRG and RW."""
    info = _info(service)
    if pack not in (info.version, info.name, "current"):
        raise HTTPException(404, NOT_FOUND)
    fast, rw = service.fast, service.engine.rw
    out = []
    for drg, name in zip(fast.drg, fast.drg_names):
        if not drg or drg == "0000":
            continue
        out.append(DrgEntry(drg=drg, drg_name=name, adrg=drg[:3], rw=rw.get(drg)))
    return out
