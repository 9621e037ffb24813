"""The CA's decisions without HTTP: nonces, accounts, orders moving through §7.1.6, expiry, limits, CSRs."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from learn_acme import challenges as ch
from learn_acme.ca_state import CaState
from learn_acme.client import make_csr
from learn_acme.jwk import public_jwk
from learn_acme.pki import Authority
from learn_acme.problems import Problem

pytestmark = pytest.mark.pure

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock) -> CaState:
    tokens = (f"token{i}" for i in itertools.count())
    return CaState(
        "https://ca.test",
        Authority.create(T0),
        now=clock,
        random_token=lambda: next(tokens),
        orders_per_hour=3,
    )


def account(state: CaState):
    key = ec.generate_private_key(ec.SECP256R1())
    acct, created = state.new_account(public_jwk(key), {"termsOfServiceAgreed": True})
    assert created
    return acct, key


def order_for(state, acct, *names):
    return state.new_order(acct, {"identifiers": [{"type": "dns", "value": n} for n in names]})


def test_a_nonce_is_good_once(state):
    nonce = state.new_nonce()
    state.use_nonce(nonce)
    with pytest.raises(Problem) as caught:
        state.use_nonce(nonce)
    assert caught.value.type == "badNonce"


def test_the_same_key_finds_the_same_account_and_terms_must_be_agreed(state):
    acct, key = account(state)
    again, created = state.new_account(public_jwk(key), {})
    assert again is acct and not created
    with pytest.raises(Problem, match="terms"):
        state.new_account(public_jwk(ec.generate_private_key(ec.SECP256R1())), {})


def test_an_order_goes_ready_when_every_authorization_is_valid_then_valid_with_a_csr(state):
    acct, _ = account(state)
    order = order_for(state, acct, "a.test", "b.test")
    for authz in order.authzs:
        chall = next(c for c in authz.challenges if c.type == ch.HTTP01)
        assert state.respond(acct, chall)
        assert order.status == "pending"
        state.record(chall, ch.Verdict(True, "ok"))
    assert order.status == "ready"
    state.finalize(acct, order, make_csr(["b.test", "a.test"], ec.generate_private_key(ec.SECP256R1())))
    assert order.status == "valid" and order.certificate.count(b"BEGIN CERTIFICATE") == 2


def test_one_failed_challenge_makes_the_order_invalid_with_its_detail(state):
    acct, _ = account(state)
    order = order_for(state, acct, "a.test")
    chall = order.authzs[0].challenges[0]
    state.respond(acct, chall)
    state.record(chall, ch.judge_http01("x", 404, b""))
    assert order.status == "invalid" and "404" in order.error["detail"]
    assert chall.error["type"].endswith(":unauthorized")


def test_a_csr_naming_another_name_is_bad(state):
    acct, _ = account(state)
    order = order_for(state, acct, "a.test")
    chall = order.authzs[0].challenges[0]
    state.respond(acct, chall)
    state.record(chall, ch.Verdict(True, "ok"))
    with pytest.raises(Problem) as caught:
        state.finalize(acct, order, make_csr(["evil.test"], ec.generate_private_key(ec.SECP256R1())))
    assert caught.value.type == "badCSR" and order.status == "ready"


def test_the_account_key_cannot_be_the_certificate_key(state):
    acct, key = account(state)
    order = order_for(state, acct, "a.test")
    chall = order.authzs[0].challenges[0]
    state.respond(acct, chall)
    state.record(chall, ch.Verdict(True, "ok"))
    with pytest.raises(Problem, match="account key"):
        state.finalize(acct, order, make_csr(["a.test"], key))


def test_finalize_before_ready_is_order_not_ready(state):
    acct, _ = account(state)
    order = order_for(state, acct, "a.test")
    with pytest.raises(Problem) as caught:
        state.finalize(acct, order, b"")
    assert caught.value.type == "orderNotReady"


def test_an_expired_order_is_invalid_and_cannot_be_finalized(state, clock):
    acct, _ = account(state)
    order = order_for(state, acct, "a.test")
    clock.now = T0 + dt.timedelta(hours=2)
    assert state.order_resource(order)["status"] == "invalid"
    assert order.authzs[0].status == "expired"
    with pytest.raises(Problem, match="invalid, not ready"):
        state.finalize(acct, order, b"")


def test_another_accounts_challenge_is_unauthorized(state):
    acct, _ = account(state)
    other, _ = account(state)
    order = order_for(state, acct, "a.test")
    with pytest.raises(Problem) as caught:
        state.respond(other, order.authzs[0].challenges[0])
    assert caught.value.type == "unauthorized"


def test_orders_per_account_are_rate_limited_per_hour(state, clock):
    acct, _ = account(state)
    for _ in range(3):
        order_for(state, acct, "a.test")
    with pytest.raises(Problem) as caught:
        order_for(state, acct, "a.test")
    assert caught.value.type == "rateLimited" and caught.value.status == 429
    other, _ = account(state)
    order_for(state, other, "a.test")  # the limit is per account
    clock.now = T0 + dt.timedelta(minutes=61)
    order_for(state, acct, "a.test")


def test_identifiers_that_are_not_dns_names_are_refused(state):
    acct, _ = account(state)
    with pytest.raises(Problem) as caught:
        state.new_order(acct, {"identifiers": [{"type": "ip", "value": "127.0.0.1"}]})
    assert caught.value.type == "unsupportedIdentifier"
    with pytest.raises(Problem) as caught:
        order_for(state, acct, "bad_name..test")
    assert caught.value.type == "rejectedIdentifier"


def test_dns_persist_challenges_carry_the_issuer_names_and_no_token(state):
    acct, _ = account(state)
    authz = order_for(state, acct, "a.test").authzs[0]
    doc = state.authz_resource(authz)
    persist = next(c for c in doc["challenges"] if c["type"] == ch.DNS_PERSIST01)
    assert persist["issuer-domain-names"] == ["ca.wirelab.test"] and "token" not in persist
