"""The workbench (工作台): one HTML page, its scripts and styles, and the bundled chart library, all
served by the service itself so that nothing loads from outside an offline intranet."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.service.auth import NOT_FOUND

STATIC = Path(__file__).resolve().parents[1] / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".html": "text/html; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
#: The files that may be served, by their path under ``static/`` (fixed when the service starts).
FILES = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.suffix in MEDIA_TYPES}
router = APIRouter(include_in_schema=False)
#: ReDoc as fastapi-offline bundles it; its one address outside (Redocly's logo under the menu) is replaced.
REDOC_JS = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
REDOC_OUTSIDE = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def redoc_js() -> bytes:
    """The ReDoc bundle with its logo address emptied: the image fails locally and ReDoc hides it."""
    return REDOC_JS.read_text(encoding="utf-8").replace(REDOC_OUTSIDE, "data:,").encode()


#: The workbench page may load and call nothing but the service itself (the browser enforces it).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type=MEDIA_TYPES[".html"],
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP})


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} - ReDoc",
                          redoc_js_url=f"{root}/static/redoc.standalone.js", with_google_fonts=False,
                          redoc_favicon_url=f"{root}/static-offline-docs/favicon.png")


@router.get("/static/redoc.standalone.js")
def redoc_script() -> Response:
    return Response(redoc_js(), media_type=MEDIA_TYPES[".js"])


@router.get("/static/{name:path}")
def static(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise HTTPException(404, NOT_FOUND)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})

