// The dashboard: polls /dashboard/api every 2 s and fills the page. Every value is set as
// text (never as HTML); every POST carries the session's token and stays on this origin.
"use strict";

const TOKEN = document.querySelector("meta[name='csrf-token']").content;
const POLL_MS = 2000;

function $(selector) {
  return document.querySelector(selector);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) {
    window.location.assign("/dashboard/login");
    throw new Error("logged out");
  }
  return response.json();
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": TOKEN },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error((data.message && data.message.long) || response.statusText);
  }
  return data;
}

function setTile(key, text, warn) {
  const tile = document.getElementById("tile-" + key);
  tile.querySelector(".value").textContent = text;
  tile.classList.toggle("warn", Boolean(warn));
}

function percent(rate, digits) {
  return rate === null ? "–" : (rate * 100).toFixed(digits) + " %";
}

function millis(value) {
  return value === null || value === undefined ? "–" : value + " ms";
}

// An id as this service issues them (domain/ids.py): anything else is never put in a URL.
const EMAIL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// What the chart spans: "hour" (per minute) or "day" (per hour), both from the overview.
let chartRange = "hour";
const SPANS = {
  hour: { caption: "per minute, the last hour", unit: "a minute" },
  day: { caption: "per hour, the last day", unit: "an hour" },
};

function drawChart(series) {
  const svg = document.getElementById("throughput");
  const kinds = ["accepted", "sent", "failed"];
  const width = 600, height = 120, pad = 4;
  const count = series.accepted.length;
  let top = 1;
  for (const kind of kinds) top = Math.max(top, ...series[kind]);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  for (const kind of kinds) {
    const points = series[kind].map((value, i) => {
      const x = pad + (i * (width - 2 * pad)) / Math.max(1, count - 1);
      const y = height - pad - (value * (height - 2 * pad)) / top;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("class", "line " + kind);
    svg.appendChild(line);
  }
  const span = SPANS[chartRange];
  svg.setAttribute("aria-label", "Emails " + span.caption);
  svg.dataset.range = chartRange;
  $("#chart-span").textContent = span.caption;
  $("#chart-max").textContent = "top of the chart: " + top + " " + span.unit;
}

function chooseRange(range) {
  chartRange = range;
  $("#chart-hour").setAttribute("aria-pressed", String(range === "hour"));
  $("#chart-day").setAttribute("aria-pressed", String(range === "day"));
  refresh();
}

// One span's count and rate tiles: prefix "" for the hour, "day-" for the day.
function showCounts(activity, prefix) {
  for (const [kind, total] of Object.entries(activity.totals)) setTile(prefix + kind, String(total));
  const rates = activity.rates;
  setTile(prefix + "bounceRate", percent(rates.bounce, 1), rates.bounceWarning);
  setTile(prefix + "complaintRate", percent(rates.complaint, 2), rates.complaintWarning);
}

// The current minute's counts: the last bucket of the hour's per-minute series.
function showMinute(activity) {
  for (const [kind, counts] of Object.entries(activity.series)) {
    setTile("minute-" + kind, String(counts[counts.length - 1]));
  }
}

function showOverview(data) {
  for (const [key, value] of Object.entries(data.queue)) setTile(key, String(value));
  if (data.activity) showMinute(data.activity);
  if (data.activity) showCounts(data.activity, "");
  if (data.day) showCounts(data.day, "day-");
  const charted = chartRange === "day" ? data.day : data.activity;
  if (charted) drawChart(charted.series);
  const sources = {
    worker: "Circuits of the worker in this process.",
    shared: "Circuits shared by every worker (from the database).",
    none: "This process runs no worker, and the store shares no circuits: see each worker.",
  };
  $("#circuit-source").textContent = sources[data.circuits.source] || "";
  const names = $("#redrive-providers");
  names.replaceChildren();
  for (const provider of data.circuits.providers) {
    const option = document.createElement("option");
    option.value = provider.name;
    names.appendChild(option);
  }
  const body = $("#providers tbody");
  body.replaceChildren();
  for (const provider of data.circuits.providers) {
    const row = document.createElement("tr");
    cell(row, provider.name);
    cell(row, provider.state || "not known here").className = "state " + provider.state;
    cell(row, provider.failures);
    cell(row, provider.until || "");
    cell(row, provider.attempts);
    cell(row, provider.successRate === null ? "–" : percent(provider.successRate, 1));
    cell(row, millis(provider.p50Ms)).className = "latency p50";
    cell(row, millis(provider.p99Ms)).className = "latency p99";
    cell(row, provider.paused ? "since " + provider.pausedAt : "").className = "paused";
    const actions = cell(row, "");
    row.dataset.provider = provider.name;
    if (provider.paused) {
      actions.appendChild(button("Resume", () => pauseAction(provider.name, "resume")));
    } else if (provider.pausable) {
      actions.appendChild(button("Pause", () => pauseAction(provider.name, "pause")));
    }
    body.appendChild(row);
  }
}

function showDead(data) {
  $("#dead-total").textContent = "(" + data.total + ")";
  const body = $("#dead tbody");
  body.replaceChildren();
  for (const letter of data.deadLetters) {
    const row = document.createElement("tr");
    row.dataset.id = letter.id;
    cell(row, letter.id).className = "mono";
    cell(row, letter.failedAt);
    cell(row, letter.attempts);
    cell(row, letter.provider);
    cell(row, letter.error);
    const actions = cell(row, "");
    actions.appendChild(button("Redrive", () => redrive({ ids: [letter.id] })));
    body.appendChild(row);
  }
  $("#dead .empty").hidden = data.deadLetters.length > 0;
}

function showWebhooks(data) {
  const body = $("#webhooks tbody");
  body.replaceChildren();
  for (const endpoint of data.endpoints) {
    const row = document.createElement("tr");
    cell(row, endpoint.url).className = "mono";
    cell(row, endpoint.enabled ? "enabled" : "disabled: " + endpoint.disabledReason);
    const tried = endpoint.attempts.map(
      (a) => a.at + " " + (a.status || a.error) + " (" + a.latencyMs + " ms)"
    );
    cell(row, tried.join("\n") || "none yet").className = "attempts";
    const actions = cell(row, "");
    actions.appendChild(button("Test", () => webhookAction(endpoint.id, "test")));
    actions.appendChild(button("Replay failed", () => webhookAction(endpoint.id, "replay")));
    body.appendChild(row);
  }
  $("#webhooks .empty").hidden = data.endpoints.length > 0;
  if (!data.available) $("#webhook-result").textContent = "Webhooks are not kept by this store.";
}

// The filter the last dry run counted: Confirm redrives by that one, not what is typed since.
let redriveMatch = null;

async function redrive(body) {
  try {
    const done = await postJson("/dashboard/api/dead/redrive", body);
    $("#redrive-result").textContent = "Redriven: " + done.redriven;
  } catch (e) {
    $("#redrive-result").textContent = e.message;
  }
  refresh();
}

async function pauseAction(name, action) {
  try {
    const done = await postJson("/dashboard/api/providers/" + action, { provider: name });
    const changed = action === "pause" ? done.paused : done.resumed;
    $("#pause-result").textContent =
      name + (changed ? " " + action + "d." : action === "pause" ? " was paused already." : " was not paused.");
  } catch (e) {
    $("#pause-result").textContent = e.message;
  }
  refresh();
}

async function webhookAction(id, action) {
  const path = "/dashboard/api/webhooks/" + encodeURIComponent(id) + "/" + action;
  try {
    const done = await postJson(path, {});
    $("#webhook-result").textContent =
      action === "test" ? "Test event queued: " + done.webhookId : "Replayed: " + done.replayed;
  } catch (e) {
    $("#webhook-result").textContent = e.message;
  }
}

async function suppression(action) {
  const address = $("#suppression-address").value.trim();
  const result = $("#suppression-result");
  const body = $("#suppression-entries tbody");
  body.replaceChildren();
  if (!address) return;
  try {
    const done = await postJson("/dashboard/api/suppressions/" + action, { address });
    if (action === "add") result.textContent = done.added ? "Added." : "Already suppressed.";
    if (action === "remove") result.textContent = "Removed: " + done.removed;
    if (action === "search") {
      result.textContent = done.entries.length ? "" : "Not suppressed.";
      for (const entry of done.entries) {
        const row = document.createElement("tr");
        cell(row, entry.address);
        cell(row, entry.scope);
        cell(row, entry.reason);
        cell(row, entry.createdAt);
        cell(row, entry.expiresAt || "never");
        body.appendChild(row);
      }
    }
  } catch (e) {
    result.textContent = e.message;
  }
}

// The Emails section: the search is POSTed (a typed recipient stays out of every URL); the
// list shows no address, the detail of the email clicked shows its recipients'.
let emailSearch = null;

function localTime(id) {
  const value = $(id).value;
  return value ? new Date(value).toISOString() : "";
}

async function searchEmails(more) {
  const result = $("#email-result");
  const body = $("#email-list tbody");
  if (!more) {
    emailSearch = {
      state: $("#email-state").value,
      tag: $("#email-tag").value.trim(),
      to: $("#email-to").value.trim(),
      after: localTime("#email-after"),
      before: localTime("#email-before"),
    };
    body.replaceChildren();
  }
  try {
    const done = await postJson("/dashboard/api/emails/search", emailSearch);
    for (const email of done.emails) body.appendChild(emailRow(email));
    emailSearch.cursor = done.nextCursor || "";
    $("#email-more").hidden = !done.nextCursor;
    result.textContent = body.children.length ? "" : "No email matches.";
  } catch (e) {
    result.textContent = e.message;
  }
}

function emailRow(email) {
  const row = document.createElement("tr");
  row.dataset.id = email.id;
  const id = cell(row, "");
  const link = document.createElement("a");
  link.href = "#email-detail";
  link.className = "mono";
  link.textContent = email.id;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    showEmail(email.id);
  });
  id.appendChild(link);
  cell(row, email.status).className = "status " + email.status;
  cell(row, email.createdAt);
  cell(row, email.provider || "");
  return row;
}

async function showEmail(id, resultAt) {
  const result = $(resultAt || "#email-result");
  result.textContent = "";
  try {
    const email = await getJson("/dashboard/api/emails/" + encodeURIComponent(id));
    if (!email.id) throw new Error((email.message && email.message.long) || "not found");
    $("#detail-id").textContent = email.id;
    $("#detail-status").textContent = email.status;
    $("#detail-times").textContent =
      "created " + email.createdAt + ", send at " + email.sendAt + ", " + email.attempts + (email.attempts === 1 ? " attempt" : " attempts");
    const recipients = $("#detail-recipients tbody");
    recipients.replaceChildren();
    for (const recipient of email.recipients || []) {
      const row = document.createElement("tr");
      cell(row, recipient.address || "(purged)");
      cell(row, recipient.state + (recipient.bounce ? " (" + recipient.bounce + ")" : ""));
      const events = recipient.events.map(
        (e) => e.at + " " + e.type + (e.provider ? " via " + e.provider : "") + (e.bounce ? " " + e.bounce : "")
      );
      cell(row, events.join("\n") || "no provider events yet").className = "attempts";
      recipients.appendChild(row);
    }
    const history = $("#detail-events tbody");
    history.replaceChildren();
    for (const e of email.events) {
      const row = document.createElement("tr");
      cell(row, e.at);
      cell(row, e.status).className = "status " + e.status;
      cell(row, e.provider || "");
      cell(row, e.outcome || "");
      cell(row, e.code || "");
      history.appendChild(row);
    }
    $("#email-detail").hidden = false;
    $("#email-detail").scrollIntoView();
  } catch (e) {
    // Not the detail of an email shown before, under a line saying there is none.
    $("#email-detail").hidden = true;
    result.textContent = e.message;
  }
}

// The box: an id typed or pasted (any letter case, spaces around) opens that email's detail.
function lookUp() {
  const id = $("#lookup-id").value.trim().toLowerCase();
  if (!EMAIL_ID.test(id)) {
    $("#lookup-result").textContent = "That is not an email id (like " + $("#lookup-id").placeholder + ").";
    return;
  }
  showEmail(id, "#lookup-result");
}

async function refresh() {
  try {
    const [overview, dead, webhooks] = await Promise.all([
      getJson("/dashboard/api/overview"),
      getJson("/dashboard/api/dead"),
      getJson("/dashboard/api/webhooks"),
    ]);
    showOverview(overview);
    showDead(dead);
    showWebhooks(webhooks);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (e) {
    $("#updated").textContent = "not updated: " + e.message;
  }
}

function start() {
  $("#redrive-all").addEventListener("click", async () => {
    try {
      const dry = await postJson("/dashboard/api/dead/redrive", { all: true, dryRun: true });
      $("#redrive-count").textContent = dry.count + " dead letters would be redriven.";
      $("#redrive-confirm").hidden = false;
    } catch (e) {
      $("#redrive-result").textContent = e.message;
    }
  });
  $("#redrive-all-confirm").addEventListener("click", () => {
    $("#redrive-confirm").hidden = true;
    redrive({ all: true });
  });
  $("#redrive-filter").addEventListener("submit", async (event) => {
    event.preventDefault();
    const match = { provider: $("#redrive-provider").value.trim(), error: $("#redrive-error").value };
    try {
      const dry = await postJson("/dashboard/api/dead/redrive", { match, dryRun: true });
      $("#redrive-match-count").textContent = dry.count + " dead letters match.";
      $("#redrive-match-confirm").hidden = false;
      redriveMatch = match;
    } catch (e) {
      $("#redrive-result").textContent = e.message;
    }
  });
  $("#redrive-match-go").addEventListener("click", () => {
    $("#redrive-match-confirm").hidden = true;
    redrive({ match: redriveMatch });
  });
  $("#redrive-match-cancel").addEventListener("click", () => {
    $("#redrive-match-confirm").hidden = true;
  });
  $("#redrive-all-cancel").addEventListener("click", () => {
    $("#redrive-confirm").hidden = true;
  });
  $("#suppression-form").addEventListener("submit", (event) => {
    event.preventDefault();
    suppression("search");
  });
  $("#suppression-add").addEventListener("click", () => suppression("add"));
  $("#chart-hour").addEventListener("click", () => chooseRange("hour"));
  $("#chart-day").addEventListener("click", () => chooseRange("day"));
  $("#email-form").addEventListener("submit", (event) => {
    event.preventDefault();
    searchEmails(false);
  });
  $("#email-more").addEventListener("click", () => searchEmails(true));
  $("#lookup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp();
  });
  $("#detail-close").addEventListener("click", () => {
    $("#email-detail").hidden = true;
  });
  searchEmails(false);
  $("#suppression-remove").addEventListener("click", () => suppression("remove"));
  refresh();
  setInterval(refresh, POLL_MS);
}

if (document.getElementById("queue")) start();
