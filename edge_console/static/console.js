"use strict";
// The fleet console page: polls /api/devices, draws the table, and edits one device.
let SETTINGS = [];  // [{name, env, help}]: the agent's remote allowlist, from the console
const $ = (id) => document.getElementById(id);
let selected = null;
let shownUtterances = "";
let refreshMs = 2000;

function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

// points: [[time, value], ...]; scale(value) maps a value to 0..1.
function sparkline(points, scale) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  const step = points.length > 1 ? 120 / (points.length - 1) : 0;
  line.setAttribute("points", points.map(([, v], i) =>
    `${(i * step).toFixed(1)},${(24 - Math.max(0, Math.min(1, scale(v))) * 24).toFixed(1)}`).join(" "));
  svg.appendChild(line);
  return svg;
}

function row(device) {
  const tr = document.createElement("tr");
  tr.dataset.device = device.device_id;
  if (device.device_id === selected) tr.className = "selected";
  tr.appendChild(text("td", device.device_id, "device"));
  tr.appendChild(text("td", device.online ? "online" : "offline", `state ${device.online ? "online" : "offline"}`));
  const alerts = text("td", "", "alerts");
  for (const code of device.alerts) {
    const badge = text("span", code, "alert");
    badge.dataset.code = code;
    alerts.appendChild(badge);
  }
  tr.appendChild(alerts);
  const level = text("td", device.report ? `${device.report.level_rms_dbfs.toFixed(0)} ` : "–", "level");
  level.appendChild(sparkline(device.levels, (db) => (db + 120) / 120));
  tr.appendChild(level);
  const spool = text("td", device.report ?
    `${device.report.spool_depth} (oldest ${device.report.spool_oldest_age_s.toFixed(0)} s) ` : "–", "spool");
  const deepest = Math.max(1, ...device.spool_depths.map(([, d]) => d));
  spool.appendChild(sparkline(device.spool_depths, (d) => d / deepest));
  tr.appendChild(spool);
  const s = device.settings;
  tr.appendChild(text("td", `v${s.desired_version} / v${s.applied_version}`, "settings-versions"));
  tr.appendChild(text("td", device.last_report_age_s === null ? "never" : `${device.last_report_age_s} s ago`, "age"));
  tr.addEventListener("click", () => { selected = device.device_id; shownUtterances = ""; fillForm(device); refresh(); });
  return tr;
}

function fillForm(device) {
  const fields = $("settings-fields");
  fields.replaceChildren();
  for (const { name, help } of SETTINGS) {
    const label = text("label", name);
    label.title = help;
    const input = document.createElement("input");
    input.name = name;
    input.placeholder = "the device's own";
    input.value = device.settings.desired[name] ?? "";
    label.appendChild(input);
    fields.appendChild(label);
  }
  $("settings-message").textContent = "";
}

function showDetail(device) {
  $("detail").hidden = false;
  $("detail-title").textContent = `${device.device_id} — ${device.online ? "online" : "offline"}`;
  $("identity").textContent = device.identity ? `key ${device.identity}` : "authenticated by an operator-signed token (or authentication off)";
  $("revoke").disabled = device.identity === "revoked";
  const sentences = $("alert-sentences");
  sentences.replaceChildren(...device.alert_sentences.map((a) => text("li", `${a.code}: ${a.sentence}`)));
  const report = $("report");
  report.replaceChildren();
  const r = device.report || {};
  const shown = {
    "microphone": r.mic_open ? `open, ${r.capture_format}` : "closed",
    "level (rms / peak)": r.mic_open === undefined ? "–" : `${r.level_rms_dbfs} / ${r.level_peak_dbfs} dBFS`,
    "noise floor": `${r.noise_floor_dbfs ?? "–"} dBFS`,
    "since speech / delivery": `${r.since_speech_s ?? "–"} s / ${r.since_delivery_s ?? "–"} s`,
    "sent / acked / dropped / quarantined": `${r.segments_sent} / ${r.segments_acked} / ${r.segments_dropped} / ${r.segments_quarantined}`,
    "spool": `${r.spool_depth} segments, ${r.spool_bytes} B, oldest ${r.spool_oldest_age_s} s`,
    "settings": `desired v${device.settings.desired_version} (by ${device.settings.changed_by ?? "–"}), applied v${device.settings.applied_version}` +
      (device.settings.error ? `; refused: ${device.settings.error}` : ""),
    "agent": `${r.agent_version}, up ${r.uptime_s} s, reports every ${r.health_interval_s ?? "–"} s, clock skew ${device.clock_skew_ms} ms, via ${device.gateway_id}`,
  };
  for (const [k, v] of Object.entries(shown)) {
    report.appendChild(text("dt", k));
    report.appendChild(text("dd", v));
  }
  const recent = (r.recent || []);
  const key = recent.map((u) => u.segment_id).join(",");
  if (key !== shownUtterances) {
    shownUtterances = key;
    $("utterances").replaceChildren(...recent.slice().reverse().map((u) => {
      const li = text("li", `${u.segment_id} (${(u.duration_ms / 1000).toFixed(2)} s) `);
      li.dataset.durationMs = u.duration_ms;
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "metadata";
      audio.src = `api/devices/${encodeURIComponent(device.device_id)}/utterances/${encodeURIComponent(u.segment_id)}/audio`;
      li.appendChild(audio);
      return li;
    }));
  }
}

// The devices waiting to join, each with Accept and Reject.
function waitingRow(request) {
  const tr = document.createElement("tr");
  tr.dataset.device = request.device_id;
  if (request.conflict) tr.className = "conflict";
  tr.appendChild(text("td", request.device_id + (request.conflict ? " (conflict: another key is enrolled)" : ""), "device"));
  const thumb = document.createElement("td");
  thumb.appendChild(text("code", request.thumbprint, "thumbprint"));
  tr.appendChild(thumb);
  tr.appendChild(text("td", request.hostname || "–"));
  tr.appendChild(text("td", request.agent_version || "–"));
  tr.appendChild(text("td", request.capture_devices.join(", ") || "–"));
  tr.appendChild(text("td", request.gateway_id));
  tr.appendChild(text("td", new Date(request.first_seen_ms).toLocaleString()));
  const actions = document.createElement("td");
  for (const decision of ["accept", "reject"]) {
    const button = text("button", decision === "accept" ? "Accept" : "Reject", decision);
    button.type = "button";
    button.dataset.decision = decision;
    button.addEventListener("click", () => decide(request.device_id, decision));
    actions.appendChild(button);
  }
  tr.appendChild(actions);
  return tr;
}

async function post(path) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    credentials: "same-origin",
  });
  return [response.ok, await response.json()];
}

async function decide(deviceId, decision) {
  const [ok, body] = await post(`api/enrollments/${encodeURIComponent(deviceId)}/${decision}`);
  const message = $("enrollment-message");
  message.className = ok ? "" : "error";
  message.textContent = ok ? `${deviceId}: ${body.status} by ${body.changed_by}` : body.message;
  refresh();
}

async function refreshEnrollments() {
  const response = await fetch("api/enrollments", { credentials: "same-origin" });
  if (!response.ok) return;
  const waiting = (await response.json()).enrollments;
  $("enrollments").hidden = waiting.length === 0;
  $("waiting").tBodies[0].replaceChildren(...waiting.map(waitingRow));
}

$("revoke").addEventListener("click", async () => {
  if (!selected) return;
  const [ok, body] = await post(`api/devices/${encodeURIComponent(selected)}/revoke`);
  const message = $("revoke-message");
  message.className = ok ? "" : "error";
  message.textContent = ok ? `${selected} revoked by ${body.changed_by}: its streams and reports are refused within seconds.` : body.message;
  refresh();
});

// While the console cannot read Kafka, say so: device states are as of the last read.
function showKafka(kafka) {
  const banner = $("kafka-outage");
  banner.hidden = kafka.readable;
  if (!kafka.readable) {
    const since = new Date(kafka.since_ms).toLocaleTimeString();
    banner.textContent = `The console cannot read Kafka since ${since} (${kafka.problem}). ` +
      `Device states are as of then; no device is called offline for this outage.`;
  }
}

async function refresh() {
  let response;
  try {
    response = await fetch("api/devices", { credentials: "same-origin" });
  } catch (e) {
    $("summary").textContent = `console unreachable: ${e}`;
    return;
  }
  if (response.status === 401) {
    $("login").hidden = false;
    $("fleet").hidden = true;
    $("summary").textContent = "Sign in with an operator token.";
    return;
  }
  const body = await response.json();
  refreshMs = body.refresh_s * 1000;
  $("login").hidden = true;
  $("fleet").hidden = false;
  $("operator").textContent = `operator: ${body.operator}`;
  showKafka(body.kafka);
  const devices = body.devices;
  const offline = devices.filter((d) => !d.online).length;
  const alerting = devices.filter((d) => d.alerts.length).length;
  $("summary").textContent = `${devices.length} devices, ${offline} offline, ${alerting} with alerts`;
  $("devices").tBodies[0].replaceChildren(...devices.map(row));
  await refreshEnrollments();
  const current = devices.find((d) => d.device_id === selected);
  if (current) showDetail(current);
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }), credentials: "same-origin",
  });
  if (!response.ok) {
    $("login-error").textContent = (await response.json()).message;
    return;
  }
  $("token").value = "";
  $("login-error").textContent = "";
  refresh();
});

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = {};
  for (const input of $("settings-fields").querySelectorAll("input")) {
    if (input.value.trim() !== "") values[input.name] = input.value.trim();
  }
  const response = await fetch(`api/devices/${encodeURIComponent(selected)}/settings`, {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ values }), credentials: "same-origin",
  });
  const body = await response.json();
  const message = $("settings-message");
  message.className = response.ok ? "" : "error";
  message.textContent = response.ok ? `Stored as version ${body.desired_version}; the device applies it at its next report.` : body.message;
  refresh();
});

async function loop() {
  if (!SETTINGS.length) {
    const response = await fetch("api/remote-settings", { credentials: "same-origin" });
    if (response.ok) SETTINGS = (await response.json()).settings;
  }
  await refresh();
  setTimeout(loop, refreshMs);
}
loop();
