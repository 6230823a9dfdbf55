"""Whose X-Forwarded-For is believed: only that of the proxies in TRUSTED_PROXIES.

Per-address limits (sign-in failures, signed-out mutations) key on the client's address. Behind
a load balancer that is the address the balancer saw, in X-Forwarded-For; but any client can
send that header, so it is read only when the peer itself is a trusted proxy, and then from the
right, skipping trusted hops, to the first address a trusted proxy did not add. uvicorn's own
proxy-header handling (which trusts 127.0.0.1 by default) is off: `shutter api` turns it off,
and anyone running uvicorn by hand passes `--no-proxy-headers`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str | None, trusted: list[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy that forwarded."""
    peer_address = _address(peer)
    if not forwarded_for or peer_address is None or not _trusted(peer_address, trusted):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            return peer  # a malformed chain: believe nothing of it
        if not _trusted(address, trusted):
            return str(address)
    return peer


def _trusted(address: IPv4Address | IPv6Address, trusted: list[Network]) -> bool:
    return any(address in network for network in trusted)


class TrustedProxies:
    def __init__(self, app: ASGIApp, *, trusted: list[Network]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"} and self.trusted and scope.get("client"):
            forwarded = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded = value.decode("latin-1")
            host, port = scope["client"]
            client = client_address(host, forwarded, self.trusted)
            if client != host:
                scope = {**scope, "client": (client, port)}
        await self.app(scope, receive, send)
