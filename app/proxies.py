"""Who the client is behind a reverse proxy: `X-Forwarded-*` believed only from trusted peers.

A header any caller can write is evidence only when the connection it came on is from a proxy
we run. The address the rate limits count is the first one, walking `X-Forwarded-For` from the
right, that no trusted proxy vouches for: nginx appends the address it saw, so whatever a client
wrote to the left of it is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_networks(values: Iterable[str]) -> list[Network]:
    """IP addresses and CIDR blocks (`127.0.0.1`, `10.0.0.0/8`, `::1`) as networks."""
    return [ip_network(value.strip(), strict=False) for value in values if value.strip()]


def _address(value: str) -> Address | None:
    try:
        return ip_address(value.strip())
    except ValueError:
        return None


def _header_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    values: list[str] = []
    for key, value in headers:
        if key.lower() == name:
            values.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [value for value in values if value]


class TrustedProxies:
    """ASGI middleware: the scope's client and scheme from `X-Forwarded-For`/`-Proto`, only
    when the peer that connected is one of `trusted`."""

    def __init__(self, app: Any, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _is_trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: dict[str, Any]) -> dict[str, Any]:
        peer = _address(str(scope["client"][0]))
        if not self._is_trusted(peer):
            return scope
        client = peer
        hops = _header_values(scope["headers"], b"x-forwarded-for")
        while hops and self._is_trusted(client):
            hop = _address(hops.pop())
            if hop is None:
                # Not an address: nothing to its left can be believed either.
                break
            client = hop
        scope = {**scope, "client": (str(client), 0)}
        protos = _header_values(scope["headers"], b"x-forwarded-proto")
        if protos and protos[-1].lower() in ("http", "https"):
            secure = protos[-1].lower() == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
        return scope
