"""Which server a URL reaches: one key for every spelling of the same Ollama server.

Two instances whose URLs reach one server (`http://127.0.0.1:11434` and `http://localhost:11434/`)
would delete each other's models with prune, so validation refuses them, the plan guards count
deletions per server, and a machine-wide lock can be keyed by the server. All of that needs one
normal form, computed offline (validation never resolves names):

- the scheme only chooses the default port (80, 443): one port serves one server;
- host names are compared lower-cased, without a trailing dot; credentials are ignored;
- every loopback spelling is the same server: `localhost` and names under `.localhost`, the
  names hosts files give loopback (`localhost.localdomain`, `ip6-localhost`, `ip6-loopback`),
  `127.0.0.0/8` in any numeric form (`127.1`, `0x7f.0.0.1`), `::1`, `::ffff:127.0.0.1`, and the
  unspecified addresses `0.0.0.0` and `::`, which connect to this host too;
- other addresses take their canonical text; other names are never resolved;
- the path prefix counts (a proxy may route `/gpu-1` and `/gpu-2` to different servers), without
  trailing slashes.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK = "localhost"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NUMBER = re.compile(r"0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*")


def server_key(url: str) -> str:
    """`HOST:PORT/PATH`, the same for every URL that reaches the same server.

    `http://LocalHost:11434/`, `http://127.0.0.1:11434` and `http://[::1]:11434` all give
    `localhost:11434`; `https://Ollama.example.com/api/` gives `ollama.example.com:443/api`.
    Raises `ValueError` for a URL that is not http(s) with a host and a valid port.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http or https url (scheme {scheme!r})")
    if not parts.hostname:
        raise ValueError("the url has no host")
    port = parts.port  # ValueError for a port out of range
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    path = re.sub(r"/+$", "", parts.path)
    return f"{canonical_host(parts.hostname)}:{port}{path}"


def canonical_host(host: str) -> str:
    """The host part of a server key: `localhost` for loopback, an address's canonical text, or
    the name lower-cased without a trailing dot (IPv6 addresses in brackets)."""
    name = host.strip("[]").lower().rstrip(".")
    address = _address(name)
    if address is None:
        loopback = name in _LOOPBACK_NAMES or name.endswith(".localhost")
        return LOOPBACK if loopback else name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return LOOPBACK
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            return None
    return _ipv4(name)


def _ipv4(name: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any form the C library's resolver accepts without a lookup:
    dotted quads, fewer parts (`127.1`), hexadecimal and octal parts (`0x7f.0.0.01`)."""
    parts = name.split(".")
    if len(parts) > 4 or not all(_NUMBER.fullmatch(part) for part in parts):
        return None
    values = [
        int(part, 0) if part.startswith("0x") else int(part, 8 if part[0] == "0" else 10)
        for part in parts
    ]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(parts)):
        return None
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)
