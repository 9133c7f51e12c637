// DRG hospital month page: sign in with an API key, keep the signed token in sessionStorage,
// read /v1/hospitals/{id}/summary and draw the figures (inline SVG bar chart, no libraries).
"use strict";
const $ = (id) => document.getElementById(id);
const TOKEN = "drg-token";

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN);
  const headers = Object.assign({"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {});
  const response = await fetch(path, Object.assign({headers}, options));
  const body = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) {
    if (response.status === 401) signOut();
    throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  }
  return body;
}

function signOut() {
  sessionStorage.removeItem(TOKEN);
  $("month-panel").hidden = true; $("sign-in-panel").hidden = false; $("sign-out").hidden = true; $("who").textContent = "";
}

async function signedIn() {
  const me = await api("/v1/auth/me");
  $("who").textContent = `${me.role_zh} ${me.role}${me.hospital_id ? " · " + me.hospital_id : ""}`;
  $("sign-in-panel").hidden = true; $("month-panel").hidden = false; $("sign-out").hidden = false;
  if (me.hospital_id) { $("hospital").value = me.hospital_id; $("hospital").readOnly = true; }
  if (!$("period").value) $("period").value = new Date().toISOString().slice(0, 7);
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }

function fill(tableId, rows, columns) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.key = columns[0](r);
    for (const c of columns) cell(tr, c(r));
    body.appendChild(tr);
  }
}

function chart(drgs) {
  // grouped bars: cost (grey) and payment (blue) per DRG, values in 元
  const width = 60 + drgs.length * 56, height = 220, top = 10, base = 180;
  const max = Math.max(1, ...drgs.flatMap((d) => [Number(d.total_cost), Number(d.payment || 0)]));
  const scale = (v) => (Number(v || 0) / max) * (base - top);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "各DRG支付与费用 payment vs cost per DRG");
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el); return el;
  };
  add("line", {x1: 40, y1: base, x2: width, y2: base, stroke: "#888"});
  drgs.forEach((d, i) => {
    const x = 50 + i * 56;
    add("rect", {x, y: base - scale(d.total_cost), width: 20, height: scale(d.total_cost), fill: "#9aa5b1",
                 "data-drg": d.drg, "data-kind": "cost"}).appendChild(document.createElementNS(ns, "title")).textContent =
      `${d.drg} 费用 cost ${d.total_cost}`;
    add("rect", {x: x + 22, y: base - scale(d.payment), width: 20, height: scale(d.payment), fill: "#1f77b4",
                 "data-drg": d.drg, "data-kind": "payment"}).appendChild(document.createElementNS(ns, "title")).textContent =
      `${d.drg} 支付 payment ${d.payment ?? "–"}`;
    add("text", {x: x + 21, y: base + 14, "text-anchor": "middle"}, d.drg || "–");
  });
  add("text", {x: 45, y: height - 8}, "■ 灰 费用 cost   ■ 蓝 支付 payment (元)");
  $("chart").innerHTML = ""; $("chart").appendChild(svg);
}

async function show() {
  $("load-error").textContent = "";
  try {
    const s = await api(`/v1/hospitals/${encodeURIComponent($("hospital").value)}/summary?period=${$("period").value}`);
    $("m-cases").textContent = s.n_cases;
    $("m-cmi").textContent = s.cmi === null ? "–" : s.cmi.toFixed(4);
    $("m-cost").textContent = s.total_cost;
    $("m-payment").textContent = s.payment ?? "–";
    $("m-source").textContent = {settlement: "结算 settlement", expected: "预计 expected", none: "无 none"}[s.payment_source];
    fill("drg-table", s.drgs, [(d) => d.drg, (d) => d.drg_name, (d) => d.n_cases, (d) => d.rw ?? "–",
                                (d) => d.total_cost, (d) => d.payment ?? "–"]);
    fill("findings-table", s.top_rules, [(r) => r.rule_id, (r) => r.severity, (r) => r.n]);
    chart(s.drgs);
    document.body.dataset.loaded = `${s.hospital_id}/${s.period}`;
  } catch (e) { $("load-error").textContent = e.message; }
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const t = await api("/v1/auth/token", {method: "POST", body: JSON.stringify({api_key: $("api-key").value})});
    sessionStorage.setItem(TOKEN, t.token);
    $("api-key").value = "";
    await signedIn();
  } catch (e) { $("sign-in-error").textContent = e.message; }
});
$("period-form").addEventListener("submit", (event) => { event.preventDefault(); show(); });
$("sign-out").addEventListener("click", signOut);
if (sessionStorage.getItem(TOKEN)) signedIn().catch(signOut);
