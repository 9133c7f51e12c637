"""Settlement on Spark (local[2]) equals the single-machine engine to the fen: every case line and hospital figure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from payment import run_settlement
from payment.engine import CASE_TYPES
from payment_helpers import case, cases_frame, hospitals, policy, weights
from reference_data import GOLDEN, SHARED, TABLES, require_shared
from spark_fixtures import collect_arrow, spark, spark_frame  # noqa: F401  (spark: the session fixture)

pytestmark = pytest.mark.spark


def _plain_with_row_no(table: pa.Table) -> pa.Table:
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    table = pa.table(columns, names=table.column_names)
    if "row_no" in table.column_names:
        table = table.drop_columns(["row_no"])
    return table.append_column("row_no", pa.array(np.arange(1, table.num_rows + 1), pa.int64()))


def _assert_same(spark, cases: pa.Table, w, pol, hosp, kind, period, partitions, **lists):
    from scaleout.settlement import settle_spark

    cases = _plain_with_row_no(cases)
    local = run_settlement(cases, w, pol, hosp, kind, period, **lists).settlement
    got = settle_spark(spark_frame(spark, cases, partitions), w, pol, hosp, kind, period, **lists)
    lines = collect_arrow(got.case_lines)
    assert lines.column("row_no").to_pylist() == local.cases.row_no.tolist()  # the same cases, none lost
    expected = {
        "case_type": [CASE_TYPES[int(t)][0] for t in local.classified.case_type],
        "points": local.classified.points.tolist(), "standard": local.standard.tolist(),
        "fund_payment": local.fund_payment.tolist(), "total_cost_fen": local.cases.cost_fen.tolist(),
        "patient_share_fen": local.cases.patient_fen.tolist(),
        "provisional_standard": (local.monthly_standard.tolist() if kind == "year" else [0] * local.cases.n),
    }
    for name, values in expected.items():
        assert lines.column(name).to_pylist() == values, name
    assert got.point_values == local.point_values
    assert set(got.accounts) == set(local.accounts)
    for name, values in local.accounts.items():
        assert got.accounts[name].tolist() == values.tolist(), name
    return local, lines


def _tied_year():
    """40 cases with equal points at each of two hospitals, so most remainders tie, plus odd cases."""
    pol = policy(monthly={"withhold": "0.05"}, tracks={"event": {"ratio": "1.0"}})
    hosp = hospitals(pol, [("H1", 3), ("H2", 2), ("H3", 1)])
    w = weights([("A11", "1.5", "15000.00"), ("B21", "0.7", None)])
    rows = []
    for i in range(120):
        hospital = ("H1", "H2", "H3")[i % 3]
        cost = ("15000.00", "9000.00", "30000.00", "2000.00")[i % 4]   # normal, normal, high, low
        rows.append(case(f"C{i:03d}", hospital, "A11" if i % 5 else "B21", cost, "1000.00", month=1 + i % 12))
    rows.append(case("BAD", "H1", "0000", "100.00", "0.00", status="invalid"))
    rows.append(case("NOW", "H2", "ZZ99", "800.00", "100.00"))            # a DRG without a weight: held
    rows.append(case("EVT", "H3", "A11", "5000.00", "500.00"))
    frame = cases_frame(rows)
    frame.loc[frame.case_id == "BAD", "discharge_date"] = ""              # undated and invalid: rejected
    return pa.Table.from_pandas(frame, preserve_index=False), w, pol, hosp


@pytest.mark.parametrize("partitions", [1, 5])
def test_year_with_tied_remainders_equals_single_machine(spark, partitions):
    """The largest-remainder allocation is global; with 5 partitions the tied cases lie in different
    partitions and still the same cases (the earliest rows) get the extra fen."""
    cases, w, pol, hosp = _tied_year()
    local, lines = _assert_same(spark, cases, w, pol, hosp, "year", "2024", partitions, events={"EVT": "测试事件"})
    types = set(lines.column("case_type").to_pylist())
    assert {"normal", "high", "low", "held", "rejected", "event"} <= types
    # Σ DRG fund payments = distributable budget (1,000,000.00 元 less the 5% reserve), to the fen
    drg = np.isin(local.classified.case_type, (0, 1, 2))
    assert int(local.fund_payment[drg].sum()) == 100_000_000 - 100_000_000 * 500 // 10_000


def test_shadow_run(spark):
    cases, w, pol, hosp = _tied_year()
    _assert_same(spark, cases, w, pol, hosp, "shadow", "2024", 3)


def test_refuses_month_runs_and_cases_without_row_no(spark):
    from payment import PaymentInputError
    from scaleout.settlement import settle_spark

    cases, w, pol, hosp = _tied_year()
    frame = spark_frame(spark, _plain_with_row_no(cases), 2)
    with pytest.raises(PaymentInputError, match="month"):
        settle_spark(frame, w, pol, hosp, "month", "2024-03")
    with pytest.raises(PaymentInputError, match="row_no"):
        settle_spark(frame.drop("row_no"), w, pol, hosp, "year", "2024")


def test_year_end_rules_on_the_driver_and_refused_keys(spark):
    """Corridor bands that say how they pay, 总控额度 and 最低服务人次 give the single-machine figures; the keys
    that need the ledger or a fixed point value are refused by name."""
    import dataclasses

    from payment import PaymentInputError
    from scaleout.settlement import settle_spark

    cases, w, pol, hosp = _tied_year()
    rules = policy(monthly={"withhold": "0.05"}, tracks={"event": {"ratio": "1.0"}},
                   corridor={"bands": [{"upto": "0.9", "include_upto": True, "pay": "cost_plus_reward",
                                        "reward_share": "0.5"}, {"upto": "1.1", "include_upto": False,
                                                                 "pay": "standard"},
                                       {"upto": "1.2", "include_upto": True, "pay": "excess", "fund_share": "0.5"},
                                       {"pay": "capped"}], "excess_from": "standard"},
                   totals={"hospitals": {"H1": "300000"}}, min_volume={"hospitals": {"H2": 60}, "deduction": "100"})
    # the policy's totals and minimum volumes join the hospital table as it is read
    local, _ = _assert_same(spark, cases, w, rules, hospitals(rules, [("H1", 3), ("H2", 2), ("H3", 1)]), "year",
                            "2024", 3)
    assert local.accounts["total_deduction"].any() and local.accounts["volume_deduction"].any()
    frame = spark_frame(spark, _plain_with_row_no(cases), 2)
    for changed, key in ((dataclasses.replace(pol, point_value_fixed=(90, 10**8)), r"\[point_value\] mode"),
                         (dataclasses.replace(pol, release_schedule="half"), r"\[assessment\] schedule"),
                         (dataclasses.replace(pol, coefficient_applies_to="fund"), r"\[coefficients\] applies_to"),
                         (dataclasses.replace(pol, next_year_bands=((0, 0, 100),)), r"\[assessment.next_year\]"),
                         (policy(cross_region={"pool": "inside"}), r"\[cross_region\]")):
        with pytest.raises(PaymentInputError, match=key):
            settle_spark(frame, w, changed, hosp, "year", "2024")
    with pytest.raises(PaymentInputError, match="bonus_share"):
        settle_spark(frame, w, pol, dataclasses.replace(hosp, bonus_u={"H1": 100}), "year", "2024")


@pytest.mark.golden
@pytest.mark.parametrize("kind", ["year", "shadow"])
def test_golden_year_with_the_example_policy(spark, kind):
    """The README's quick start (6,696 cases of 2024, two funds) grouped on Spark, settled on Spark."""
    from api.cases import read_cases
    from payment import load_policy, read_hospitals
    from payment.run import EXAMPLE_POLICY
    from weights import WeightMeta, read_published

    cases = read_cases(require_shared(GOLDEN / "chs-drg-1.1.parquet"), pack=require_shared(TABLES / "chs-drg-1.1"))
    w = read_published(require_shared(SHARED / "weights" / "harbin-2024.csv"), WeightMeta("harbin-2024", "哈尔滨", 2024))
    pol = load_policy(EXAMPLE_POLICY)
    local, _ = _assert_same(spark, cases, w, pol, read_hospitals(pol.files["hospitals"], pol), kind, "2024", 4)
    assert local.cases.n == 6_696


def test_track_prices_and_refused_track_keys(spark):
    """Per-diem rates by fund and level and 单病种 outside the budget are per-case prices: Spark gives the
    single-machine figures; tracks paid from the budget and interim settlement are refused by name."""
    import dataclasses

    from payment import PaymentInputError
    from scaleout.settlement import settle_spark

    pol = policy(budget=[{"insurance_type": "310", "amount": "900000.00"}, {"insurance_type": "390",
                                                                             "amount": "500000.00"}],
                 tracks={"per_diem": {"rates": {"P01": "300.00"}, "table": [
                     {"drg": "P01", "fund": "390", "level": 3, "rate": "350.00"},
                     {"drg": "P01", "hospital_id": "H2", "rate": "280.00"}]},
                     "single_disease": {"prices": [{"diagnosis": "K35.800", "price": "6000.00"}]}})
    hosp = hospitals(pol, [("H1", 3), ("H2", 2)])
    w = weights([("A11", "1.5", "15000.00"), ("P01", "0.8", "8000.00")])
    rows = []
    for i in range(40):
        drg = ("A11", "P01")[i % 2]
        rows.append(case(f"C{i:03d}", ("H1", "H2")[i % 4 // 2], drg, "9000.00", "500.00", month=1 + i % 12,
                         los=10 + i, insurance=("310", "390")[i % 3 == 0]) | {"dx": ("K35.800", "J18.900")[i % 5 > 0]})
    cases = pa.Table.from_pandas(cases_frame(rows), preserve_index=False)
    local, lines = _assert_same(spark, cases, w, pol, hosp, "year", "2024", 3)
    assert {"per_diem", "single_disease"} <= set(lines.column("case_type").to_pylist())
    frame = spark_frame(spark, _plain_with_row_no(cases), 2)
    for changed, key in ((dataclasses.replace(pol, per_diem_from="budget"), r"\[tracks.per_diem\] paid_from"),
                         (dataclasses.replace(pol, single_disease_budget="inside"), r"\[tracks.single_disease\]"),
                         (dataclasses.replace(pol, interim_months=6), r"\[tracks.interim\]")):
        with pytest.raises(PaymentInputError, match=key):
            settle_spark(frame, w, changed, hosp, "year", "2024")
