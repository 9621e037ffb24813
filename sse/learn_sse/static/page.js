// The page's EventSource: the browser does the SSE protocol, we only render events.
//
// Reading order: after server.py and client.py (the Python client does by hand what
// the browser does here for free).  What the browser does for us (WHATWG HTML §9.2.3
// "Processing model"):
//   - parses the stream (§9.2.5) and dispatches one DOM event per SSE event, named by
//     the event: field (§9.2.6); an event without event: is a "message";
//   - remembers the last id: field in lastEventId, and on a reconnect sends it in the
//     Last-Event-ID header (§9.2.4), so the server can replay what we missed;
//   - reconnects by itself after the retry: delay when the stream ends or breaks
//     (readyState goes back to CONNECTING); it gives up (CLOSED) only on an HTTP error
//     status or a wrong Content-Type.
"use strict";

// onmessage sees only events *without* an event: field.  Named events need a listener
// each, so the page lists the types it knows (the feed's, plus "note" for /publish).
const TYPES = ["price", "news", "status", "note", "message", "reset"];
const MAX_ROWS = 500; // a tab left open for hours must not grow for ever

const statusEl = document.getElementById("status");
const lastIdEl = document.getElementById("last-id");
const countEl = document.getElementById("count");
const logEl = document.getElementById("log");
let count = 0;

function setStatus(text) {
  statusEl.textContent = text;
  statusEl.className = text;
}

function show(event) {
  const row = document.createElement("li");
  row.dataset.id = event.lastEventId;
  row.dataset.type = event.type;
  row.className = event.type;
  const type = document.createElement("span");
  type.className = "type";
  type.textContent = event.type;
  // textContent, never innerHTML: event data comes from whoever called /publish.
  row.append(`#${event.lastEventId} `, type, " ", event.data);
  logEl.prepend(row);
  while (logEl.children.length > MAX_ROWS) logEl.lastElementChild.remove();
  count += 1;
  countEl.textContent = String(count);
  lastIdEl.textContent = event.lastEventId || "(none)";
}

const source = new EventSource("/events");
source.addEventListener("open", () => setStatus("open"));
source.addEventListener("error", () => {
  // The same "error" event means "reconnecting" or "given up": readyState tells which.
  setStatus(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
});
for (const type of TYPES) source.addEventListener(type, show);
