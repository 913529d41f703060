"""Which addresses a result download may reach: never link-local, unspecified or multicast ones.

A vendor (or whoever answers in its name) chooses result URLs and redirects; 169.254.169.254 is a
cloud metadata service that hands out the machine's credentials. Loopback and private ranges stay
allowed: self-hosted vendors and the simulator live there.
"""

from __future__ import annotations

import ipaddress
import socket

#: the connection extra that lets result downloads reach the addresses refused here
ALLOW_SETTING = "allow_link_local"


def refused_kind(address: str) -> str | None:
    """What makes ``address`` (an IP literal) refused, or None when it may be reached."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not part of the address
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    return None


def refused_address(host: str, port: int) -> tuple[str, str] | None:
    """The first address ``host`` resolves to (by the system's resolver, as the client will) that
    is refused, with what it is; None when none is, or when the name does not resolve (the
    client's own connect then fails as usual)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for *_, sockaddr in infos:
        kind = refused_kind(str(sockaddr[0]))
        if kind is not None:
            return str(sockaddr[0]), kind
    return None
