"""Rule webhooks as the Standard Webhooks spec has them (standardwebhooks.com),
so receivers verify and dedupe with its published libraries.

- Headers: `webhook-id` (one per action run: every retry of a delivery
  carries the same id, so a receiver that saw it drops the copy),
  `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
  (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).
- Every attempt sends the same body bytes and id, signed afresh with the time
  of the attempt: the spec allows either, and its libraries refuse a
  timestamp more than 5 minutes old, which the later retries would be.
- Secrets are `whsec_<base64 of 32 random bytes>`, generated when a rule is
  saved without one. A secret saved before (any text of 8+ characters) keeps
  working: its UTF-8 bytes are the key, and its rule still sends the old
  `X-CSP-Signature: sha256=<hex HMAC of the body>` beside the new headers.
- The private-address check holds against DNS rebinding: the host is
  resolved once, every address checked, and the connection goes to the
  checked address, with the URL's host name in the Host header, in TLS SNI
  and in the certificate check. Redirects are not followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import socket
from datetime import datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
LEGACY_SIGNATURE_HEADER = "X-CSP-Signature"


class WebhookRefused(Exception):
    """The URL may not be posted to (a retry cannot change that)."""


def webhook_secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_secret_problem(secret: str) -> str | None:
    """Why `secret` cannot sign, or None."""
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            return "After whsec_, the secret is base64."
        if not 24 <= len(key) <= 64:
            return "A whsec_ secret holds 24 to 64 bytes."
        return None
    if len(secret) < 8:
        return "Use a secret of at least 8 characters, or leave it blank to get one."
    return None


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()  # a secret saved before whsec_: its bytes are the key


def webhook_headers(*, msg_id: str, body: bytes, secret: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (body: ASCII JSON)."""
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(_key(secret)).sign(msg_id, at, body.decode()),
    }
    if not secret.startswith(SECRET_PREFIX):
        # Receivers of rules saved before the Standard Webhooks headers.
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers[LEGACY_SIGNATURE_HEADER] = "sha256=" + digest
    return headers


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve_checked(url: str) -> str:
    """The one address to connect to for `url`, resolved once. Every address
    the host resolves to must be public (a leader of one workspace must not
    make our servers call our own network: metadata services, the database,
    Redis), unless CSP_WEBHOOK_ALLOW_PRIVATE is set (receivers on the
    deployment's private network; the tests)."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefused(f"The host {parts.hostname} does not resolve.") from error
    addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not address.is_global:
                raise WebhookRefused(
                    f"The host {parts.hostname} is on a private or reserved network ({address})."
                )
    return str(addresses[0])


def webhook_post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST to the address that was checked; the receiver's status code.
    Raises WebhookRefused, or urllib3's HTTPError / OSError when it could
    not be delivered."""
    parts = urlsplit(url)
    address = resolve_checked(url)
    port = _port(parts)
    host = parts.hostname
    options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        # SNI and the certificate check use the name, the socket the address.
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, **options
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        status = response.status
        response.release_conn()
        return status
    finally:
        pool.close()
