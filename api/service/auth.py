"""Who is calling (认证) and what they may see (授权).

Credentials
-----------
* **API keys** ``drg_<key id>_<secret>``, created by ``drg serve --create-key ROLE [--hospital H]``
  and printed once; the database keeps only their SHA-256.  Sent as ``Authorization: Bearer KEY``
  or ``X-API-Key: KEY``.
* **Sign-in tokens** for the web page: ``POST /v1/auth/token`` with a key returns a token signed
  with HMAC-SHA256 (itsdangerous), valid ``token_ttl_s`` seconds (default 15 minutes), sent as
  ``Authorization: Bearer TOKEN``.  A revoked key's tokens stop working within
  :data:`CACHE_SECONDS`.

Roles (角色)
------------
``hospital`` 医院 and ``coder`` 编码员 are scoped to one hospital; ``payer`` 医保经办 sees and runs
everything; ``auditor`` 审计 reads everything and changes nothing.  A route the role may not use
answers 403; a hospital, case, job or run of another hospital answers 404, exactly as if it did not
exist, so that no credential can learn what another hospital holds.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.service.db import Database, utcnow

ROLES = {"hospital": "医院", "coder": "编码员", "payer": "医保经办机构", "auditor": "审计（只读）"}
SCOPED_ROLES = ("hospital", "coder")
#: Seconds a key lookup is cached (a revoked key stops working within this time).
CACHE_SECONDS = 30.0
KEY_PREFIX = "drg_"

NOT_SIGNED_IN = "未认证：请提供 API 密钥或登录令牌 (not authenticated: send an API key or a sign-in token)"
FORBIDDEN = "无权限：角色 {role} 不能使用此功能 (forbidden: role {role} may not use this route)"
NOT_FOUND = "未找到 (not found)"


class Denied(HTTPException):
    """A refusal of something the caller's role or hospital does not allow (403, or 404 for another
    hospital's object); the service writes each one to the audit log (action ``denied``)."""


class KeyCreationError(ValueError):
    """A key cannot be created as asked (unknown role, hospital missing or not allowed)."""


@dataclass(frozen=True)
class Principal:
    """The caller: key id, role and, for scoped roles, the hospital."""

    key_id: str
    role: str
    hospital_id: str | None

    @property
    def scoped(self) -> bool:
        return self.role in SCOPED_ROLES

    def require(self, *roles: str) -> None:
        """403 unless the caller has one of ``roles``."""
        if self.role not in roles:
            raise Denied(403, FORBIDDEN.format(role=self.role))

    def check_hospital(self, hospital_id: str | None) -> None:
        """404 when a scoped caller asks for another hospital's object."""
        if self.scoped and hospital_id != self.hospital_id:
            raise self.denied()

    def hospital_scope(self, hospital_id: str | None) -> str | None:
        """The hospital a query reads: a scoped caller's own (asking for another one: 404); for payer and
        auditor the one asked for, or ``None`` for all."""
        if self.scoped:
            self.check_hospital(hospital_id if hospital_id is not None else self.hospital_id)
            return self.hospital_id
        return hospital_id

    def denied(self) -> Denied:
        """The 404 for an object that exists but belongs to another hospital (logged as denied)."""
        return Denied(404, NOT_FOUND)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: Database, role: str, hospital_id: str | None = None, label: str = "") -> tuple[str, str]:
    """Create an API key; returns ``(key_id, key)``.  The key itself is not stored and cannot be shown again.

    Raises
    ------
    KeyCreationError
        Unknown role; a hospital or coder key without ``hospital_id``; a payer or auditor key with one.
    """
    if role not in ROLES:
        raise KeyCreationError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role in SCOPED_ROLES and not hospital_id:
        raise KeyCreationError(f"a {role} key belongs to one hospital: give --hospital HOSPITAL_ID")
    if role not in SCOPED_ROLES and hospital_id:
        raise KeyCreationError(f"a {role} key covers every hospital; leave out --hospital")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    with db.connect(write=True) as conn:
        conn.execute("INSERT INTO api_keys (key_id, key_hash, role, hospital_id, label, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (key_id, hash_key(key), role, hospital_id, label, utcnow()))
    return key_id, key


def revoke_key(db: Database, key_id: str) -> bool:
    with db.connect(write=True) as conn:
        found = conn.one("SELECT key_id FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", (key_id,))
        if found:
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (utcnow(), key_id))
    return found is not None


def list_keys(db: Database) -> list[dict]:
    with db.connect() as conn:
        return conn.rows("SELECT key_id, role, hospital_id, label, created_at, revoked_at FROM api_keys "
                         "ORDER BY created_at, key_id")


def token_secret(db: Database, configured: str | None) -> str:
    """The token-signing secret: configured, or one random secret kept in the database for every worker."""
    if configured:
        return configured
    with db.connect(write=True) as conn:
        conn.execute("INSERT INTO service_settings (name, value) VALUES ('token_secret', ?) ON CONFLICT DO NOTHING",
                     (secrets.token_urlsafe(32),))
        return conn.one("SELECT value FROM service_settings WHERE name = 'token_secret'")["value"]


class Authenticator:
    """Checks keys and tokens; caches key lookups for :data:`CACHE_SECONDS`."""

    def __init__(self, db: Database, secret: str, token_ttl_s: int):
        self.db = db
        self.ttl = token_ttl_s
        self.signer = URLSafeTimedSerializer(secret, salt="drg-service-token")
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def _lookup(self, column: str, value: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(f"{column}:{value}")
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self.db.connect() as conn:
            row = conn.one(f"SELECT key_id, role, hospital_id FROM api_keys WHERE {column} = ? AND revoked_at IS NULL",
                           (value,))
        found = Principal(row["key_id"], row["role"], row["hospital_id"]) if row else None
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[f"{column}:{value}"] = (now, found)
        return found

    def from_key(self, key: str) -> Principal | None:
        return self._lookup("key_hash", hash_key(key)) if key.startswith(KEY_PREFIX) else None

    def from_credential(self, credential: str | None) -> Principal:
        """The caller of a key or a token; 401 when it is neither."""
        if not credential:
            raise HTTPException(401, NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})
        if credential.startswith(KEY_PREFIX):
            principal = self.from_key(credential)
        else:
            try:
                data = self.signer.loads(credential, max_age=self.ttl)
            except SignatureExpired:
                raise HTTPException(401, "登录已过期，请重新登录 (token expired: sign in again)",
                                    headers={"WWW-Authenticate": "Bearer"}) from None
            except BadSignature:
                principal = None
            else:
                principal = self._lookup("key_id", str(data.get("k", ""))) if isinstance(data, dict) else None
        if principal is None:
            raise HTTPException(401, "API 密钥或令牌无效 (invalid API key or token)",
                                headers={"WWW-Authenticate": "Bearer"})
        return principal

    def token(self, principal: Principal) -> str:
        return self.signer.dumps({"k": principal.key_id})


class RateLimiter:
    """Token bucket per credential: ``rate`` requests per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def exhausted(self, key: str) -> bool:
        """Whether ``key`` has no request left now (nothing is counted)."""
        with self._lock:
            return self.rate > 0 and self._tokens(key, time.monotonic()) < 1

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 100_000:  # full buckets carry no state: forget them all
                self._buckets.clear()
            tokens = self._tokens(key, now)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = max(1, int((1 - tokens) / self.rate + 0.999))
                raise HTTPException(429, f"请求过于频繁，请 {wait} 秒后重试 (rate limit: retry in {wait} s)",
                                    headers={"Retry-After": str(wait)})
            self._buckets[key] = (tokens - 1, now)


__all__ = ["FORBIDDEN", "NOT_FOUND", "NOT_SIGNED_IN", "ROLES", "Authenticator", "Denied", "KeyCreationError", "Principal",
           "RateLimiter", "create_key", "hash_key", "list_keys", "revoke_key", "token_secret"]
