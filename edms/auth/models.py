"""Users, departments, roles, API tokens and login throttling."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.db import Base, TimestampMixin


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLERK = "clerk"
    APPROVER = "approver"
    RECORDS_OFFICER = "records_officer"
    APPLICANT = "applicant"


#: Roles that see every document of the registry.
SEE_ALL_ROLES = frozenset({Role.ADMIN, Role.RECORDS_OFFICER})
#: Roles that work inside the registry (applicants do not).
STAFF_ROLES = frozenset({Role.ADMIN, Role.CLERK, Role.APPROVER, Role.RECORDS_OFFICER})


class Department(TimestampMixin, Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    # departments -> users -> departments is a cycle: use_alter adds this key after both
    # tables exist, and post_update writes it after the rows, in one flush.
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True), index=True
    )

    parent: Mapped[Department | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Department]] = relationship(back_populates="parent")
    users: Mapped[list[User]] = relationship(
        back_populates="department", foreign_keys="User.department_id"
    )
    head: Mapped[User | None] = relationship(foreign_keys=[head_id], post_update=True)

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Bumped when the password changes, so every other session of the user ends.
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    department: Mapped[Department | None] = relationship(
        back_populates="users", foreign_keys=[department_id]
    )
    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @property
    def roles(self) -> set[Role]:
        return {Role(link.role) for link in self.role_links}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    @property
    def sees_everything(self) -> bool:
        return bool(self.roles & SEE_ALL_ROLES)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    # flask-login
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'clerk', 'approver', 'records_officer', 'applicant')", name="role"
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_links")

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role}>"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… of user {self.user_id}>"


class LoginThrottle(Base):
    """Failed login counts per account and per client address (keys are hashed)."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.key[:8]} failures={self.failures}>"
