"""The web page (医院月度看板): one HTML page and its script, served by the service."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    files = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
    if name not in files:
        from fastapi import HTTPException

        raise HTTPException(404, "未找到 (not found)")
    return FileResponse(STATIC / name, media_type=files[name])
