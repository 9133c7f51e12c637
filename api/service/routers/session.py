"""登录与审计日志 (sign-in tokens, the caller, the audit log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from api.service.auth import ROLES
from api.service.deps import PrincipalDep, ServiceDep
from api.service.schemas import AuditEntry, ErrorOut, Me, TokenIn, TokenOut
from api.service.store import audit

router = APIRouter(prefix="/v1", tags=["认证 auth"])


@router.post("/auth/token", response_model=TokenOut, responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
             summary="用 API 密钥登录 sign in with an API key")
def sign_in(body: TokenIn, service: ServiceDep, request: Request) -> TokenOut:
    """Exchange an API key for a short-lived signed token (the web page keeps it in session storage).

    Failed sign-ins are limited per client address (``failed_sign_ins_per_min``): past the limit the
    address gets 429 without its key being tried, and the audit log gets no line."""
    address = f"address:{request.client.host if request.client else ''}"
    failures = service.sign_in_failures
    if failures.exhausted(address):
        failures.check(address)  # raises the 429 with its Retry-After
    principal = service.auth.from_key(body.api_key)
    if principal is None:
        failures.check(address)
        audit(service.db, None, "sign-in-failed", address, 401)
        raise HTTPException(401, "API 密钥无效 (invalid API key)")
    service.limiter.check(principal.key_id)
    audit(service.db, principal, "sign-in", f"key:{principal.key_id}")
    return TokenOut(token=service.auth.token(principal), expires_in=service.auth.ttl, role=principal.role,
                    hospital_id=principal.hospital_id)


@router.get("/auth/me", response_model=Me, responses={401: {"model": ErrorOut}}, summary="当前用户 who am I")
def me(principal: PrincipalDep) -> Me:
    return Me(key_id=principal.key_id, role=principal.role, role_zh=ROLES[principal.role],
              hospital_id=principal.hospital_id)


@router.get("/audit-log", response_model=list[AuditEntry], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
            summary="审计日志 audit log (payer, auditor)")
def audit_log(service: ServiceDep, principal: PrincipalDep,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              before: Annotated[int | None, Query(ge=1, le=2**62, description="只看此编号之前 (entries before this id)")] = None,
              ) -> list[AuditEntry]:
    """Who read or changed what, newest first (append-only)."""
    principal.require("payer", "auditor")
    with service.db.connect() as conn:
        rows = conn.rows("SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?", (before or 2**62, limit))
    audit(service.db, principal, "read", "audit-log")
    return [AuditEntry(**r) for r in rows]
