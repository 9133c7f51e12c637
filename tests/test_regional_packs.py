"""Regional packs (``chs-drg-rules/2``): the constructs of the tables README, section 7, on a tiny hand-made pack.

Every expected result below is worked out by hand from the pack written in :func:`write_pack`; the
same records also go through the plain-Python twin.  A pack with a construct outside section 7 is
refused at import, naming the construct and the file, and nothing of it is imported.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from naive_pipeline import naive_group

from api.cli import main
from api.service.fast import OneRecordGrouper
from reference_data import write_csv
from grouper import Grouper
from icd_tables.chs1x import load_chs1x
from icd_tables.errors import PackFormatError
from icd_tables.intake.headers import match_header
from icd_tables.intake.values import UNREADABLE, canonical_records
from icd_tables.pack import Pack, import_pack, user_packs_dir
from icd_tables.rules import readable

TABLES = {
    "mcc": ("DATA/MCC.dat", {"J96.000": "9"}),
    "cc": ("DATA/CC.dat", {"E87.600": "5"}),
    "cc_exclusion": ("DATA/CCE.dat", {"J18.900": "1", "I21.900": "2", "S06.000": "3"}),
    "or_procedures": ("DATA/SS_VALID.dat", {"36.0700": "支架", "39.6500": "ECMO"}),
    "drg_names": ("DATA/DRG.dat", {}),
    "dx_names": ("ICD/ZD_INFO.dat", {}),
    "proc_names": ("ICD/SS_INFO.dat", {}),
    "dx_map": ("ICD/ZD_MAP.dat", {c: c for c in ("J18.900", "I21.900", "S06.000", "J96.000", "E87.600")}),
    "proc_map": ("ICD/SS_MAP.dat", {c: c for c in ("36.0700", "39.6500", "96.0400", "88.7201")}),
}


def _drg(code, split="none", cond=None):
    return {"drg": code, "split": split, "name_zh": code, **({"cond": cond} if cond else {})}


def _adrg(code, rule, drgs, fallback=None, **lists):
    base = {"id": code, "adrg": code, "name_zh": code, "rule": rule, "age_days_max": None, "birth_weight_g": None,
            "dx": [], "dx2": [], "proc": [], "proc2": [], "proc3": [], "drgs": drgs, "fallback_drg": fallback}
    return {**base, **lists}


def _mdc(letter, entry, principal_dx, adrgs, qy_kind="any_proc_is_or", qy_enabled=False, before=0):
    return {"mdc": letter, "name_zh": letter, "entry": {"sex": None, "age_years": None, "min_trauma_sites": None,
                                                        **entry},
            "principal_dx": principal_dx, "adrgs": adrgs,
            "qy": {"before_index": before, "enabled": qy_enabled, "kind": qy_kind, "drg": f"{letter}QY"}}


def rules() -> dict:
    """A pack of three MDCs using each addition of section 7 once."""
    icu = {"op": "cmp", "field": "icu_hours", "cmp": ">", "value": 120}
    ecmo_anywhere = {"op": "all", "of": [{"op": "cmp", "field": "proc_count", "cmp": ">=", "value": 1},
                                         {"op": "proc_in", "pos": "any", "codes": ["39.6500"]}]}
    a_entry = {"kind": "cond", "cond": {"op": "any", "of": [
        {"op": "proc_in", "pos": "principal", "list": "or_procedures"},
        {"op": "proc_in", "pos": "principal", "codes": ["96.0400"]}]}}
    return {
        "schema": "chs-drg-rules/2", "pack": "testland-2022", "description": "hand-made", "tables": {
            role: rel for role, (rel, _) in TABLES.items()}, "sha256": {},
        "mdc_order": ["A", "E", "F"], "ungroupable_drg": "0000",
        "regroup_on_ungroupable": "each_secondary_proc_alone",
        "mdcs": [
            _mdc("A", a_entry, [], [
                # ECMO anywhere (AH11) or ICU > 120 h (AH13); else not matched: go on
                _adrg("AH1", {"kind": "cond", "cond": {"op": "all", "of": []}},
                      [_drg("AH11", "cond", ecmo_anywhere), _drg("AH13", "cond", icu)]),
                # 96.0400 as principal: the ADRG's own code (no DRG split)
                _adrg("AB1", {"kind": "principal_proc", "cond": None}, [], fallback="AB1", proc=["96.0400"]),
            ]),
            _mdc("E", {"kind": "principal_dx"}, ["J18.900"], [
                _adrg("ES3", {"kind": "principal_dx"},
                      [_drg("ES31A", "cond", {"op": "in", "field": "dept", "values": ["ICU"]}),
                       _drg("ES31", "mcc"), _drg("ES33", "cond", {"op": "has_cc"}),
                       _drg("ES35", "cond", {"op": "cmp", "field": "los_days", "cmp": "<", "value": 61})],
                      fallback="ES3", dx=["J18.900"]),
            ]),
            _mdc("F", {"kind": "principal_dx"}, ["I21.900"], [
                _adrg("FM1", {"kind": "principal_proc"}, [_drg("FM19")], proc=["36.0700"]),
                _adrg("FR1", {"kind": "cond", "cond": {"op": "all", "of": [
                    {"op": "dx_in", "pos": "principal", "list": "dx"},
                    {"op": "not", "of": {"op": "in", "field": "discharge_method", "values": [5]}}]}},
                      [_drg("FR19")], dx=["I21.900"]),
            ], qy_kind="principal_proc_is_or", qy_enabled=True, before=1),
        ],
    }


def write_pack(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, rows in TABLES.values():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("".join(f"{k} {v}\n" for k, v in rows.items()) or "X0 x\n", encoding="utf-8")
    data = {**data, "sha256": {rel: hashlib.sha256((folder / rel).read_bytes()).hexdigest()
                               for rel, _ in TABLES.values()}}
    (folder / "rules.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DRG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DRG_PACKS_DIR", str(tmp_path / "packs"))


def _rec(case_id, principal="J18.900", secondary="", procedures="", **extra):
    return {"case_id": case_id, "sex": 1, "age_years": 60, "principal_dx": principal,
            "secondary_dx": secondary, "procedures": procedures, **extra}


CASES = [
    # MDC A entered through the OR principal procedure 39.6500; ECMO anywhere: AH11
    (_rec("ecmo", procedures="39.6500"), ("A", "AH1", "AH11", "ok")),
    # 36.0700 enters A (an OR procedure), no ECMO, ICU 121 h > 120: AH13
    (_rec("icu", principal="I21.900", procedures="36.0700", icu_hours=121), ("A", "AH1", "AH13", "ok")),
    # ICU hours missing count as 0: AH1 has no DRG that holds, AB1 needs 96.0400 -> MDC A not matched,
    # MDC F: FM1 (36.0700 principal) FM19
    (_rec("icu0", principal="I21.900", procedures="36.0700"), ("F", "FM1", "FM19", "ok")),
    # 96.0400 enters A by the inline codes; AB1 has no split: the ADRG's own code
    (_rec("own", procedures="96.0400"), ("A", "AB1", "AB1", "ok")),
    # department compared as an exact string
    (_rec("dept", dept="ICU"), ("E", "ES3", "ES31A", "ok")),
    (_rec("dept-lower", dept="icu", los_days=3), ("E", "ES3", "ES35", "ok")),
    # MCC, CC (has_cc), los < 61, and the fallback when nothing holds (los 61, no complication)
    (_rec("mcc", secondary="J96.000", los_days=70), ("E", "ES3", "ES31", "ok")),
    (_rec("cc", secondary="E87.600", los_days=70), ("E", "ES3", "ES33", "ok")),
    (_rec("long", los_days=61), ("E", "ES3", "ES3", "ok")),
    (_rec("no-los"), ("E", "ES3", "ES3", "ok")),
    # QY on the principal procedure only, before FR1: 88.7201 is no OR procedure, so FR1 decides
    # (discharge method missing: 'in [5]' is false, its 'not' true)
    (_rec("qy-principal-not-or", principal="I21.900", procedures="88.7201|36.0700"), ("F", "FR1", "FR19", "ok")),
    # death is excluded from FR1 by 'not in': with no procedure, F has no ADRG -> ungroupable
    (_rec("died", principal="I21.900", discharge_method=5), ("", "", "0000", "ungroupable")),
    (_rec("alive", principal="I21.900", discharge_method=1), ("F", "FR1", "FR19", "ok")),
]


def test_hand_worked_records(tmp_path):
    folder = write_pack(tmp_path / "testland-2022", rules())
    batch = [record for record, _ in CASES]
    results = Grouper(folder).group(batch)
    got = list(zip(results["mdc"], results["adrg"], results["drg"], results["status"]))
    assert got == [expected for _, expected in CASES]
    defn = load_chs1x(folder)
    for record, (mdc, adrg, drg, status) in zip(batch, got):
        twin = naive_group(defn, record)
        assert (twin["mdc"], twin["adrg"], twin["drg"], twin["status"]) == (mdc, adrg, drg, status), record


def test_the_service_fast_path_reads_the_department_and_icu_hours_alike(tmp_path):
    """The one-record path (api.service.fast) answers the hand-worked records it takes with the same result,
    the department (ICU, icu) and ICU hours among them."""
    fast = OneRecordGrouper(Grouper(write_pack(tmp_path / "testland-2022", rules())))
    answered = set()
    for record, (mdc, adrg, drg, status) in CASES:
        result = fast.group(record)
        if result is not None:
            answered.add(record["case_id"])
            assert (result["mdc"], result["adrg"], result["drg"], result["status"]) == (mdc, adrg, drg, status)
    assert {"dept", "dept-lower", "icu", "mcc"} <= answered


def test_regrouping_with_each_secondary_procedure_alone(tmp_path):
    """88.7201 first: no MDC takes the case with it as principal; alone, 36.0700 gives FM19 (the QY check reads
    P[0] = 36.0700, an OR procedure, but runs only before FR1, after FM1)."""
    data = rules()
    folder = write_pack(tmp_path / "testland-2022", data)
    record = _rec("regroup", principal="I21.900", procedures="88.7201|36.0700")
    # MDC A: P[0] = 88.7201 is neither OR nor 96.0400; MDC F: FM1 needs 36.0700 first; QY: P[0] not OR;
    # FR1 needs discharge_method present and != 5 -> missing: 'not in' holds -> FR19
    assert Grouper(folder).group([record])["drg"].tolist() == ["FR19"]
    dead = {**record, "discharge_method": 5}
    # now F fails -> ungroupable -> regroup with [36.0700]: MDC A (OR principal), no ICU, no ECMO -> AH1 not
    # matched; AB1 no; MDC F: FM1 -> FM19
    assert Grouper(folder).group([dead])["drg"].tolist() == ["FM19"]
    data["regroup_on_ungroupable"] = None
    plain = write_pack(tmp_path / "plain-2022", {**data, "pack": "plain-2022"})
    assert Grouper(plain).group([dead])["status"].tolist() == ["ungroupable"]
    for folder_, want in ((folder, "FM19"), (plain, "0000")):
        assert naive_group(load_chs1x(folder_), dead)["drg"] == want


def test_qy_on_the_principal_procedure(tmp_path):
    folder = write_pack(tmp_path / "testland-2022", rules())
    # I21.900 with the OR procedure 36.0700 second: MDC A needs it first; FM1 needs it first; QY reads P[0]
    # (88.7201, not OR) -> FR1 with discharge 1
    second = _rec("second", principal="I21.900", procedures="88.7201|36.0700", discharge_method=1)
    assert Grouper(folder).group([second])["drg"].tolist() == ["FR19"]
    data = rules()
    data["mdcs"][2]["qy"]["kind"] = "any_proc_is_or"  # any procedure: 36.0700 anywhere -> FQY
    anywhere = write_pack(tmp_path / "any-2022", {**data, "pack": "any-2022"})
    result = Grouper(anywhere).group([second]).iloc[0]
    assert (result["drg"], result["status"], result["adrg"]) == ("FQY", "qy", "")


BAD = [
    (lambda d: d["mdcs"][1]["adrgs"][0]["drgs"][0]["cond"].update(op="regex"), "condition op 'regex'"),
    (lambda d: d["mdcs"][1]["adrgs"][0]["drgs"][0]["cond"].update(field="ward"), "record field 'ward'"),
    (lambda d: d["mdcs"][0]["adrgs"][0]["rule"].update(kind="lookup"), "rule kind 'lookup'"),
    (lambda d: d["mdcs"][0]["adrgs"][0]["drgs"][0].update(split="weekday"), "split 'weekday'"),
    (lambda d: d["mdcs"][2]["qy"].update(kind="any_dx_is_cc"), "QY kind 'any_dx_is_cc'"),
    (lambda d: d["mdcs"][1]["entry"].update(kind="always"), "entry kind 'always'"),
    (lambda d: d.update(regroup_on_ungroupable="each_dx_alone"), "regrouping 'each_dx_alone'"),
    (lambda d: d["mdcs"][2]["adrgs"][1]["rule"]["cond"]["of"][0].update(list="dx9"), "list 'dx9'"),
    (lambda d: d["mdcs"][2]["adrgs"][1]["rule"]["cond"]["of"][0].update(pos="last"), "position 'last'"),
    (lambda d: d["mdcs"][2]["adrgs"][0].update(weight_floor=3), "ADRG key(s) weight_floor"),
]


@pytest.mark.parametrize("change, construct", BAD, ids=[c for _, c in BAD])
def test_construct_outside_section_7_is_refused_at_import(tmp_path, change, construct):
    data = copy.deepcopy(rules())
    change(data)
    folder = write_pack(tmp_path / "odd-2022", {**data, "pack": "odd-2022"})
    with pytest.raises(PackFormatError) as raised:
        import_pack(folder)
    message = str(raised.value)
    assert construct in message and str(folder / "rules.json") in message, message
    assert not (user_packs_dir() / "odd-2022").exists()
    assert not user_packs_dir().exists() or not any(user_packs_dir().iterdir())
    with pytest.raises(PackFormatError):
        Pack.load(folder)


def test_regional_manifest_records_region_and_schema(tmp_path):
    folder = write_pack(tmp_path / "testland-2022", rules())
    target = import_pack(folder)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["format"], manifest["name"], manifest["region"], manifest["version"]) == (
        "chs-drg-rules/2", "testland-2022", "testland", "2022")
    assert Grouper("testland-2022").group([_rec("x", dept="ICU")])["drg"].tolist() == ["ES31A"]


@pytest.mark.parametrize("header", ["icu_hours", "重症监护时长", "ICU时长（小时）", "重症监护合计时长", "重症监护时长(小时)"])
def test_icu_hours_headers(header):
    assert match_header(header)[0] == "icu_hours"


def test_icu_durations_become_whole_hours_rounded_down():
    """重症监护合计时长 as days/hours/minutes: 2 d 3 h 59 min = 51 completed hours."""
    table = pa.table({"icu_hours": ["2天3小时15分钟", "2/3/59", "121小时", "5", "", "0天0小时59分钟", "3天", "abc"]})
    out = canonical_records(table)
    assert out.column("icu_hours").to_pylist() == [51, 51, 121, 5, None, 0, 72, None]
    assert out.column(UNREADABLE + "icu_hours").to_pylist()[-1] == "abc"


def test_rule_texts_in_words():
    assert readable("ZYTS >= 61 and ICUSC > 120") == "住院天数 ≥ 61 天 and ICU 时长 > 120 小时"
    assert readable('KS = "ICU" or LYFS = 5') == '科室 = "ICU" or 离院方式 = 5'
    assert readable("SSSL >= 1 and ZYSS in OP_X") == "手术操作数 ≥ 1 个 and ZYSS in OP_X"


def test_explanation_speaks_the_regional_conditions(tmp_path, capsys):
    folder = write_pack(tmp_path / "testland-2022", rules())
    records = [_rec("short", los_days=3), _rec("icu", principal="I21.900", procedures="36.0700", icu_hours=121)]
    source = write_csv(tmp_path / "records.csv", list(records[0] | records[1]),
                       [[r.get(k, "") for k in records[0] | records[1]] for r in records])
    explain = tmp_path / "explain.csv"
    assert main(["validate", str(source), "--pack", str(folder), "-o", str(tmp_path / "findings.csv"),
                 "--explain", str(explain)]) == 0
    reasons = pd.read_csv(explain)["split_reason"].tolist()
    assert reasons == ["ES35：住院天数 < 61 天", "AH13：ICU 时长 > 120 小时"]
