"""DRG payment against a fund budget (医保DRG付费): point and rate methods, monthly pre-settlement,
year-end clearing and shadow runs, in exact integer arithmetic (see :mod:`payment.money`)."""

from payment.engine import CASE_TYPES, PointValue, Settlement, corridor_adjustment, corridor_parts, settle
from payment.inputs import (Cases, Hospitals, PaymentInputError, Period, prepare_cases, read_case_list,
                            read_hospitals, read_scores)
from payment.ledger import Ledger, LedgerError, read_ledger, write_ledger
from payment.money import MoneyRangeError
from payment.policy import Policy, PolicyError, load_policy, parse_policy
from payment.run import KINDS, Run, run_settlement

__all__ = [
    "CASE_TYPES", "Cases", "Hospitals", "KINDS", "Ledger", "LedgerError", "MoneyRangeError", "PaymentInputError",
    "Period", "PointValue", "Policy", "PolicyError", "Run", "Settlement", "corridor_adjustment", "corridor_parts",
    "load_policy", "parse_policy", "prepare_cases", "read_case_list", "read_hospitals", "read_ledger", "read_scores",
    "run_settlement", "settle", "write_ledger",
]
