"""The request context: who is asking, for which project, with which privileges.

Every service call takes one. Repositories derive their tenancy filters from it, so no handler
can forget them (design.md invariant 6).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from dnsaas.errors import Forbidden, MissingProjectID


@dataclass(frozen=True, slots=True)
class Context:
    """Identity and privileges of one request."""

    project_id: str | None
    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    all_projects: bool = False
    sudo_project_id: str | None = None
    edit_managed: bool = False
    hard_delete: bool = False
    delete_shares: bool = False
    request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4()}")

    @classmethod
    def internal(cls) -> Context:
        """The context of dnsaas's own processes (worker, mdns, CLI): admin over everything."""
        return cls(project_id=None, roles=frozenset({"admin"}), all_projects=True,
                   edit_managed=True)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        """Admins and project members may change things; readers may not."""
        return bool(self.roles & {"admin", "member"})

    @property
    def project(self) -> str | None:
        """The project the request acts as (the sudo project when one is given)."""
        return self.sudo_project_id or self.project_id

    def check_privileges(self) -> None:
        """Privileged flags are for admins only (403 otherwise)."""
        if self.is_admin:
            return
        if self.all_projects or self.sudo_project_id or self.edit_managed or self.hard_delete:
            raise Forbidden("You are not authorized to use this header")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden()

    def require_writer(self) -> None:
        if not self.can_write:
            raise Forbidden()

    def require_project(self) -> str:
        """The acting project, or 401 missing_project_id."""
        if not self.project:
            raise MissingProjectID()
        return self.project

    def as_project(self, project_id: str) -> Context:
        return replace(self, sudo_project_id=project_id)
