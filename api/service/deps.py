"""Typed dependencies of the routes: the loaded service state and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.service.auth import Authenticator, Principal, RateLimiter
from api.service.db import Database
from api.service.engine import Engine
from api.service.settings import Settings


@dataclass
class Service:
    """Everything loaded once in the app's lifespan."""

    settings: Settings
    db: Database
    engine: Engine
    auth: Authenticator
    limiter: RateLimiter
    jobs: object  # api.service.uploads.JobRunner
    fast: object  # api.service.fast.OneRecordGrouper
    sign_in_failures: RateLimiter  # failed sign-ins per client address


async def get_service(request: Request) -> Service:
    # async: FastAPI runs a plain function dependency in its thread pool, a thread hop per request for an attribute
    return request.app.state.service


_bearer = HTTPBearer(auto_error=False, description="API 密钥 `drg_…` 或登录令牌 (API key or sign-in token)")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API 密钥 (API key)")


async def get_principal(request: Request,
                        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                        api_key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    """The authenticated caller (401 otherwise), counted against the rate limit (429)."""
    service: Service = request.app.state.service
    principal = service.auth.from_credential(bearer.credentials if bearer else api_key)
    service.limiter.check(principal.key_id)
    request.state.principal = principal
    return principal


ServiceDep = Annotated[Service, Depends(get_service)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]

__all__ = ["PrincipalDep", "Service", "ServiceDep", "get_principal", "get_service"]
