"""Migrations, settings and the transaction helper."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from dnsaas.errors import ServiceUnavailable
from dnsaas.settings import Settings, load_settings
from dnsaas.storage import db
from dnsaas.storage import tables as t


async def test_migrated_schema_matches_tables(db_url: str) -> None:
    engine = db.create_engine(db_url)
    try:
        assert await db.current_revision(engine) == "0001"
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in sa.inspect(c).get_indexes("zones")})
        assert set(t.metadata.tables) <= names
        assert {"ix_zones_name_pool_live", "ix_zones_project_page", "ix_zones_reverse_name"} <= indexes
        before, after = await db.upgrade(engine)  # idempotent
        assert before == after == "0001"
    finally:
        await engine.dispose()


def test_db_upgrade_command_on_empty_sqlite(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    out = subprocess.run([sys.executable, "-m", "dnsaas.cli", "db", "upgrade", "--database", url],
                         capture_output=True, text=True, check=True).stdout
    assert "upgraded from empty to 0001" in out and "created default pool" in out
    again = subprocess.run([sys.executable, "-m", "dnsaas.cli", "db", "upgrade", "--database", url],
                           capture_output=True, text=True, check=True).stdout
    assert "current at revision 0001" in again


def test_settings_sources(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.database_url, s.auth, s.api_port, s.mdns_port) == (
        "sqlite+aiosqlite:///./dnsaas.db", "token", 9001, 5354)
    cfg = tmp_path / "dnsaas.yaml"
    cfg.write_text("api_port: 9100\nauth: noauth\nquotas:\n  zones: 50\n")
    monkeypatch.setenv("DNSAAS_CONFIG", str(cfg))
    monkeypatch.setenv("DNSAAS_API_PORT", "9200")
    loaded = load_settings()
    assert loaded.api_port == 9200 and loaded.auth == "noauth" and loaded.quotas.zones == 50
    monkeypatch.setenv("DNSAAS_AUTH", "bogus")
    with pytest.raises(ValueError):
        load_settings()


async def test_unreachable_database_is_service_unavailable() -> None:
    engine = db.create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        async def noop(conn: object) -> None:
            return None
        with pytest.raises(ServiceUnavailable) as info:
            await db.in_transaction(engine, noop)
        assert info.value.code == 503
    finally:
        await engine.dispose()
