// The browser peer: RTCPeerConnection + the signaling WebSocket of learn_webrtc.signaling.
//
// Same rules as peer.py: the peer already in the room offers when "peer-joined"
// arrives; candidates trickle as {"type": "candidate", ...} and null ends them.
// Unlike aiortc, the browser really trickles: onicecandidate fires while it gathers.
// The ICE servers and the transport policy come from the server's /config (its --ice-*
// options): with "relay", the browser gathers only TURN relay candidates.
// Everything that happens is appended to window.webrtcLog (the Chromium test reads it),
// including the selected candidate pair, read from getStats() once connected.
"use strict";

const params = new URLSearchParams(location.search);
const room = params.get("room") || "lobby";
const log = (window.webrtcLog = []);
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
  dc.onopen = () => {
    note("=", `datachannel ${dc.label} open`);
    dc.send(JSON.stringify({ type: "chat", text: "hello from chromium" }));
  };
  dc.onmessage = (event) => {
    note("<", `chat ${event.data}`);
    const message = JSON.parse(event.data);
    if (message.type === "chat" && !message.text.startsWith("echo: ")) {
      dc.send(JSON.stringify({ type: "chat", text: "echo: " + message.text }));
    }
  };
}

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
  pc.oniceconnectionstatechange = () => note("=", `iceConnectionState -> ${pc.iceConnectionState}`);
  pc.onconnectionstatechange = async () => {
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
      useChannel(pc.createDataChannel("chat"));
      await pc.setLocalDescription(await pc.createOffer());
      send({ type: "offer", sdp: pc.localDescription.sdp });
    } else if (message.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", sdp: pc.localDescription.sdp });
    } else if (message.type === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
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
