"""Where the permits service may deliver webhooks (a guard against server-side request forgery).

A subscriber chooses the URL, so without a policy anyone allowed to subscribe could make the
service POST to internal addresses. Two rules, both configurable:

- an allow-list of host names (``example.gov.cn`` matches that host, ``.example.gov.cn`` any
  host below it); when it is empty every public host is allowed;
- private, loopback, link-local, multicast and reserved addresses are refused unless private
  targets are explicitly allowed (the default outside production, where subscribers are local).

The literal check runs when a webhook is registered; the resolved addresses are checked again
before every delivery, so a name that later resolves to an internal address is still refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from libs.domain.kernel.i18n import Text


@dataclass(frozen=True)
class WebhookPolicy:
    """The delivery policy of one service instance."""

    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False

    def host_refusal(self, url: str) -> Text | None:
        """Why ``url`` may not be a webhook target (``None``: allowed so far)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return Text("只允许 http 和 https 地址", "only http and https targets are allowed")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return Text("该 URL 没有主机名", "the URL has no host")
        if self.allowed_hosts and not any(_host_matches(host, pattern) for pattern in self.allowed_hosts):
            return Text(f"主机 {host} 不在回调地址白名单中", f"host {host} is not on the webhook allow-list")
        if host == "localhost" or host.endswith(".localhost"):
            if self.allow_private:
                return None
            return Text("不允许以本机地址作为回调地址", "local hosts are not allowed as webhook targets")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked at delivery
        return self.address_refusal([str(address)])

    def address_refusal(self, addresses: Iterable[str]) -> Text | None:
        """Why delivering to these resolved addresses is refused (``None``: allowed)."""
        if self.allow_private:
            return None
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not address.is_global or address.is_multicast:
                return Text(
                    f"地址 {address} 不是公网地址；不允许以内网地址作为回调地址",
                    f"address {address} is not public; private webhook targets are not allowed",
                )
        return None


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("."):
        return host.endswith(pattern) or host == pattern[1:]
    return host == pattern


def policy_from(allowed_hosts: Sequence[str], allow_private: bool) -> WebhookPolicy:
    """Build a policy from settings values."""
    return WebhookPolicy(tuple(h.strip() for h in allowed_hosts if h.strip()), allow_private)
