"""RFC 2136 dynamic UPDATE against a real peer: BIND's ``nsupdate`` sends to our authoritative
server (by source address, then with a TSIG key), and ``dig`` reads the result."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

import learn_dns
from tests.conftest import need_binary
from wirelab_common.processes import start_server

pytestmark = pytest.mark.differential

ZONE_FILE = Path(learn_dns.__file__).parent / "zones" / "example.com.zone"
SERIAL = 2026112101
SECRET = base64.b64encode(b"a shared secret of 32 bytes.....").decode()


def test_nsupdate_publishes_a_txt_record_that_dig_then_sees(procs, tmp_path):
    nsupdate = need_binary("nsupdate", "bind9-dnsutils")
    dig = need_binary("dig", "bind9-dnsutils")
    proc = start_server([sys.executable, "-m", "learn_dns.authoritative", "--host", "127.0.0.1",
                         "--port", "0", "--zone", str(ZONE_FILE), "--allow-update", "127.0.0.0/8"],
                        name="auth-update")
    procs.started.append(proc)
    script = (f"server 127.0.0.1 {proc.port}\nzone example.com\n"
              "prereq nxrrset _acme-challenge.www.example.com TXT\n"
              'update add _acme-challenge.www.example.com 60 TXT "token-digest"\nsend\n')
    done = subprocess.run([nsupdate, "-d"], input=script, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "status: NOERROR" in done.stdout
    seen = subprocess.run([dig, "+short", "-p", str(proc.port), "@127.0.0.1",
                           "_acme-challenge.www.example.com", "TXT"],
                          capture_output=True, text=True, timeout=20)
    assert seen.stdout.strip() == '"token-digest"'
    soa = subprocess.run([dig, "+short", "-p", str(proc.port), "@127.0.0.1", "example.com", "SOA"],
                         capture_output=True, text=True, timeout=20)
    assert soa.stdout.split()[2] == str(SERIAL + 1)
    again = subprocess.run([nsupdate, "-d"], input=script, capture_output=True, text=True, timeout=20)
    assert again.returncode != 0 and "YXRRSET" in again.stdout + again.stderr  # the prerequisite fails now
    proc.wait_line(r"update refused, YXRRSET", 10)


def test_nsupdate_with_a_tsig_key_and_with_a_wrong_one(procs):
    nsupdate = need_binary("nsupdate", "bind9-dnsutils")
    dig = need_binary("dig", "bind9-dnsutils")
    proc = start_server([sys.executable, "-m", "learn_dns.authoritative", "--host", "127.0.0.1",
                         "--port", "0", "--zone", str(ZONE_FILE), "--tsig-key", f"acme-key:{SECRET}"],
                        name="auth-tsig")
    procs.started.append(proc)
    script = (f"server 127.0.0.1 {proc.port}\nzone example.com\n"
              'update add signed.example.com 60 TXT "by key"\nsend\n')
    done = subprocess.run([nsupdate, "-y", f"hmac-sha256:acme-key:{SECRET}"], input=script,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr  # nsupdate also checked our signed answer
    seen = subprocess.run([dig, "+short", "-p", str(proc.port), "@127.0.0.1", "signed.example.com", "TXT"],
                          capture_output=True, text=True, timeout=20)
    assert seen.stdout.strip() == '"by key"'
    wrong = base64.b64encode(b"y" * 32).decode()
    refused = subprocess.run([nsupdate, "-y", f"hmac-sha256:acme-key:{wrong}"], input=script,
                             capture_output=True, text=True, timeout=20)
    assert refused.returncode != 0
    proc.wait_line(r"update refused, NOTAUTH: TSIG BADSIG", 10)
    unsigned = subprocess.run([nsupdate], input=script, capture_output=True, text=True, timeout=20)
    assert unsigned.returncode != 0 and "REFUSED" in unsigned.stdout + unsigned.stderr
