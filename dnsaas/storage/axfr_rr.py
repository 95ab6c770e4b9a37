"""Triggers that keep ``records.axfr_rr`` right whatever path writes the tables.

``axfr_rr`` is owner + type + class + TTL + RDLENGTH + rdata (see ``dnsaas.wire.axfr_rr``), empty
for the SOA, NULL when unknown. Writers fill it on insert; these triggers follow later changes:

- a record's ``rdata`` changes without ``axfr_rr`` being written with it;
- a recordset's ``ttl`` changes (its records carry the effective TTL);
- a zone's ``ttl`` changes (the records of its recordsets without a TTL of their own).

PostgreSQL rewrites the bytes in place (the TTL sits 4 + 2 + len(rdata) bytes from the end);
SQLite, whose transfers are rendered from the other columns anyway, sets the column to NULL.
Installed at the end of migration 0001 (``install()``), kept here so a regeneration of 0001
only needs that call (and ``remove()`` in its downgrade) re-added.
"""

from __future__ import annotations

from alembic import op

# TTL of axfr_rr at 1-based byte length(axfr_rr) - length(rdata) - 5, RDLENGTH right after it.
_SET_TTL = ("overlay({r}axfr_rr PLACING int4send({ttl}) "
            "FROM length({r}axfr_rr) - length({r}rdata) - 5 FOR 4)")

_PG = [
    """CREATE FUNCTION records_axfr_rr_rdata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.axfr_rr := substring(OLD.axfr_rr FROM 1 FOR length(OLD.axfr_rr) - length(OLD.rdata) - 2)
                 || substring(int4send(length(NEW.rdata)) FROM 3) || NEW.rdata;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER records_axfr_rr_rdata BEFORE UPDATE OF rdata ON records FOR EACH ROW
WHEN (NEW.rdata IS DISTINCT FROM OLD.rdata AND NEW.axfr_rr IS NOT DISTINCT FROM OLD.axfr_rr
      AND length(OLD.axfr_rr) > 0)
EXECUTE FUNCTION records_axfr_rr_rdata()""",
    f"""CREATE FUNCTION recordsets_axfr_rr_ttl() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE records SET axfr_rr = {_SET_TTL.format(
        r="", ttl="coalesce(NEW.ttl, (SELECT ttl FROM zones WHERE id = NEW.zone_id))")}
   WHERE recordset_id = NEW.id AND length(axfr_rr) > 0;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER recordsets_axfr_rr_ttl AFTER UPDATE OF ttl ON recordsets FOR EACH ROW
WHEN (NEW.ttl IS DISTINCT FROM OLD.ttl) EXECUTE FUNCTION recordsets_axfr_rr_ttl()""",
    f"""CREATE FUNCTION zones_axfr_rr_ttl() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE records r SET axfr_rr = {_SET_TTL.format(r="r.", ttl="NEW.ttl")}
    FROM recordsets rs
   WHERE r.zone_id = NEW.id AND rs.id = r.recordset_id AND rs.ttl IS NULL
     AND length(r.axfr_rr) > 0;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER zones_axfr_rr_ttl AFTER UPDATE OF ttl ON zones FOR EACH ROW
WHEN (NEW.ttl IS DISTINCT FROM OLD.ttl) EXECUTE FUNCTION zones_axfr_rr_ttl()""",
]

_SQLITE = [
    """CREATE TRIGGER records_axfr_rr_rdata AFTER UPDATE OF rdata ON records FOR EACH ROW
WHEN NEW.rdata IS NOT OLD.rdata AND NEW.axfr_rr IS OLD.axfr_rr AND length(OLD.axfr_rr) > 0
BEGIN UPDATE records SET axfr_rr = NULL WHERE id = NEW.id; END""",
    """CREATE TRIGGER recordsets_axfr_rr_ttl AFTER UPDATE OF ttl ON recordsets FOR EACH ROW
WHEN NEW.ttl IS NOT OLD.ttl
BEGIN UPDATE records SET axfr_rr = NULL WHERE recordset_id = NEW.id AND length(axfr_rr) > 0; END""",
    """CREATE TRIGGER zones_axfr_rr_ttl AFTER UPDATE OF ttl ON zones FOR EACH ROW
WHEN NEW.ttl IS NOT OLD.ttl
BEGIN UPDATE records SET axfr_rr = NULL WHERE zone_id = NEW.id AND length(axfr_rr) > 0
  AND recordset_id IN (SELECT id FROM recordsets WHERE zone_id = NEW.id AND ttl IS NULL); END""",
]

_NAMES = [("records_axfr_rr_rdata", "records"), ("recordsets_axfr_rr_ttl", "recordsets"),
          ("zones_axfr_rr_ttl", "zones")]


def install() -> None:
    """Create the triggers (and PostgreSQL's trigger functions)."""
    pg = op.get_bind().dialect.name == "postgresql"
    for sql in _PG if pg else _SQLITE:
        op.execute(sql)


def remove() -> None:
    """Drop them."""
    pg = op.get_bind().dialect.name == "postgresql"
    for name, table in _NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if pg else
                   f"DROP TRIGGER IF EXISTS {name}")
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
