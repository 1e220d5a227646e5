"""Where a webhook may point: the guard against server-side request forgery (issue 14).

A webhook makes our worker POST to an address an agency administrator chose. Without a check, it
could be aimed at the worker's own machine or network (loopback, link-local such as a cloud
metadata service, private ranges), and its failure count would tell whether that target answered.
So registration and every send resolve the host (DNS) and refuse any address that is not a
public unicast one, unless an administrator allow-listed the host (`WEBHOOK_ALLOWED_HOSTS`, for a
test or on-premise receiver). A send then connects to the address that was checked (not to a
second DNS answer), and redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"host {host} cannot be resolved") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_class(address: IpAddress) -> str | None:
    """Why `address` is not a public unicast address, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, matched in checks:
        if matched:
            return name
    return None if address.is_global else "not public"


@dataclass(frozen=True)
class CheckedTarget:
    url: str
    scheme: str
    host: str
    port: int
    address: str  # the checked address a send connects to


def check_target(url: str, allowed_hosts: Collection[str], resolver: Resolver = resolve, *,
                 resolve_allowed: bool = True, require_https: bool = False) -> CheckedTarget:
    """Refuse `url` unless it is http(s) and every address of its host is public (or the host is
    allow-listed); returns the address to connect to. `resolve_allowed=False` (registration)
    accepts an allow-listed host without looking it up: a send resolves it anyway.
    `require_https` (a connected body's system, which gets its api_key and our cases): plain
    http only to an allow-listed host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are allowed")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the URL may not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise TargetRefused("the URL's port is not valid") from error
    host = parts.hostname.rstrip(".").lower()
    allowed = {h.strip().lower().strip("[]") for h in allowed_hosts if h.strip()}
    if require_https and parts.scheme != "https" and host not in allowed:
        raise TargetRefused("only https URLs are allowed (plain http only to a host allow-listed by an administrator)")
    if host in allowed and not resolve_allowed:
        return CheckedTarget(url=url, scheme=parts.scheme, host=host, port=port, address=host)
    addresses = resolver(host, port)
    if not addresses:
        raise TargetRefused(f"host {host} cannot be resolved")
    if host not in allowed:
        for raw in addresses:
            reason = address_class(ipaddress.ip_address(raw.split("%", 1)[0]))
            if reason is not None:
                shown = host if host == raw else f"{host} resolves to {raw}, which"
                raise TargetRefused(f"{shown} is a {reason} address; "
                                    "only public addresses may receive webhooks (or a host allow-listed by an administrator)")
    return CheckedTarget(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])


def pinned_request(target: CheckedTarget) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with the checked address in place of the host, the Host header, and (https) the
    name the TLS certificate is verified against: the connection goes where the check looked."""
    parts = urlsplit(target.url)
    address = target.address.split("%", 1)[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    url = parts._replace(netloc=netloc).geturl()
    host_header = parts.hostname or target.host
    if ":" in host_header:
        host_header = f"[{host_header}]"
    if parts.port:
        host_header += f":{parts.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url, {"Host": host_header}, extensions
