// The workbench pages, one WB.page({...}) each: who may open it (roles), whether the menu shows it (nav),
// and render(target, params), which fills the page from the API.  Parts that reload (a form's answer) go
// through WB.section, which clears them first and leaves only the error when a request fails.
"use strict";
(() => {
  const {api, el, money, number, count, when, table, metric, chart, section, page, link, go, period} = WB;
  const SCOPED = ["hospital", "coder"], ALL = ["hospital", "coder", "payer", "auditor"];
  const q = encodeURIComponent;
  const has = (row, key) => row && Object.prototype.hasOwnProperty.call(row, key);
  const SEVERITY_ZH = {fatal: "致命 fatal", error: "错误 error", warning: "警告 warning", info: "提示 info"};
  const STATUS = [["", "全部 all"], ["ok", "正常入组 ok"], ["qy", "歧义 qy"], ["ungroupable", "无法入组 ungroupable"],
                  ["invalid", "无效 invalid"]];
  const statusText = (k) => (STATUS.find(([v]) => v === k) || [k, k])[1];

  // A form of labelled fields; submit(values) runs on submit.  fields: [{name, label, type, value, options, readonly}]
  function form(id, fields, button, submit) {
    const inputs = {};
    const node = el("form", {id, class: "filters"}, fields.map((f) => {
      const input = f.options
        ? el("select", {name: f.name, id: `${id}-${f.name}`}, f.options.map(([v, t]) => el("option", {value: v}, t)))
        : el(f.type === "textarea" ? "textarea" : "input", {name: f.name, id: `${id}-${f.name}`, type: f.type || "text",
              required: f.required, readonly: f.readonly, placeholder: f.placeholder, accept: f.accept});
      if (f.value !== undefined && f.type !== "file") input.value = f.value;
      if (f.type === "checkbox") input.checked = !!f.value;
      inputs[f.name] = input;
      return el("label", {}, f.label + " ", input);
    }), el("button", {type: "submit", id: `${id}-submit`}, button));
    node.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = {};
      for (const [k, input] of Object.entries(inputs))
        values[k] = input.type === "checkbox" ? input.checked : input.type === "file" ? input.files[0] : input.value.trim();
      submit(values);
    });
    return node;
  }

  // The hospital a page shows: a scoped key's own (fixed), else the one chosen.
  const hospitalField = (params) => {
    const mine = WB.me().hospital_id;
    return {name: "hospital", label: "医疗机构 hospital", value: mine || params.get("hospital") || "", required: true,
            readonly: !!mine};
  };
  const monthField = (params, required = true) => ({name: "period", label: "月份 month", type: "month",
                                                      value: period(params), required});

  // ---- month indices (月度指标) --------------------------------------------------------------------------
  function monthsBefore(month, n) {
    const [y, m] = month.split("-").map(Number);
    return Array.from({length: n}, (_, i) => {
      const k = y * 12 + (m - 1) - (n - 1 - i);
      return `${Math.floor(k / 12)}-${String(k % 12 + 1).padStart(2, "0")}`;
    });
  }

  async function monthView(out, hospital, month) {
    delete document.body.dataset.loaded;
    const s = await api(`/v1/hospitals/${q(hospital)}/summary?period=${q(month)}`);
    const paid = has(s, "payment");
    out.append(el("div", {class: "metrics"},
      metric("m-cases", "病例数 cases", count(s.n_cases)),
      metric("m-cmi", "CMI 病例组合指数", s.cmi === null ? "–" : s.cmi.toFixed(4)),
      metric("m-cost-index", "费用消耗指数 cost index", number(s.indices.cost_index)),
      metric("m-time-index", "时间消耗指数 time index", number(s.indices.time_index)),
      metric("m-cost", "总费用 cost (元)", money(s.total_cost)),
      paid ? metric("m-payment", `支付 payment (元) · ${s.payment_label || "无 none"}`, money(s.payment)) : null));
    if (!s.n_cases) {
      out.append(el("p", {class: "empty", id: "month-empty"},
        `${hospital} ${month} 没有病例 (no cases in this month): 请先上传病案 upload the month's records first`));
      document.body.dataset.loaded = `${s.hospital_id}/${s.period}`;
      return;
    }
    out.append(el("p", {id: "by-status"}, "分组状态 by status: ",
      Object.entries(s.by_status).map(([k, n]) => `${statusText(k)} ${count(n)}`).join("；")));
    out.append(el("h3", {}, paid ? "各DRG费用与支付 Cost and payment per DRG (元)" : "各DRG病例与费用 Cases and cost per DRG"));
    const series = [{name: "费用 cost (元)", type: "bar", data: s.drgs.map((d) => Number(d.total_cost))}];
    if (paid) series.push({name: "支付 payment (元)", type: "bar", data: s.drgs.map((d) => Number(d.payment || 0))});
    chart(out, {tooltip: {trigger: "axis"}, legend: {top: 0}, xAxis: {type: "category", data: s.drgs.map((d) => d.drg || "–"),
                axisLabel: {rotate: 45}}, yAxis: {type: "value", axisLabel: {formatter: (v) => money(v)}}, series},
          {id: "drg-chart", label: "各DRG费用 cost per DRG"});
    out.append(table([{label: "DRG", value: (d) => d.drg},
                      {label: "名称 name", value: (d) => d.drg_name || (d.drg === "0000" ? "未入组 not grouped" : "")},
                      {label: "病例 cases", value: (d) => d.n_cases, num: true}, {label: "RW", value: (d) => d.rw, num: true},
                      {label: "费用 cost (元)", value: (d) => d.total_cost, money: true},
                      ...(paid ? [{label: "支付 payment (元)", value: (d) => d.payment, money: true}] : [])],
                     s.drgs, "没有已入组病例 no grouped cases", {id: "drg-table"}));
    out.append(el("h3", {}, "质控问题 Validation findings"));
    out.append(table([{label: "问题 finding", value: (r) => `${r.title_zh} (${r.rule_id})`},
                      {label: "严重程度 severity", value: (r) => SEVERITY_ZH[r.severity] || r.severity},
                      {label: "数量 count", value: (r) => r.n, num: true}],
                     s.top_rules, "本月没有质控问题 no findings this month", {id: "findings-table"}));
    out.append(el("h3", {}, "近六个月 Last six months"));
    const months = monthsBefore(month, 6);
    const trend = await Promise.all(months.map((m) => api(`/v1/hospitals/${q(hospital)}/summary?period=${m}`)));
    chart(out, {tooltip: {trigger: "axis"}, legend: {top: 0}, xAxis: {type: "category", data: months},
                yAxis: [{type: "value", name: "CMI"}, {type: "value", name: "病例 cases"}],
                series: [{name: "CMI", type: "line", data: trend.map((t) => t.cmi)},
                         {name: "病例数 cases", type: "bar", yAxisIndex: 1, data: trend.map((t) => t.n_cases)}]},
          {id: "trend-chart", label: "近六个月 CMI 与病例数 CMI and cases, last six months"});
    document.body.dataset.loaded = `${s.hospital_id}/${s.period}`;
  }

  page({name: "month", title: "月度指标 Monthly indices", roles: ALL, nav: true, render(view, params) {
    const result = el("div", {id: "month-result"});
    view.append(form("month-form", [hospitalField(params), monthField(params)], "查看 show", (v) => {
      sessionStorage.setItem("drg-period", v.period);
      section(result, (out) => monthView(out, v.hospital, v.period));
    }), result);
    const h = hospitalField(params).value;
    if (h) return section(result, (out) => monthView(out, h, period(params)));
    result.append(el("p", {class: "empty"}, "请输入医疗机构编码 enter a hospital id"));
  }});

  // ---- upload (上传病案) ---------------------------------------------------------------------------------
  async function pollJob(jobId, bar, note) {
    for (;;) {
      const job = await api(`/v1/jobs/${q(jobId)}`);
      bar.value = job.progress;
      note.textContent = `后台任务 job ${jobId}：${job.state} ${count(job.done)} / ${count(job.total)}`;
      if (job.state === "done") return job;
      if (job.state === "failed") throw new Error(job.message || "任务失败 job failed");
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  page({name: "upload", title: "上传病案 Upload", roles: ["hospital", "coder", "payer"], nav: true, render(view) {
    const bar = el("progress", {id: "upload-progress", max: 1, value: 0});
    const note = el("span", {id: "upload-note"});
    const result = el("div", {id: "upload-result"});
    view.append(el("p", {class: "hint"}, "CSV、XLSX、Parquet、Arrow 或 JSONL；中文表头可识别。",
                   "CSV, XLSX, Parquet, Arrow or JSON Lines; Chinese headers are recognised."),
      form("upload-form", [{name: "file", label: "病案文件 file", type: "file", required: true,
                            accept: ".csv,.xlsx,.parquet,.arrow,.jsonl"},
                           {name: "validate", label: "同时质控 validate", type: "checkbox", value: true}], "上传 upload",
        (v) => section(result, async (out) => {
          bar.value = 0; note.textContent = "上传中 uploading…";
          let r = await WB.upload(`/v1/batches/upload?validate=${v.validate}`, v.file, (f) => { bar.value = f * 0.9; });
          if (r.job_id) { await pollJob(r.job_id, bar, note); r = Object.assign(r, {state: "done"}); }
          bar.value = 1; note.textContent = "完成 done";
          out.append(el("div", {class: "metrics"}, metric("u-records", "记录 records", count(r.n_records)),
            r.stored !== null && r.stored !== undefined ? metric("u-stored", "保存 stored", count(r.stored)) : null,
            r.replaced ? metric("u-replaced", "替换旧版本 replaced", count(r.replaced)) : null,
            r.n_findings !== null && r.n_findings !== undefined ? metric("u-findings", "质控问题 findings", count(r.n_findings)) : null));
          if (r.by_status) out.append(table([{label: "状态 status", value: (x) => statusText(x[0])},
                                              {label: "病例 cases", value: (x) => x[1], num: true}],
                                             Object.entries(r.by_status), "", {id: "upload-status"}));
          if (r.by_status && r.by_status.invalid)
            out.append(el("p", {}, el("a", {href: link("cases", {status: "invalid", period: ""}), id: "to-invalid"},
                                      `查看 ${r.by_status.invalid} 份无效病例及修改方法 see the invalid cases and what to fix`)));
        })),
      el("p", {class: "progress"}, bar, " ", note), result);
  }});

  // ---- cases (病例), the invalid ones with what to fix -----------------------------------------------------
  async function whatToFix(hospital, rows) {
    const details = await Promise.all(rows.map((r) => api(`/v1/hospitals/${q(hospital)}/cases/${q(r.case_id)}`)));
    return new Map(details.map((d) => [d.case.case_id, d.findings.filter((f) => f.severity === "fatal" || f.severity === "error")
      .map((f) => `${f.message_zh}；${f.suggestion}`).join(" | ") || d.case.reason_detail]));
  }

  async function caseList(out, v) {
    const query = new URLSearchParams({limit: 100});
    if (v.period) query.set("period", v.period);
    if (v.status) query.set("status", v.status);
    const page_ = await api(`/v1/hospitals/${q(v.hospital)}/cases?${query}`);
    const fixes = v.status === "invalid" ? await whatToFix(v.hospital, page_.cases.slice(0, 50)) : new Map();
    const paid = page_.cases.some((c) => has(c, "expected_fund"));
    out.append(el("p", {id: "case-total"}, `共 ${count(page_.total)} 例 (${count(page_.total)} cases)`,
                  page_.total > page_.cases.length ? `，显示前 ${page_.cases.length} 例 showing the first ${page_.cases.length}` : ""));
    out.append(table([
      {label: "病案号 case", value: (c) => c.case_id, link: (c) => link("case", {hospital: c.hospital_id, id: c.case_id})},
      {label: "月份 month", value: (c) => c.month}, {label: "DRG", value: (c) => c.drg},
      {label: "名称 name", value: (c) => c.drg_name}, {label: "状态 status", value: (c) => c.status_zh},
      {label: "科室 dept", value: (c) => c.dept}, {label: "费用 cost (元)", value: (c) => c.total_cost, money: true},
      ...(paid ? [{label: "预计基金支付 expected fund (元)", value: (c) => c.expected_fund, money: true}] : []),
      {label: "需修改 what to fix", value: (c) => fixes.get(c.case_id) || (c.status === "ok" ? "" : c.reason_detail)}],
      page_.cases, v.status === "invalid" ? "没有无效病例 no invalid cases" : "没有病例 no cases", {id: "case-table"}));
  }

  page({name: "cases", title: "病例 Cases", roles: ALL, nav: true, render(view, params) {
    const result = el("div", {id: "cases-result"});
    const status = params.get("status") || "";
    const fields = [hospitalField(params), Object.assign(monthField(params, false), {value: params.get("period") ?? period(params)}),
                    {name: "status", label: "状态 status", options: STATUS, value: status}];
    const run = (v) => section(result, (out) => caseList(out, v));
    view.append(form("cases-form", fields, "查看 show", run), result);
    view.querySelector("#cases-form-status").value = status;
    const values = {hospital: fields[0].value, period: fields[1].value, status};
    if (values.hospital) return run(values);
  }});

  page({name: "invalid", title: "无效病例 Invalid cases", roles: ["hospital", "coder"], nav: true, render() {
    go("cases", {status: "invalid", period: ""});
  }});

  // ---- one case (病例详情) --------------------------------------------------------------------------------
  const CHANGE_ZH = {principal_dx: "换主要诊断 principal diagnosis", principal_proc: "换主要手术 principal procedure",
                     without_cc: "去掉该 MCC/CC without it"};

  function facts(pairs, id) {
    return el("dl", {class: "facts", id}, pairs.filter(([, v]) => v !== undefined)
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v === null || v === "" ? "–" : v)]));
  }

  page({name: "case", title: "病例详情 Case", roles: ALL, nav: false, async render(view, params) {
    const hospital = params.get("hospital"), id = params.get("id");
    const d = await api(`/v1/hospitals/${q(hospital)}/cases/${q(id)}?explain=true`);
    const c = d.case, x = d.explanation;
    view.append(el("h3", {id: "case-title"}, `${c.hospital_id} · ${c.case_id} · 第 ${c.version} 版 (version ${c.version})`));
    view.append(facts([["主要诊断 principal dx", c.principal_dx], ["其他诊断 secondary dx", c.secondary_dx],
      ["手术操作 procedures", c.procedures], ["性别/年龄 sex/age", `${c.sex ?? "–"} / ${c.age_years ?? "–"}`],
      ["住院天数 LOS", c.los_days], ["离院方式 discharge", c.discharge_method], ["科室 dept", c.dept],
      ["总费用 cost (元)", money(c.total_cost)], ["DRG", `${c.drg || "–"} ${c.drg_name || ""}`],
      ["状态 status", `${c.status_zh} (${c.status})`], ["RW", c.rw],
      ["预计支付标准 expected standard (元)", has(c, "expected_standard") ? money(c.expected_standard) : undefined],
      ["预计基金支付 expected fund (元)", has(c, "expected_fund") ? money(c.expected_fund) : undefined]], "case-facts"));
    view.append(el("h3", {}, "分组路径 Grouping path"));
    view.append(el("ol", {class: "path", id: "grouping-path"},
      el("li", {}, el("b", {}, "MDC "), x.mdc_reason || x.mdc_trace || "未进入任何 MDC (no MDC entered)"),
      el("li", {}, el("b", {}, "ADRG "), x.adrg_reason || "–"),
      el("li", {}, el("b", {}, "细分 split "), x.split_reason || "–"),
      el("li", {}, el("b", {}, "DRG "), `${c.drg || "–"} ${c.drg_name || ""} ${c.reason_detail ? "· " + c.reason_detail : ""}`)));
    view.append(facts([["严重并发症 MCC", c.mcc_dx], ["并发症 CC", c.cc_dx],
                       ["被排除的并发症 excluded (with the principal)", x.excluded_dx]], "mcc-cc"));
    view.append(el("h3", {}, "质控问题 Findings"));
    view.append(table([{label: "严重程度 severity", value: (f) => SEVERITY_ZH[f.severity] || f.severity},
                       {label: "字段 field", value: (f) => f.field}, {label: "值 value", value: (f) => f.value},
                       {label: "问题 problem", value: (f) => f.message_zh}, {label: "修改建议 what to fix", value: (f) => f.suggestion}],
                      d.findings, "没有质控问题 no findings", {id: "case-findings"}));
    view.append(el("h3", {}, "假如 What if"));
    if (x.best_alternative)
      view.append(el("p", {id: "best-alternative"}, `最佳替代 best alternative：${x.best_alternative} → ${x.best_drg} (RW ${x.best_rw ?? "–"}，`,
                     `编码 coded RW ${x.coded_rw ?? "–"})`, has(x, "whatif_money") && x.whatif_money ? `，差额 ${money(x.whatif_money)} 元` : ""));
    view.append(table([{label: "改动 change", value: (a) => CHANGE_ZH[a.change] || a.change},
                       {label: "方案 alternative", value: (a) => a.alternative},
                       {label: "DRG", value: (a) => `${a.drg} ${a.drg_name}`}, {label: "RW", value: (a) => a.rw, num: true},
                       {label: "原因 why", value: (a) => a.reason}],
                      d.alternatives || [], "没有替代编码方案 no alternative coding", {id: "whatif-table"}));
    view.append(el("h3", {}, "历史版本 Earlier versions"));
    view.append(table([{label: "版本 version", value: (v) => v.version, num: true}, {label: "DRG", value: (v) => v.drg},
                       {label: "状态 status", value: (v) => v.status}, {label: "费用 cost (元)", value: (v) => v.total_cost, money: true},
                       {label: "上传 uploaded", value: (v) => when(v.uploaded_at)},
                       {label: "被替换 superseded", value: (v) => when(v.superseded_at)}],
                      d.versions, "没有更早的版本 no earlier version", {id: "versions-table"}));
    view.append(el("h3", {}, "流程记录 Case history (申报、退回、结算)"));
    const history = el("div", {id: "case-history"});
    view.append(history);
    await section(history, async (out) => out.append(historyTable(await caseHistory(c.hospital_id, c.case_id))));
  }});

  // ---- statements and case lines (结算单与病例明细) -------------------------------------------------------
  const LINE_LABELS = {insurance_type: "险种 fund", n_cases: "病例 cases", n_drg: "DRG病例 DRG cases",
    drg_points: "点数 points", point_value: "点值 point value", drg_standard: "DRG支付标准 standard",
    drg_fund: "DRG基金 fund", drg_cost: "DRG费用 cost", other_tracks_fund: "其他基金 other fund",
    provisional: "预拨 provisional", withheld: "预留 withheld", paid: "拨付 paid", released: "返还 released",
    transfer: "转账 transfer"};
  const NOT_MONEY = new Set(["insurance_type", "n_cases", "n_drg", "drg_points", "point_value"]);

  async function statementView(out, runId, hospital) {
    const s = await api(`/v1/settlements/${q(runId)}/statements/${q(hospital)}`);
    out.append(el("h3", {}, `结算单 Statement · ${s.hospital_id} · ${s.kind} ${s.period || ""}`));
    const keys = Object.keys(LINE_LABELS).filter((k) => s.lines.some((l) => has(l, k)));
    out.append(table(keys.map((k) => ({label: LINE_LABELS[k], value: (l) => l[k], money: !NOT_MONEY.has(k), num: NOT_MONEY.has(k)})),
                     s.lines, "本次结算没有本院的结算行 no statement lines", {id: "statement-table"}));
    const lines = await api(`/v1/settlements/${q(runId)}/lines?hospital_id=${q(hospital)}&limit=100`);
    out.append(el("h3", {}, `病例结算明细 Case lines (${count(lines.total)})`));
    out.append(table([{label: "病案号 case", value: (l) => l.case_id, link: (l) => link("case", {hospital: l.hospital_id, id: l.case_id})},
                      {label: "DRG", value: (l) => l.drg}, {label: "类型 type", value: (l) => l.case_type_zh},
                      {label: "费用 cost", value: (l) => l.total_cost, money: true}, {label: "点数 points", value: (l) => l.points, num: true},
                      {label: "支付标准 standard", value: (l) => l.standard, money: true},
                      {label: "基金支付 fund", value: (l) => l.fund_payment, money: true}, {label: "说明 note", value: (l) => l.note}],
                     lines.lines, "没有病例结算明细 no case lines", {id: "lines-table"}));
  }

  page({name: "statements", title: "结算单 Statements", roles: ["hospital", "payer", "auditor"], nav: true, async render(view, params) {
    const runs = await api("/v1/settlements");
    if (!runs.length) { view.append(el("p", {class: "empty", id: "no-runs"}, "还没有结算 no settlement runs yet")); return; }
    const result = el("div", {id: "statement-result"});
    const options = runs.map((r) => [r.run_id, `${r.period || ""} ${r.kind.replace("settle-", "")} · ${when(r.created_at)}`]);
    const run = (v) => section(result, (out) => statementView(out, v.run, v.hospital));
    view.append(form("statement-form", [{name: "run", label: "结算 run", options, value: params.get("run") || runs[0].run_id},
                                        hospitalField(params)], "查看 show", run), result);
    const first = {run: params.get("run") || runs[0].run_id, hospital: hospitalField(params).value};
    view.querySelector("#statement-form-run").value = first.run;
    if (first.hospital) return run(first);
  }});

  // ---- flags and appeals (疑点与申诉) ---------------------------------------------------------------------
  async function auditRuns() {
    const runs = await api("/v1/audit-runs");
    return [runs, runs.map((r) => [r.run_id, `${r.period} · ${count(r.n_flags)} 疑点 flags · ${when(r.created_at)}`])];
  }

  function appealCell(runId, f, after) {
    const role = WB.me().role;
    const box = el("div", {class: "appeal"}, el("span", {class: "status"}, f.appeal_status_zh));
    const follow = el("button", {type: "button", class: "link"}, "跟进 follow");
    follow.addEventListener("click", () => section(box.querySelector(".record") || box.appendChild(el("div", {class: "record"})),
      async (out) => {
        const a = await api(`/v1/flags/${q(f.flag_id)}/appeal?run_id=${q(runId)}`);
        out.append(facts([["状态 status", a.status_zh], ["申诉理由 reason", a.reason], ["复议结论 outcome", a.outcome],
                          ["申诉时间 appealed", when(a.appealed_at)], ["复议时间 decided", when(a.decided_at)]]));
      }));
    box.append(follow);
    const step = (path, body, label) => {
      const text = el("textarea", {rows: 2, placeholder: label, "aria-label": label});
      const go_ = el("button", {type: "button"}, label);
      const note = el("p", {class: "error", role: "alert"});
      go_.addEventListener("click", async () => {
        note.textContent = "";
        try { await api(`/v1/flags/${q(f.flag_id)}/${path}`, {method: "POST", body: body(text.value)}); after(); }
        catch (e) { note.textContent = e.message; }
      });
      return [text, go_, note];
    };
    if (role === "hospital" && f.appeal_status === "open")
      box.append(...step("appeal", (t) => ({run_id: runId, reason: t}), "申诉 appeal"));
    if (role === "payer" && (f.appeal_status === "appealed" || f.appeal_status === "open")) {
      const choice = el("select", {"aria-label": "结论 decision"}, el("option", {value: "withdrawn"}, "撤销 withdrawn"),
                        el("option", {value: "upheld"}, "维持 upheld"));
      box.append(choice, ...step("decision", (t) => ({run_id: runId, status: choice.value, outcome: t}), "复议 decide"));
    }
    return box;
  }

  async function flagList(out, runId, v, refresh) {
    const query = new URLSearchParams({limit: 200});
    if (v.hospital) query.set("hospital_id", v.hospital);
    const body = await api(`/v1/audit-runs/${q(runId)}/flags?${query}`);
    const flags = body.flags.filter((f) => !v.status || f.appeal_status === v.status);
    const paid = flags.some((f) => has(f, "money_at_stake"));
    out.append(el("p", {}, `共 ${count(flags.length)} 个疑点 (${count(flags.length)} flags)`));
    const wrap = table([
      {label: "疑点 flag", value: (f) => f.flag_id},
      {label: "病例 case", value: (f) => f.case_id, link: (f) => f.case_id ? link("case", {hospital: f.hospital_id, id: f.case_id}) : null},
      {label: "医院 hospital", value: (f) => f.hospital_id}, {label: "严重程度 severity", value: (f) => f.severity_zh},
      {label: "问题 problem", value: (f) => f.message_zh},
      ...(paid ? [{label: "涉及金额 at stake (元)", value: (f) => f.money_at_stake, money: true}] : []),
      {label: "申诉 appeal", value: () => ""}], flags, "没有疑点 no flags", {id: "flag-table"});
    out.append(wrap);
    wrap.querySelectorAll("tbody tr").forEach((tr, i) => tr.lastChild.replaceChildren(appealCell(runId, flags[i], refresh)));
  }

  function flagsPage(view, params, statusOptions) {
    return auditRuns().then(([runs, options]) => {
      if (!runs.length) { view.append(el("p", {class: "empty", id: "no-audit-runs"}, "还没有智能审核 no audit runs yet")); return; }
      const result = el("div", {id: "flags-result"});
      const mine = WB.me().hospital_id;
      const fields = [{name: "run", label: "审核 audit run", options, value: params.get("run") || runs[0].run_id},
                      ...(mine ? [] : [{name: "hospital", label: "医疗机构 hospital", value: params.get("hospital") || ""}]),
                      {name: "status", label: "申诉状态 appeal status", options: statusOptions}];
      let last = null;
      const run = (v) => { last = v; return section(result, (out) => flagList(out, v.run, v, () => run(last))); };
      const f = form("flags-form", fields, "查看 show", run);
      view.append(f, result);
      f.querySelector("#flags-form-run").value = fields[0].value;
      return run({run: fields[0].value, hospital: mine || params.get("hospital") || "", status: statusOptions[0][0]});
    });
  }

  const APPEAL_STATUS = [["", "全部 all"], ["open", "待申诉 open"], ["appealed", "申诉中 appealed"],
                         ["upheld", "维持 upheld"], ["withdrawn", "撤销 withdrawn"]];
  page({name: "appeals", title: "疑点与申诉 Flags and appeals", roles: SCOPED, nav: true,
        render: (view, params) => flagsPage(view, params, APPEAL_STATUS)});
  page({name: "decisions", title: "申诉复议 Appeal decisions", roles: ["payer", "auditor"], nav: true,
        render: (view, params) => flagsPage(view, params, [APPEAL_STATUS[2], ...APPEAL_STATUS.filter((s) => s !== APPEAL_STATUS[2])])});

  // ---- payer: runs, ranking, review queue (经办机构) ------------------------------------------------------
  page({name: "runs", title: "结算与审核 Runs", roles: ["payer", "auditor"], nav: true, async render(view, params) {
    const payer = WB.me().role === "payer";
    const settle = el("div", {id: "settlement-runs"}), screen = el("div", {id: "audit-runs"});
    const listSettlements = () => section(settle, async (out) => {
      out.append(table([{label: "结算 run", value: (r) => r.run_id, link: (r) => link("statements", {run: r.run_id})},
                        {label: "类型 kind", value: (r) => r.kind}, {label: "期间 period", value: (r) => r.period},
                        {label: "病例 cases", value: (r) => r.n_records, num: true}, {label: "时间 at", value: (r) => when(r.created_at)},
                        {label: "政策 policy", value: (r) => r.policy_version}],
                       await api("/v1/settlements"), "还没有结算 no settlement runs yet", {id: "settlement-table"}));
    });
    const listAudits = () => section(screen, async (out) => {
      out.append(table([{label: "审核 run", value: (r) => r.run_id, link: (r) => link("queue", {run: r.run_id})},
                        {label: "期间 period", value: (r) => r.period}, {label: "病例 cases", value: (r) => r.n_cases, num: true},
                        {label: "疑点 flags", value: (r) => r.n_flags, num: true}, {label: "时间 at", value: (r) => when(r.created_at)}],
                       await api("/v1/audit-runs"), "还没有智能审核 no audit runs yet", {id: "audit-table"}));
    });
    const started = el("p", {id: "run-started", role: "status"});
    const start = (path, body, then) => async () => {
      started.textContent = "运行中 running…"; started.className = "";
      try { const r = await api(path, {method: "POST", body}); started.textContent = `已完成 done: ${r.run_id}`; then(); }
      catch (e) { started.textContent = e.message; started.className = "error"; }
    };
    view.append(started, el("h3", {}, "结算 Settlement runs"));
    if (payer) view.append(form("settle-form", [{name: "kind", label: "类型 kind", options: [["month", "按月预结 month"],
        ["year", "年度清算 year"], ["shadow", "空转 shadow"]]}, {name: "period", label: "期间 period (2024-03 / 2024)", value: period(params)}],
      "发起结算 settle", (v) => start("/v1/settlements", {kind: v.kind, period: v.period}, listSettlements)()));
    view.append(settle, el("h3", {}, "智能审核 Audit runs"));
    if (payer) view.append(form("audit-form", [monthField(params)], "发起审核 screen",
                                (v) => start("/v1/audit-runs", {period: v.period}, listAudits)()));
    view.append(screen);
    await Promise.all([listSettlements(), listAudits()]);
  }});

  const RANK_BY = [["cmi", "CMI"], ["cost_index", "费用消耗指数 cost index"], ["n_flags", "疑点数 flags"]];
  page({name: "ranking", title: "医院排名 Hospitals ranked", roles: ["payer", "auditor"], nav: true, render(view, params) {
    const result = el("div", {id: "ranking-result"});
    const run = (v) => section(result, async (out) => {
      const rows = await api(`/v1/hospitals?period=${q(v.period)}`);
      rows.sort((a, b) => (b[v.by] ?? -Infinity) - (a[v.by] ?? -Infinity) || a.hospital_id.localeCompare(b.hospital_id));
      const label = RANK_BY.find(([k]) => k === v.by)[1];
      chart(out, {tooltip: {}, xAxis: {type: "category", data: rows.map((r) => r.hospital_id)}, yAxis: {type: "value"},
                  series: [{name: label, type: "bar", data: rows.map((r) => r[v.by])}]},
            {id: "ranking-chart", label, empty: rows.length ? null : `${v.period} 没有病例 no cases in this period`});
      out.append(table([{label: "名次 rank", value: (r) => rows.indexOf(r) + 1, num: true},
                        {label: "医院 hospital", value: (r) => r.hospital_id, link: (r) => link("month", {hospital: r.hospital_id, period: v.period})},
                        {label: "病例 cases", value: (r) => count(r.n_cases), num: true}, {label: "CMI", value: (r) => number(r.cmi), num: true},
                        {label: "费用消耗指数 cost index", value: (r) => number(r.cost_index), num: true},
                        {label: "时间消耗指数 time index", value: (r) => number(r.time_index), num: true},
                        {label: "疑点 flags", value: (r) => r.n_flags === null ? "未审核 not screened" : count(r.n_flags), num: true}],
                       rows, "", {id: "ranking-table"}));
    });
    view.append(form("ranking-form", [monthField(params), {name: "by", label: "排序 by", options: RANK_BY}], "查看 show", run), result);
    return run({period: period(params), by: "cmi"});
  }});

  page({name: "queue", title: "待审队列 Review queue", roles: ["payer", "auditor"], nav: true, async render(view, params) {
    const [runs, options] = await auditRuns();
    if (!runs.length) { view.append(el("p", {class: "empty", id: "no-audit-runs"}, "还没有智能审核 no audit runs yet")); return; }
    const result = el("div", {id: "queue-result"});
    const run = (v) => section(result, async (out) => {
      const queue = await api(`/v1/audit-runs/${q(v.run)}/queue?top=${q(v.top || 200)}&sample=${q(v.sample || 0)}`);
      out.append(table([{label: "序 rank", value: (e) => e.rank, num: true}, {label: "来源 selection", value: (e) => e.selection_zh},
                        {label: "医院 hospital", value: (e) => e.hospital_id},
                        {label: "病例 case", value: (e) => e.case_id, link: (e) => link("case", {hospital: e.hospital_id, id: e.case_id})},
                        {label: "风险分 score", value: (e) => number(e.score, 2), num: true},
                        {label: "涉及金额 at stake (元)", value: (e) => e.money_at_stake, money: true},
                        {label: "疑点 flags", value: (e) => e.n_flags, num: true}, {label: "规则 rules", value: (e) => `${e.rules_zh} (${e.rules})`}],
                       queue.entries, "队列为空：本次审核没有疑点病例 the queue is empty", {id: "queue-table"}));
    });
    const first = params.get("run") || runs[0].run_id;
    const f = form("queue-form", [{name: "run", label: "审核 audit run", options}, {name: "top", label: "高风险前 top", type: "number", value: 200},
                                  {name: "sample", label: "随机抽查 sample", type: "number", value: 0}], "查看 show", run);
    view.append(f, result);
    f.querySelector("#queue-form-run").value = first;
    return run({run: first, top: 200, sample: 0});
  }});

  // ---- a case's life: returned cases, deadlines, deductions, reconciliation (病例全流程) --------------------
  const HISTORY_ZH = {submission: "申报 submission", payment: "支付 payment"};
  const caseHistory = (hospital, id) => api(`/v1/lifecycle/cases/${q(hospital)}/${q(id)}/history`);
  function historyTable(rows) {
    return table([{label: "序 seq", value: (e) => e.seq, num: true}, {label: "日期 day", value: (e) => e.on_day},
                  {label: "版本 version", value: (e) => e.version, num: true},
                  {label: "维度 dimension", value: (e) => HISTORY_ZH[e.dimension] || e.dimension},
                  {label: "从 from", value: (e) => e.from_state && `${e.from_zh} ${e.from_state}`},
                  {label: "到 to", value: (e) => `${e.to_zh} ${e.to_state}`},
                  {label: "期间 period", value: (e) => e.period}, {label: "说明 note", value: (e) => e.note}],
                 rows, "没有流程记录 no history", {id: "history-table"});
  }
  const lifeQuery = (params) => { const s = new URLSearchParams(params); for (const [k, v] of [...s]) if (!v) s.delete(k); return s; };

  // 退回修改: the returned cases, each with the payer's reason and the findings to fix
  async function returnedList(out, hospital) {
    const rows = await api(`/v1/lifecycle/cases?${lifeQuery({hospital_id: hospital, submission: "returned"})}`);
    const reasons = new Map(await Promise.all(rows.slice(0, 50).map(async (r) => {
      const events = await caseHistory(r.hospital_id, r.case_id);
      const last = events.filter((e) => e.to_state === "returned").pop();
      return [`${r.hospital_id}/${r.case_id}`, last ? `${last.on_day}：${last.note}` : ""];
    })));
    const fixes = new Map();
    for (const h of new Set(rows.slice(0, 50).map((r) => r.hospital_id)))
      for (const [k, v] of await whatToFix(h, rows.filter((r) => r.hospital_id === h).slice(0, 50))) fixes.set(`${h}/${k}`, v);
    out.append(el("p", {id: "returned-total"}, `共 ${count(rows.length)} 例退回 (${count(rows.length)} returned cases)`));
    out.append(table([
      {label: "病案号 case", value: (r) => r.case_id, link: (r) => link("case", {hospital: r.hospital_id, id: r.case_id})},
      {label: "医院 hospital", value: (r) => r.hospital_id}, {label: "月份 month", value: (r) => r.month},
      {label: "版本 version", value: (r) => r.version, num: true},
      {label: "退回原因 reason", value: (r) => reasons.get(`${r.hospital_id}/${r.case_id}`)},
      {label: "需修改 what to fix", value: (r) => fixes.get(`${r.hospital_id}/${r.case_id}`)}],
      rows, "没有退回的病例 no returned cases", {id: "returned-table"}));
  }

  page({name: "returned", title: "退回修改 Returned cases", roles: ALL, nav: true, render(view, params) {
    const result = el("div", {id: "returned-result"});
    const mine = WB.me().hospital_id;
    const run = (v) => section(result, (out) => returnedList(out, v.hospital));
    view.append(el("p", {class: "hint"}, "修改后重新上传即为重新申报。 Correct the record and upload it again to resubmit."),
      form("returned-form", mine ? [hospitalField(params)] : [{name: "hospital", label: "医疗机构 hospital", value: params.get("hospital") || ""}],
           "查看 show", run), result);
    return run({hospital: mine || params.get("hospital") || ""});
  }});

  // 截止日期: the months' deadlines, late uploads, overdue reviews and payments (a coder's answer has no payment ones)
  async function deadlineView(out, v) {
    const d = await api(`/v1/lifecycle/deadlines?${lifeQuery({hospital_id: v.hospital, as_of: v.as_of})}`);
    const paid = has(d, "overdue_payments");
    out.append(facts([["截至 as of", d.as_of], ["每月申报截止日 upload by day", `${d.upload_day} 日`],
                      ["初审时限 review window", `${d.review_working_days} 个工作日 working days`],
                      ["拨付时限 payment window", paid ? `${d.payment_working_days} 个工作日 working days` : undefined],
                      ["工作日历 calendar", d.calendar]], "deadline-rules"));
    out.append(el("h3", {}, "各月时限 Deadlines per month"));
    out.append(table([{label: "月份 month", value: (m) => m.month}, {label: "申报截止 upload by", value: (m) => m.upload_deadline},
                      {label: "初审截止 review by", value: (m) => m.review_due},
                      ...(paid ? [{label: "拨付截止 pay by", value: (m) => m.payment_due}] : []),
                      {label: "已结算 closed", value: (m) => m.closed ? "是 yes" : "否 no"}],
                     d.months, "没有病例的月份 no months with cases", {id: "deadline-months"}));
    out.append(el("h3", {}, "逾期申报 Late uploads"));
    out.append(table([{label: "病案号 case", value: (r) => r.case_id, link: (r) => link("case", {hospital: r.hospital_id, id: r.case_id})},
                      {label: "医院 hospital", value: (r) => r.hospital_id}, {label: "月份 month", value: (r) => r.month},
                      {label: "截止 deadline", value: (r) => r.deadline}, {label: "上传 uploaded", value: (r) => r.uploaded_on},
                      {label: "结算期间 period", value: (r) => r.period}],
                     d.late_uploads, "没有逾期申报 no late uploads", {id: "late-uploads"}));
    out.append(el("h3", {}, "初审逾期 Overdue reviews"));
    out.append(table([{label: "病案号 case", value: (r) => r.case_id}, {label: "医院 hospital", value: (r) => r.hospital_id},
                      {label: "申报 submitted", value: (r) => r.submitted_on}, {label: "截止 due", value: (r) => r.due},
                      {label: "逾期工作日 days over", value: (r) => r.working_days_over, num: true}],
                     d.overdue_reviews, "没有初审逾期 no overdue reviews", {id: "overdue-reviews"}));
    if (!paid) return;
    out.append(el("h3", {}, "拨付逾期 Overdue payments"));
    out.append(table([{label: "结算 run", value: (r) => r.run}, {label: "医院 hospital", value: (r) => r.hospital_id},
                      {label: "截止 due", value: (r) => r.due}, {label: "拨付日 paid on", value: (r) => r.paid_on || "未拨付 not yet"},
                      {label: "逾期工作日 days over", value: (r) => r.working_days_over, num: true}],
                     d.overdue_payments, "没有拨付逾期 no overdue payments", {id: "overdue-payments"}));
  }

  // A page of one lifecycle read: the hospital (fixed for a hospital key, optional for the payer) and extra fields.
  function lifePage(name, title, roles, extra, build) {
    page({name, title, roles, nav: true, render(view, params) {
      const mine = WB.me().hospital_id;
      const result = el("div", {id: `${name}-result`});
      const fields = [mine ? hospitalField(params) : {name: "hospital", label: "医疗机构 hospital (空为全部 blank: all)",
                                                     value: params.get("hospital") || ""}, ...extra(params)];
      const run = (v) => section(result, (out) => build(out, v));
      view.append(form(`${name}-form`, fields, "查看 show", run), result);
      return run(Object.fromEntries(fields.map((f) => [f.name, f.value || ""])));
    }});
  }
  lifePage("deadlines", "截止日期 Deadlines", ALL,
           (params) => [{name: "as_of", label: "截至 as of", type: "date", value: params.get("as_of") || ""}], deadlineView);

  // 扣款: the deduction lines beside their flag, appeal and decision
  const APPEAL_ZH = Object.fromEntries(APPEAL_STATUS.filter(([k]) => k));
  const appealText = (status) => status ? APPEAL_ZH[status] || status : "";
  const DEDUCTION_ZH = {applied: "已扣款 applied", pending: "待扣款 pending", none: "不扣款 none"};
  lifePage("deductions", "扣款 Deductions", ["hospital", "payer", "auditor"],
           (params) => [{name: "run", label: "结算期间 run (2024-03 / 2024)", value: params.get("run") || ""}], async (out, v) => {
    const d = await api(`/v1/lifecycle/deductions?${lifeQuery({hospital_id: v.hospital, run: v.run})}`);
    out.append(el("h3", {}, "扣款与追回 Deduction and recovery lines"));
    out.append(table([{label: "类型 kind", value: (a) => `${a.kind_zh} ${a.kind}`}, {label: "医院 hospital", value: (a) => a.hospital_id},
                      {label: "病案号 case", value: (a) => a.case_id, link: (a) => link("case", {hospital: a.hospital_id, id: a.case_id})},
                      {label: "结算 run", value: (a) => a.run}, {label: "金额 amount (元)", value: (a) => a.amount, money: true},
                      {label: "疑点 flag", value: (a) => a.flag_id}, {label: "规则 rule", value: (a) => a.rule_id},
                      {label: "申诉 appeal", value: (a) => appealText(a.appeal_status)}, {label: "申诉理由 reason", value: (a) => a.reason},
                      {label: "复议结论 decision", value: (a) => a.outcome}, {label: "依据 basis", value: (a) => a.basis}],
                     d.lines, "没有扣款 no deductions", {id: "deduction-lines"}));
    out.append(el("h3", {}, "已复议的疑点 Decided flags"));
    out.append(table([{label: "疑点 flag", value: (f) => f.flag_id}, {label: "医院 hospital", value: (f) => f.hospital_id},
                      {label: "病案号 case", value: (f) => f.case_id}, {label: "规则 rule", value: (f) => f.rule_id},
                      {label: "结论 status", value: (f) => appealText(f.appeal_status)},
                      {label: "申诉理由 reason", value: (f) => f.reason}, {label: "复议结论 outcome", value: (f) => f.outcome},
                      {label: "扣款 deduction", value: (f) => DEDUCTION_ZH[f.deduction] || f.deduction}],
                     d.decisions, "没有已复议的疑点 no decided flags", {id: "deduction-decisions"}));
  });

  // 对账: counts and amounts per hospital × run, the open items
  const RECON_COUNTS = [["submitted", "申报 submitted"], ["late", "逾期 late"], ["returned", "退回 returned"],
    ["accepted", "受理 accepted"], ["refused", "拒收 refused"], ["settled", "结算 settled"], ["deducted_cases", "扣款病例 deducted"]];
  const RECON_AMOUNTS = [["provisional", "预拨 provisional"], ["withheld", "预留 withheld"], ["deducted", "扣款 deducted"],
    ["released", "返还 released"], ["due", "应付 due"], ["paid_out", "已拨付 paid out"], ["open_amount", "未结 open"]];
  const OPEN_ITEM_ZH = {case: "病例 case", flag: "疑点 flag", run: "结算未拨付 run"};
  lifePage("reconciliation", "对账 Reconciliation", ["hospital", "payer", "auditor"], () => [], async (out, v) => {
    const r = await api(`/v1/lifecycle/reconciliation?${lifeQuery({hospital_id: v.hospital})}`);
    out.append(table([{label: "医院 hospital", value: (x) => x.hospital_id}, {label: "结算 run", value: (x) => x.run},
                      ...RECON_COUNTS.map(([k, label]) => ({label, value: (x) => count(x[k]), num: true})),
                      ...RECON_AMOUNTS.map(([k, label]) => ({label: `${label} (元)`, value: (x) => x[k], money: true}))],
                     r.rows, "没有对账记录 nothing to reconcile yet", {id: "recon-table"}));
    out.append(el("h3", {}, "未结事项 Open items"));
    out.append(table([{label: "医院 hospital", value: (x) => x.hospital_id}, {label: "类别 item", value: (x) => OPEN_ITEM_ZH[x.item] || x.item},
                      {label: "编号 id", value: (x) => x.id}, {label: "事项 what", value: (x) => x.what}],
                     r.open_items, "没有未结事项 no open items", {id: "recon-open"}));
  });

  // 经办机构: the submissions waiting for review (初审), return one with a reason, review, settle the case book
  const WAITING = ["submitted", "resubmitted"];
  page({name: "review", title: "初审与退回 Review and returns", roles: ["payer", "auditor"], nav: true, async render(view, params) {
    const payer = WB.me().role === "payer";
    const notice = el("p", {id: "review-notice", role: "status"});
    const queue = el("div", {id: "review-result"});
    const act = async (path, body, done) => {
      notice.textContent = "运行中 running…"; notice.className = "";
      try { notice.textContent = done(await api(path, {method: "POST", body})); await list(); }
      catch (e) { notice.textContent = e.message; notice.className = "error"; }
    };
    const list = () => section(queue, async (out) => {
      const rows = (await Promise.all(WAITING.map((s) => api(`/v1/lifecycle/cases?${lifeQuery({submission: s, limit: 1000})}`)))).flat();
      out.append(el("p", {}, `待初审 ${count(rows.length)} 例 (${count(rows.length)} submissions waiting for review)`));
      const wrap = table([{label: "病案号 case", value: (r) => r.case_id, link: (r) => link("case", {hospital: r.hospital_id, id: r.case_id})},
                          {label: "医院 hospital", value: (r) => r.hospital_id}, {label: "月份 month", value: (r) => r.month},
                          {label: "状态 state", value: (r) => `${r.submission_zh} ${r.submission}`}, {label: "逾期 late", value: (r) => r.late ? "是 yes" : ""},
                          {label: "退回 return", value: () => ""}], rows, "没有待初审的申报 no submissions waiting", {id: "review-table"});
      out.append(wrap);
      if (payer) wrap.querySelectorAll("tbody tr").forEach((tr, i) => {
        const r = rows[i], reason = el("input", {type: "text", placeholder: "退回原因 reason", "aria-label": "退回原因 reason"});
        const button = el("button", {type: "button"}, "退回 return");
        button.addEventListener("click", () => act("/v1/lifecycle/returns", {hospital_id: r.hospital_id, case_id: r.case_id, reason: reason.value},
                                                   (s) => `已退回 returned: ${s.hospital_id} ${s.case_id}`));
        tr.lastChild.replaceChildren(reason, button);
      });
    });
    view.append(notice);
    if (payer) view.append(
      form("review-form", [{name: "hospital", label: "医疗机构 hospital (空为全部 blank: all)", value: params.get("hospital") || ""}], "初审 review",
           (v) => act("/v1/lifecycle/reviews", {hospital_id: v.hospital || null}, (done) => `已初审 reviewed: ${count(done.length)} 例，退回 returned ${
             count(done.filter((s) => s.submission === "returned").length)}`)),
      form("cycle-form", [{name: "kind", label: "类型 kind", options: [["month", "按月结算 month"], ["year", "年度清算 year"]]},
                          {name: "period", label: "期间 period (2024-03 / 2024)", value: period(params), required: true}], "结算 settle",
           (v) => act("/v1/lifecycle/runs", {kind: v.kind, period: v.period}, (r) => `已结算 settled ${r.period}: ${count(r.n_cases)} 例 cases, ` +
             `扣款行 ${count(r.applied.length)} deduction lines${r.run_id ? " · " + r.run_id : ""}`)));
    view.append(el("h3", {}, "待初审 Submissions waiting for review"), queue);
    await list();
  }});

  WB.start();
})();
