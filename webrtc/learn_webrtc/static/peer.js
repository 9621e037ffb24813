// The browser peer: RTCPeerConnection + the signaling WebSocket of learn_webrtc.signaling.
//
// Same rules as peer.py: the peer already in the room offers when "peer-joined"
// arrives; candidates trickle as {"type": "candidate", ...} and null ends them.
// Unlike aiortc, the browser really trickles: onicecandidate fires while it gathers.
// The ICE servers and the transport policy come from the server's /config (its --ice-*
// options): with "relay", the browser gathers only TURN relay candidates.
// Everything that happens is appended to window.webrtcLog (the Chromium test reads it),
// including the selected candidate pair, read from getStats() once connected.
// For bench/bench_webrtc.py: window.webrtcTimes holds when each step of the setup happened at the
// offerer by this page's clock (performance.now(), ms: peerJoined, offerSent, answerApplied,
// iceDone, connected, open), and window.sendBulk / window.expectBulk move binary messages with
// the same flow control as the Python sender (chat.drain).
"use strict";

const params = new URLSearchParams(location.search);
const room = params.get("room") || "lobby";
const log = (window.webrtcLog = []);
const times = (window.webrtcTimes = {});
const shown = document.getElementById("log");
document.getElementById("room").textContent = room;

function note(mark, text) {
  log.push(`${mark} ${text}`);
  shown.textContent += `${mark} ${text}\n`;
}

let ws = null;
let pc = null;
let channel = null;

function send(message) {
  note(">", `signal ${message.type}${message.type === "candidate" ? " " + (message.candidate || "null") : ""}`);
  ws.send(JSON.stringify(message));
}

function useChannel(dc) {
  channel = dc;
  dc.binaryType = "arraybuffer";
  dc.onopen = () => {
    times.open = times.open || performance.now();
    note("=", `datachannel ${dc.label} open`);
    dc.send(JSON.stringify({ type: "chat", text: "hello from chromium" }));
  };
  dc.onmessage = (event) => {
    if (typeof event.data !== "string") {
      countBulk(event.data.byteLength);
      return;
    }
    note("<", `chat ${event.data}`);
    const message = JSON.parse(event.data);
    if (message.type === "bulk-done" && bulk.done) {
      bulk.done(message.bytes);
    } else if (message.type === "chat" && !message.text.startsWith("echo: ")) {
      dc.send(JSON.stringify({ type: "chat", text: "echo: " + message.text }));
    }
  };
}

// Bulk binary messages (the benchmark): the receiver counts them and says "bulk-done" when it
// has `expected` bytes; the sender pauses above 1 MiB queued until "bufferedamountlow" (256 KiB).
const bulk = { expected: 0, got: 0, done: null };

function countBulk(bytes) {
  bulk.got += bytes;
  if (bulk.expected && bulk.got >= bulk.expected) {
    channel.send(JSON.stringify({ type: "bulk-done", bytes: bulk.got }));
    bulk.expected = 0;
  }
}

window.expectBulk = (total) => {
  bulk.expected = total;
  bulk.got = 0;
};

// Resolves with the milliseconds from the first send to the receiver's "bulk-done".
window.sendBulk = async (total, size) => {
  const payload = new Uint8Array(size);
  channel.bufferedAmountLowThreshold = 256 * 1024;
  const done = new Promise((resolve) => (bulk.done = resolve));
  const started = performance.now();
  for (let sent = 0; sent < total; sent += size) {
    if (channel.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => channel.addEventListener("bufferedamountlow", resolve, { once: true }));
    }
    channel.send(payload);
  }
  await done;
  return performance.now() - started;
};

// The pair ICE selected, from the browser's own statistics (W3C webrtc-stats):
// transport.selectedCandidatePairId -> candidate-pair -> local-candidate / remote-candidate.
async function selectedPair() {
  const stats = new Map();
  (await pc.getStats()).forEach((report) => stats.set(report.id, report));
  const transport = [...stats.values()].find((r) => r.type === "transport" && r.selectedCandidatePairId);
  const pair = transport && stats.get(transport.selectedCandidatePairId);
  if (!pair) return null;
  const describe = (c) => `${c.candidateType} ${c.address}:${c.port}`;
  return `${describe(stats.get(pair.localCandidateId))} <-> ${describe(stats.get(pair.remoteCandidateId))}`;
}

async function start() {
  const config = await (await fetch("config")).json();
  const urls = config.iceServers.flatMap((server) => [].concat(server.urls));
  note("=", `RTCConfiguration iceServers [${urls.join(", ")}], iceTransportPolicy ${config.iceTransportPolicy}`);
  pc = new RTCPeerConnection(config);
  pc.onicecandidate = (event) => {
    const c = event.candidate;
    send(c && c.candidate
      ? { type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
      : { type: "candidate", candidate: null });
  };
  pc.oniceconnectionstatechange = () => {
    if (["connected", "completed"].includes(pc.iceConnectionState)) times.iceDone = times.iceDone || performance.now();
    note("=", `iceConnectionState -> ${pc.iceConnectionState}`);
  };
  pc.onconnectionstatechange = async () => {
    if (pc.connectionState === "connected") times.connected = times.connected || performance.now();
    note("=", `connectionState -> ${pc.connectionState}`);
    if (pc.connectionState === "connected") note("=", `selected pair ${await selectedPair()}`);
  };
  pc.ondatachannel = (event) => useChannel(event.channel);

  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => send({ type: "join", room });
  ws.onclose = (event) => note("=", `signaling closed ${event.code}`);
  ws.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    note("<", `signal ${message.type}${message.code ? " " + message.code : ""}`);
    if (message.type === "peer-joined") {
      times.peerJoined = performance.now();
      useChannel(pc.createDataChannel("chat"));
      await pc.setLocalDescription(await pc.createOffer());
      times.offerSent = performance.now();
      send({ type: "offer", sdp: pc.localDescription.sdp });
    } else if (message.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", sdp: pc.localDescription.sdp });
    } else if (message.type === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      times.answerApplied = performance.now();
    } else if (message.type === "candidate") {
      await pc.addIceCandidate(message.candidate
        ? { candidate: message.candidate, sdpMid: message.sdpMid, sdpMLineIndex: message.sdpMLineIndex }
        : null);
    }
  };
}

document.getElementById("say").onsubmit = (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value;
  if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify({ type: "chat", text }));
    note(">", `chat ${text}`);
  }
};

start().catch((error) => note("=", `failed to start: ${error}`));
