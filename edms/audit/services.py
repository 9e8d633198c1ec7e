"""Writing audit events."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from edms.audit.models import AuditEvent
from edms.auth.models import User
from edms.db import after_close, db

logger = logging.getLogger(__name__)


def _actor() -> User | None:
    if not has_request_context():
        return None
    user = g.get("user")
    return user if isinstance(user, User) else None


def _event(
    action: str,
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None,
    actor: User | None,
) -> AuditEvent:
    actor = actor or _actor()
    return AuditEvent(
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        details=details or {},
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "",
        client_addr=request.remote_addr if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
    )


def record(
    action: str,
    object_type: str = "",
    object_id: object = None,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction: it commits with the change it records."""
    event = _event(action, object_type, object_id, details, actor)
    db.session.add(event)
    db.session.flush()
    logger.debug("audit %s %s:%s", action, object_type, event.object_id)
    return event


def record_denied(
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
) -> None:
    """Record a denied access in a transaction of its own, once the failing request's has ended."""
    event = _event("access.denied", object_type, object_id, details, actor)
    bind = current_app.extensions["edms.db"]["bind"]

    def write() -> None:
        with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
            session.add(event)
            session.commit()

    after_close(write)
    logger.warning("access denied to %s:%s", object_type, object_id)
