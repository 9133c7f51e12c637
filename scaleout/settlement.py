"""Settlement on Spark: per-case work on the executors, exact integer sums in Spark SQL, the budget on the driver.

What runs where (``settle_spark``)
-----------------------------------
1. executors (``mapInArrow``): each partition is prepared and classified by payment's own
   :func:`payment.prepare_cases` and :func:`payment.engine.classify` — case type, points (1/10,000),
   costs and patient shares in fen, the non-DRG tracks' amounts.  These depend on the case alone
   (the 特病单议 cap spans a hospital's cases and is not offered here; for the benefit calculator's
   annual cap a patient's cases are put in one partition, in ``row_no`` order);
2. Spark SQL: sums of ``LongType`` columns per hospital × fund × month × category (exact in any
   order: integers, no floats);
3. driver: budgets and point values ``N/D`` from those sums (:class:`payment.PointValue`);
4. executors: each case's standard ⌊points × N/D⌋ and remainder (the engine's exact kernel);
5. Spark + driver: the largest-remainder allocation (最大余数法): the count of cases per
   distinct remainder gives the threshold, the ``row_no`` order breaks its ties — the cases that
   get one more fen are exactly those of the single-machine allocation;
6. Spark SQL sums again, then the year end (withhold release, corridor, 总控额度, 最低服务人次) on the
   driver with the engine's own function, per hospital × fund (small).

The run ledger is not read here: a policy with a release schedule, the coefficient on the fund amount,
a fixed point value, ``[assessment.next_year]``, ``[cross_region]`` (异地就医), the quota method or a
``[quota]`` baseline, tracks paid from the DRG budget (per diem ``paid_from = "budget"``, 单病种 ``budget =
"inside"``) or interim settlement (``[tracks.interim]``), and a hospital table with ``bonus_share``, are
refused by name (``_UNDISTRIBUTED``); settle those on one machine.  Per-diem rate tables and 单病种 outside
the budget are per-case prices: the executors apply them with payment's own :func:`payment.prepare_cases`.  ``[lifecycle]`` (returns, deadlines, deductions) is read by
the case life cycle (``payment.cycle``, the service), not by a settlement of given cases: Spark settles the cases it
is given and applies no deduction (the run ledger, where deductions are recorded, is not read here).

The input order of the single-machine engine is the ``row_no`` order here: settle grouped cases
that carry ``row_no`` (``group_spark`` writes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from payment import engine
from payment.engine import CASE_TYPES, CAT_DRG, CAT_UNPAID, PointValue, classify
from payment.inputs import Hospitals, PaymentInputError, Period, prepare_cases
from payment.policy import Policy
from weights import WeightTable

_FUND_SEP = "\x1f"
#: Policy keys the Spark settlement refuses, by name (everything else of the year end runs on the driver with
#: the engine's own functions: corridor bands of either form, 总控额度, 最低服务人次).
_UNDISTRIBUTED = {
    '[coefficients] applies_to = "fund"': lambda p: p.coefficient_applies_to == "fund",
    '[point_value] mode = "fixed"': lambda p: p.point_value_fixed is not None,
    "[assessment] schedule (other than \"year\")": lambda p: p.release_schedule != "year",
    "[assessment.next_year]": lambda p: p.next_year_bands is not None,
    # 异地就医: inbound cases need their insured region's benefit tables and clearing funds on the executors
    "[cross_region]": lambda p: p.cross_region is not None,
    'method = "quota" / [quota] (定额)': lambda p: p.method == "quota" or bool(
        p.quota_hospitals_fen or p.quota_levels_fen or "quota" in p.files),
    '[tracks.per_diem] paid_from = "budget"': lambda p: p.per_diem_from == "budget",
    '[tracks.single_disease] budget = "inside"': lambda p: bool(p.single_disease) and p.single_disease_budget == "inside",
    "[tracks.interim] enabled": lambda p: p.interim_months is not None,
}
#: Per-case columns computed on the executors (all integers but the ids).
CASE_SCHEMA = ("row_no long, case_id string, hospital_id string, hosp long, fund_key string, yyyymm long, "
               "case_type long, category long, points long, track_standard long, cost_fen long, patient_fen long")


def _classified_batches(batches: Iterator[pa.RecordBatch], weights, policy, hospitals, period, events):
    """One partition → its cases' type, points and amounts (step 1)."""
    table = pa.Table.from_batches(list(batches))
    if not table.num_rows:
        return
    cases = prepare_cases(table, weights, policy, hospitals, period, events=events, require_cases=False)
    if not cases.n:
        return
    cl = classify(cases, policy, hospitals)
    keys = [f"{region}{_FUND_SEP}{ins}" for region, ins in cases.funds]
    fund_key = pa.array([keys[f] if f >= 0 else None for f in cases.fund.tolist()], pa.string())
    hosp_ids = pa.array(hospitals.ids + ("",), pa.string())
    yield from pa.table({
        "row_no": table.column("row_no").take(pa.array(cases.row_no - 1)).cast(pa.int64()),
        "case_id": cases.case_id.cast(pa.string()),
        "hospital_id": hosp_ids.take(pa.array(np.where(cases.hosp >= 0, cases.hosp, len(hospitals.ids)))),
        "hosp": pa.array(cases.hosp, pa.int64()), "fund_key": fund_key, "yyyymm": pa.array(cases.yyyymm, pa.int64()),
        "case_type": pa.array(cl.case_type, pa.int64()), "category": pa.array(cl.category, pa.int64()),
        "points": pa.array(cl.points, pa.int64()), "track_standard": pa.array(cl.track_standard, pa.int64()),
        "cost_fen": pa.array(cases.cost_fen, pa.int64()), "patient_fen": pa.array(cases.patient_fen, pa.int64()),
    }).to_batches()


def _standard_batches(batches, values: dict[int, PointValue], n_groups: int, group_of):
    """Each DRG-track case's ⌊points × N/D⌋ and remainder, with the point value of its group (step 4)."""
    for batch in batches:
        points = batch.column("points").to_numpy(zero_copy_only=False)
        group = group_of(batch)
        mask = (batch.column("category").to_numpy(zero_copy_only=False) == CAT_DRG) & (group >= 0)
        q, r = engine.floor_standards(points, np.maximum(group, 0), mask, values, n_groups)
        yield batch.append_column("q", pa.array(q)).append_column("r", pa.array(r))


def _with_q(schema):
    """``schema`` plus the standard's floor ``q`` and remainder ``r`` (a new StructType: ``add`` changes in place)."""
    from pyspark.sql.types import LongType, StructField, StructType

    return StructType([*schema.fields, StructField("q", LongType()), StructField("r", LongType())])


def _sums(frame, values: tuple[str, ...], n_hospitals: int, n_funds: int):
    """Σ per (hospital, fund, month) × category: count and ``values`` → int64 [accounts × 12, 4, 1 + len(values)]."""
    from pyspark.sql import functions as F

    rows = (frame.where("fund >= 0").groupBy("slot", "category")
            .agg(F.count(F.lit(1)).alias("n"), *[F.sum(v).cast("long").alias(v) for v in values]).collect())
    out = np.zeros((max(n_hospitals, 1) * n_funds * 12, 4, 1 + len(values)), np.int64)
    for row in rows:
        out[row["slot"], row["category"]] = [row["n"], *[row[v] or 0 for v in values]]
    return out


def _allocate(frame, values: dict[int, PointValue], scale: int):
    """Step 5: per fund, the remainder threshold and the last ``row_no`` taking a tie → (fund, t, cut) rows."""
    from pyspark.sql import functions as F

    drg = frame.where(f"category = {CAT_DRG} AND fund >= 0")
    floors = dict(drg.groupBy("fund").agg(F.sum("q").cast("long")).collect())
    cuts = []
    for f, v in values.items():
        left = v.numerator // scale - int(floors.get(f, 0))
        if left == 0:
            continue
        counts = sorted(drg.where(F.col("fund") == f).groupBy("r").count().collect(), reverse=True)
        above = 0
        for r, n in counts:
            if above + n >= left:
                break
            above += n
        else:
            raise AssertionError(f"fund {f}: cannot allocate {left} fen over {above} cases")
        take = left - above
        cut = (drg.where((F.col("fund") == f) & (F.col("r") == r)).select("row_no").orderBy("row_no").limit(take)
               .agg(F.max("row_no")).collect()[0][0])
        cuts.append((f, int(r), int(cut)))
    return cuts


@dataclass
class SparkSettlement:
    """A period settled on Spark.

    Attributes
    ----------
    case_lines : pyspark.sql.DataFrame
        One row per case of the period: ``row_no, case_id, hospital_id, case_type, case_type_zh, points,
        total_cost_fen, patient_share_fen, standard, fund_payment`` (and ``provisional_standard`` for a
        year), amounts in fen, points in 1/10,000.
    accounts : dict of numpy arrays
        Per hospital × fund (index ``hospital × n_funds + fund``), the figures of
        ``payment.Settlement.accounts``.
    point_values : dict
        Fund → :class:`payment.PointValue`.
    funds : list of (region, insurance_type)
    """

    case_lines: object
    accounts: dict
    point_values: dict
    funds: list
    budgets: dict


def settle_spark(cases, weights: WeightTable, policy: Policy, hospitals: Hospitals, kind: str, period,
                 scores: dict[str, int] | None = None, events: dict[str, str] | None = None) -> SparkSettlement:
    """Settle the grouped cases of a Spark DataFrame; figures equal :func:`payment.run_settlement`'s to the fen.

    Parameters
    ----------
    cases : pyspark.sql.DataFrame
        Grouped cases with ``row_no`` (``group_spark(..., keep_input=True)``, or ``drg group --keep-input``
        output read by Spark) and the columns :func:`payment.prepare_cases` reads.
    weights, policy, hospitals
        As for :func:`payment.run_settlement`.
    kind : {"year", "shadow"}
        Year-end clearing or a shadow run (monthly runs are small: settle them on one machine).
    period : Period or str
    scores, events : dict, optional
        Assessment scores (1/100 points) and the 突发事件 list.

    Raises
    ------
    PaymentInputError
        As the single-machine engine; also for what this engine does not distribute (a month run).
    """
    from pyspark.sql import functions as F

    if kind not in ("year", "shadow"):
        raise PaymentInputError(f"settle on Spark: kind {kind!r} not distributed; use year or shadow "
                                "(按月预结 runs fit one machine: drg settle month)")
    for key, used in _UNDISTRIBUTED.items():
        if used(policy):
            raise PaymentInputError(f"settle on Spark: {key} is not distributed (it reads or writes the run ledger, "
                                    "is not rescaled to the budget, writes next year's table, clears 异地就医 "
                                    "cases or takes tracks off the budget); settle on one machine: drg settle")
    if hospitals.bonus_u:
        raise PaymentInputError("settle on Spark: the hospital table's bonus_share (考核奖励比例) is not distributed; "
                                "settle on one machine: drg settle")
    if "row_no" not in cases.columns:
        raise PaymentInputError("settle on Spark needs a row_no column (行号) to order the cases; "
                                "group with group_spark or drg group first")
    period = period if isinstance(period, Period) else Period.parse(period)
    if policy.benefits and "patient_id" in cases.columns:
        # the benefit calculator's annual cap spans a patient's cases: keep them in one partition, in row_no order
        cases = cases.repartition("patient_id").sortWithinPartitions("row_no")
    if kind == "year" and period.month is not None:
        raise PaymentInputError(f"drg settle year needs a year (2024), not {period}")

    n_hosp = len(hospitals.ids)
    classified = cases.mapInArrow(
        lambda batches: _classified_batches(batches, weights, policy, hospitals, period, events), CASE_SCHEMA)
    classified = classified.persist()
    funds = sorted(tuple(k.split(_FUND_SEP)) for (k,) in
                   classified.where("fund_key IS NOT NULL").select("fund_key").distinct().collect())
    n_funds = max(len(funds), 1)
    fund_index = F.create_map(*[x for i, key in enumerate(funds) for x in (F.lit(_FUND_SEP.join(key)), F.lit(i))])
    frame = classified.withColumn("fund", F.coalesce(fund_index[F.col("fund_key")], F.lit(-1)) if funds
                                  else F.lit(-1))
    frame = frame.withColumn("month", F.greatest(F.col("yyyymm") % 100 - 1, F.lit(0)))
    frame = frame.withColumn("slot", ((F.greatest("hosp", F.lit(0)) * n_funds + F.greatest("fund", F.lit(0))) * 12
                                      + F.col("month")).cast("long"))
    budgets = engine.fund_budgets(policy, funds)
    first = _sums(frame, ("points", "patient_fen", "cost_fen"), n_hosp, n_funds)
    by_fund_month = first[:, CAT_DRG, :].reshape(-1, n_funds, 12, 4).sum(axis=0)
    monthly_values = engine.monthly_point_values(policy, budgets, by_fund_month) if kind == "year" else {}
    scale = 1
    values = engine.budget_point_values(budgets, by_fund_month.sum(axis=1), scale, funds, period)

    fund_of = lambda b: b.column("fund").to_numpy(zero_copy_only=False)  # noqa: E731
    with_q = frame.mapInArrow(lambda bs: _standard_batches(bs, values, n_funds, fund_of),
                              _with_q(frame.schema)).persist()
    cuts = _allocate(with_q, values, scale)
    bonus = F.lit(False)
    for f, t, cut in cuts:
        bonus = bonus | ((F.col("fund") == f) & ((F.col("r") > t) | ((F.col("r") == t) & (F.col("row_no") <= cut))))
    drg_case = (F.col("category") == CAT_DRG) & (F.col("fund") >= 0)
    paid = (F.col("fund") >= 0) & (F.col("category") != CAT_UNPAID)
    standard = F.when(drg_case, F.col("q") + F.when(bonus, 1).otherwise(0)).otherwise(F.col("track_standard"))
    lines = (with_q.withColumn("standard", F.when(paid, standard).otherwise(0).cast("long"))
             .withColumn("fund_payment", F.when(paid, standard - F.col("patient_fen")).otherwise(0).cast("long")))
    if kind == "year":
        month_of = lambda b: np.where(fund_of(b) >= 0, fund_of(b) * 12 + b.column("month").to_numpy(  # noqa: E731
            zero_copy_only=False), -1)
        lines = lines.drop("q", "r").mapInArrow(
            lambda bs: _standard_batches(bs, monthly_values, n_funds * 12, month_of),
            _with_q(lines.drop("q", "r").schema))
        lines = lines.withColumn("provisional_standard", F.when(drg_case, F.col("q")).otherwise(0)).drop("q", "r")
    else:
        lines = lines.withColumn("provisional_standard", F.lit(0).cast("long")).drop("q", "r")
    lines = lines.persist()
    second = _sums(lines, ("standard", "fund_payment", "provisional_standard"), n_hosp, n_funds)
    accounts = _account_figures(first, second, kind, policy, hospitals, budgets, scores, n_funds)
    type_zh = F.create_map(*[x for code, (_, zh) in CASE_TYPES.items() for x in (F.lit(code), F.lit(zh))])
    type_en = F.create_map(*[x for code, (en, _) in CASE_TYPES.items() for x in (F.lit(code), F.lit(en))])
    case_lines = lines.select(
        "row_no", "case_id", "hospital_id", type_en[F.col("case_type")].alias("case_type"),
        type_zh[F.col("case_type")].alias("case_type_zh"), "points", F.col("cost_fen").alias("total_cost_fen"),
        F.col("patient_fen").alias("patient_share_fen"), "standard", "fund_payment", "provisional_standard")
    classified.unpersist()
    with_q.unpersist()
    return SparkSettlement(case_lines, accounts, values, funds, budgets)


def _account_figures(first, second, kind, policy, hospitals, budgets, scores, n_funds) -> dict:
    """Per hospital × fund figures from the two slot sums, as :func:`payment.settle` forms them (step 6)."""
    n_accounts = max(len(hospitals.ids), 1) * n_funds
    sums = engine.account_sums(first, second, n_accounts)
    if kind == "year":
        months = engine.monthly_payments(policy, first, second)
        engine.year_end(policy, hospitals, budgets, dict(scores or {}), months, sums, n_funds)
    return sums


__all__ = ["CASE_SCHEMA", "SparkSettlement", "settle_spark"]
