"""What each role may see (可见范围): one rule for every route, applied to every JSON answer.

Coders (编码员) work on coding: they see grouping, findings and the costs recorded on the front page,
never a payment figure — no expected or settled payment, no points or point value, no money at stake.
Rather than each route remembering this, :class:`RoleView` (ASGI middleware) removes the fields named
in :data:`HIDDEN` from every JSON answer to a role listed there, at any depth (a case, a summary's DRG
lines, a flag's evidence).  The routes that are nothing but money (statements, case lines, the ledger,
the review queue) refuse coders outright (403).
"""

from __future__ import annotations

import json

#: Payment figures, by the names the answers use for them.
PAYMENT_FIELDS = frozenset({
    # expected payment (预计支付) of a case, a record, a summary and its DRG lines
    "expected_standard", "expected_fund", "expected_patient_share", "payment", "payment_source", "payment_label",
    "fund_payment", "patient_share", "settlement_run",
    # points and point values (点数、点值)
    "points", "point_value", "point_value_basis",
    # settled amounts (结算金额) of statements, case lines and the ledger
    "standard", "provisional", "withheld", "event_fund", "paid", "released", "carried_in", "deducted", "carried_out",
    "drg_points", "drg_standard", "drg_patient_share", "drg_fund", "other_tracks_fund", "transfer",
    # money at stake of a flag, a what-if and their evidence (涉及金额)
    "money_at_stake", "whatif_money", "priority", "money", "gain", "rate",
    # payment deadlines (拨付时限) of the case life cycle: when money is due and paid
    "payment_working_days", "payment_due", "overdue_payments",
})
#: Fields removed from every JSON answer, by role.
HIDDEN: dict[str, frozenset[str]] = {"coder": PAYMENT_FIELDS}


def without(value, hidden: frozenset[str]):
    """``value`` (parsed JSON) without the keys in ``hidden``, at any depth."""
    if isinstance(value, dict):
        return {k: without(v, hidden) for k, v in value.items() if k not in hidden}
    if isinstance(value, list):
        return [without(v, hidden) for v in value]
    return value


class RoleView:
    """ASGI middleware: JSON answers to a role of :data:`HIDDEN` lose its hidden fields.

    The caller is the principal the route's dependency put on ``request.state``; answers to anyone
    else, and answers that are not JSON (files, pages), pass unchanged and unbuffered.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})  # one dict shared with the routes, whatever copies the scope
        held: dict = {}
        chunks: list[bytes] = []

        async def filtered(message):
            if message["type"] == "http.response.start":
                principal = state.get("principal")
                hidden = HIDDEN.get(getattr(principal, "role", None))
                content_type = dict(message.get("headers", ())).get(b"content-type", b"")
                if hidden and content_type.startswith(b"application/json"):
                    held.update(start=message, hidden=hidden)
                    return
            elif message["type"] == "http.response.body" and held:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = json.dumps(without(json.loads(b"".join(chunks)), held["hidden"]), ensure_ascii=False,
                                  separators=(",", ":")).encode()
                start = held["start"]
                headers = [(k, v) for k, v in start.get("headers", ()) if k != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                return await send({"type": "http.response.body", "body": body})
            await send(message)

        await self.app(scope, receive, filtered)


__all__ = ["HIDDEN", "PAYMENT_FIELDS", "RoleView", "without"]
