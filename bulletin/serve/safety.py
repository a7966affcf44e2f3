"""What the preview server refuses: paths that leave the preview folder, and Host
headers that are not this machine (DNS rebinding: a web page whose own host name
resolves to 127.0.0.1 must not be able to read drafts from the preview)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import unquote

ALL_INTERFACES = {"0.0.0.0", "::", ""}
_DECODE_ROUNDS = 4


def site_file(site: Path, url_path: str) -> Path | None:
    """The path under `site` that a (once percent-decoded) URL path names, or None
    when it is not a plain path inside `site`: `..` or hidden segments, back-slashes,
    NUL, such things still hidden under more rounds of percent-encoding, or a
    symbolic link that leads out. The path may not exist."""
    layers = [url_path]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(layers[-1])
        if decoded == layers[-1]:
            break
        layers.append(decoded)
    for layer in layers:
        if "\\" in layer or "\x00" in layer:
            return None
        if any(segment.startswith(".") for segment in layer.split("/")):
            return None  # "..", "." and hidden files alike
    segments = [s for s in url_path.split("/") if s]
    base = site.resolve()
    candidate = base.joinpath(*segments)
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if resolved != base and not resolved.is_relative_to(base):
        return None
    return candidate


def local_names() -> set[str]:
    """This machine's own names, which a browser on the network may use."""
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower())
            names.add(name.split(".")[0].lower() + ".local")
    return names


class HostPolicy:
    """Accepts a Host header that is an IP address, `localhost` (or a name under it),
    the name the server was bound to, or, when bound to every interface, this
    machine's own name. Anything else is a name that some DNS server resolves to us."""

    def __init__(self, bound: str = "127.0.0.1") -> None:
        self.names = {"localhost"}
        if bound not in ALL_INTERFACES and not _is_ip(bound):
            self.names.add(bound.lower())
        if bound in ALL_INTERFACES:
            self.names |= local_names()

    def allows(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host = _strip_port(host_header.strip())
        if host is None:
            return False
        host = host.lower().rstrip(".")
        return _is_ip(host) or host in self.names or host.endswith(".localhost")


def _strip_port(value: str) -> str | None:
    if value.startswith("["):  # [::1]:8000
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        return value[1:end]
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if port and not port.isdigit():
        return None
    return host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
