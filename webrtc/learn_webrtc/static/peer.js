// The browser peer: RTCPeerConnection + the signaling WebSocket of learn_webrtc.signaling.
//
// Same rules as peer.py: the peer already in the room offers when "peer-joined"
// arrives; candidates trickle as {"type": "candidate", ...} and null ends them.
// Unlike aiortc, the browser really trickles: onicecandidate fires while it gathers.
// Everything that happens is appended to window.webrtcLog (the Chromium test reads it).
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

const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
const pc = new RTCPeerConnection({ iceServers: [] });
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

pc.onicecandidate = (event) => {
  const c = event.candidate;
  send(c && c.candidate
    ? { type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
    : { type: "candidate", candidate: null });
};
pc.oniceconnectionstatechange = () => note("=", `iceConnectionState -> ${pc.iceConnectionState}`);
pc.onconnectionstatechange = () => note("=", `connectionState -> ${pc.connectionState}`);
pc.ondatachannel = (event) => useChannel(event.channel);

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

document.getElementById("say").onsubmit = (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value;
  if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify({ type: "chat", text }));
    note(">", `chat ${text}`);
  }
};
