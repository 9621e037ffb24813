"""Propagation on the compressed clock, on loopback: a zone edit, the TTL that delays it, and
serve-stale.  The NS move (scenario b) runs in the demo test, to keep the suite short; the
pure steps (serials, the NS rewrite, DNS-PERSIST-01) are in test_dns_propagation_steps.py."""

from __future__ import annotations

import pytest

from learn_dns.hierarchy import Hierarchy
from learn_dns.propagation import CHANGED_WWW, record_change, serve_stale
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
def test_a_changed_record_reaches_the_resolver_after_the_ttl_and_stale_data_outlives_the_servers():
    trace = Trace("test")
    with Hierarchy() as h:
        timeline = record_change(h, trace)
        assert timeline.seen[-1][1] == CHANGED_WWW  # record_change() checked the old one came first
        response = serve_stale(h, trace, ("ns1.example", "ns2.example"))
        assert response.answer[0][0].address == CHANGED_WWW
