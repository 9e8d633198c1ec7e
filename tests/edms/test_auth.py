"""Accounts: password hashes, throttling, tokens, departments (services)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from edms.auth import services
from edms.auth.models import ApiToken
from edms.db import db
from edms.errors import Conflict, NotFound, TooManyRequests, ValidationError
from tests.conftest import PASSWORD


def test_passwords_are_argon2_hashes(ctx, make_user) -> None:
    user = make_user("clerk")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert services.verify_password(user, PASSWORD)
    assert not services.verify_password(user, PASSWORD + "x")


def test_account_lock_after_repeated_failures(app, ctx, make_user) -> None:
    user = make_user("clerk")
    other = make_user("clerk")
    limit = app.config["EDMS"]["login_max_failures"]
    for _ in range(limit):
        with pytest.raises(ValidationError):
            services.authenticate(user.username, "wrong password", "10.1.1.1")
    with pytest.raises(TooManyRequests):
        services.authenticate(user.username, PASSWORD, "10.1.1.1")  # even the right one
    # Colleagues behind the same address are not locked out by one account's failures.
    assert services.authenticate(other.username, PASSWORD, "10.1.1.1").id == other.id


def test_address_lock_after_many_failures_across_accounts(app, ctx, make_user) -> None:
    user = make_user("clerk")
    limit = app.config["EDMS"]["login_max_failures"] * services.ADDRESS_FACTOR
    for i in range(limit):
        with pytest.raises(ValidationError):
            services.authenticate(f"guess{i}", "wrong password", "10.9.9.9")
    with pytest.raises(TooManyRequests):
        services.authenticate(user.username, PASSWORD, "10.9.9.9")
    assert services.authenticate(user.username, PASSWORD, "10.8.8.8").id == user.id


def test_unknown_and_inactive_users_fail_alike(ctx, make_user) -> None:
    user = make_user("clerk")
    user.is_active = False
    db.session.flush()
    for name in (user.username, "nobody-at-all"):
        with pytest.raises(ValidationError, match="user name or password"):
            services.authenticate(name, PASSWORD, "127.0.0.1")


def test_password_change_rules(ctx, make_user) -> None:
    user = make_user("clerk")
    version = user.session_version
    with pytest.raises(ValidationError, match="current_password"):
        services.change_password(user, "not it", "a-brand-new-password")
    with pytest.raises(ValidationError, match="new_password"):
        services.change_password(user, PASSWORD, "short")
    with pytest.raises(ValidationError, match="new_password"):
        services.change_password(user, PASSWORD, PASSWORD)
    services.change_password(user, PASSWORD, "a-brand-new-password")
    assert services.verify_password(user, "a-brand-new-password")
    assert user.session_version == version + 1


def test_tokens_are_hashed_shown_once_and_revocable(ctx, make_user) -> None:
    user = make_user("clerk")
    token, plain = services.create_token(user, "integration")
    db.session.commit()
    stored = db.session.scalar(select(ApiToken).where(ApiToken.id == token.id))
    assert stored is not None
    assert plain not in (stored.token_hash, stored.prefix)
    assert plain.startswith(stored.prefix)
    assert stored.last_used_at is None
    found = services.user_for_token(plain)
    assert found is not None
    assert found.id == user.id
    assert stored.last_used_at is not None
    assert services.user_for_token(plain + "x") is None
    assert services.user_for_token("Bearer nonsense") is None
    services.revoke_token(user, token.id)
    assert services.user_for_token(plain) is None
    with pytest.raises(NotFound):
        services.revoke_token(make_user("clerk"), token.id)  # not someone else's


def test_department_tree_and_codes(ctx, make_department) -> None:
    root = make_department("TOP")
    make_department("MID", parent=root)
    with pytest.raises(Conflict):
        services.create_department("top", "Again")
    with pytest.raises(ValidationError, match="code"):
        services.create_department("bad code", "Bad")
    with pytest.raises(NotFound):
        services.create_department("ORPHAN", "Orphan", "NOPE")
    ids = set(db.session.scalars(services.subtree_ids(root.id)))
    assert len(ids) == 2


def test_user_rules(ctx, make_department) -> None:
    dept = make_department()
    with pytest.raises(ValidationError, match="role"):
        services.create_user("someone", ["emperor"], department_code=dept.code)
    with pytest.raises(ValidationError, match="department"):
        services.create_user("someone", ["clerk"])
    services.create_user("Someone", ["clerk"], department_code=dept.code)
    with pytest.raises(Conflict):
        services.create_user("someone", ["clerk"], department_code=dept.code)
    assert services.get_user("SOMEONE").username == "someone"
