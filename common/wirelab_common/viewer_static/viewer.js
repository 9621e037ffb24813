// The wirelab viewer: events from /events (SSE, one JSON event per message) drawn as a
// sequence diagram.  Each event becomes one row, appended once and changed only when a
// later event pairs with it, so thousands of events cost no re-render.  Pairing rules:
// see the docstring of viewer.py.
"use strict";

const T_COL = 70;        // the time column
const UNKNOWN_X = 100;   // the "?" lane: the other end of a message we cannot pair
const FIRST_X = 230;     // the first actor's lane
const LANE = 260;        // between lanes
const WINDOW = 400;      // pair only events at most this many lines apart
const REPEAT_WINDOW = 30;  // a repeat of the same message within this many lines is collapsed

const rowsEl = document.getElementById("rows");
const headEl = document.getElementById("head");
const statusEl = document.getElementById("status");
const actorsEl = document.getElementById("actors");
const actsEl = document.getElementById("acts");
const detailEl = document.getElementById("detail");
const filtersEl = document.getElementById("filters");

const lanes = new Map();      // actor -> lane index
const events = [];            // {n, e, kind, row, pair, target}
const unpaired = {sent: {cid: new Map(), exact: new Map(), loose: new Map()},      // key -> [event index]
                  received: {cid: new Map(), exact: new Map(), loose: new Map()}};
const lastRun = new Map();    // repeat signature -> {first: event index, n, actor}
const hiddenActors = new Set();
const hiddenDirs = new Set();
const halves = new Set();     // events drawn as a half arrow, to or from the "?" lane
let queue = [];
let t0 = null;
let lastId = 0;

function laneX(actor) {
  if (actor === null) return UNKNOWN_X;
  if (!lanes.has(actor)) addLane(actor);
  return FIRST_X + lanes.get(actor) * LANE;
}

function addLane(actor) {
  const i = lanes.size;
  lanes.set(actor, i);
  const x = FIRST_X + i * LANE;
  const name = el("div", "name", actor);
  name.style.left = x + "px";
  headEl.appendChild(name);
  const life = el("div", "lifeline");
  life.style.left = x + "px";
  rowsEl.appendChild(life);
  // Rows clip what they draw (content-visibility), so leave room for a state note on the last lane.
  headEl.style.minWidth = rowsEl.style.minWidth = x + LANE + 200 + "px";
  const box = el("label", "", "");
  box.innerHTML = `<input type="checkbox" checked> ${escapeHtml(actor)}`;
  box.firstChild.addEventListener("change", (ev) => {
    if (ev.target.checked) hiddenActors.delete(i); else hiddenActors.add(i);
    applyFilters();
  });
  actorsEl.appendChild(box);
}

// The "?" lane shows only while some arrow uses it (a pair found later removes the need).
let unknownLane = null;  // its name and lifeline, made on first use

function ensureUnknownLane() {
  if (unknownLane === null) {
    const name = el("div", "name", "?");
    name.style.left = UNKNOWN_X + "px";
    name.title = "the other end of a message no event pairs with";
    headEl.appendChild(name);
    const life = el("div", "lifeline");
    life.style.left = UNKNOWN_X + "px";
    rowsEl.appendChild(life);
    unknownLane = [name, life];
  }
  for (const node of unknownLane) node.hidden = halves.size === 0;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}

// The trace puts annotations after two spaces ("GET / HTTP/1.1  (upgrade to websocket)"),
// and the two ends of a message do not always print the same annotation.
function keyOf(e) { return e.summary.split("  ")[0]; }

// When the two ends print different summaries ("POST http://host/webhook id=msg_1" and
// "POST /webhook id=msg_1"), a looser match: the same first word, and either the same
// second word (a URL compared by its path: a client prints the URL, its server the path)
// or a shared id (12+ letters and digits, with a digit).
function firstWord(e) { return e.summary.split(" ")[0]; }
function ids(e) { return new Set((e.summary.match(/[A-Za-z0-9_]{12,}/g) || []).filter((w) => /\d/.test(w))); }
function pathOf(word) { return word === undefined ? word : word.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ""); }
function looselyAlike(a, b) {
  const wa = a.e.summary.split(" "), wb = b.e.summary.split(" ");
  if (wa.length > 1 && pathOf(wa[1]) === pathOf(wb[1])) return true;
  const theirs = ids(b.e);
  for (const id of ids(a.e)) if (theirs.has(id)) return true;
  return false;
}

function canPair(sent, recv) {
  if (sent.e.actor === recv.e.actor) return false;
  if (Math.abs(sent.n - recv.n) > WINDOW) return false;
  if (sent.e.peer && sent.e.peer !== recv.e.actor) return false;
  if (recv.e.peer && recv.e.peer !== sent.e.actor) return false;
  if (sent.e.cid && recv.e.cid && sent.e.cid !== recv.e.cid) return false;
  return true;
}

// When both ends name each other (peer) and the message (cid), they pair whatever their
// summaries say: "sender>receiver|cid", the same key seen from either end.
function cidKey(e, isSent) {
  if (!e.cid || !e.peer) return null;
  return (isSent ? e.actor + ">" + e.peer : e.peer + ">" + e.actor) + "|" + e.cid;
}

// The earliest unpaired event of the other direction that matches `me`: by peer and cid
// first, exactly by key second, loosely third.  Each unpaired event sits in up to three
// lists (by peer and cid, by key, by first word); a paired one is skipped, and dropped,
// wherever it is met.
function takePartner(me, isSent) {
  const pools = isSent ? unpaired.received : unpaired.sent;
  const tries = [[pools.cid.get(cidKey(me.e, isSent)), () => true],
                 [pools.exact.get(keyOf(me.e)), () => true],
                 [pools.loose.get(firstWord(me.e)), (other) => looselyAlike(me, other)]];
  for (const [list, alike] of tries) {
    if (!list) continue;
    while (list.length && (events[list[0]].pair || Math.abs(events[list[0]].n - me.n) > WINDOW)) list.shift();
    for (let k = 0; k < list.length; k++) {
      const other = events[list[k]];
      if (other.pair) continue;
      if ((isSent ? canPair(me, other) : canPair(other, me)) && alike(other)) {
        list.splice(k, 1);
        return other;
      }
    }
  }
  return null;
}

function remember(pools, ev, index) {
  const byCid = cidKey(ev.e, pools === unpaired.sent);
  if (byCid !== null) {
    if (!pools.cid.has(byCid)) pools.cid.set(byCid, []);
    pools.cid.get(byCid).push(index);
  }
  for (const [pool, key] of [[pools.exact, keyOf(ev.e)], [pools.loose, firstWord(ev.e)]]) {
    if (!pool.has(key)) pool.set(key, []);
    pool.get(key).push(index);
  }
}

function timeCell(ev) {
  if (t0 === null) t0 = ev.e.t;
  return el("span", "t", ((ev.e.t - t0) * 1000).toFixed(1) + " ms");
}

// Draw (or redraw) the arrow of a sent event, or the half-arrow of an unpaired received.
function drawArrow(ev) {
  const row = ev.row;
  const from = ev.kind === "sent" ? ev.e.actor : (ev.e.peer || null);  // a received: from its peer, if named
  const to = ev.kind === "sent" ? ev.target : ev.e.actor;
  halves.delete(ev.index);
  if (from === null || to === null) halves.add(ev.index);
  ensureUnknownLane();
  const x1 = laneX(from), x2 = laneX(to);
  row.replaceChildren(timeCell(ev));
  row.className = "row arrow d-" + ev.kind + (ev.rep ? " rep" : "");
  for (const actor of [from, to]) if (actor !== null) row.classList.add("a" + lanes.get(actor));
  const left = Math.min(x1, x2), width = Math.max(Math.abs(x2 - x1), 1);
  const line = el("div", "line" + (from === null || to === null ? " half" : ""));
  line.style.left = left + "px";
  line.style.width = width + "px";
  const head = el("div", x2 >= x1 ? "head-r" : "head-l");
  head.style.left = (x2 >= x1 ? x2 - 9 : x2) + "px";
  const label = el("div", "label", ev.e.summary);
  label.style.left = left + 6 + "px";
  label.style.maxWidth = Math.max(width - 12, 120) + "px";
  label.title = ev.e.summary;
  if (ev.count > 1) label.appendChild(el("span", "count", "×" + ev.count));
  row.append(line, head, label);
}

function markRepeat(ev, index) {
  // The same text to another peer, or with another correlation id, is another message
  // (a server's answers to two clients; a relay's offer and answer to one peer); so is
  // the same text received by another actor (one Redis message heard by two servers).
  const sig = [ev.e.actor, ev.e.peer, ev.e.cid, ev.kind, keyOf(ev.e)].join("|");
  const run = lastRun.get(sig);
  if (run && ev.n - run.n <= REPEAT_WINDOW) {
    ev.rep = true;
    run.n = ev.n;
    const first = events[run.first];
    first.count = (first.count || 1) + 1;
    drawArrow(first);
  } else {
    lastRun.set(sig, {first: index, n: ev.n, actor: ev.e.actor});
  }
}

// A state change in between makes the next identical message news, not a repeat
// (a reconnection's request after CONNECTING, unlike a heartbeat).
function forgetRuns(actor) {
  for (const [sig, run] of lastRun) if (run.actor === actor) lastRun.delete(sig);
}

function add(n, e) {
  const index = events.length;
  const ev = {n, e, index, kind: e.direction, row: el("div", "row"), pair: null, target: null};
  events.push(ev);
  ev.row.dataset.index = index;
  ev.row.dataset.dir = e.direction;
  if (e.direction === "sent") {
    const partner = takePartner(ev, true);
    if (partner) {
      pairUp(ev, partner);
    } else {
      ev.target = e.peer || null;
      remember(unpaired.sent, ev, index);
    }
    markRepeat(ev, index);
    drawArrow(ev);
  } else if (e.direction === "received") {
    const partner = takePartner(ev, false);
    if (partner) {
      pairUp(partner, ev);
      drawArrow(partner);
      ev.row.className = "row paired";
    } else {
      remember(unpaired.received, ev, index);
      markRepeat(ev, index);
      drawArrow(ev);
    }
  } else if (e.direction === "state") {
    forgetRuns(e.actor);
    const x = laneX(e.actor);
    ev.row.className = "row state d-state a" + lanes.get(e.actor);
    const box = el("span", "box", e.summary);
    box.style.left = x + "px";
    ev.row.append(timeCell(ev), box);
  } else if (e.actor === "demo" && /^Act \w+/.test(e.summary)) {
    ev.row.className = "row act";
    ev.row.id = "act-" + index;
    ev.row.append(el("span", "text", e.summary));
    const link = el("a", "", e.summary.split(/[:—-]/)[0].trim());
    link.href = "#act-" + index;
    link.title = e.summary;
    actsEl.appendChild(link);
  } else {
    ev.row.className = "row note d-note";
    const text = el("span", "text", "# " + (e.actor && e.actor !== "demo" ? e.actor + ": " : "") + e.summary);
    text.style.left = T_COL + "px";
    ev.row.append(timeCell(ev), text);
  }
  return ev.row;
}

function pairUp(sent, recv) {
  sent.pair = recv;
  recv.pair = sent;
  sent.target = recv.e.actor;
  recv.row.className = "row paired";
  halves.delete(recv.index);
}

function applyFilters() {
  const rules = [];
  for (const i of hiddenActors) rules.push(`#rows .a${i} { display: none; }`);
  for (const d of hiddenDirs) rules.push(`#rows .d-${d} { display: none; }`);
  if (document.getElementById("collapse").checked) rules.push("#rows .rep { display: none; }");
  filtersEl.textContent = rules.join("\n");
}

function flush() {
  const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  const batch = queue;
  queue = [];
  const fragment = document.createDocumentFragment();
  for (const [n, e] of batch) fragment.appendChild(add(n, e));
  rowsEl.appendChild(fragment);
  document.body.dataset.count = events.length;
  statusEl.textContent = `${events.length} events` + (source.readyState === 1 ? " · following" : "");
  if (atBottom && batch.length) window.scrollTo(0, document.body.scrollHeight);
}

function showDetail(ev) {
  for (const old of rowsEl.querySelectorAll(".selected")) old.classList.remove("selected");
  ev.row.classList.add("selected");
  const body = document.getElementById("detail-body");
  body.replaceChildren();
  const ends = ev.kind === "sent" ? [ev, ev.pair] : [ev.pair, ev];
  for (const end of ends) {
    if (!end) continue;
    const e = end.e;
    body.appendChild(el("h3", "", `${e.direction} by ${e.actor} (line ${end.n})`));
    const dl = el("dl");
    const fields = {summary: e.summary, time: new Date(e.t * 1000).toISOString(), pid: e.pid,
                    peer: e.peer, protocol: e.protocol, cid: e.cid};
    for (const [k, v] of Object.entries(fields)) {
      if (v === null || v === undefined) continue;
      dl.append(el("dt", "", k), el("dd", "", String(v)));
    }
    body.appendChild(dl);
    body.appendChild(el("pre", "detail-lines", e.detail && e.detail.length ? e.detail.join("\n") : "(no detail)"));
  }
  detailEl.hidden = false;
}

rowsEl.addEventListener("click", (click) => {
  const row = click.target.closest(".row.arrow");
  if (row) showDetail(events[Number(row.dataset.index)]);
});
document.getElementById("close").addEventListener("click", () => { detailEl.hidden = true; });
for (const box of document.querySelectorAll("#directions input")) {
  box.addEventListener("change", () => {
    if (box.checked) hiddenDirs.delete(box.dataset.dir); else hiddenDirs.add(box.dataset.dir);
    applyFilters();
  });
}
document.getElementById("collapse").addEventListener("change", applyFilters);
applyFilters();

// EventSource resends Last-Event-ID (the last line number) when it reconnects, so the
// server sends only the lines after it.
const source = new EventSource("/events");
source.onmessage = (msg) => {
  const n = Number(msg.lastEventId);
  if (n <= lastId) return;  // already drawn
  lastId = n;
  let e;
  try { e = JSON.parse(msg.data); } catch { return; }  // not an event line
  if (queue.length === 0) setTimeout(flush, 40);  // one DOM append per batch
  queue.push([n, e]);
};
source.onopen = () => { statusEl.textContent = `${events.length} events · following`; };
source.onerror = () => { statusEl.textContent = `${events.length} events · reconnecting`; };
