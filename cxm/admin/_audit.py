"""The audit entry every admin operation writes: who did it, what, and how many rows."""

from __future__ import annotations

from cxm.access import User
from cxm.warehouse import audit


def record(actor: User, action: str, what: str, rows: int | None = None) -> None:
    """Write what ``actor`` did to the audit trail (never a password or a hash)."""
    audit.record(
        audit.Entry(
            username=actor.username,
            role=actor.role.value,
            action=action,
            what=what,
            filters="",
            scope=actor.scope.describe(),
            rows=rows,
        )
    )
