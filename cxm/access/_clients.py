"""Which client a sign-in attempt comes from, for counting failures: the connection's address;
behind a trusted proxy, the address the proxy forwarded; from the server's own host, "local".

``X-Forwarded-For`` is believed only when the connection comes from one of the proxies named
in ``$CXM_TRUSTED_PROXIES`` (addresses or networks, comma-separated, read and checked by
`cxm.settings`): from anyone else, a
client could name any address it likes and escape its count with a new one per try.
"""

from __future__ import annotations

import ipaddress

from cxm.access._signins import LOCAL
from cxm.settings import Network, settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def trusted_proxies() -> tuple[Network, ...]:
    """Return the proxies whose ``X-Forwarded-For`` names the client (``$CXM_TRUSTED_PROXIES``,
    checked when cxm starts: `cxm.settings`, codes ``bad_trusted_proxies`` and, for the old
    ``CXM_TRUST_FORWARDED_FOR``, ``trust_forwarded_for_removed``)."""
    return settings().trusted_proxies


def _parse(text: str) -> Address | None:
    """Return the address of one ``X-Forwarded-For`` entry (ports and brackets dropped)."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1] or [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.9:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Address | None, proxies: tuple[Network, ...]) -> bool:
    """Return whether an address (None: this host) is one of the proxies."""
    candidates = _LOOPBACK if address is None else (address,)
    return any(a in n for a in candidates for n in proxies if a.version == n.version)


def _named(address: Address | None) -> str:
    return LOCAL if address is None or address.is_loopback else str(address)


def client_address(peer: str | None, forwarded: str | None, proxies: tuple[Network, ...]) -> str:
    """Return the client to count: an address, or `LOCAL` for the server's own host.

    ``peer`` is the connection's address (None: the server's own host, as Streamlit reports
    it); ``forwarded`` the ``X-Forwarded-For`` header. Only a peer that is one of ``proxies``
    is believed, and then the header is read from its end (the entry the nearest proxy wrote)
    past every trusted proxy to the first other address; an entry that is not an address stops
    the walk at the proxy before it.

    >>> from cxm.settings import proxy_networks
    >>> proxies = proxy_networks("127.0.0.1,10.0.0.0/8")
    >>> client_address(None, "203.0.113.9", proxies)  # a proxy on this host forwarded it
    '203.0.113.9'
    >>> client_address("198.51.100.7", "203.0.113.9", proxies)  # no proxy: the header is a lie
    '198.51.100.7'
    >>> client_address(None, "203.0.113.9", ()), client_address(None, None, proxies)
    ('local', 'local')
    >>> client_address("10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.3", proxies)
    '203.0.113.9'
    >>> client_address("10.0.0.2", "203.0.113.9, junk", proxies)  # the proxy wrote no address
    '10.0.0.2'
    """
    address = None if peer is None else _parse(peer)
    if peer is not None and address is None:
        return peer[:64]  # Streamlit gave something that is not an address: count it as is
    if not _trusted(address, proxies):
        return _named(address)
    for entry in reversed((forwarded or "").split(",")):
        hop = _parse(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(hop, proxies):
            break
    return _named(address)
