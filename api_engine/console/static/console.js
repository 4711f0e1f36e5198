// API border console: the live alert queue (Server-Sent Events) and small conveniences.
// Strategy: the server sends the whole queue whenever it changes; we redraw the table body from it,
// flash rows we had not seen, and keep everything else server-rendered. No framework, no build.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// For scripts calling the JSON API from a page: fetch with the CSRF header added.
window.consoleFetch = function (url, options) {
  const opts = Object.assign({ credentials: "same-origin" }, options || {});
  opts.headers = Object.assign({ "X-CSRF-Token": csrfToken() }, opts.headers || {});
  return fetch(url, opts);
};

function pct(x) { return Math.round(x * 100) + "%"; }

function cell(row, html, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.append(...html);
  row.append(td);
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value == null ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

function renderQueue(table, queue, seen) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (queue.alerts.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = text("td", (queue.show || "waiting") === "waiting" ?
      "No open alerts. New ones appear here by themselves." : "No hits here.");
    td.colSpan = 9;
    tr.append(td);
    body.append(tr);
  }
  for (const a of queue.alerts) {
    const tr = document.createElement("tr");
    tr.dataset.hitId = a.hit_id;
    tr.className = "sev-" + a.severity + (seen.size && !seen.has(a.hit_id) ? " fresh" : "");
    cell(tr, [text("span", a.severity, "badge sev-" + a.severity)]);
    cell(tr, [document.createTextNode(pct(a.score))], "num");
    const main = document.createElement("a");
    main.className = "main";
    main.href = "/hits/" + a.hit_id;
    main.append(text("b", a.surname || ""), document.createTextNode(", " + (a.given_names || "")));
    cell(tr, [main, document.createElement("br"),
              text("small", (a.nationality || "?") + " · born " + (a.date_of_birth || "?") + " · " + a.role)]);
    cell(tr, [document.createTextNode(a.list + " : " + a.entry_id), document.createElement("br"), text("small", a.category || "")]);
    cell(tr, [text("b", a.flight_id || ""), document.createElement("br"), text("small", a.route)]);
    cell(tr, [text("span", a.arrives_in || "", "countdown"), document.createElement("br"), text("small", a.arrival.text)]);
    cell(tr, [text("small", a.received.text)]);
    const st = [text("span", a.status, "status st-" + a.status)];
    if (a.entry_removed_at) st.push(document.createElement("br"), text("span", "entry removed from list", "badge entry-removed"));
    cell(tr, st);
    const link = text("a", "Explain & decide", "button");
    link.href = "/hits/" + a.hit_id;
    cell(tr, [link]);
    body.append(tr);
  }
  seen.clear();
  for (const a of queue.alerts) seen.add(a.hit_id);
  const counts = document.getElementById("counts");
  if (counts) counts.textContent = queue.open + " open · " + queue.escalated + " escalated · " +
    (queue.pending || 0) + " awaiting approval";
  for (const link of document.querySelectorAll("#queue-show a[data-show]")) {
    const n = link.querySelector(".count");
    if (n && queue.counts) n.textContent = String(queue.counts[link.dataset.show] || 0);
  }
}

// A queue row (its hit) or a row with data-href opens like its link; the link inside it keeps the keyboard path.
function clickableRows() {
  document.addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-href], #queue tr[data-hit-id]");
    if (!row || e.target.closest("a, button, input, select, textarea, label")) return;
    if (window.getSelection && String(window.getSelection())) return;  // selecting text, not opening
    window.location = row.dataset.href || "/hits/" + row.dataset.hitId;
  });
}

function startQueue() {
  const table = document.getElementById("queue");
  if (!table || !window.EventSource) return;
  const live = document.getElementById("live");
  const seen = new Set(Array.from(table.querySelectorAll("tr[data-hit-id]"), (tr) => Number(tr.dataset.hitId)));
  const source = new EventSource(table.dataset.stream);
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "live off"; });
  source.addEventListener("queue", (e) => {
    renderQueue(table, JSON.parse(e.data), seen);
    live.textContent = "live"; live.className = "live on";
    table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
  });
  source.addEventListener("signed-out", () => { source.close(); window.location = "/login"; });
}

function autoSubmitFilters() {
  const sort = document.getElementById("sort");
  if (sort) sort.addEventListener("change", () => sort.form.submit());
}

document.addEventListener("DOMContentLoaded", () => { startQueue(); autoSubmitFilters(); clickableRows(); });
