"""One record in, its grouping, findings, explanation and expected payment out (``POST /v1/group``).

The grouping of one record goes through :class:`api.service.fast.OneRecordGrouper`, which calls
the grouper's own kernel without the Arrow batch machinery; records it finds ``invalid`` are
regrouped the batch way (code formatting fixed where needed), so the result is always exactly
``drg group``'s.
"""

from __future__ import annotations

import numba

from api.service.auth import Principal
from api.service.schemas import Alternative, ExpectedPayment, Explanation, Finding, GroupResponse, GroupResult
from api.service.store import CASE_TYPE_ZH, UploadError, audit, fingerprint, new_id, prepare, record_run
from api.service.store import store as store_cases
from api.service.uploads import json_batch
from audit.validate import Validation
from grouper.encode import to_arrow
from icd_tables.intake.values import canonical_records
from payment.expected import FORECAST_LABEL


def _scoped(principal: Principal, record: dict) -> dict:
    hospital = str(record.get("hospital_id") or "").strip()
    if principal.scoped:
        if hospital and hospital != principal.hospital_id:
            raise UploadError(f"医疗机构编码 {hospital} 不是本院 {principal.hospital_id} "
                              f"(hospital_id {hospital} is not yours)")
        record = {**record, "hospital_id": principal.hospital_id}
    return record


def _payment(service, record: dict, result: dict) -> ExpectedPayment | None:
    engine = service.engine
    if not engine.can_price:
        return None
    priced = engine.price(canonical_records(to_arrow([{**record, "drg": result["drg"], "status": result["status"]}])))
    standard, fund, patient = int(priced.standard_fen[0]), int(priced.fund_fen[0]), int(priced.patient_fen[0])
    text = lambda fen: None if fen < 0 else f"{fen // 100}.{fen % 100:02d}"  # noqa: E731
    case_type = priced.case_type[0]
    return ExpectedPayment(label=FORECAST_LABEL, case_type=case_type, case_type_zh=CASE_TYPE_ZH.get(case_type, ""),
                           expected_standard=text(standard), expected_fund=text(fund),
                           expected_patient_share=text(patient), point_value=priced.point_value[0] or None,
                           point_value_basis=priced.basis, note=priced.note[0])


def _filled(model, row: dict):
    """``model`` from ``row``: values as text; a missing value is null where the field may be, else empty text."""
    return model(**{k: ("" if field.is_required() else None) if row.get(k) is None else str(row[k])
                    for k, field in model.model_fields.items()})


def _validated(service, record: dict) -> tuple[Validation, list[Finding], Explanation]:
    """The validation of one record, its findings and the explanation of its DRG."""
    validation = service.engine.validator.validate([record])
    findings = [_filled(Finding, f) for f in validation.findings.to_pylist()]
    return validation, findings, _filled(Explanation, validation.explanations.to_pylist()[0])


def explain(service, record: dict) -> tuple[list[Finding], Explanation, list[Alternative]]:
    """The validation of one record: its findings, the explanation of its DRG (grouping path, the MCC/CC
    behind the split) and the what-if alternatives with the reason each lands where it does."""
    validation, findings, explanation = _validated(service, record)
    return findings, explanation, [_filled(Alternative, a) for a in validation.alternatives.to_pylist()]


def group_one(service, principal: Principal, record: dict, *, validate: bool, store: bool,
              payment: bool = True) -> GroupResponse:
    """Group one record; with ``validate`` add findings and explanation; with ``store`` keep it as a case;
    with ``payment`` (and weights and a policy loaded) the expected payment."""
    if numba.get_num_threads() != 1:
        # one record: a parallel kernel's thread wake-up costs milliseconds and buys nothing (the setting is
        # per thread, so background jobs in their own threads keep every core)
        numba.set_num_threads(1)
    record = _scoped(principal, record)
    engine = service.engine
    version = None
    if store:
        run_id = new_id("run")
        read = next(json_batch([record], engine.grouper.pack))
        prepared = prepare(engine, read, principal, run_id, validate=True)
        with service.db.connect(write=True) as conn:
            store_cases(conn, prepared)
            record_run(conn, run_id, "group", principal, engine, input_sha256=fingerprint(read.records), n_records=1,
                       hospital_id=principal.hospital_id if principal.scoped else None)
            version = conn.one("SELECT version FROM cases WHERE hospital_id = ? AND case_id = ?",
                               (prepared.cases.column("hospital_id")[0].as_py(), str(record["case_id"])))["version"]
        audit(service.db, principal, "store", f"case:{prepared.cases.column('hospital_id')[0].as_py()}/"
                                              f"{record['case_id']}")
        result = prepared.results.to_pylist()[0]
    else:
        result = service.fast.group(record)
        if result is None:
            result = engine.group(to_arrow([record])).to_pylist()[0]
    rw = engine.rw.get(result["drg"]) if result["status"] == "ok" else None
    findings = explanation = None
    if validate:
        _, findings, explanation = _validated(service, record)  # the alternatives are not part of the answer
    return GroupResponse(result=GroupResult(**{**result, "case_id": str(result["case_id"]), "rw": rw}),
                         findings=findings, explanation=explanation, payment=_payment(service, record, result) if payment else None,
                         stored=store, version=version)


__all__ = ["explain", "group_one"]
