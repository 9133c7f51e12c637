"""Grouping one record without the Arrow batch machinery (the service's fast path).

For one record the grouper's cost is Arrow and pandas overhead, not the kernel.  This module
encodes one clean record with Python dictionaries built once from the compiled pack, calls the
grouper's own kernel (:meth:`grouper.Grouper.group_batch`) and names the outputs from the same
pack tables.  It answers only where its answer is by construction the batch path's: codes given
as ``|``-joined text, numeric fields as integers (or absent), the department as text (or absent), a
non-blank case id and every required field, and a result that is not ``invalid``; for anything
else it returns None and the caller groups the batch way
(:meth:`api.service.engine.Engine.group`, which also reformats codes and writes warnings).
``tests/test_service_fast.py`` compares both paths on generated records.
"""

from __future__ import annotations

import numpy as np

from grouper import Batch, Grouper
from grouper.results import STATUS_INVALID
from icd_tables.compiled import MISSING, NUMERIC_ORDER
from icd_tables.intake.bounds import load_bounds
from icd_tables.schema import CODE_LIST_SEPARATOR, NUMERIC_COLUMNS, NUMERIC_DEFAULTS, REQUIRED_COLUMNS, TEXT_COLUMNS

#: Numeric fields within int32 (its minimum marks "missing"), as the encoder requires.
LIMIT = 2**31 - 1


def _names(array) -> list[str]:
    return ["" if v is None else str(v) for v in array.to_pylist()]


class OneRecordGrouper:
    """Groups one record dict with a :class:`grouper.Grouper`'s kernel tables.

    Parameters
    ----------
    grouper : Grouper
    """

    def __init__(self, grouper: Grouper):
        cp = grouper.pack.compiled
        self.grouper = grouper
        self.dx = dict(zip(_names(cp.dx_inputs), np.asarray(cp.dx_input_target, dtype=np.int64).tolist()))
        self.proc = dict(zip(_names(cp.proc_inputs), np.asarray(cp.proc_input_target, dtype=np.int64).tolist()))
        self.mdc, self.adrg, self.drg = _names(cp.mdc_codes), _names(cp.adrg_codes), _names(cp.drg_codes)
        self.drg_names = _names(cp.drg_names)
        self.names = dict(zip(self.drg, self.drg_names))
        self.adrg_target = np.asarray(cp.adrg_target).tolist()
        from grouper.results import REASON_CODES, STATUS_NAMES, STATUS_ZH_TEXT

        self.status_names, self.status_zh = _names(STATUS_NAMES), _names(STATUS_ZH_TEXT)
        self.reasons = _names(REASON_CODES)
        self.version = grouper.pack_version
        self.bounds = load_bounds()
        self.fields = [{**NUMERIC_COLUMNS, **TEXT_COLUMNS}[f] for f in NUMERIC_ORDER]
        self.defaults = [NUMERIC_DEFAULTS.get(f, MISSING) for f in NUMERIC_ORDER]
        self.text = [f in TEXT_COLUMNS for f in NUMERIC_ORDER]
        # a text field is the index of its exact text among the pack's (grouper.encode.text_index)
        self.text_values = {text: k for k, text in enumerate(_names(cp.text_values))}

    def group(self, record: dict, row_no: int = 1) -> dict | None:
        """The result row of ``drg group`` for ``record`` (``warnings`` ``""``), or None (use the batch path)."""
        case_id = record.get("case_id")
        if not isinstance(case_id, str) or not case_id.strip() or any(c not in record for c in REQUIRED_COLUMNS):
            return None
        for bound in self.bounds:  # a value outside its plausible range has a warning: the batch path writes it
            value = record.get(bound.field)
            if isinstance(value, (int, float)) and not bound.min <= value <= bound.max:
                return None
        nums = np.empty((len(self.fields), 1), dtype=np.int32)
        for k, name in enumerate(self.fields):
            value = record.get(name)
            if value is None:
                nums[k, 0] = self.defaults[k]
            elif self.text[k]:
                if type(value) is not str:  # a number as a department: the batch path writes it as text
                    return None
                nums[k, 0] = self.text_values.get(value, len(self.text_values))
            elif type(value) is int and abs(value) <= LIMIT:
                nums[k, 0] = value
            else:
                return None
        principal = record.get("principal_dx")
        lists = []
        for name in ("secondary_dx", "procedures"):
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                return None
            lists.append(value.split(CODE_LIST_SEPARATOR) if value else [])
        secondary, procedures = lists
        if not isinstance(principal, str):
            return None
        dx_ids = [self.dx.get(principal, -1)] + [self.dx.get(c, -1) for c in secondary]
        batch = Batch(
            dx_start=np.array([0, len(dx_ids)], dtype=np.int64),
            dx_ids=np.array(dx_ids, dtype=np.int32),
            proc_start=np.array([0, len(procedures)], dtype=np.int64),
            proc_ids=np.array([self.proc.get(c, -1) for c in procedures], dtype=np.int32),
            nums=nums,
        )
        out = self.grouper.group_batch(batch)
        status = int(out.status[0])
        if status == STATUS_INVALID:
            return None
        adrg_row, drg = int(out.adrg_row[0]), int(out.drg[0])
        mdc = int(out.mdc[0])
        adrg = self.adrg_target[adrg_row] if adrg_row >= 0 else -1
        mcc, cc = int(out.mcc_pos[0]), int(out.cc_pos[0])
        return {
            "case_id": case_id, "row_no": row_no,
            "mdc": self.mdc[mdc] if mdc >= 0 else "", "adrg": self.adrg[adrg] if adrg >= 0 else "",
            "drg": self.drg[drg] if drg >= 0 else "", "drg_name": self.drg_names[drg] if drg >= 0 else "",
            "status": self.status_names[status], "status_zh": self.status_zh[status],
            "reason_code": self.reasons[int(out.reason[0])], "reason_detail": "",
            "mcc_dx": secondary[mcc - 1] if mcc >= 1 else "", "cc_dx": secondary[cc - 1] if cc >= 1 else "",
            "pack_version": self.version, "warnings": "",
        }


__all__ = ["OneRecordGrouper"]
