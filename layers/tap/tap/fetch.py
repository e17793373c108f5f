"""UPLOAD by URL (TAP 1.1, 3.5): fetching a VOTable the user names, without letting the URL
reach what only the service may see.

A Lambda or a Fargate task can reach addresses a user cannot: the task metadata endpoint
(169.254.170.2, which hands out the task role's keys), link-local and private networks. A
URL whose host resolves to any such address is refused before a byte is sent, redirects are
not followed, and at most the upload limit is read.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from .request import TapError

TIMEOUT_SECONDS = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect could lead where the first URL was not allowed to


def _public(host: str, port: int) -> None:
    """Refuse a host that resolves to a loopback, private, link-local or reserved address
    (loopback is allowed where TAP_UPLOAD_LOOPBACK says so: the local runtime's tests)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port)}
    except OSError:
        raise TapError(f"The UPLOAD host {host[:60]} cannot be found.") from None
    loopback_ok = os.environ.get("TAP_UPLOAD_LOOPBACK") == "1"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_loopback and loopback_ok:
            continue
        if not ip.is_global:
            raise TapError(f"The UPLOAD URL's host {host[:60]} is not on the public internet.")


def fetch_upload(url: str, limit: int) -> bytes:
    """The bytes at ``url`` (http or https), at most ``limit`` of them."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TapError(f"UPLOAD URLs are http or https, not {url[:60]!r}.")
    _public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            data = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        raise TapError(f"The UPLOAD URL {url[:80]} answered {error.code}.") from None
    except (urllib.error.URLError, OSError) as error:
        raise TapError(f"The UPLOAD URL {url[:80]} could not be read ({error}).") from None
    if len(data) > limit:
        raise TapError(f"The upload at {url[:80]} is larger than the {limit} bytes allowed.")
    return data
