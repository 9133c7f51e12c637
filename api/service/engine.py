"""What the service computes with: the pack, weights and policy, loaded once at start-up.

:class:`Engine` groups (``drg group``'s semantics: codes reformatted only where the pack does not
know them as written), validates (:class:`audit.validate.Validator`) and prices cases: their
**expected payment** (预计支付), :func:`payment.expected.expected_payment`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa

from icd_tables.intake.headers import plan_columns
from api.grouping import BatchGrouper
from audit.validate import Validator
from grouper import Grouper
from payment import Hospitals, Policy, load_policy, read_hospitals
from payment.expected import ExpectedPayment, expected_payment
from weights import WeightTable, read_weight_file


def _sha256(path: Path | None) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


class Engine:
    """The loaded pack, weights, policy and hospital table.

    Parameters
    ----------
    pack : str
        Pack name or folder.
    weights, policy, hospitals : Path, optional
        Without weights and a policy the service groups and validates but prices nothing.
    """

    def __init__(self, pack: str, weights: Path | None = None, policy: Path | None = None,
                 hospitals: Path | None = None):
        self.grouper = Grouper(pack)
        self.weights: WeightTable | None = read_weight_file(weights) if weights else None
        self.validator = Validator(self.grouper, weights=self.weights)
        self.policy: Policy | None = load_policy(policy) if policy else None
        hospitals_path = hospitals or (self.policy.files.get("hospitals") if self.policy else None)
        self.hospitals: Hospitals | None = (read_hospitals(hospitals_path, self.policy)
                                            if self.policy is not None and hospitals_path else None)
        self.weights_version = (f"{self.weights.meta.name}@{_sha256(weights)[:12]}" if self.weights else "")
        self.policy_version = f"{self.policy.version}@{self.policy.sha256[:12]}" if self.policy else ""
        self.rw = ({d: str(v) for d, v in self.weights.rw().items()} if self.weights else {})

    @property
    def pack_version(self) -> str:
        return self.grouper.pack_version

    @property
    def can_price(self) -> bool:
        return self.weights is not None and self.policy is not None and self.hospitals is not None

    def group(self, records: pa.Table, first_row_no: int = 1) -> pa.Table:
        """Group like ``drg group`` (code formatting fixed where needed), with its ``warnings`` column."""
        return BatchGrouper(self.grouper, plan_columns(records.column_names))(records, first_row_no)

    def price(self, cases: pa.Table) -> ExpectedPayment | None:
        """Expected payment of grouped cases (records with ``drg`` and ``status``); None without weights/policy."""
        if not self.can_price:
            return None
        return expected_payment(cases, self.weights, self.policy, self.hospitals)


__all__ = ["Engine"]
