// DRG workbench (工作台), the frame every page uses: sign-in with an API key (the signed token is kept in
// sessionStorage), the API client, pages registered by name and role (#/name?params), tables, money
// formatting and ECharts charts.  Pages live in pages.js; a new page is one WB.page({...}) call.
"use strict";
const WB = (() => {
  const TOKEN = "drg-token";
  const pages = new Map();
  const $ = (id) => document.getElementById(id);
  let me = null;

  // ---- the API ------------------------------------------------------------------------------------
  function failure(status, body, statusText) {
    const detail = body && body.detail;
    const error = new Error(typeof detail === "string" ? detail : (detail ? JSON.stringify(detail) :
      `${status} ${statusText || "请求失败 request failed"}`));
    error.status = status;
    if (status === 401) signOut();
    return error;
  }

  function headers(json) {
    const token = sessionStorage.getItem(TOKEN);
    return Object.assign(json ? {"Content-Type": "application/json"} : {}, token ? {Authorization: "Bearer " + token} : {});
  }

  async function api(path, {method = "GET", body} = {}) {
    const response = await fetch(path, {method, headers: headers(body !== undefined),
                                        body: body === undefined ? undefined : JSON.stringify(body)});
    const data = await response.json().catch(() => null);
    if (!response.ok) throw failure(response.status, data, response.statusText);
    return data;
  }

  // A file upload with progress (fetch cannot report upload progress): onProgress(fraction).
  function upload(path, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      for (const [k, v] of Object.entries(headers(false))) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: the status says it */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data); else reject(failure(xhr.status, data, xhr.statusText));
      };
      xhr.onerror = () => reject(new Error("网络错误 network error"));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  // ---- building the page --------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  // Money is exact decimal text from the API ("1234567.80"): grouped by thousands as text, never through a float.
  function money(value) {
    if (value === null || value === undefined || value === "") return "–";
    const text = String(value), negative = text.startsWith("-");
    const [whole, fraction] = text.replace(/^-/, "").split(".");
    return (negative ? "-" : "") + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (fraction !== undefined ? "." + fraction : "");
  }
  const number = (value, digits = 4) =>
    value === null || value === undefined || value === "" || Number.isNaN(Number(value)) ? "–" : Number(value).toFixed(digits);
  const count = (value) => value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
  const when = (value) => value ? String(value).replace("T", " ").slice(0, 19) : "–";

  // columns: [{label, value(row), money, link(row), key}]; rows: objects.  No rows: the empty text, in words.
  function table(columns, rows, empty, attrs = {}) {
    if (!rows.length) return el("p", {class: "empty"}, empty);
    const head = el("tr", {}, columns.map((c) => el("th", {class: c.money || c.num ? "num" : null}, c.label)));
    const body = rows.map((r) => el("tr", {dataset: {key: columns[0].value(r)}}, columns.map((c) => {
      const raw = c.value(r);
      const text = c.money ? money(raw) : (raw === null || raw === undefined || raw === "" ? "–" : raw);
      const href = c.link ? c.link(r) : null;
      return el("td", {class: c.money || c.num ? "num" : null}, href ? el("a", {href}, text) : text);
    })));
    return el("div", {class: "table-wrap"}, el("table", attrs, el("thead", {}, head), el("tbody", {}, body)));
  }

  function metric(id, label, value) {
    return el("div", {}, el("span", {}, label), el("b", {id}, value));
  }

  // ---- charts (Apache ECharts, bundled) ---------------------------------------------------------------
  const charts = new Set();
  function chart(parent, option, {empty, label, id} = {}) {
    if (empty) { parent.append(el("p", {class: "empty", id}, empty)); return null; }
    const box = el("div", {class: "chart", id, role: "img", "aria-label": label});
    parent.append(box);
    const instance = echarts.init(box, null, {renderer: "svg"});
    instance.setOption(Object.assign({animation: false, textStyle: {fontFamily: "Noto Sans CJK SC, sans-serif"},
                                      grid: {left: 10, right: 20, top: 40, bottom: 10, containLabel: true}}, option));
    charts.add(instance);
    return instance;
  }
  function disposeCharts(root) {
    for (const c of [...charts]) if (!c.isDisposed() && root.contains(c.getDom())) { c.dispose(); charts.delete(c); }
  }
  window.addEventListener("resize", () => { for (const c of charts) if (!c.isDisposed()) c.resize(); });

  // A part of a page filled by build(target): cleared before, and on any error left holding the error only,
  // so that nothing of an earlier answer (another hospital's figures) stays on screen.
  async function section(target, build) {
    disposeCharts(target);
    target.replaceChildren(el("p", {class: "loading"}, "加载中 loading…"));
    target.dataset.state = "loading";
    try {
      const part = el("div");
      target.replaceChildren(part);
      await build(part);
      target.dataset.state = "ready";
      return true;
    } catch (e) {
      disposeCharts(target);
      target.replaceChildren(el("p", {class: "error", role: "alert"}, e.message));
      target.dataset.state = "error";
      return false;
    }
  }

  // ---- pages --------------------------------------------------------------------------------------
  // spec: {name, title, roles, nav (shown in the menu), render(view, params)}
  function page(spec) { pages.set(spec.name, spec); }
  const allowed = (p) => me && p.roles.includes(me.role);
  const link = (name, params = {}) => `#/${name}?${new URLSearchParams(params)}`;

  function go(name, params) { location.hash = link(name, params); }

  async function show() {
    if (!me) return;
    const [name, query] = location.hash.replace(/^#\/?/, "").split("?");
    let spec = pages.get(name);
    if (!spec || !allowed(spec)) spec = [...pages.values()].find((p) => p.nav && allowed(p));
    const params = new URLSearchParams(query || "");
    for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("current", a.dataset.page === spec.name);
    const view = $("view");
    disposeCharts(view);
    view.dataset.page = spec.name;
    const body = el("div", {id: "page-body"});
    view.replaceChildren(el("h2", {}, spec.title), body);
    document.title = `${spec.title} · DRG 工作台`;
    await section(body, (part) => spec.render(part, params));
  }

  function nav() {
    $("nav").replaceChildren(...[...pages.values()].filter((p) => p.nav && allowed(p))
      .map((p) => el("a", {href: link(p.name), dataset: {page: p.name}}, p.title)));
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    me = null;
    $("view").replaceChildren();
    $("view").hidden = true; $("sign-in-panel").hidden = false; $("sign-out").hidden = true;
    $("who").textContent = ""; $("nav").replaceChildren();
  }

  async function signedIn() {
    me = await api("/v1/auth/me");
    $("who").textContent = `${me.role_zh} ${me.role}${me.hospital_id ? " · " + me.hospital_id : ""}`;
    document.body.dataset.role = me.role;
    $("sign-in-panel").hidden = true; $("view").hidden = false; $("sign-out").hidden = false;
    nav();
    await show();
  }

  // The month a page starts on: the one last chosen, else the current one.
  function period(params) {
    const chosen = params.get("period") ?? sessionStorage.getItem("drg-period") ?? new Date().toISOString().slice(0, 7);
    if (chosen) sessionStorage.setItem("drg-period", chosen);
    return chosen;
  }

  function start() {
    $("sign-in").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("sign-in-error").textContent = "";
      try {
        const t = await api("/v1/auth/token", {method: "POST", body: {api_key: $("api-key").value}});
        sessionStorage.setItem(TOKEN, t.token);
        $("api-key").value = "";
        await signedIn();
      } catch (e) { $("sign-in-error").textContent = e.message; }
    });
    $("sign-out").addEventListener("click", signOut);
    window.addEventListener("hashchange", show);
    if (sessionStorage.getItem(TOKEN)) signedIn().catch(signOut);
  }

  return {api, upload, el, money, number, count, when, table, metric, chart, section, page, link, go, period, start,
          me: () => me};
})();
