"""The SSRF guard, pure: literal IPs need no DNS, and names go through an injected resolver.

93.184.216.34 and 2606:4700::1111 stand for "the internet": they are checked, never contacted.
"""

from __future__ import annotations

import pytest

from learn_webhook.dispatcher import pinned_request, pinned_url
from learn_webhook.ssrf_guard import Target, TargetGuard, TargetRefused, forbidden_reason, parse_networks

pytestmark = pytest.mark.pure


def refused(url: str, guard: TargetGuard | None = None) -> str:
    with pytest.raises(TargetRefused) as caught:
        (guard or TargetGuard()).check(url)
    return str(caught.value)


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"),
    ("172.16.5.4", "private"), ("fd00::1", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "not globally routable"), ("::ffff:127.0.0.1", "loopback"),
])
def test_internal_addresses_are_refused_with_their_kind(address, reason):
    assert forbidden_reason(address) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert forbidden_reason(address) is None


def test_a_loopback_url_is_refused_with_a_reason_and_a_hint():
    message = refused("http://127.0.0.1:8080/webhook")
    assert "127.0.0.1 is a loopback address" in message
    assert "--allow-target" in message


def test_an_allowed_network_lets_its_addresses_through_and_nothing_else():
    guard = TargetGuard(parse_networks(["127.0.0.0/8"]))
    target = guard.check("http://127.0.0.1:8080/webhook")
    assert target == Target("http://127.0.0.1:8080/webhook", "http", "127.0.0.1", 8080, ("127.0.0.1",))
    assert "10.0.0.1 is a private address" in refused("http://10.0.0.1/", guard)
    assert "::1 is a loopback address" in refused("http://[::1]:8080/", guard)  # not in 127.0.0.0/8


def test_a_public_literal_ip_is_accepted_without_any_dns():
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("a literal IP must not be resolved")

    target = TargetGuard(resolver=no_dns).check("https://93.184.216.34/hooks")
    assert (target.scheme, target.host, target.port, target.addresses) == (
        "https", "93.184.216.34", 443, ("93.184.216.34",))


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://93.184.216.34/x", "scheme must be http or https"),
    ("file:///etc/passwd", "scheme must be http or https"),
    ("gopher://93.184.216.34/", "scheme must be http or https"),
    ("93.184.216.34/webhook", "scheme must be http or https"),
    ("http://user:secret@93.184.216.34/", "credentials"),
    ("http://token@93.184.216.34/", "credentials"),
    ("http:///webhook", "no host"),
    ("http://93.184.216.34:99999/", "not a valid URL"),
])
def test_only_plain_http_and_https_urls_are_accepted(url, words):
    assert words in refused(url)


def test_a_name_is_refused_if_any_of_its_addresses_is_internal():
    def resolver(host: str, port: int) -> list[str]:
        return {"hooks.example": ["93.184.216.34", "10.0.0.7"], "ok.example": ["93.184.216.34"]}[host]

    guard = TargetGuard(resolver=resolver)
    assert "hooks.example resolves to 10.0.0.7, a private address" in refused("https://hooks.example/", guard)
    assert guard.check("https://ok.example/x").addresses == ("93.184.216.34",)


def test_a_name_that_does_not_resolve_is_refused():
    def resolver(host: str, port: int) -> list[str]:
        raise TargetRefused(f"cannot resolve {host!r}: Name or service not known")

    assert "cannot resolve" in refused("https://nowhere.invalid/", TargetGuard(resolver=resolver))


def test_dns_rebinding_is_caught_by_checking_again_before_each_attempt():
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public at registration, loopback later

    guard = TargetGuard(resolver=lambda host, port: next(answers))
    assert guard.check("http://rebind.example/hook").addresses == ("93.184.216.34",)  # registration
    assert "rebind.example resolves to 127.0.0.1, a loopback address" in refused(
        "http://rebind.example/hook", guard)  # the next attempt


def test_the_dispatcher_connects_to_the_checked_address_and_keeps_the_name():
    target = Target("https://hooks.example:8443/in?x=1", "https", "hooks.example", 8443, ("93.184.216.34",))
    url, headers, extensions = pinned_request(target)
    assert str(url) == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"host": "hooks.example:8443"}
    assert extensions == {"sni_hostname": "hooks.example"}  # TLS still checks the name's certificate
    literal = Target("http://93.184.216.34/in", "http", "93.184.216.34", 80, ("93.184.216.34",))
    assert pinned_request(literal) == (pinned_request(literal)[0], {}, {})


@pytest.mark.parametrize("target", [
    Target("https://hooks.example:8443/in?x=1", "https", "hooks.example", 8443, ("93.184.216.34",)),
    Target("http://hooks.example/in", "http", "hooks.example", 80, ("93.184.216.34",)),
    Target("http://hooks.example:81/", "http", "hooks.example", 81, ("2001:db8::1",)),
    Target("http://93.184.216.34/in", "http", "93.184.216.34", 80, ("93.184.216.34",)),
], ids=["https name", "default port", "ipv6 address", "literal"])
def test_the_lean_clients_pinned_url_is_httpx_pinned_request_in_strings(target):
    url, headers, extensions = pinned_request(target)
    assert pinned_url(target) == (str(url), headers, extensions.get("sni_hostname"))


def test_a_verdict_is_remembered_but_a_name_is_resolved_on_every_check():
    lookups = []
    guard = TargetGuard(resolver=lambda host, port: lookups.append(host) or ["127.0.0.1"])
    for _ in range(2):
        assert "a loopback address" in refused("http://again.example/hook", guard)
    assert lookups == ["again.example", "again.example"]


def test_allow_target_values_must_be_networks():
    assert [str(n) for n in parse_networks(["127.0.0.0/8", "::1", "10.0.0.5/8"])] == [
        "127.0.0.0/8", "::1/128", "10.0.0.0/8"]
    with pytest.raises(ValueError, match="not a network: 'localhost'"):
        parse_networks(["localhost"])
