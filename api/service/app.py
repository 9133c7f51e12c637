"""The HTTP service (``drg serve``): FastAPI app factory, lifespan, limits and error handling.

Heavy state — the compiled pack, the weight table, the policy — loads once in the lifespan;
the schema is migrated there too.  Every error answers JSON ``{"detail": …}``; an unexpected one
answers 500 with a reference id and is logged with its traceback on the server only.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.service.auth import NOT_FOUND, Authenticator, Denied, RateLimiter, token_secret
from api.service.db import Database, is_conflict
from api.service.deps import Service
from api.service.engine import Engine
from api.service.fast import OneRecordGrouper
from api.service.guard import RequestGuard
from api.service.schemas import ErrorOut
from api.service.store import audit as write_audit
from api.service.routers import audit, catalogue, grouping, hospitals, session, settlements, web
from api.service.settings import Settings
from api.service.uploads import JobRunner
from api.service.visibility import RoleView

#: The answer to a change that lost a race with another one on the same cases (nothing of it was stored).
CONFLICT = "并发修改冲突，本次未保存，请重试 (another change to the same cases came first; nothing was stored: try again)"
log = logging.getLogger("drg.service")
#: Answers any route may give.
COMMON_ERRORS = {400: "请求格式错误 malformed request", 401: "未认证 not authenticated", 413: "请求过大 body too large",
                 422: "输入有误 invalid input", 429: "请求过于频繁 rate limited"}

DESCRIPTION = """\
DRG 分组与支付服务：医院 HIS 提交病案首页，即时返回 DRG、分组原因、质控问题与预计支付；医院查看本院的分组结果、
绩效指标与结算单；医保经办机构上传月度批量数据、发起结算并查看全部数据。

Authentication: `Authorization: Bearer <API key or token>` or `X-API-Key: <API key>`.
Roles: `hospital` and `coder` (one hospital), `payer` (all), `auditor` (read-only, all).
Another hospital's case, summary, job, statement or audit flag answers 404; a route the role may not use answers 403.
"""


#: Pydantic error types in Chinese (the English message follows each).
VALIDATION_ZH = {
    "missing": "缺少必填项", "json_invalid": "JSON 格式错误", "int_parsing": "应为整数", "int_type": "应为整数",
    "float_parsing": "应为数字", "string_type": "应为文本", "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象", "date_from_datetime_parsing": "应为日期",
    "date_parsing": "应为日期 YYYY-MM-DD", "literal_error": "不是允许的取值", "enum": "不是允许的取值",
    "string_too_long": "文本过长", "string_too_short": "文本过短", "too_long": "项数过多", "too_short": "项数过少",
    "greater_than_equal": "数值过小", "less_than_equal": "数值过大", "string_pattern_mismatch": "格式不符",
    "extra_forbidden": "不接受的字段",
}


def validation_text(errors: list[dict]) -> str:
    """A 422 answer in words, Chinese then English like every other error: ``请求内容无效 (invalid request):
    body.age_years 应为整数 (Input should be a valid integer …)``."""
    parts = [f"{'.'.join(e['loc'])} {VALIDATION_ZH.get(e['type'], '取值无效')} ({e['msg']})" for e in errors]
    return "请求内容无效 (invalid request): " + "; ".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the ``DRG_SERVICE_*`` environment."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = Database(settings.database_url, settings.database_schema)
        try:
            db.migrate()
            engine = Engine(settings.pack, settings.weights, settings.policy, settings.hospitals)
            auth = Authenticator(db, token_secret(db, settings.secret_key), settings.token_ttl_s)
            failures = settings.failed_sign_ins_per_min
            service = Service(settings, db, engine, auth, RateLimiter(settings.rate_limit_per_s, settings.rate_burst),
                              None, OneRecordGrouper(engine.grouper), RateLimiter(failures / 60, failures))
            service.jobs = JobRunner(service)
            service.jobs.sweep()
            app.state.service = service
            yield
            service.jobs.close()
        finally:
            db.close()

    # /docs with Swagger UI served by the service itself (fastapi-offline bundles it; no validator badge), /redoc
    # from the web router with the same package's ReDoc: an intranet without internet gets working docs
    app = FastAPIOffline(title="DRG 分组与支付服务 (drg-engine service)", version="1", description=DESCRIPTION,
                         lifespan=lifespan, redoc_url=None, swagger_ui_parameters={"validatorUrl": None})
    common = {code: {"model": ErrorOut, "description": text} for code, text in COMMON_ERRORS.items()}
    for module in (grouping, catalogue, hospitals, settlements, audit, session, web):
        app.include_router(module.router, responses=common)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc, Denied):
            principal = getattr(request.state, "principal", None)
            await run_in_threadpool(write_audit, request.app.state.service.db, principal, "denied",
                                    f"{request.method} {request.url.path}"[:500], exc.status_code)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not only those of the first route matched
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        detail = NOT_FOUND if exc.status_code == 404 and exc.detail == "Not Found" else exc.detail  # no such route
        return JSONResponse({"detail": detail}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # where and what, never the input itself (it may be megabytes, or a value JSON cannot carry)
        errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()[:20]]
        return JSONResponse({"detail": validation_text(errors), "errors": errors}, 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        if is_conflict(exc):
            return JSONResponse({"detail": CONFLICT}, 409)
        ref = secrets.token_hex(6)
        log.error("unexpected error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": f"内部错误，请联系管理员 (internal error, reference {ref})"}, 500)

    app.add_middleware(RoleView)
    app.add_middleware(RequestGuard, limit=settings.max_upload_mb * 2**20, body_timeout_s=settings.body_timeout_s)
    return app


__all__ = ["create_app"]
