"""Client IP resolution.

``REMOTE_ADDR`` is the client unless the peer is a trusted proxy
(``CAPTCHALA_TRUSTED_PROXIES``); then ``X-Forwarded-For`` is read from the
right, skipping trusted hops, and the first untrusted address is the client.
A forged header from an untrusted peer is therefore ignored.
``CAPTCHALA_IP_RESOLVER`` (a dotted path or callable taking the request) may
replace all of this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import app_settings

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(value: str | None) -> str | None:
    """The normalised address in ``value``, or ``None`` if it is not one."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            # A zone (``fe80::1%eth0``) names an interface of the host that saw the
            # address, not a client: dropped, so that what is stored is an address.
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address.ipv4_mapped:
            address = address.ipv4_mapped
    return str(address)


@lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(address: str, networks: Iterable[_Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def default_resolver(request: HttpRequest) -> str | None:
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    proxies = app_settings.TRUSTED_PROXIES or []
    if isinstance(proxies, str):
        proxies = [proxies]
    networks = _networks(tuple(str(p) for p in proxies))
    if peer is None or not networks or not _trusted(peer, networks):
        return peer
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = parse_ip(hop)
        if address is None:
            break  # a malformed hop: trust nothing left of it
        client = address
        if not _trusted(address, networks):
            break
    return client


def get_client_ip(request: HttpRequest) -> str | None:
    """The client's IP address for ``request`` (see module docstring), resolved once per
    request: the check, its budget and its scope all ask for it."""
    try:
        resolved: str | None = request._captchala_client_ip  # type: ignore[attr-defined]
        return resolved
    except AttributeError:
        pass
    resolver = app_settings.IP_RESOLVER
    if resolver:
        if isinstance(resolver, str):
            resolver = import_string(resolver)
        resolved = parse_ip(resolver(request))
    else:
        resolved = default_resolver(request)
    # Kept on the request, as its request id is; HttpRequest declares no such field.
    request._captchala_client_ip = resolved  # type: ignore[attr-defined]
    return resolved


def address_block(address: str | None) -> str:
    """The address a budget is counted by: an IPv6 client by its /64, since one host is
    usually given a whole /64 and could otherwise start a fresh budget per address."""
    normal = parse_ip(address)
    if normal is None:
        return address or "unknown"
    if ":" in normal:  # IPv6 (parse_ip has made a v4-mapped address IPv4)
        return str(ipaddress.ip_network(f"{normal}/64", strict=False))
    return normal


def stored_address(address: str | None) -> str | None:
    """What is stored of ``address`` (a normalised address) under
    ``CAPTCHALA_ADDRESS_STORAGE``: the address (``full``); its network, an IPv4 address
    by its /24 and an IPv6 one by its /48 (``truncated``); a keyed hash written as an
    address in ``fd00::/8``, the same for the same address, so that the dashboard and
    ``captchala_report --by ip`` still group by client (``hashed``); or nothing (``none``).
    The ``ip`` scope, the budgets and the step-up counts use the address itself and never
    store it (they keep keyed hashes in every mode)."""
    mode = app_settings.ADDRESS_STORAGE
    if address is None or mode == "full":
        return address
    if mode == "none":
        return None
    parsed = ipaddress.ip_address(address)
    if mode == "truncated":
        if isinstance(parsed, ipaddress.IPv6Address):
            # 6to4 and Teredo addresses carry an IPv4 address whole in their first bits:
            # truncated as that IPv4 address, never kept whole in a /48.
            embedded = parsed.sixtofour or (parsed.teredo[1] if parsed.teredo else None)
            parsed = embedded or parsed
        prefix = 24 if parsed.version == 4 else 48
        return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)
    from django.utils.crypto import salted_hmac  # the SECRET_KEY is read only here

    digest = salted_hmac("captchala_django.stored_address", str(parsed), algorithm="sha256")
    return str(ipaddress.IPv6Address(b"\xfd" + digest.digest()[:15]))
