"""Validation from the grouper's trace: fatal and DRG-relevant findings, explanation, what-if, CLI."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cli import main
from audit._kernels import _alternatives
from audit.rulebook import RuleBook
from audit.validate import Validator
from audit.thresholds import over_threshold
from reference_data import GOLDEN, TABLES, require_shared
from grouper import Grouper
from strategies import record_batches
from weights import WeightMeta, WeightTable


def record(case_id="c1", sex=1, age=60, principal="J18.900", secondary="", procedures="", **extra):
    return {"case_id": case_id, "sex": sex, "age_years": age, "age_days": None, "birth_weight_g": None,
            "principal_dx": principal, "secondary_dx": secondary, "procedures": procedures, **extra}


@pytest.fixture(scope="module")
def mini():
    return Validator()


def weights(rws: dict) -> WeightTable:
    frame = pd.DataFrame({"drg": list(rws), "rw": [Decimal(v) for v in rws.values()]})
    return WeightTable(WeightMeta(name="test"), frame)


def findings_of(validator, records, rule_id):
    f = validator.validate(records).findings.to_pandas()
    return f[f.rule_id == rule_id].reset_index(drop=True)


# --- fatal findings: exactly the invalid records, one per cause ----------------------------------

def test_fatal_unmapped_diagnosis_each_code(mini):
    f = findings_of(mini, [record(principal="X99.999", secondary="J96.000|Q11.111")], "FATAL_DX_UNMAPPED")
    assert f.value.tolist() == ["X99.999", "Q11.111"]
    assert f.field.tolist() == ["principal_dx", "secondary_dx"]
    assert f.message_zh[0] == "主要诊断 X99.999 不在分组方案的编码映射表中，诊断不能转换为分组器支持的编码"
    assert f.message_en[1] == "other diagnosis Q11.111 is not in the pack's code map, so the record cannot be grouped"
    assert (f.severity == "fatal").all()
    assert findings_of(mini, [record()], "FATAL_DX_UNMAPPED").empty


def test_fatal_messages_say_what_kind_of_problem_a_code_has(mini):
    f = mini.validate([record("E", principal=""), record("B", principal="J18"), record("P", principal="36.0700"),
                       record("Q", procedures="J18.900")]).findings.to_pandas().query("severity == 'fatal'")
    assert f[["case_id", "rule_id", "message_zh"]].values.tolist() == [
        ["E", "FATAL_PDX_MISSING", "请填写主要诊断：主要诊断为空，诊断不能转换为分组器支持的编码"],
        ["B", "FATAL_DX_UNMAPPED", "主要诊断 J18 只编到类目，请编到亚目或细目（如 J18.900），诊断不能转换为分组器支持的编码"],
        ["P", "FATAL_DX_UNMAPPED", "主要诊断 36.0700 是手术操作编码，不能填在诊断栏，诊断不能转换为分组器支持的编码"],
        ["Q", "FATAL_PROC_UNMAPPED", "手术操作编码 J18.900 是疾病诊断编码，不能填在手术操作栏，手术操作不能转换为分组器支持的编码"]]
    assert f.message_en.tolist()[1] == ("principal diagnosis J18 is a bare category; code it in full (e.g. J18.900), "
                                        "so the record cannot be grouped")


def test_fatal_unmapped_procedure(mini):
    f = findings_of(mini, [record(procedures="99.9999")], "FATAL_PROC_UNMAPPED")
    assert f.message_zh.tolist() == ["手术操作编码 99.9999 不在分组方案的编码映射表中，手术操作不能转换为分组器支持的编码"]
    assert findings_of(mini, [record(procedures="36.0700")], "FATAL_PROC_UNMAPPED").empty


def test_fatal_record_checks_all_failing_ones(mini):
    f = findings_of(mini, [record(sex=9, age=0)], "FATAL_RECORD_CHECK")  # sex and age in days both fail
    assert f.field.tolist() == ["age_days", "sex"]  # findings of a record are ordered by rule, field, value
    assert f.message_zh.tolist() == ["信息校验不通过：年龄为0岁时须填写年龄不足1周岁的天数", "信息校验不通过：性别必须为1（男）或2（女）"]
    assert f.value.tolist() == ["", "9"]
    assert findings_of(mini, [record()], "FATAL_RECORD_CHECK").empty


@pytest.mark.golden
@pytest.mark.parametrize("version", ["chs-drg-1.1", "chs-drg-1.0"])
def test_golden_fatal_findings_are_exactly_the_invalid_records(version):
    golden = pd.read_parquet(require_shared(GOLDEN / f"{version}.parquet"))
    pack = require_shared(TABLES / version)
    validator = Validator(pack)
    result = validator.validate(golden.drop(columns=[c for c in golden if c.startswith("expected_")]))
    fatal = result.findings.to_pandas().query("severity == 'fatal'")
    invalid = golden.expected_status == "invalid"
    assert set(fatal.row_no - 1) == set(np.flatnonzero(invalid))
    for row, status_zh in zip(np.flatnonzero(invalid), golden.expected_status_zh[invalid]):
        assert fatal[fatal.row_no == row + 1].message_zh.str.contains(status_zh, regex=False).any(), row
    # validation never changes grouping
    assert result.results.equals(Grouper(pack).group_arrow(golden))


# --- DRG-relevant findings ------------------------------------------------------------------------

def test_or_procedure_not_taken(mini):
    # K35.900 enters MDC G; 32.2901 (lung) is an OR procedure no surgical ADRG of MDC G takes
    f = findings_of(mini, [record(principal="K35.900", procedures="32.2901")], "DRG_OR_PROC_NOT_TAKEN")
    assert f.value.tolist() == ["32.2901"]
    # codes and DRGs carry the pack's names (example-mini: 32.2901 肺病损切除术, G000 消化系统无法入组)
    assert f.message_zh[0] == "手术室手术 32.2901（肺病损切除术） 未被任何外科ADRG采用，病例入组 G000（消化系统无法入组）"
    assert findings_of(mini, [record(principal="K35.900", procedures="47.0100")], "DRG_OR_PROC_NOT_TAKEN").empty


def test_principal_procedure_order(mini):
    # 88.7201 (echocardiography) is not an OR procedure, so FM1 (ZYSS in OP_FM1) fails and the case falls to
    # FQY ({ZYSS, QTSS} in OP_ALL); with 36.0700 (stent) first FM1 holds and, without MCC, gives FM15
    f = findings_of(mini, [record(principal="I21.900", procedures="88.7201|36.0700")], "DRG_PRINCIPAL_PROC_ORDER")
    assert f.message_zh.tolist() == ["主要手术 88.7201（超声心动图） 排序可能有误：以 36.0700（冠状动脉药物洗脱支架置入） 为主要手术时"
                                     "入组 FM15（经皮冠状动脉支架植入，不伴严重并发症）（现为 FQY（歧义病案））"]
    assert findings_of(mini, [record(principal="I21.900", procedures="36.0700|88.7201")],
                       "DRG_PRINCIPAL_PROC_ORDER").empty


def test_cc_cancelled_by_exclusion_table(mini):
    # J96.000 is an MCC of exclusion id 1, and id 1 is the exclusion table of the principal J18.900
    result = mini.validate([record(secondary="J96.000|E87.600"), record("c2", principal="J15.900", secondary="J96.000")])
    f = result.findings.to_pandas().query("rule_id == 'DRG_CC_EXCLUDED'")
    assert f.case_id.tolist() == ["c1"]
    assert f.message_zh.tolist() == ["其他诊断 J96.000（急性呼吸衰竭） 为严重并发症或合并症（MCC），但被主要诊断 J18.900（肺炎） 的排除表排除"]
    explained = result.explanations.to_pandas()
    assert explained.excluded_dx.tolist() == ["J96.000", ""]
    assert explained.drg.astype(str).tolist() == ["ES33", "ES31"]  # E87.600 is a CC that counts; J96.000 counts for J15.900
    assert explained.split_reason.tolist() == ["ES33：QTZD in CC；CC E87.600（低钾血症）",
                                               "ES31：QTZD in MCC；MCC J96.000（急性呼吸衰竭）"]


# --- what-if ----------------------------------------------------------------------------------------

def test_whatif_flags_under_and_upcoding():
    w = weights({"FR15": "1.0", "FR13": "1.3", "FT19": "1.25", "ES35": "0.5"})
    v = Validator(weights=w)
    # coded FR13 (I50.900 is a CC of exclusion id 2, I21.900's table is 6); the best alternative is I50.900 as
    # principal, FT19 (K29.700 as principal gives GZ19, which has no weight): 1.25 / 1.3 and 1.3 / 1.25 < 1.5
    f = findings_of(v, [record(principal="I21.900", secondary="K29.700|I50.900")], "WHATIF_UNDERCODING")
    assert f.empty
    assert findings_of(v, [record(principal="I21.900", secondary="K29.700|I50.900")], "WHATIF_UPCODING").empty
    # J18.900 coded ES35 (0.5); I21.900 as principal gives FR15 (1.0) in another ADRG: 2.00 ≥ 2.0 but the
    # money at stake, 0.5 × 10,000 元 (rate_yuan: the weight table has no base rate) = 5,000 元 < 30,000 元
    assert findings_of(v, [record(principal="J18.900", secondary="I21.900")], "WHATIF_UNDERCODING").empty
    assert findings_of(v, [record(principal="I21.900", secondary="J18.900")], "WHATIF_UPCODING").empty
    lower = RuleBook.loads("[rules.WHATIF_UNDERCODING]\nother_adrg_min_gain_yuan = 5000\n"
                           "[rules.WHATIF_UPCODING]\nother_adrg_min_gain_yuan = 5000\n")
    v = Validator(weights=w, rules=lower)
    f = findings_of(v, [record(principal="J18.900", secondary="I21.900")], "WHATIF_UNDERCODING")
    assert f.message_zh.tolist() == [
        "主要诊断改为 I21.900（急性心肌梗死）时入组 FR15（急性心肌梗死，不伴并发症），权重为现 ES35（肺炎，不伴并发症） 的 2.00 倍"
        "（阈值 2.0），按费率少付约 5,000.00 元，可能漏编或主要诊断选择不当"]
    f = findings_of(v, [record(principal="I21.900", secondary="J18.900")], "WHATIF_UPCODING")
    assert f.message_zh.tolist() == [
        "现 FR15（急性心肌梗死，不伴并发症） 的权重为最高替代方案（主要诊断改为 J18.900（肺炎），入组 ES35（肺炎，不伴并发症））的 "
        "2.00 倍（阈值 2.0），按费率多付约 5,000.00 元，存在高套风险"]
    assert f.message_en.tolist() == [
        "FR15（急性心肌梗死，不伴并发症） weighs 2.00 times the best alternative (with principal diagnosis J18.900: "
        "ES35（肺炎，不伴并发症）; threshold 2.0), about 5,000.00 yuan more: upcoding risk"]


def test_whatif_alternatives_say_why_and_offer_without_the_complication():
    w = weights({"FR15": "1.0", "FR13": "1.3", "FT19": "1.25", "ES35": "0.5"})
    alt = Validator(weights=w).validate([record(principal="I21.900", secondary="J18.900|I50.900")]).alternatives
    alt = alt.to_pandas()
    assert alt.alternative.tolist() == ["主要诊断改为 J18.900（肺炎） (principal diagnosis J18.900)",
                                        "主要诊断改为 I50.900（心力衰竭） (principal diagnosis I50.900)",
                                        "去掉CC I50.900（心力衰竭） (without the CC I50.900)"]
    assert alt.drg.astype(str).tolist() == ["ES33", "FT19", "FR15"]
    assert alt.reason.tolist() == ["无权重：权重表中没有 ES33 (no weight: ES33 is not in the weight table)",
                                   "入组：MDC F → FT1 → FT19 (grouped via MDC F, ADRG FT1)",
                                   "入组：MDC F → FR1 → FR15 (grouped via MDC F, ADRG FR1)"]
    # E87.600 (低钾血症) as principal enters no MDC of example-mini: the alternative says so
    alt = Validator().validate([record(principal="I21.900", secondary="E87.600")]).alternatives.to_pandas()
    assert alt.reason.tolist()[0] == "无法入组：主要诊断不满足任何MDC的入组条件 (ungroupable: no MDC entry rule holds)"


def test_whatif_thresholds_within_and_across_adrgs():
    params = {"ratio": 1.5, "min_gain_yuan": 2000, "other_adrg_ratio": 2.0, "other_adrg_min_gain_yuan": 30000}
    top = np.array([1_600_000, 1_600_000, 1_600_000, 4_000_000, 4_000_000])
    bottom = np.array([1_000_000, 1_100_000, 1_000_000, 2_000_000, 1_000_000])
    gain = np.array([200_000, 500_000, 199_999, 3_000_000, 3_000_000])  # fen
    same = np.array([True, True, True, False, False])
    # 1.6 ≥ 1.5 and 2,000 元; 1.45 < 1.5; 1,999.99 元 < 2,000; 2.0 ≥ 2.0 and 30,000 元; 4.0 and 30,000 元
    assert over_threshold(top, bottom, gain, same, params).tolist() == [True, False, False, True, True]
    assert not over_threshold(top[3:], bottom[3:], gain[3:] - 1, same[3:], params).any()



def alternatives_naive(dx_lists, proc_lists, keep, or_proc):
    """Plain-Python twin of audit._kernels._alternatives: (parent, kind, dx list, proc list) per alternative."""
    out = []
    for i, (dx, procs) in enumerate(zip(dx_lists, proc_lists)):
        if not keep[i]:
            continue
        for j in range(1, len(dx)):
            if dx[j] != dx[0]:
                out.append((i, 0, [dx[j], dx[0]] + [c for k, c in enumerate(dx[1:], 1) if k != j], list(procs)))
        if len(procs) >= 2 and not or_proc[procs[0]]:
            first = next((k for k in range(1, len(procs)) if or_proc[procs[k]]), None)
            if first is not None:
                out.append((i, 1, list(dx), [procs[first]] + [p for k, p in enumerate(procs) if k != first]))
    return out


code_lists = st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=6), min_size=0, max_size=12)


@settings(max_examples=200, deadline=None)
@given(dx_lists=code_lists, data=st.data())
def test_alternatives_kernel_matches_naive(dx_lists, data):
    n = len(dx_lists)
    proc_lists = data.draw(st.lists(st.lists(st.integers(0, 4), max_size=5), min_size=n, max_size=n))
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    or_proc = np.array(data.draw(st.lists(st.booleans(), min_size=5, max_size=5)), dtype=bool)

    def csr(lists):
        start = np.zeros(len(lists) + 1, np.int64)
        np.cumsum([len(x) for x in lists], out=start[1:])
        return start, np.array([c for x in lists for c in x], dtype=np.int32)

    (ds, di), (ps, pi) = csr(dx_lists), csr(proc_lists)
    parent, kind, moved, ads, adi, aps, api = _alternatives(ds, di, ps, pi, keep, or_proc)
    got = [(int(parent[a]), int(kind[a]), adi[ads[a]:ads[a + 1]].tolist(), api[aps[a]:aps[a + 1]].tolist())
           for a in range(len(parent))]
    assert got == alternatives_naive(dx_lists, proc_lists, keep, or_proc)


@pytest.mark.golden
def test_whatif_regrouping_equals_grouping_the_rearranged_records():
    golden = pd.read_parquet(require_shared(GOLDEN / "chs-drg-1.1.parquet")).head(3000)
    grouper = Grouper(require_shared(TABLES / "chs-drg-1.1"))
    alt = Validator(grouper).validate(golden).alternatives.to_pandas()
    rebuilt = []
    for row in alt.itertuples():
        rec = golden.iloc[row.row_no - 1].to_dict()
        dx = [rec["principal_dx"]] + (rec["secondary_dx"].split("|") if rec["secondary_dx"] else [])
        procs = rec["procedures"].split("|") if rec["procedures"] else []
        if row.change == "principal_dx":
            j = dx.index(row.code, 1)
            dx = [dx[j], dx[0]] + dx[1:j] + dx[j + 1:]
        elif row.change == "without_cc":
            del dx[dx.index(row.code, 1)]  # the first MCC (else CC) the grouper counted
        else:
            k = procs.index(row.code, 1)
            procs = [procs[k]] + procs[:k] + procs[k + 1:]
        rebuilt.append({**rec, "principal_dx": dx[0], "secondary_dx": "|".join(dx[1:]), "procedures": "|".join(procs)})
    expected = grouper.group(rebuilt)
    assert len(alt) > 3000
    assert alt.drg.astype(str).tolist() == expected.drg.astype(str).tolist()
    assert alt.status.astype(str).tolist() == expected.status.astype(str).tolist()


# --- robustness and the command line ----------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=record_batches(Grouper().pack.definition))
def test_fuzzed_records_give_findings_never_exceptions(batch):
    v = Validator()
    result = v.validate(batch)
    assert result.results.num_rows == len(batch) == result.explanations.num_rows
    invalid = {i + 1 for i, s in enumerate(result.results.column("status").to_pylist()) if s == "invalid"}
    fatal = set(result.findings.filter(pa.compute.equal(result.findings.column("severity"), "fatal"))
                .column("row_no").to_pylist())
    assert fatal == invalid


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=record_batches(Grouper().pack.definition))
def test_record_checks_beside_the_trace_find_the_same(batch):
    from unittest import mock

    import audit.validate
    v = Validator()
    inline = v.validate(batch).findings
    with mock.patch.object(audit.validate, "BESIDE_ROWS", 1):  # every batch's record checks in the helper thread
        beside = v.validate(batch).findings
    assert beside.equals(inline)


def test_cli_validate_and_explain(tmp_path, capsys):
    from icd_tables.sample import sample_records

    records = sample_records(Grouper().pack.compiled, 500, seed=3)
    source = tmp_path / "records.parquet"
    records.to_parquet(source)
    out = tmp_path / "findings.csv"
    assert main(["validate", str(source), "-o", str(out), "--explain", str(tmp_path / "e.parquet")]) == 0
    findings = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert set(findings.columns) == {"case_id", "row_no", "rule_id", "severity", "field", "value", "message_zh",
                                     "message_en", "suggestion"}
    assert (tmp_path / "findings-summary.csv").is_file()
    html = (tmp_path / "findings-report.html").read_text(encoding="utf-8")
    assert "病案首页质控报告" in html and "<svg" in html
    # batches change nothing: a row's findings depend on that row alone, row numbers run on
    assert main(["validate", str(source), "-o", str(tmp_path / "small.csv"), "--batch-size", "70"]) == 0
    assert (tmp_path / "small.csv").read_bytes() == out.read_bytes()
    first = records.case_id[0]
    assert main(["explain", str(source), first]) == 0
    text = capsys.readouterr().out
    assert f"病案 case {first}" in text and "质控问题 findings" in text
    assert main(["explain", str(source), "no-such-case"]) == 3


def test_validate_writes_case_lists_by_department(tmp_path, capsys):
    from openpyxl import load_workbook
    records = pd.DataFrame([
        record("A1", principal="", hospital_id="H1", dept="内科"),
        record("A2", principal="J18", hospital_id="H1", dept="内科"),
        record("A3", hospital_id="H1", dept="外科"),
        record("A4", secondary="J18.900", hospital_id="H2", dept="内科")])
    records.to_parquet(tmp_path / "r.parquet")
    assert main(["validate", str(tmp_path / "r.parquet"), "-o", str(tmp_path / "f.csv")]) == 0
    book = load_workbook(tmp_path / "f-departments.xlsx")
    assert book.sheetnames == ["目录 index", "H1 内科", "H1 外科", "H2 内科"]  # most flagged cases first
    index = [[c.value for c in row] for row in book["目录 index"].iter_rows()]
    assert index[1][:2] == ["H1", "内科"] and index[1][2] == 2
    rows = [[c.value for c in row] for row in book["H1 内科"].iter_rows()]
    assert rows[0] == ["病案号", "行号", "严重程度", "问题", "字段", "填写内容", "说明", "修改建议"]
    assert rows[1][:4] == ["A1", 1, "致命", "主要诊断未填写"]
    assert rows[1][6] == "请填写主要诊断：主要诊断为空，诊断不能转换为分组器支持的编码"
    assert book["H1 内科"].freeze_panes == "A2"
    html = (tmp_path / "f-report.html").read_text(encoding="utf-8")
    assert "科室病例清单 Case lists by department" in html and "H1 · 内科：2 份病案" in html
    assert "科室 dept" in html and "每百份病案问题数 per_100" in html  # the summary's headers in Chinese too


def test_messages_are_held_once_and_case_lists_read_batches_alike(mini):
    from audit.summary import department_lists
    records = [record(f"B{i}", principal="" if i < 6 else "J18", secondary="J18.900|J18.900" if i % 2 else "",
                      hospital_id="H1", dept="内科" if i % 3 else "外科") for i in range(12)]
    whole = mini.validate(records).findings
    for name in ("message_zh", "message_en", "suggestion"):
        texts = whole.column(name).combine_chunks().dictionary.to_pylist()
        assert len(set(texts)) == len(texts)  # pandas reads a dictionary as categories: each text once
    # two batches, each with the messages of its own findings
    halves = pa.concat_tables([mini.validate(records[:6]).findings,
                               mini.validate(records[6:], first_row_no=7).findings])
    assert halves.column("message_zh").chunk(0).dictionary != halves.column("message_zh").chunk(1).dictionary
    table = pa.Table.from_pylist(records)
    lists = [(h, d, t.to_pylist()) for h, d, t in department_lists(halves, table, {})]
    assert lists == [(h, d, t.to_pylist()) for h, d, t in department_lists(whole, table, {})]
    assert {h for h, _, _ in lists} == {"H1"} and sum(len(t) for _, _, t in lists) > 12


def test_validate_report_ranks_whatif_flags_by_money(tmp_path, capsys):
    w = weights({"FR15": "1.0", "FR13": "1.3", "FT19": "1.25", "ES35": "0.5"})
    w.write(tmp_path / "w.parquet")
    (tmp_path / "rules.toml").write_text("[rules.WHATIF_UNDERCODING]\nother_adrg_min_gain_yuan = 1000\n"
                                         "[rules.WHATIF_UPCODING]\nother_adrg_min_gain_yuan = 1000\n", encoding="utf-8")
    pd.DataFrame([record("U", principal="I21.900", secondary="J18.900"),
                  record("D", principal="J18.900", secondary="I21.900")]).to_parquet(tmp_path / "r.parquet")
    assert main(["validate", str(tmp_path / "r.parquet"), "-o", str(tmp_path / "f.csv"), "--weights",
                 str(tmp_path / "w.parquet"), "--rules", str(tmp_path / "rules.toml"),
                 "--explain", str(tmp_path / "e.csv")]) == 0
    explained = pd.read_csv(tmp_path / "e.csv", dtype=str, encoding="utf-8-sig")
    # FR15 1.0 against ES35 0.5 at rate_yuan 10,000 元 per RW: 5,000 元 either way
    assert explained.whatif_money.tolist() == ["-5000.00", "5000.00"]
    html = (tmp_path / "f-report.html").read_text(encoding="utf-8")
    assert "高套与漏编风险（按涉及金额） What-if flags by money at stake" in html and "5,000.00" in html


def test_explain_shows_names_and_why_each_alternative_lands_where_it_does(tmp_path, capsys):
    pd.DataFrame([record("X1", principal="I21.900", secondary="J18.900|I50.900")]).to_parquet(tmp_path / "r.parquet")
    assert main(["explain", str(tmp_path / "r.parquet"), "X1"]) == 0
    text = capsys.readouterr().out
    assert "  主要诊断改为 I50.900（心力衰竭） (principal diagnosis I50.900) → FT19 心力衰竭 (RW -)\n" \
           "      入组：MDC F → FT1 → FT19 (grouped via MDC F, ADRG FT1)" in text
    assert "  去掉CC I50.900（心力衰竭） (without the CC I50.900) → FR15 急性心肌梗死，不伴并发症 (RW -)" in text
