"""Appeals of audit flags (申诉复议): the record, its states and the allowed transitions — no storage.

The service stores :class:`Appeal` records (one per flag, keyed by the flag's
``flag_id``, see :mod:`audit.screens.flags`); this module only says what a valid
record and a valid step are.  Records are immutable: every step returns a new one,
so the caller can store the history as it likes.  Times are given by the caller
(timezone-aware :class:`datetime.datetime`), never read from the clock here.

States and transitions
----------------------
================  =============  =============================================================
code              中文           reached by
================  =============  =============================================================
``open``          待申诉          :func:`open_appeal` (the flag is notified to the hospital)
``appealed``      申诉中          :meth:`Appeal.submit` by the hospital, with its reason (申诉理由)
``upheld``        维持            :meth:`Appeal.decide` by the auditor: the flag stands (outcome required)
``withdrawn``     撤销            :meth:`Appeal.decide` by the auditor: the flag is cancelled (outcome required)
================  =============  =============================================================

``open → appealed → upheld | withdrawn``; an ``open`` flag may also be decided directly
(no appeal within the deadline: upheld; or withdrawn by the auditor on review).  ``upheld``
and ``withdrawn`` are final.  Any other step raises :class:`AppealError` naming the flag,
the state and the steps allowed from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

STATUSES = {"open": "待申诉", "appealed": "申诉中", "upheld": "维持", "withdrawn": "撤销"}
TRANSITIONS = {"open": ("appealed", "upheld", "withdrawn"), "appealed": ("upheld", "withdrawn"),
               "upheld": (), "withdrawn": ()}
FINAL = ("upheld", "withdrawn")
#: Longest reason or outcome text accepted (characters).
MAX_TEXT = 4000


class AppealError(ValueError):
    """An appeal record or step that is not allowed; the message says which and why (中文 and English)."""


def _time(value, what: str, flag_id: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise AppealError(f"flag {flag_id}: {what} must be a timezone-aware datetime (须带时区的时间), not {value!r}")
    return value


def _text(value, what: str, flag_id: str, required: bool) -> str:
    if not isinstance(value, str):
        raise AppealError(f"flag {flag_id}: {what} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise AppealError(f"flag {flag_id}: {what} is required (必填)")
    if len(value) > MAX_TEXT:
        raise AppealError(f"flag {flag_id}: {what} has {len(value)} characters; at most {MAX_TEXT}")
    return value


@dataclass(frozen=True)
class Appeal:
    """The appeal state of one flag.

    Attributes
    ----------
    flag_id : str
        The flag appealed (``flag_id`` of the flags table).
    hospital_id : str
        The hospital whose case (or figures) the flag is on; it alone may submit.
    status : str
        ``open``, ``appealed``, ``upheld`` or ``withdrawn`` (:data:`STATUSES`).
    reason : str
        The hospital's reason (申诉理由), ``""`` until submitted.
    outcome : str
        The auditor's decision text (复议结论), ``""`` until decided.
    opened_at, appealed_at, decided_at : datetime or None
        When each step happened (given by the caller).
    decided_by : str
        The auditor's id, ``""`` until decided.
    """

    flag_id: str
    hospital_id: str
    status: str = "open"
    reason: str = ""
    outcome: str = ""
    opened_at: datetime | None = None
    appealed_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = ""

    def __post_init__(self):
        if not isinstance(self.flag_id, str) or not self.flag_id.strip():
            raise AppealError("flag_id is required (疑点编号必填)")
        if self.status not in STATUSES:
            raise AppealError(f"flag {self.flag_id}: unknown status {self.status!r}; one of "
                              + ", ".join(f"{k} {v}" for k, v in STATUSES.items()))
        if (self.status == "appealed" or self.appealed_at is not None) and (not self.reason or self.appealed_at is None):
            raise AppealError(f"flag {self.flag_id}: an appeal needs a reason (申诉理由) and appealed_at")
        if self.status in FINAL and (not self.outcome or self.decided_at is None or not self.decided_by):
            raise AppealError(f"flag {self.flag_id}: a decided appeal needs outcome, decided_at and decided_by")
        for a, b in (("opened_at", "appealed_at"), ("appealed_at", "decided_at"), ("opened_at", "decided_at")):
            first, then = getattr(self, a), getattr(self, b)
            if first is not None and then is not None and then < first:
                raise AppealError(f"flag {self.flag_id}: {b} {then.isoformat()} is before {a} {first.isoformat()}")

    @property
    def status_zh(self) -> str:
        return STATUSES[self.status]

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def allowed(self) -> tuple[str, ...]:
        """The statuses this record may move to."""
        return TRANSITIONS[self.status]

    def _check_step(self, target: str) -> None:
        if target not in TRANSITIONS[self.status]:
            allowed = ", ".join(f"{s} {STATUSES[s]}" for s in TRANSITIONS[self.status]) or "none (已结案 final)"
            raise AppealError(f"flag {self.flag_id}: cannot go from {self.status} {self.status_zh} to {target} "
                              f"{STATUSES.get(target, '?')}; allowed: {allowed}")

    def submit(self, *, hospital_id: str, reason: str, at: datetime) -> "Appeal":
        """The hospital appeals (申诉): ``open → appealed``.

        Raises
        ------
        AppealError
            Another hospital, an empty reason, a naive or earlier time, or a flag not ``open``.
        """
        self._check_step("appealed")
        if hospital_id != self.hospital_id:
            raise AppealError(f"flag {self.flag_id}: hospital {hospital_id!r} cannot appeal a flag of {self.hospital_id!r}"
                              " (只能对本院的疑点申诉)")
        return replace(self, status="appealed", reason=_text(reason, "reason", self.flag_id, True),
                       appealed_at=_time(at, "appealed_at", self.flag_id))

    def decide(self, *, status: str, outcome: str, by: str, at: datetime) -> "Appeal":
        """The auditor decides (复议): to ``upheld`` (维持) or ``withdrawn`` (撤销).

        Raises
        ------
        AppealError
            Another status, an empty outcome or auditor, a naive or earlier time, or a final record.
        """
        if status not in FINAL:
            raise AppealError(f"flag {self.flag_id}: a decision is upheld 维持 or withdrawn 撤销, not {status!r}")
        self._check_step(status)
        return replace(self, status=status, outcome=_text(outcome, "outcome", self.flag_id, True),
                       decided_by=_text(by, "decided_by", self.flag_id, True),
                       decided_at=_time(at, "decided_at", self.flag_id))

    def to_dict(self) -> dict:
        """JSON-ready fields (times as ISO 8601 text, ``status_zh`` added)."""
        out = asdict(self)
        for key in ("opened_at", "appealed_at", "decided_at"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        out["status_zh"] = self.status_zh
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Appeal":
        """The inverse of :meth:`to_dict` (``status_zh`` ignored); raises :class:`AppealError` on bad fields."""
        fields = {k: v for k, v in data.items() if k != "status_zh"}
        unknown = set(fields) - set(cls.__dataclass_fields__)
        if unknown:
            raise AppealError(f"unknown appeal field(s) {', '.join(sorted(unknown))}")
        for key in ("opened_at", "appealed_at", "decided_at"):
            if isinstance(fields.get(key), str):
                try:
                    fields[key] = datetime.fromisoformat(fields[key])
                except ValueError:
                    raise AppealError(f"{key}: {fields[key]!r} is not an ISO 8601 time") from None
                _time(fields[key], key, str(fields.get("flag_id")))
        return cls(**fields)


def open_appeal(flag_id: str, hospital_id: str, *, at: datetime) -> Appeal:
    """A new ``open`` (待申诉) record for a flag notified to its hospital at ``at``."""
    return Appeal(flag_id=flag_id, hospital_id=hospital_id, opened_at=_time(at, "opened_at", flag_id))


__all__ = ["Appeal", "AppealError", "FINAL", "STATUSES", "TRANSITIONS", "open_appeal"]
