"""Console sessions: the API key in an encrypted, HttpOnly cookie; CSRF tokens for every form.

Logging in posts the API key once (a form body, never a URL). The console answers with a
session cookie holding a Fernet token (AES-128-CBC and HMAC-SHA256, from ``cryptography``) of
the key and a random CSRF token, so that

- the key is not readable from the browser's cookie store, and a stolen cookie expires
  (``ttl``, 8 hours by default) while the key itself does not;
- every request looks the key up in the key file again: a key removed from the file ends its
  console sessions at once, and roles are always the file's;
- any worker process can open the cookie: the secret is one file shared by all of them
  (``<api key file>.session-key``, 0600, created on first use).

The cookie is ``HttpOnly``, ``SameSite=Strict``, scoped to ``/ui`` and ``Secure`` when the
request came over TLS: the service speaks plain HTTP, so that is a local TLS proxy's
``X-Forwarded-Proto: https``, which both servers take from trusted peers (``FORWARDED_ALLOW_IPS``,
default loopback; docs/SECURITY.md).
Forms that change something carry the session's CSRF token, compared in constant time; the
login form carries a token of its own (a double-submit cookie); every POST whose ``Origin`` is
another site's is refused.

>>> sessions = Sessions(Path("/tmp/console-doctest.session-key"), ttl=60)   # doctest: +SKIP
>>> token = sessions.issue("jpkf_...")                                    # doctest: +SKIP
>>> sessions.open(token).key                                              # doctest: +SKIP
'jpkf_...'
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from starlette.responses import Response

COOKIE = "jpkf_session"
LOGIN_COOKIE = "jpkf_login"
PATH = "/ui"
DEFAULT_TTL = 8 * 3600


@dataclass(frozen=True)
class Session:
    key: str
    csrf: str


def load_or_create_secret(path: Path) -> bytes:
    """The 32-byte session secret in ``path`` (hex), created 0600 if absent. Creation is atomic
    (written aside, then linked into place), so workers starting together agree on one secret."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_bytes(32).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another worker won the race: use its secret
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: not a console session secret (expected 64 hex digits)") from None
    if len(secret) != 32:
        raise ValueError(f"{path}: console session secret must be 32 bytes, not {len(secret)}")
    return secret


class Sessions:
    """Issues and opens session tokens with the secret in ``secret_path`` (read on first use)."""

    def __init__(self, secret_path: Path, ttl: int = DEFAULT_TTL) -> None:
        self.secret_path = Path(secret_path)
        self.ttl = ttl
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def _cipher(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                secret = load_or_create_secret(self.secret_path)
                self._fernet = Fernet(base64.urlsafe_b64encode(secret))
            return self._fernet

    def issue(self, key: str) -> str:
        return self._cipher().encrypt(orjson.dumps({"k": key, "c": secrets.token_urlsafe(24)})).decode("ascii")

    def open(self, token: str | None) -> Session | None:
        """The session of a cookie value, or None when it is absent, forged or expired."""
        if not token or len(token) > 4096:
            return None
        try:
            data = orjson.loads(self._cipher().decrypt(token.encode("ascii"), ttl=self.ttl))
            return Session(str(data["k"]), str(data["c"]))
        except (InvalidToken, UnicodeEncodeError, orjson.JSONDecodeError, KeyError, TypeError):
            return None


def secure(request: Request) -> bool:
    """Whether the request came over TLS (cookies are then ``Secure``)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, path: str = PATH, max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True, samesite="strict", secure=secure(request))


def clear_cookie(response: Response, request: Request, name: str, path: str = PATH) -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict", secure=secure(request))


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site: ``Sec-Fetch-Site``
    where the browser sends it, else ``Origin``. Requests with neither (non-browser clients)
    pass; the CSRF token still guards them."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"
