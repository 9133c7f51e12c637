"""``drg serve``: the HTTP service (FastAPI on uvicorn), and its API keys.

Options are handed to every worker process as ``DRG_SERVICE_*`` environment variables
(:class:`api.service.settings.Settings`).  DuckDB (the default) is one process; give a
PostgreSQL ``--database`` URL for ``--workers`` above 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from icd_tables.pack import Pack

SETTING_OPTIONS = {"database": "database_url", "schema": "database_schema", "pack": "pack", "weights": "weights",
                   "policy": "policy", "hospitals": "hospitals", "job_dir": "job_dir",
                   "max_upload_mb": "max_upload_mb", "rate_limit": "rate_limit_per_s", "rate_burst": "rate_burst",
                   "background_threshold": "background_threshold", "token_ttl": "token_ttl_s"}


class ServeUsageError(Exception):
    """An option of ``drg serve`` that cannot be used as given (exit 2)."""


def _settings_env(args) -> dict[str, str]:
    env = {}
    for option, field in SETTING_OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            env[f"DRG_SERVICE_{field.upper()}"] = str(Path(value).resolve()) if option in (
                "weights", "policy", "hospitals", "job_dir") else str(value)
    return env


def _keys(args, settings) -> int:
    from api.service.auth import KeyCreationError, create_key, list_keys, revoke_key
    from api.service.db import Database

    db = Database(settings.database_url, settings.database_schema)
    try:
        db.migrate()
        if args.create_key:
            try:
                key_id, key = create_key(db, args.create_key, args.hospital, args.label or "")
            except KeyCreationError as exc:
                raise ServeUsageError(str(exc)) from None
            print(key)
            print(f"密钥 {key_id} ({args.create_key}{' ' + args.hospital if args.hospital else ''}) 已创建；"
                  "请妥善保存，密钥只显示这一次 (key created: store it now, it is shown only once)", file=sys.stderr)
        elif args.revoke_key:
            if not revoke_key(db, args.revoke_key):
                raise ServeUsageError(f"no active key {args.revoke_key!r} (see drg serve --list-keys)")
            print(f"密钥 {args.revoke_key} 已吊销 (revoked)", file=sys.stderr)
        else:
            for k in list_keys(db):
                state = f"revoked {k['revoked_at']:%Y-%m-%d}" if k["revoked_at"] else "active"
                print(f"{k['key_id']}  {k['role']:<8} {k['hospital_id'] or '-':<10} {state:<18} {k['label'] or ''}")
    finally:
        db.close()
    return 0


def cmd_serve(args) -> int:
    os.environ.update(_settings_env(args))
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from api.service.settings import Settings
    except ImportError as exc:
        raise ServeUsageError(f"the service needs its extra packages ({exc.name} is missing): "
                              "pip install -e \".[service]\"") from None

    settings = Settings()
    if args.create_key or args.list_keys or args.revoke_key:
        return _keys(args, settings)
    if args.workers > 1 and not settings.is_postgres:
        raise ServeUsageError("--workers above 1 needs PostgreSQL (--database postgresql://…); "
                              "a DuckDB file is opened by one process")

    pack = Pack.load(settings.pack)  # no pack chosen: exit 2 naming the installed packs, before the server starts
    print(f"DRG 服务 http://{args.host}:{args.port}/ (API docs /docs), database "
          f"{settings.database_url.split('@')[-1]}, {args.workers} worker(s); 分组方案 pack {pack.version}"
          f"{f', weights {settings.weights}' if settings.weights else ''}"
          f"{f', policy {settings.policy}' if settings.policy else ''}", file=sys.stderr)
    uvicorn.run("api.service.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, access_log=args.access_log)
    return 0


SERVE_EPILOG = """\
examples:
  drg serve --create-key payer                      # prints a key once
  drg serve --create-key hospital --hospital H001
  drg serve --weights w.parquet --policy payment/policies/example.toml     # http://127.0.0.1:8000/
  drg serve --database postgresql://drg@127.0.0.1/drg --workers 2 --port 8080
"""


def add_parser(sub) -> None:
    """Register ``drg serve`` on the main parser's subcommands."""
    import argparse

    p = sub.add_parser("serve", help="HTTP service for hospitals, coders and payers 分组服务",
                       epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL only above 1)")
    p.add_argument("--database", help="duckdb:///file.duckdb (default drg-service.duckdb) or postgresql://…")
    p.add_argument("--schema", help="PostgreSQL schema (default public)")
    p.add_argument("--pack", help="pack name or folder (default: the one set by 'drg packs default' or $DRG_PACK)")
    p.add_argument("--weights", type=Path, help="weight table (.parquet, or a published .csv)")
    p.add_argument("--policy", type=Path, help="payment policy (.toml); with --weights enables payments and settlements")
    p.add_argument("--hospitals", type=Path, help="hospital table (default: the policy's)")
    p.add_argument("--job-dir", type=Path, help="folder for background uploads and results")
    p.add_argument("--max-upload-mb", type=int, help="largest request body (default 512)")
    p.add_argument("--rate-limit", type=float, help="requests per second per credential (default 200; 0 = off)")
    p.add_argument("--rate-burst", type=float, help="burst size (default 400)")
    p.add_argument("--background-threshold", type=int, help="records above which uploads run in the background")
    p.add_argument("--token-ttl", type=int, help="sign-in token lifetime in seconds (default 900)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default %(default)s)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    keys = p.add_argument_group("API keys (密钥)")
    keys.add_argument("--create-key", metavar="ROLE", choices=("hospital", "coder", "payer", "auditor"),
                      help="create a key (hospital, coder, payer, auditor), print it once and exit")
    keys.add_argument("--hospital", help="the hospital of a hospital or coder key")
    keys.add_argument("--label", help="a note kept with the key")
    keys.add_argument("--list-keys", action="store_true", help="list keys (never the keys themselves) and exit")
    keys.add_argument("--revoke-key", metavar="KEY_ID", help="revoke a key and exit")
    p.set_defaults(func=cmd_serve)


__all__ = ["ServeUsageError", "add_parser"]
