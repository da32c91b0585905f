"""Where webhooks may be delivered."""

from __future__ import annotations

import pytest

from libs.domain.permits.webhook_policy import WebhookPolicy, policy_from

STRICT = WebhookPolicy()


class TestPrivateTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8001/v1/zones",
            "http://localhost/x",
            "http://10.0.0.5/hook",
            "http://192.168.1.1/hook",
            "http://172.16.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://0.0.0.0/hook",
        ],
    )
    def test_are_refused_by_default(self, url: str) -> None:
        assert STRICT.host_refusal(url) is not None

    def test_are_allowed_when_configured(self) -> None:
        assert WebhookPolicy(allow_private=True).host_refusal("http://127.0.0.1:9000/hook") is None

    def test_public_addresses_and_names_pass_the_literal_check(self) -> None:
        assert STRICT.host_refusal("https://8.8.8.8/hook") is None
        assert STRICT.host_refusal("https://hooks.example.com/x") is None

    def test_resolved_addresses_are_checked_too(self) -> None:
        assert STRICT.address_refusal(["93.184.216.34"]) is None
        assert STRICT.address_refusal(["93.184.216.34", "10.1.2.3"]) is not None
        assert STRICT.address_refusal(["fe80::1%eth0"]) is not None


class TestAllowList:
    def test_exact_hosts_and_domains(self) -> None:
        policy = policy_from(["hooks.zjk.gov.cn", ".example.com", " "], allow_private=False)
        assert policy.host_refusal("https://hooks.zjk.gov.cn/a") is None
        assert policy.host_refusal("https://a.b.example.com/a") is None
        assert policy.host_refusal("https://example.com/a") is None
        assert policy.host_refusal("https://evil.com/a") is not None
        assert policy.host_refusal("https://notexample.com/a") is not None

    def test_other_schemes_are_refused(self) -> None:
        assert STRICT.host_refusal("ftp://example.com/x") is not None
        assert STRICT.host_refusal("file:///etc/passwd") is not None
