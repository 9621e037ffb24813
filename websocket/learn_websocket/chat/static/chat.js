// The chat page's script: one WebSocket, the JSON messages of schema.py, and a log.
// Reading order: schema -> hub -> broker -> app -> server; client; page (index.html, then this file).
//
// What the browser does for us, and the Python client does by hand:
// - the handshake (RFC 6455 §4.1), including the Origin header (§10.2) that the
//   server checks: a page from another origin is refused with HTTP 403;
// - answering the server's heartbeat pings with pongs (§5.5.2): JavaScript never
//   sees ping or pong frames at all.
// What a browser cannot do: set headers on the handshake, hence ?token= in the URL.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;

// The token may come from the page URL (?token=alice-token) so a link can log in.
$("token").value = new URLSearchParams(location.search).get("token") || "";

function setStatus(text) {
  $("status").textContent = text;
}

// Always textContent, never innerHTML: chat text comes from other users, and HTML
// in it must stay text (otherwise any user could run script in everyone's page).
function log(text, kind) {
  const item = document.createElement("li");
  item.textContent = text;
  if (kind) item.className = kind;
  $("log").appendChild(item);
  $("log").scrollTop = $("log").scrollHeight;
}

function show(msg) {
  switch (msg.type) {
    case "welcome": return log(`connected to server ${msg.server} as ${msg.user}`, "event");
    case "joined": return log(`* ${msg.user} joined ${msg.room}`, "event");
    case "left": return log(`* ${msg.user} left ${msg.room}`, "event");
    case "message": return log(`[${msg.room}] ${msg.from}: ${msg.text}`, "message");
    case "error": return log(`! ${msg.code}: ${msg.detail}`, "error");
    default: return log(`? ${JSON.stringify(msg)}`, "error");
  }
}

function connect() {
  if (socket) socket.close(1000, "reconnecting");
  // Same host and port as the page: works directly and behind a reverse proxy.
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const token = encodeURIComponent($("token").value.trim());
  const room = $("room").value.trim();
  const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${token}`);
  socket = ws;
  setStatus("connecting");
  ws.onopen = () => {
    setStatus("open");
    ws.send(JSON.stringify({ type: "join", room }));
  };
  ws.onmessage = (event) => show(JSON.parse(event.data));
  // A rejected handshake (401/403) is only "closed, code 1006" to a page: browsers
  // hide the HTTP status from scripts on purpose (it would leak cross-origin facts).
  ws.onclose = (event) => {
    if (socket === ws) setStatus(`closed (${event.code})`);
  };
}

$("connect-form").addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});

$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!socket || socket.readyState !== WebSocket.OPEN || !text) return;
  socket.send(JSON.stringify({ type: "say", room: $("room").value.trim(), text }));
  $("text").value = "";
});
