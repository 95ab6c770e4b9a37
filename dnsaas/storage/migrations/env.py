"""Alembic environment: migrations run on a connection handed in by dnsaas.storage.db."""

from __future__ import annotations

from alembic import context

from dnsaas.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the alembic CLI gets here
    raise SystemExit("run migrations with `dnsaas db upgrade`")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
