"""Triggers that keep ``zone_counts`` exact: live zones per (project, type).

A zone is counted while ``deleted_at IS NULL``. Every statement that inserts, deletes,
soft-deletes or moves a zone to another project (or type) changes the counts in its own
transaction, whatever code path runs it (service, bulk ``COPY``, tests, pool deletion).

PostgreSQL: inserts and deletes are counted once per statement from the transition table (a
``COPY`` of 100k zones is one grouped upsert, not 100k updates of one row); updates are counted
per row, only when ``project_id``, ``type`` or the live state changes (the trigger is not even
called for the zone updates of recordset writes). Counter rows are always upserted in key
order, so two transactions that both touch two projects' rows never deadlock on them.

SQLite: plain row triggers (writers are serialised by ``BEGIN IMMEDIATE`` anyway).
"""

from __future__ import annotations

from alembic import op

# Group the (project, type, delta) rows of ``deltas`` and add them, in key order.
_PG_APPLY = """
  INSERT INTO zone_counts AS c (project_id, type, zones)
  SELECT d.project_id, d.type, sum(d.n) FROM ({deltas}) d(project_id, type, n)
   GROUP BY d.project_id, d.type HAVING sum(d.n) <> 0 ORDER BY d.project_id, d.type
  ON CONFLICT (project_id, type) DO UPDATE SET zones = c.zones + excluded.zones;
"""

_PG_FUNCTION = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body}  RETURN NULL;
END $$"""

_PG = [
    _PG_FUNCTION.format(name="zone_counts_insert", body=_PG_APPLY.format(
        deltas="SELECT project_id, type, 1 FROM new_zones WHERE deleted_at IS NULL")),
    _PG_FUNCTION.format(name="zone_counts_delete", body=_PG_APPLY.format(
        deltas="SELECT project_id, type, -1 FROM old_zones WHERE deleted_at IS NULL")),
    _PG_FUNCTION.format(name="zone_counts_update", body=_PG_APPLY.format(
        deltas="VALUES (OLD.project_id, OLD.type, CASE WHEN OLD.deleted_at IS NULL THEN -1 "
               "ELSE 0 END), (NEW.project_id, NEW.type, CASE WHEN NEW.deleted_at IS NULL "
               "THEN 1 ELSE 0 END)")),
    "CREATE TRIGGER zone_counts_insert AFTER INSERT ON zones REFERENCING NEW TABLE AS new_zones "
    "FOR EACH STATEMENT EXECUTE FUNCTION zone_counts_insert()",
    "CREATE TRIGGER zone_counts_delete AFTER DELETE ON zones REFERENCING OLD TABLE AS old_zones "
    "FOR EACH STATEMENT EXECUTE FUNCTION zone_counts_delete()",
    "CREATE TRIGGER zone_counts_update AFTER UPDATE OF project_id, type, deleted_at ON zones "
    "FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.type IS DISTINCT "
    "FROM NEW.type OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)) "
    "EXECUTE FUNCTION zone_counts_update()",
]

_SQLITE_ADD = """
  INSERT INTO zone_counts (project_id, type, zones) SELECT NEW.project_id, NEW.type, 1
   WHERE NEW.deleted_at IS NULL
  ON CONFLICT (project_id, type) DO UPDATE SET zones = zones + 1;"""
_SQLITE_REMOVE = """
  UPDATE zone_counts SET zones = zones - 1
   WHERE OLD.deleted_at IS NULL AND project_id = OLD.project_id AND type = OLD.type;"""

_SQLITE = [
    f"CREATE TRIGGER zone_counts_insert AFTER INSERT ON zones BEGIN{_SQLITE_ADD}\nEND",
    f"CREATE TRIGGER zone_counts_delete AFTER DELETE ON zones BEGIN{_SQLITE_REMOVE}\nEND",
    "CREATE TRIGGER zone_counts_update AFTER UPDATE OF project_id, type, deleted_at ON zones "
    "WHEN OLD.project_id IS NOT NEW.project_id OR OLD.type IS NOT NEW.type "
    f"OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) BEGIN{_SQLITE_REMOVE}"
    f"{_SQLITE_ADD}\nEND",
]

_BACKFILL = ("INSERT INTO zone_counts (project_id, type, zones) SELECT project_id, type, count(*) "
             "FROM zones WHERE deleted_at IS NULL GROUP BY project_id, type")


def install() -> None:
    """Create the triggers and count the zones already there (migration step)."""
    statements = _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for sql in statements:
        op.execute(sql)
    op.execute("DELETE FROM zone_counts")
    op.execute(_BACKFILL)


def remove() -> None:
    """Drop the triggers (before ``zones`` and ``zone_counts`` are dropped)."""
    pg = op.get_bind().dialect.name == "postgresql"
    for name in ("zone_counts_insert", "zone_counts_delete", "zone_counts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON zones" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
