/// `GET /` on the admin address: the live dashboard, one self-contained page (HTML, CSS and JavaScript
/// in this file, compiled into the binary). It loads nothing from anywhere but the admin address it was
/// served from: no CDN, no web font, no external script; its Content-Security-Policy forbids any other
/// origin, and it works offline.
///
/// The page polls `GET /stats` and `GET /stats/history?since=SEQ` once a second and updates its DOM in
/// place (one card per route, built once, then only text, widths and SVG paths change). Controls POST
/// to the ordinary admin endpoints after a `confirm()`; when the server answers 401 the page asks for
/// the admin token once and keeps it in `sessionStorage` (this tab only). All values from the server
/// are inserted with `textContent`, never as HTML. See docs/dashboard.md.
enum DashboardPage {
    /// The page's headers: no framing (clickjacking of the controls), no sniffing, no referrer, and a
    /// policy that lets the page talk to its own origin only.
    static let securityHeaders: [(name: String, value: String)] = [
        (name: "Content-Security-Policy", value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        (name: "X-Frame-Options", value: "DENY"),
        (name: "X-Content-Type-Options", value: "nosniff"),
        (name: "Referrer-Policy", value: "no-referrer"),
    ]

    /// The response to `GET /`.
    static var response: AdminResponse {
        AdminResponse(status: 200, contentType: "text/html; charset=utf-8", headers: securityHeaders, body: body)
    }

    /// The page bytes.
    static let body: [UInt8] = Array(html.utf8)

    /// The page.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Sluice dashboard</title>
<style>
:root { --fg:#1d2330; --muted:#667085; --line:#e3e6ec; --bg:#f5f6f8; --card:#fff; --ok:#17a673; --warn:#d98a00; --bad:#d64545; --info:#2f6fd8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#1d2330; color:#fff; position:sticky; top:0; z-index:2; flex-wrap:wrap; }
header.top h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header.top .facts { display:flex; gap:14px; color:#c9cfdb; font-size:13px; flex-wrap:wrap; }
header.top .spacer { flex:1; }
header.top button { background:#2c3446; color:#fff; border:1px solid #465069; }
#banner { display:none; background:var(--bad); color:#fff; padding:8px 20px; }
#banner.show { display:block; }
main { padding:16px 20px; display:grid; gap:16px; }
section.route { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
.route-head { display:flex; align-items:baseline; gap:12px; flex-wrap:wrap; }
.route-head h2 { margin:0; font-size:17px; }
.state { padding:2px 9px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--muted); }
.state.steady { background:var(--ok); } .state.progressing { background:var(--info); } .state.promoted { background:#0f7b5a; }
.state.paused { background:var(--warn); } .state.awaiting_approval { background:#8a55d0; } .state.rolled_back { background:var(--bad); }
.detail { color:var(--muted); }
.bars { display:grid; grid-template-columns:150px 1fr; gap:4px 10px; align-items:center; margin:12px 0 8px; font-size:12px; color:var(--muted); }
.bar { display:flex; height:20px; border-radius:4px; overflow:hidden; background:#eceef2; }
.bar span { display:block; height:100%; color:#fff; font-size:11px; line-height:20px; padding-left:5px; white-space:nowrap; overflow:hidden; transition:width .4s; }
table.targets { border-collapse:collapse; width:100%; margin:6px 0; font-variant-numeric:tabular-nums; }
table.targets th, table.targets td { text-align:right; padding:4px 8px; border-bottom:1px solid var(--line); }
table.targets th:first-child, table.targets td:first-child { text-align:left; }
table.targets td.endpoints { text-align:left; font-size:12px; }
table.targets th { font-size:12px; color:var(--muted); font-weight:600; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
.ep { display:inline-block; margin-right:8px; } .ep.down { color:var(--bad); font-weight:600; } .ep.ejected { color:var(--warn); font-weight:600; }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(240px, 1fr)); gap:10px; margin:8px 0; }
figure { margin:0; border:1px solid var(--line); border-radius:6px; padding:6px 8px 2px; }
figcaption { font-size:12px; color:var(--muted); display:flex; justify-content:space-between; }
svg.chart { width:100%; height:90px; display:block; }
svg.chart path { fill:none; stroke-width:1.6; vector-effect:non-scaling-stroke; }
svg.chart line.grid { stroke:#eceef2; vector-effect:non-scaling-stroke; }
.axis { display:flex; justify-content:space-between; font-size:10px; color:var(--muted); }
.shadow { display:none; border-top:1px dashed var(--line); margin-top:8px; padding-top:8px; }
.shadow.show { display:block; }
.shadow table.fields { margin:4px 0 8px; font-size:12px; }
.route-head .model { font-size:12px; color:#555; border:1px solid var(--line); border-radius:3px; padding:0 5px; }
.shadow .facts { display:flex; gap:18px; flex-wrap:wrap; margin-bottom:6px; }
.controls { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin-top:10px; padding-top:10px; border-top:1px solid var(--line); }
.controls label { font-size:12px; color:var(--muted); }
.controls input { width:64px; padding:3px 5px; font:inherit; }
button { font:inherit; font-size:13px; padding:4px 11px; border-radius:5px; border:1px solid #c4cad6; background:#fff; cursor:pointer; }
button:hover:not(:disabled) { background:#eef1f6; }
button:disabled { opacity:.45; cursor:default; }
button.danger { border-color:var(--bad); color:var(--bad); }
.result { font-size:12px; color:var(--muted); }
.result.error { color:var(--bad); }
details.events { margin-top:8px; }
details.events summary { cursor:pointer; color:var(--muted); font-size:12px; }
ol.events { list-style:none; padding:0; margin:6px 0 0; font-size:12px; max-height:180px; overflow:auto; }
ol.events li { padding:2px 0; border-bottom:1px solid #f0f1f4; }
ol.events time { color:var(--muted); margin-right:8px; font-variant-numeric:tabular-nums; }
ol.events .type { font-weight:600; margin-right:6px; }
ol.events .type.rollback { color:var(--bad); }
.empty { color:var(--muted); padding:30px; text-align:center; }
</style>
</head>
<body>
<header class="top">
  <h1>Sluice</h1>
  <div class="facts">
    <span id="ready">…</span>
    <span>config v<span id="config-version">?</span></span>
    <span>up <span id="uptime">?</span></span>
    <span><span id="route-count">0</span> routes</span>
    <span id="fleet" hidden></span>
    <span>updated <span id="updated">never</span></span>
  </div>
  <div class="spacer"></div>
  <button id="token-button" type="button">Admin token</button>
</header>
<div id="banner" role="alert"></div>
<main id="routes"><div class="empty">Loading /stats …</div></main>
<script>
"use strict";
(function () {
  const TOKEN_KEY = "sluice-admin-token";
  const HISTORY_MAX = 600;
  const COLORS = ["#2f6fd8", "#e4572e", "#17a673", "#8a55d0", "#d98a00", "#4a5568", "#c2185b", "#00838f"];
  const SVGNS = "http://www.w3.org/2000/svg";
  const STATE_TEXT = { steady: "steady", progressing: "progressing", promoted: "promoted", paused: "paused",
                       awaiting_approval: "awaiting approval", rolled_back: "rolled back" };
  const routesEl = document.getElementById("routes");
  const cards = new Map();
  const history = new Map();
  let lastSeq = 0;
  let busy = false;
  let polls = 0;
  let renderMaxMs = 0;
  let lastUptime = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function setText(node, text) { const s = String(text); if (node.textContent !== s) node.textContent = s; }
  function pct(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    const p = x * 100;
    return (p !== 0 && Math.abs(p) < 1 ? p.toFixed(2) : p.toFixed(1)) + "%";
  }
  function num(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return x >= 100 ? Math.round(x).toString() : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  }
  function ms(x) { return x === null || x === undefined ? "–" : num(x) + " ms"; }
  function duration(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  function clock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString([], { hour12: false });
  }
  function banner(text) {
    const b = document.getElementById("banner");
    b.textContent = text || "";
    b.className = text ? "show" : "";
  }

  // ---- admin API ----
  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store" });
    if (!r.ok) throw new Error("GET " + path + " answered HTTP " + r.status);
    return r.json();
  }
  function askToken() {
    const t = window.prompt("This Sluice requires its admin token for changes. It is kept in this browser tab only (sessionStorage).");
    if (t === null) return false;
    if (t.trim() === "") sessionStorage.removeItem(TOKEN_KEY); else sessionStorage.setItem(TOKEN_KEY, t.trim());
    return true;
  }
  async function post(path, body) {
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers["Authorization"] = "Bearer " + token;
      const init = { method: "POST", headers: headers, cache: "no-store" };
      if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
      const r = await fetch(path, init);
      if (r.status === 401 && attempt === 0 && askToken()) continue;
      let json = null;
      try { json = await r.json(); } catch (e) { json = null; }
      return { status: r.status, json: json };
    }
  }
  async function act(card, action, path, body, question) {
    if (!window.confirm(question)) return;
    setText(card.result, action + " …");
    card.result.className = "result";
    try {
      const r = await post(path, body);
      if (r.status === 200) {
        const state = r.json && r.json.state ? " → " + (STATE_TEXT[r.json.state] || r.json.state) : "";
        setText(card.result, action + ": done" + state);
        card.dirty = false;
      } else {
        card.result.className = "result error";
        setText(card.result, action + " refused (HTTP " + r.status + "): " + (r.json && r.json.message ? r.json.message : "no reason given"));
      }
    } catch (e) {
      card.result.className = "result error";
      setText(card.result, action + " failed: " + e.message);
    }
    poll();
  }

  // ---- history ----
  function ingest(h) {
    if (h.latest < lastSeq) { history.clear(); lastSeq = 0; }
    for (const s of h.samples) {
      if (s.seq <= lastSeq) continue;
      lastSeq = s.seq;
      for (const r of s.routes) {
        let list = history.get(r.name);
        if (!list) { list = []; history.set(r.name, list); }
        const targets = {};
        for (const t of r.targets) targets[t.backend] = t;
        list.push({ t: s.time, state: r.state, targets: targets, shadow: r.shadow });
        if (list.length > HISTORY_MAX) list.splice(0, list.length - HISTORY_MAX);
      }
    }
  }
  function recentTotals(name, seconds) {
    const list = history.get(name) || [];
    const out = {};
    let n = 0;
    for (let i = list.length - 1; i >= 0 && n < seconds; i--, n++) {
      for (const b in list[i].targets) out[b] = (out[b] || 0) + list[i].targets[b].requests;
    }
    return { totals: out, seconds: n };
  }

  // ---- charts ----
  function makeChart(parent, title, unit) {
    const fig = el("figure");
    const cap = el("figcaption");
    const name = el("span", null, title);
    const max = el("span", "max", "");
    cap.append(name, max);
    const s = svg("svg", { class: "chart", viewBox: "0 0 600 100", preserveAspectRatio: "none" });
    for (const y of [25, 50, 75]) s.appendChild(svg("line", { class: "grid", x1: 0, x2: 600, y1: y, y2: y }));
    const axis = el("div", "axis");
    const left = el("span"), middle = el("span");
    axis.append(left, middle, el("span", null, "now"));
    fig.append(cap, s, axis);
    parent.appendChild(fig);
    return { svg: s, max: max, unit: unit, paths: new Map(), left: left, middle: middle, span: 0 };
  }
  // series: [{key, color, values: [[t, v|null], ...]}]
  // The time axis spans the history held, between 1 and 10 minutes, so a young process shows more than a sliver.
  function chartSpan(list) {
    const held = list.length > 1 ? list[list.length - 1].t - list[0].t : 0;
    return held <= 60 ? 60 : held <= 300 ? 300 : 600;
  }
  function spanText(seconds) { return seconds >= 120 ? "−" + seconds / 60 + " min" : "−" + seconds + " s"; }
  function drawChart(chart, series, now, format, span) {
    if (chart.span !== span) {
      chart.span = span;
      setText(chart.left, spanText(span));
      setText(chart.middle, spanText(span / 2));
    }
    let top = 0;
    for (const sr of series) for (const p of sr.values) if (p[1] !== null && p[1] > top && now - p[0] <= span) top = p[1];
    const scale = top > 0 ? top * 1.1 : 1;
    setText(chart.max, top > 0 ? "max " + format(top) : "");
    const seen = new Set();
    for (const sr of series) {
      seen.add(sr.key);
      let path = chart.paths.get(sr.key);
      if (!path) { path = svg("path", { stroke: sr.color }); chart.svg.appendChild(path); chart.paths.set(sr.key, path); }
      let d = "", pen = false;
      for (const p of sr.values) {
        if (p[1] === null) { pen = false; continue; }
        const x = 600 - (now - p[0]) * 600 / span;
        if (x < 0) continue;
        const y = 100 - (p[1] / scale) * 100;
        d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
        pen = true;
      }
      if (path.getAttribute("d") !== d) path.setAttribute("d", d || "M0 100");
    }
    for (const [k, p] of chart.paths) if (!seen.has(k)) { p.remove(); chart.paths.delete(k); }
  }

  // ---- route cards ----
  function cardKey(route) {
    return route.targets.map(function (t) { return t.backend; }).join("\u0000") + "|" + (route.shadow ? "s" : "") + "|" + (route.rollout ? "p" : "");
  }
  function createCard(route) {
    const c = { name: route.name, key: cardKey(route), rows: new Map(), dirty: false, eventsKey: "" };
    const sec = el("section", "route");
    sec.dataset.route = route.name;
    c.el = sec;
    const head = el("div", "route-head");
    head.append(el("h2", null, route.name));
    if (route.model) head.append(el("span", "model", "model " + route.model));
    c.state = el("span", "state");
    c.detail = el("span", "detail");
    head.append(c.state, c.detail);
    sec.appendChild(head);

    const bars = el("div", "bars");
    c.configured = el("div", "bar configured");
    c.observed = el("div", "bar observed");
    bars.append(el("span", null, "configured weight"), c.configured, el("span", null, "observed share (10 s)"), c.observed);
    sec.appendChild(bars);

    const table = el("table", "targets");
    const thead = el("thead");
    const hr = el("tr");
    for (const h of ["target", "weight", "observed", "req/s", "error rate", "p50", "p99", "requests", "endpoints"]) hr.appendChild(el("th", null, h));
    thead.appendChild(hr);
    const tbody = el("tbody");
    table.append(thead, tbody);
    route.targets.forEach(function (t, i) {
      const tr = el("tr");
      tr.dataset.backend = t.backend;
      const name = el("td", "backend");
      const sw = el("span", "swatch");
      sw.style.background = COLORS[i % COLORS.length];
      name.append(sw, document.createTextNode(t.backend));
      const cells = {};
      tr.appendChild(name);
      for (const k of ["weight", "observed", "rps", "errors", "p50", "p99", "requests", "endpoints"]) {
        cells[k] = el("td", k);
        tr.appendChild(cells[k]);
      }
      tbody.appendChild(tr);
      const segC = el("span"); segC.style.background = COLORS[i % COLORS.length];
      const segO = el("span"); segO.style.background = COLORS[i % COLORS.length];
      c.configured.appendChild(segC);
      c.observed.appendChild(segO);
      c.rows.set(t.backend, { tr: tr, cells: cells, segC: segC, segO: segO, color: COLORS[i % COLORS.length] });
    });
    sec.appendChild(table);

    const charts = el("div", "charts");
    c.charts = {
      rps: makeChart(charts, "requests per second", "req/s"),
      err: makeChart(charts, "error rate", ""),
      p99: makeChart(charts, "p99 latency", "ms"),
    };
    sec.appendChild(charts);

    c.shadow = el("div", "shadow");
    const sf = el("div", "facts");
    c.shadowFacts = { backend: el("span"), mirrored: el("span"), dropped: el("span"), agreement: el("span") };
    sf.append(c.shadowFacts.backend, c.shadowFacts.mirrored, c.shadowFacts.dropped, c.shadowFacts.agreement);
    const scharts = el("div", "charts");
    c.shadowCharts = {
      flow: makeChart(scharts, "shadow: mirrored and dropped per second", "/s"),
      agree: makeChart(scharts, "shadow: agreement rate", ""),
    };
    c.shadowFields = el("table", "fields");
    c.shadow.append(sf, c.shadowFields, scharts);
    if (route.shadow) c.shadow.classList.add("show");
    sec.appendChild(c.shadow);

    const controls = el("div", "controls");
    c.inputs = new Map();
    for (const t of route.targets) {
      const label = el("label", null, t.backend + " ");
      const input = el("input");
      input.type = "number"; input.min = "0"; input.max = "100"; input.step = "0.01";
      input.dataset.backend = t.backend;
      input.addEventListener("input", function () { c.dirty = true; });
      label.appendChild(input);
      controls.appendChild(label);
      c.inputs.set(t.backend, input);
    }
    const path = function (action) { return "/routes/" + encodeURIComponent(route.name) + "/" + action; };
    c.buttons = {};
    const addButton = function (action, label, cls, handler) {
      const b = el("button", cls, label);
      b.type = "button";
      b.dataset.action = action;
      b.addEventListener("click", handler);
      controls.appendChild(b);
      c.buttons[action] = b;
    };
    addButton("weights", "Set weights", null, function () {
      const weights = {};
      const parts = [];
      for (const [b, input] of c.inputs) { weights[b] = Number(input.value); parts.push(b + " " + input.value + "%"); }
      act(c, "set weights", path("weights"), weights, "Set the weights of route " + route.name + " to " + parts.join(", ") + "?");
    });
    addButton("promote", "Promote", null, function () {
      act(c, "promote", path("promote"), undefined, "Promote route " + route.name + " one step?");
    });
    addButton("pause", "Pause", null, function () {
      act(c, "pause", path("pause"), undefined, "Pause the rollout of route " + route.name + "?");
    });
    addButton("resume", "Resume", null, function () {
      act(c, "resume", path("resume"), undefined, "Resume route " + route.name + "?");
    });
    addButton("approve", "Approve", null, function () {
      act(c, "approve", path("approve"), undefined, "Approve the next gated step of route " + route.name + "?");
    });
    addButton("rollback", "Roll back", "danger", function () {
      act(c, "rollback", path("rollback"), { reason: "operator rollback from the dashboard" },
          "Roll back route " + route.name + "? Every candidate goes to 0% and the baseline to 100%.");
    });
    c.result = el("span", "result");
    controls.appendChild(c.result);
    sec.appendChild(controls);

    const det = el("details", "events");
    det.open = true;
    c.eventsSummary = el("summary", null, "events");
    c.events = el("ol", "events");
    det.append(c.eventsSummary, c.events);
    sec.appendChild(det);
    return c;
  }

  function stateDetail(route) {
    const r = route.rollout;
    let text = "";
    if (r) {
      const at = route.targets.find(function (t) { return t.backend === r.target; });
      const weight = at ? at.weight + "%" : "?";
      if (route.state === "progressing") {
        text = r.target + " at " + weight + ", step " + r.step + " of " + r.steps;
        if (r.next_step_in_seconds !== null) {
          text += r.next_step_in_seconds > 0 ? ", next step in " + duration(r.next_step_in_seconds)
            : "evaluation" in route ? ", next step due (held until a passing evaluation)" : ", next step due";
        }
      } else if (route.state === "awaiting_approval") {
        const next = r.step_percents[r.step] !== undefined ? r.step_percents[r.step] + "%" : "the next step";
        text = r.target + " at " + weight + ", step " + r.step + " of " + r.steps + ": " + next + " waits for approval";
      } else if (route.state === "paused") {
        text = r.target + " held at " + weight + " (step " + r.step + " of " + r.steps + ")";
      } else if (route.state === "promoted") {
        text = r.target + " at " + weight;
      }
    }
    if (route.reason) text += (text ? " · " : "") + route.reason;
    if (route.dry_run) {
      const w = route.would_roll_back || [];
      text += (text ? " · " : "") + "dry run" + (w.length ? ": would roll back " + w.map(function (x) { return x.backend + " (" + x.reason + ")"; }).join(", ") : "");
    }
    return text;
  }

  function updateCard(c, route) {
    setText(c.state, STATE_TEXT[route.state] || route.state);
    c.state.className = "state " + route.state;
    c.el.dataset.state = route.state;
    setText(c.detail, stateDetail(route));

    const recent = recentTotals(route.name, 10);
    let observedTotal = 0;
    for (const b in recent.totals) observedTotal += recent.totals[b];
    const rates = recentTotals(route.name, 5);
    for (const t of route.targets) {
      const row = c.rows.get(t.backend);
      if (!row) continue;
      const share = observedTotal > 0 ? (recent.totals[t.backend] || 0) / observedTotal : null;
      setText(row.cells.weight, t.weight + "%");
      setText(row.cells.observed, share === null ? "–" : pct(share));
      setText(row.cells.rps, rates.seconds > 0 ? num((rates.totals[t.backend] || 0) / rates.seconds) : "–");
      setText(row.cells.errors, t.window.requests > 0 ? pct(t.window.error_rate) : "–");
      setText(row.cells.p50, t.window.requests > 0 ? ms(t.window.p50_ms) : "–");
      setText(row.cells.p99, t.window.requests > 0 ? ms(t.window.p99_ms) : "–");
      setText(row.cells.requests, t.requests);
      row.cells.errors.title = "over the last " + t.window.seconds + " s";
      row.cells.p50.title = row.cells.errors.title;
      row.cells.p99.title = row.cells.errors.title;
      updateEndpoints(row.cells.endpoints, t.endpoints || []);
      row.segC.style.width = t.weight + "%";
      row.segC.style.display = t.weight > 0 ? "" : "none";
      setText(row.segC, t.weight > 0 ? t.backend + " " + t.weight + "%" : "");
      row.segO.style.width = share === null ? "0%" : (share * 100).toFixed(2) + "%";
      row.segO.style.display = share ? "" : "none";
      setText(row.segO, share ? t.backend + " " + pct(share) : "");
      const input = c.inputs.get(t.backend);
      if (input && !c.dirty && document.activeElement !== input) input.value = String(t.weight);
    }

    const list = history.get(route.name) || [];
    const now = list.length ? list[list.length - 1].t : Date.now() / 1000;
    const span = chartSpan(list);
    const series = function (pick) {
      return route.targets.map(function (t) {
        const row = c.rows.get(t.backend);
        return { key: t.backend, color: row ? row.color : "#999",
                 values: list.map(function (s) { const x = s.targets[t.backend]; return [s.t, x ? pick(x) : null]; }) };
      });
    };
    drawChart(c.charts.rps, series(function (x) { return x.requests; }), now, num, span);
    drawChart(c.charts.err, series(function (x) { return x.error_rate; }), now, pct, span);
    drawChart(c.charts.p99, series(function (x) { return x.p99_ms; }), now, ms, span);

    if (route.shadow) {
      const s = route.shadow;
      setText(c.shadowFacts.backend, "shadow → " + s.backend);
      setText(c.shadowFacts.mirrored, "mirrored " + s.mirrored);
      setText(c.shadowFacts.dropped, "dropped " + s.dropped);
      setText(c.shadowFacts.agreement, "agreement " + (s.agreement_rate === null ? "– (nothing compared)" : pct(s.agreement_rate) + " of " + s.compared));
      renderFields(c.shadowFields, s.fields || []);
      drawChart(c.shadowCharts.flow, [
        { key: "mirrored", color: COLORS[0], values: list.map(function (x) { return [x.t, x.shadow ? x.shadow.mirrored : null]; }) },
        { key: "dropped", color: COLORS[1], values: list.map(function (x) { return [x.t, x.shadow ? x.shadow.dropped : null]; }) },
      ], now, num, span);
      drawChart(c.shadowCharts.agree, [
        { key: "agreement", color: COLORS[2], values: list.map(function (x) { return [x.t, x.shadow ? x.shadow.agreement_rate : null]; }) },
      ], now, pct, span);
    }

    const st = route.state;
    const progressive = !!route.rollout;
    c.buttons.promote.disabled = !progressive || !(st === "progressing" || st === "paused");
    c.buttons.pause.disabled = !progressive || st !== "progressing";
    c.buttons.resume.disabled = !(st === "paused" || st === "rolled_back");
    c.buttons.approve.hidden = !(route.rollout && route.rollout.gates.length > 0) && st !== "awaiting_approval";
    c.buttons.approve.disabled = st !== "awaiting_approval";
    c.buttons.rollback.disabled = st === "rolled_back" || route.targets.length < 2;

    const events = route.events || [];
    const key = events.length + "|" + (events.length ? events[events.length - 1].time + events[events.length - 1].type : "");
    if (key !== c.eventsKey) {
      c.eventsKey = key;
      setText(c.eventsSummary, "events (" + events.length + ")");
      const items = [];
      for (let i = events.length - 1; i >= 0 && items.length < 20; i--) {
        const e = events[i];
        const li = el("li");
        const tm = el("time", null, clock(e.time));
        tm.dateTime = e.time;
        li.append(tm, el("span", "type " + e.type, e.type));
        if (e.target) li.append(el("span", "target", e.target + ": "));
        li.append(el("span", "reason", e.reason));
        items.push(li);
      }
      c.events.replaceChildren.apply(c.events, items);
    }
  }

  function updateEndpoints(cell, endpoints) {
    const key = endpoints.map(function (e) { return e.address + e.healthy + e.ejected_workers; }).join(",");
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    const items = endpoints.map(function (e) {
      const cls = !e.healthy ? "ep down" : e.ejected_workers > 0 ? "ep ejected" : "ep";
      const text = e.address + (!e.healthy ? " ✗ unhealthy" : e.ejected_workers > 0 ? " ⚠ ejected on " + e.ejected_workers + " worker" + (e.ejected_workers > 1 ? "s" : "") : " ✓");
      const s = el("span", cls, text);
      s.title = "consecutive failures: " + e.consecutive_failures + " active, " + e.passive_consecutive_failures + " passive";
      return s;
    });
    cell.replaceChildren.apply(cell, items);
  }

  // One row per `shadow.compare` field: its kind, agreement and the figures of its kind.
  function renderFields(table, fields) {
    const key = JSON.stringify(fields);
    if (table.dataset.key === key) return;
    table.dataset.key = key;
    table.replaceChildren();
    if (fields.length === 0) return;
    const head = el("tr");
    for (const h of ["field", "kind", "compared", "agreement", "details"]) head.appendChild(el("th", null, h));
    table.appendChild(head);
    for (const f of fields) {
      let details = "";
      if (f.kind === "label") {
        details = (f.disagreements || []).slice(0, 5).map(function (d) { return d.primary + "\u2192" + d.shadow + ": " + d.count; }).join(", ");
      } else if (f.kind === "number" && f.compared > 0) {
        details = "mean |\u0394| " + f.mean_abs_difference.toPrecision(3) + ", max " + f.max_difference.toPrecision(3) +
          ", shadow higher " + pct(f.shadow_higher_share) + " / lower " + pct(f.shadow_lower_share);
      } else if (f.compared > 0) {
        details = "positions " + pct(f.position_agreement) + ", overlap " + pct(f.mean_overlap);
      }
      const tr = el("tr");
      tr.append(el("td", null, f.pointer), el("td", null, f.kind), el("td", null, String(f.compared)),
                el("td", null, f.agreement_rate === null ? "\u2013" : pct(f.agreement_rate)), el("td", null, details));
      table.appendChild(tr);
    }
  }

  function render(stats) {
    const fleetEl = document.getElementById("fleet");
    fleetEl.hidden = !stats.fleet;
    if (stats.fleet) {
      const f = stats.fleet;
      setText(fleetEl, "fleet " + f.name + " \u00b7 " + f.instance + (f.is_leader ? " (leader)" : "") +
        " \u00b7 " + (f.connected ? "leader " + (f.leader || "\u2013") + " \u00b7 " + f.members.length + " members \u00b7 gen " + f.generation : "etcd unreachable"));
    }
    setText(document.getElementById("ready"), stats.ready ? "● ready" : "○ not ready");
    setText(document.getElementById("config-version"), stats.config_version);
    setText(document.getElementById("uptime"), duration(stats.uptime_seconds));
    setText(document.getElementById("route-count"), stats.routes.length);
    setText(document.getElementById("updated"), new Date().toLocaleTimeString([], { hour12: false }));
    const seen = new Set();
    let previous = null;
    for (const route of stats.routes) {
      seen.add(route.name);
      let c = cards.get(route.name);
      if (c && c.key !== cardKey(route)) { c.el.remove(); c = null; }
      if (!c) { c = createCard(route); cards.set(route.name, c); }
      const want = previous ? previous.nextSibling : routesEl.firstChild;
      if (want !== c.el) routesEl.insertBefore(c.el, want);
      updateCard(c, route);
      previous = c.el;
    }
    for (const [name, c] of cards) if (!seen.has(name)) { c.el.remove(); cards.delete(name); }
    const empty = routesEl.querySelector(".empty");
    if (empty && stats.routes.length > 0) empty.remove();
    if (!empty && stats.routes.length === 0) routesEl.appendChild(el("div", "empty", "No routes configured."));
  }

  async function poll() {
    if (busy) return;
    busy = true;
    try {
      const both = await Promise.all([getJSON("/stats"), getJSON("/stats/history?since=" + lastSeq)]);
      const started = performance.now();
      if (both[0].uptime_seconds < lastUptime) {
        // Another process answers now (a restart): its history starts over.
        history.clear();
        lastSeq = 0;
      }
      lastUptime = both[0].uptime_seconds;
      ingest(both[1]);
      render(both[0]);
      const took = performance.now() - started;
      renderMaxMs = Math.max(renderMaxMs, took);
      polls++;
      document.body.dataset.polls = String(polls);
      document.body.dataset.renderMs = took.toFixed(1);
      document.body.dataset.renderMaxMs = renderMaxMs.toFixed(1);
      banner(null);
    } catch (e) {
      banner("Cannot read the admin API: " + e.message + " (retrying every second)");
    } finally {
      busy = false;
    }
  }

  document.getElementById("token-button").addEventListener("click", askToken);
  poll();
  setInterval(poll, 1000);
})();
</script>
</body>
</html>
"""#
}
