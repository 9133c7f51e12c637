"""The synthetic quarter of issue 21 (January–March 2024, five hospitals), shared by the payment and service tests.

Every step is a (day, action, arguments) tuple, so the same quarter runs through :mod:`payment.cycle` in
memory and through the service's routes.  Figures (worked by hand in tests/test_lifecycle_quarter.py):

point method, fixed point value 100 元/点 (the month's provisional value too), coefficient 1.0 (level 2):
A01 RW 1.0 → 100 points → standard 10,000.00; B03 RW 1.2 → 12,000.00; B01 RW 2.0 → 20,000.00.
Every case's patient share is 2,000.00, so fund payments are 8,000.00 / 10,000.00 / 18,000.00; every
cost equals the DRG's mean cost (normal cases).  Withhold 10%, released 100% at the year run (score 100).
"""

from __future__ import annotations

from datetime import date

POLICY = {
    "version": "quarter-1", "region": "测试市", "average_cost": "10000.00",
    "budget": [{"insurance_type": "all", "amount": "1000000.00"}],
    "coefficients": {"levels": {"1": "1.0", "2": "1.0", "3": "1.0"}},
    "point_value": {"mode": "fixed", "value": "100"},
    "assessment": {"default_score": 100},
    "lifecycle": {
        "return_severities": ["fatal"], "late": "next_month", "refuse_after_working_days": 10,
        "calendar": "china-2024.toml",
        "deadlines": {"upload_day": 5, "review_working_days": 10, "payment_working_days": 7},
        "deductions": {"SPLIT_READMISSION": {"basis": "settled_difference"},
                       "UPCODING_WHATIF": {"basis": "settled_difference"},
                       "LOW_STANDARD_ADMISSION": {"basis": "share", "share": "0.5"}},
    },
}
WEIGHTS = [("A01", "1.0", "10000.00"), ("B03", "1.2", "12000.00"), ("B01", "2.0", "20000.00")]
HOSPITALS = [("H1", 2), ("H2", 2), ("H3", 2), ("H4", 2), ("H5", 2)]
COST = {"A01": "10000.00", "B03": "12000.00", "B01": "20000.00"}
UPCODING = {"coded_rw": "2.000000", "best_rw": "1.200000", "best_drg": "B03"}

D = date
# (day, action, args): upload(h, case, drg, discharge YYYY-MM-DD, severities) | review(h, case) |
# return(h, case, reason) | run(kind, period) | flag(flag_id, h, case, rule, evidence) | appeal(flag_id) |
# decide(flag_id, status) | disburse(run, hospitals)
STEPS = [
    (D(2024, 2, 2), "upload", ("H1", "c1", "A01", "2024-01-10", ())),
    (D(2024, 2, 2), "upload", ("H3", "c1", "A01", "2024-01-12", ("fatal",))),
    (D(2024, 2, 2), "upload", ("H4", "c1", "A01", "2024-01-15", ())),
    (D(2024, 2, 2), "upload", ("H5", "c1", "A01", "2024-01-03", ())),
    (D(2024, 2, 2), "upload", ("H5", "c2", "A01", "2024-01-20", ())),
    (D(2024, 2, 6), "review", ("H1", "c1")),
    (D(2024, 2, 6), "review", ("H3", "c1")),          # fatal finding → returned 退回修改
    (D(2024, 2, 6), "review", ("H4", "c1")),
    (D(2024, 2, 6), "review", ("H5", "c1")),
    (D(2024, 2, 6), "review", ("H5", "c2")),
    (D(2024, 2, 8), "upload", ("H2", "c1", "A01", "2024-01-25", ())),   # late: deadline 2024-02-05
    (D(2024, 2, 8), "upload", ("H3", "c1", "A01", "2024-01-12", ())),   # corrected → resubmitted
    (D(2024, 2, 9), "review", ("H2", "c1")),          # accepted into February (next open month)
    (D(2024, 2, 9), "review", ("H3", "c1")),          # accepted into January (on time, January open)
    (D(2024, 2, 19), "flag", ("SPLIT:H5:c2", "H5", "c2", "SPLIT_READMISSION", {})),
    (D(2024, 2, 20), "run", ("month", "2024-01")),
    (D(2024, 2, 21), "appeal", ("SPLIT:H5:c2",)),
    (D(2024, 2, 25), "decide", ("SPLIT:H5:c2", "upheld")),
    (D(2024, 2, 28), "disburse", ("2024-01", ("H1", "H3", "H4", "H5"))),
    (D(2024, 3, 1), "upload", ("H2", "c2", "A01", "2024-01-28", ())),   # 15 working days late → refused
    (D(2024, 3, 1), "upload", ("H1", "c2", "A01", "2024-02-10", ())),
    (D(2024, 3, 1), "upload", ("H3", "c2", "B03", "2024-02-11", ())),
    (D(2024, 3, 1), "upload", ("H5", "c3", "B01", "2024-02-12", ())),
    (D(2024, 3, 4), "review", ("H1", "c2")),
    (D(2024, 3, 4), "return", ("H3", "c2", "手术操作编码缺失 procedure code missing")),
    (D(2024, 3, 4), "review", ("H5", "c3")),
    (D(2024, 3, 6), "upload", ("H3", "c2", "B03", "2024-02-11", ())),
    (D(2024, 3, 7), "review", ("H3", "c2")),
    (D(2024, 3, 15), "flag", ("UPCODING:H5:c3", "H5", "c3", "UPCODING_WHATIF", UPCODING)),
    (D(2024, 3, 20), "run", ("month", "2024-02")),
    (D(2024, 3, 22), "upload", ("H4", "c1", "B03", "2024-01-15", ())),  # correction after payment
    (D(2024, 3, 25), "review", ("H4", "c1")),         # v1 superseded; v2 settled in March
    (D(2024, 3, 26), "appeal", ("UPCODING:H5:c3",)),
    (D(2024, 3, 27), "disburse", ("2024-02", ("H1", "H2", "H3"))),
    (D(2024, 4, 1), "upload", ("H1", "c3", "B01", "2024-03-05", ())),
    (D(2024, 4, 1), "upload", ("H2", "c3", "A01", "2024-03-08", ())),   # never reviewed: overdue review
    (D(2024, 4, 2), "review", ("H1", "c3")),
    (D(2024, 4, 2), "disburse", ("2024-02", ("H5",))),                  # after the due day 2024-03-28
    (D(2024, 4, 3), "decide", ("UPCODING:H5:c3", "withdrawn")),
    (D(2024, 4, 10), "flag", ("UPCODING:H1:c3", "H1", "c3", "UPCODING_WHATIF", UPCODING)),
    (D(2024, 4, 22), "run", ("month", "2024-03")),
    (D(2024, 4, 25), "decide", ("UPCODING:H1:c3", "upheld")),           # decided without appeal
    (D(2024, 4, 30), "run", ("year", "2024")),
]
AS_OF = D(2024, 4, 30)
