"""Time-limited download URLs for backends that have no presigning of their own."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from urllib.parse import urlencode

from storage._base import check_key
from storage._errors import StorageError


class UrlSigner:
    """Signs ``<base_url>/<key>?expires=..&signature=..`` with HMAC-SHA256.

    The application serves ``base_url`` and calls :meth:`verify` before
    streaming the object. The file name and media type, when given, are signed
    too, so a link cannot be altered to serve the bytes as something else.
    """

    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the URL signing secret must be at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def _signature(self, key: str, expires: int, filename: str, content_type: str) -> str:
        message = "\n".join((key, str(expires), filename, content_type)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(
        self,
        key: str,
        expires: timedelta,
        filename: str | None = None,
        content_type: str | None = None,
        now: float | None = None,
    ) -> str:
        check_key(key)
        until = int((time.time() if now is None else now) + expires.total_seconds())
        params = {"expires": str(until)}
        if filename:
            params["filename"] = filename
        if content_type:
            params["content_type"] = content_type
        params["signature"] = self._signature(key, until, filename or "", content_type or "")
        return f"{self.base_url}/{key}?{urlencode(params)}"

    def verify(
        self,
        key: str,
        expires: str,
        signature: str,
        filename: str | None = None,
        content_type: str | None = None,
        now: float | None = None,
    ) -> bool:
        """True if the link was made by this signer for these values and has not expired."""
        try:
            check_key(key)
            until = int(expires)
        except ValueError:
            return False
        if until < (time.time() if now is None else now):
            return False
        expected = self._signature(key, until, filename or "", content_type or "")
        return hmac.compare_digest(expected, signature)


class SignedUrls:
    """``url()`` for stores that cannot presign: signed by their ``signer``, if any."""

    signer: UrlSigner | None

    def url(
        self,
        key: str,
        *,
        expires: timedelta,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        if self.signer is None:
            raise StorageError("download URLs need a URL signer for this store")
        return self.signer.sign(key, expires, filename, content_type)
