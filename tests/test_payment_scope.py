"""Honest figures (issue 20): runs on part of the region, funds without points, fund names, held cases."""

from __future__ import annotations

import pandas as pd
import pytest

from api.cli import main
from payment.inputs import PaymentInputError
from payment.policy import parse_policy
from payment.scope import parse_budget_share, parse_point_value
from reference_data import write_csv
from test_payment_cli import HEADER, inputs, settle  # noqa: F401  (the fixture)


def _one_month(folder):
    """Every case discharged in January 2024 (the fixture spreads them over the year, one hospital a month)."""
    rows = pd.read_csv(folder / "cases.csv", dtype=str, keep_default_na=False)
    rows["discharge_date"] = "2024-01-" + rows.discharge_date.str[-2:]
    write_csv(folder / "cases.csv", HEADER, rows.values.tolist())


def _only_h1(folder):
    rows = pd.read_csv(folder / "cases.csv", dtype=str, keep_default_na=False)
    write_csv(folder / "h1.csv", HEADER, rows[rows.hospital_id == "H1"].values.tolist())


def _lines(run, hospital="H1"):
    lines = pd.read_csv(run / "case_lines.csv", dtype=str, keep_default_na=False)
    return lines[lines.hospital_id == hospital].drop(columns=["row_no"]).reset_index(drop=True)


@pytest.mark.parametrize("kind,period", [("month", "2024-01"), ("shadow", "2024")])
def test_one_hospital_run_warns_and_takes_the_regions_point_value(inputs, capsys, kind, period):
    _one_month(inputs)
    _only_h1(inputs)
    assert settle(inputs, kind, period, inputs / "region") == 0
    capsys.readouterr()
    one = ["settle", kind, str(inputs / "h1.csv"), "--weights", str(inputs / "weights.parquet"),
           "--policy", str(inputs / "policy.toml"), "--period", period]
    assert main([*one, "-o", str(inputs / "alone")]) == 0
    err = capsys.readouterr().err
    assert "drg: 警告：本次结算只含 1/3 家医院的病例" in err
    assert "Give the region's point value with --point-value VALUE (or a region-wide run folder)" in err
    assert main([*one, "-o", str(inputs / "h1"), "--point-value", str(inputs / "region")]) == 0
    assert "警告" not in capsys.readouterr().err
    with_value = _lines(inputs / "h1")
    assert len(with_value) and with_value.equals(_lines(inputs / "region"))
    assert not _lines(inputs / "alone").equals(_lines(inputs / "region"))


def test_a_policy_that_shares_no_budget_over_points_gives_no_coverage_warning(inputs, capsys):
    """The quota method (定额) pays each hospital its own quota: one hospital's cases alone are paid the same."""
    _one_month(inputs)
    _only_h1(inputs)
    policy = (inputs / "policy.toml").read_text(encoding="utf-8")
    (inputs / "policy.toml").write_text('method = "quota"\n' + policy + '\n[quota]\nlevels = { 1 = "8000.00", '
                                        '2 = "9000.00", 3 = "10000.00" }\n', encoding="utf-8")
    assert main(["settle", "month", str(inputs / "h1.csv"), "--weights", str(inputs / "weights.parquet"),
                 "--policy", str(inputs / "policy.toml"), "--period", "2024-01", "-o", str(inputs / "h1")]) == 0
    assert "警告" not in capsys.readouterr().err
    assert len(_lines(inputs / "h1"))


def test_point_value_and_budget_share_texts():
    policy = parse_policy({"version": "t", "budget": [{"insurance_type": "310", "amount": "100.00"}]})
    # 241.5 元 per point = 24,150 fen per point = 241,500,000 / 10^8 fen per 1/10,000 point
    assert parse_point_value("241.5", policy) == {("", ""): (241_500_000, 10**8)}
    assert parse_point_value("310=241.5,390=198.25", policy) == {("", "310"): (241_500_000, 10**8),
                                                                 ("", "390"): (198_250_000, 10**8)}
    with pytest.raises(PaymentInputError, match="must be above 0 with at most 6 decimals"):
        parse_point_value("0.1234567", policy)
    assert str(parse_budget_share("5%")) == "1/20"
    with pytest.raises(PaymentInputError, match="must be above 0 and at most 1"):
        parse_budget_share("1.5")


def test_budget_share_scales_the_budget(inputs, capsys):
    _only_h1(inputs)
    assert main(["settle", "shadow", str(inputs / "h1.csv"), "--weights", str(inputs / "weights.parquet"),
                 "--policy", str(inputs / "policy.toml"), "--period", "2024", "-o", str(inputs / "part"),
                 "--budget-share", "0.5"]) == 0
    err = capsys.readouterr().err
    assert "警告" not in err
    assert "测试市 职工 (310): budget 150,000.00" in err  # half of 300,000.00 元


def test_statements_name_funds_and_held_cases_say_why(inputs, capsys):
    # January: a 职工 case of A01 and a 居民 case of Z99 (no weight: held), so 居民 has no DRG-track points
    write_csv(inputs / "cases.csv", HEADER, [
        ["J1", "H1", "A01", "ok", "9000.00", "500.00", "5", "2024-01-05", "310", "内科"],
        ["J2", "H1", "Z99", "ok", "9000.00", "500.00", "5", "2024-01-06", "390", "内科"]])
    assert settle(inputs, "month", "2024-01", inputs / "run") == 0
    err = capsys.readouterr().err
    assert "测试市 职工 (310): budget 300,000.00" in err
    assert "测试市 居民 (390): budget 200,000.00, distributable 190,000.00, " \
           "无DRG点数，无点值 (no DRG-track points in this period, so no point value)" in err
    html = (inputs / "run" / "statements" / "H1.html").read_text(encoding="utf-8")
    assert "测试市 职工" in html and "测试市 310" not in html
    lines = pd.read_csv(inputs / "run" / "case_lines.csv", dtype=str, keep_default_na=False)
    held = lines[lines.case_type.isin(["held", "ungroupable_held"])]
    assert len(held) and (held.note != "").all()
    assert set(held.note) <= {
        "该病组在权重表中没有权重，暂缓支付：待医保部门补充权重后重新结算，无需医院修改病案 "
        "(the DRG has no weight: held until the weight table gives one, then settled again; nothing for the hospital to fix)",
        "无法入组或歧义病例暂缓支付：请核对主要诊断与手术操作编码后重新上传，或申请特病单议 "
        "(ungroupable or ambiguous: held; check the principal diagnosis and procedures and upload again, "
        "or apply for special review)"}
