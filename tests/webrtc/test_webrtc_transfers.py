"""A file between two chat processes, and what each side does when the other one dies mid-transfer.

Both peers are real processes (``python -m learn_webrtc.chat``) through our signaling
server.  The receiver joins first, so it offers and creates the channel; the
sender sends 24 MiB, which takes seconds at aiortc's speed, so a kill right
after the manifest arrives always lands mid-transfer.  The other side must end
within seconds, saying why: ``peer-left`` arrives within milliseconds of a
process dying (its WebSocket closes), the connection itself notices when consent
checks go unanswered (1 s x 3 on the lab clock).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time

import pytest

from wirelab_common.processes import ManagedProcess, start_process

pytestmark = pytest.mark.loopback

SIZE = 24 * 1024 * 1024
CHUNKS = SIZE // (16 * 1024)
PROMPT = 5.0  # seconds; before the fix the sender waited forever, the receiver its 20 s timeout


def chat(url: str, room: str, name: str, *args: str, ready: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "learn_webrtc.chat", "--url", url, "--room", room,
            "--name", name, *args]
    return start_process(argv, name=name, ready_line=ready, timeout=30)


@pytest.fixture
def transfer(shared_signaling_url, tmp_path, request):
    """(receiver, sender), the receiver already reading the file's chunks; both stopped after."""
    room = request.node.name[-40:]
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(SIZE))
    started: list[ManagedProcess] = []
    try:
        started.append(chat(shared_signaling_url, room, "receiver", "--receive-file", str(tmp_path / "got"),
                            ready=r'signal {"type": "joined"'))
        started.append(chat(shared_signaling_url, room, "sender", "--send-file", str(blob),
                            ready=r"file 'blob': \d+ bytes"))
        started[0].wait_line(r"receiving 'blob': \d+ bytes in \d+ chunks", timeout=30)
        yield started[0], started[1]
    finally:
        for process in started:
            process.kill()  # SIGKILL also ends a process stopped with SIGSTOP


def ended_within(process: ManagedProcess, since: float, limit: float) -> float:
    process.popen.wait(limit + 10)  # bounded either way; the assertion below says how long it took
    elapsed = time.monotonic() - since
    assert elapsed < limit, f"{process.name} took {elapsed:.1f} s to end:\n{process.output()[-3000:]}"
    print(f"{process.name} ended {elapsed:.2f} s after the other peer was stopped")  # shown with -s
    return elapsed


# Who is killed, and the failure the other one must end with (done, total, reason).
KILLED = {
    "receiver": r"FAILED: sending 'blob' stopped after (\d+) of (\d+) chunks were queued: (.*)",
    "sender": r"FAILED: receiving 'blob' cut off after (\d+) of (\d+) chunks: (.*)",
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("killed", KILLED)
def test_a_killed_peer_ends_the_other_promptly_saying_why(transfer, killed):
    receiver, sender = transfer
    victim, survivor = (receiver, sender) if killed == "receiver" else (sender, receiver)
    started = time.monotonic()
    victim.kill()
    ended_within(survivor, started, PROMPT)
    out = survivor.output()
    assert survivor.popen.returncode == 1, out[-3000:]
    failure = re.search(KILLED[killed], out)
    assert failure, out[-3000:]
    print(failure[0])
    assert int(failure[1]) < int(failure[2]) == CHUNKS
    assert "the other peer left the room (signaling peer-left)" in failure[3]


@pytest.mark.timeout(90)
def test_a_frozen_receiver_ends_the_sender_when_the_connection_gives_up(transfer):
    """SIGSTOP: the kernel still answers for the receiver's TCP, so no peer-left for 5-10 s
    (the server's ping timeout); only the connection layer can tell, after ~3-4 s."""
    receiver, sender = transfer
    frozen = time.monotonic()
    receiver.signal(signal.SIGSTOP)
    elapsed = ended_within(sender, frozen, 9.0)
    out = sender.output()
    failure = re.search(r"FAILED: sending 'blob' stopped after \d+ of \d+ chunks were queued: (.*)", out)
    assert failure, out[-3000:]
    print(failure[0])
    assert "peer-left" not in failure[1], (elapsed, failure[1])
    assert re.search(r"connectionState (failed|closed)|data channel 'chat' clos", failure[1]), failure[1]
