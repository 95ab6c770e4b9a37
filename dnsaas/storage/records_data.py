"""Triggers that keep ``recordsets.records_data`` (PostgreSQL) equal to the recordset's records'
``data`` in API order (``created_at``, ``id``), so that a recordset page reads one row per
recordset instead of looking its records up one recordset at a time.

The column is exact or NULL, whatever path writes ``records`` (service, bulk ``COPY`` of an
import, secondary-zone pulls, tests):

- inserts and deletes are handled once per statement, from the transition table (a ``COPY``
  chunk is one grouped update, not one per row); a recordset whose array is already right
  gets no new row version, and writers that create recordsets with their arrays filled (the
  one-statement create, bulk ``COPY`` of imports) skip the check (:data:`WRITTEN`);
- a record's ``data`` changing is handled per row, and the trigger is not even called for the
  other record updates (status changes by the worker);
- SOA recordsets are left NULL: their record is rewritten on every serial bump, and readers
  fall back to the ``records`` table for a NULL array (one lookup per page, not one per row).

Writers of one zone's records serialise on the zone row (every change raises the serial), so
the array computed in one transaction cannot miss another's uncommitted records.

SQLite has no array type: the column stays NULL there and every reader uses ``records``.
Installed at the end of migration 0001, like :mod:`dnsaas.storage.axfr_rr`.
"""

from __future__ import annotations

from alembic import op

# A writer that inserts new recordsets with their ``records_data`` already filled (and the
# recordsets' records, all of them) sets this transaction-local setting to ``on`` around those
# inserts (:func:`set_written`): the insert trigger then has nothing to check.
WRITTEN = "dnsaas.records_data_written"

# The records' data of the recordsets in ``{ids}``, where it differs from the stored array.
_REFRESH = """
  UPDATE recordsets rs SET records_data = n.data
    FROM (SELECT s.id, ARRAY(SELECT r.data FROM records r WHERE r.recordset_id = s.id
                              ORDER BY r.created_at, r.id) AS data
            FROM recordsets s WHERE s.id IN ({ids}) AND s.type <> 'SOA') n
   WHERE rs.id = n.id AND rs.records_data IS DISTINCT FROM n.data;
"""

_PG = [
    f"""CREATE FUNCTION records_data_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND current_setting('{WRITTEN}', true) = 'on' THEN
    RETURN NULL;
  END IF;{_REFRESH.format(ids="SELECT c.recordset_id FROM changed c")}  RETURN NULL;
END $$""",
    """CREATE TRIGGER records_data_insert AFTER INSERT ON records
REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION records_data_statement()""",
    """CREATE TRIGGER records_data_delete AFTER DELETE ON records
REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION records_data_statement()""",
    f"""CREATE FUNCTION records_data_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{_REFRESH.format(ids="NEW.recordset_id")}  RETURN NULL;
END $$""",
    # axfr_rr is empty only for the SOA (dnsaas.wire.axfr_rr): its rewrites skip the call.
    """CREATE TRIGGER records_data_update AFTER UPDATE OF data ON records FOR EACH ROW
WHEN (NEW.data IS DISTINCT FROM OLD.data AND NEW.axfr_rr IS DISTINCT FROM ''::bytea)
EXECUTE FUNCTION records_data_row()""",
]

def set_written(on: bool) -> str:
    """The statement that turns :data:`WRITTEN` on or off until the transaction ends."""
    return f"SELECT set_config('{WRITTEN}', '{'on' if on else 'off'}', true)"


_TRIGGERS = ("records_data_insert", "records_data_delete", "records_data_update")
_FUNCTIONS = ("records_data_statement", "records_data_row")


def install() -> None:
    """Create the triggers and their functions (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        for sql in _PG:
            op.execute(sql)


def remove() -> None:
    """Drop them."""
    if op.get_bind().dialect.name == "postgresql":
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON records")
        for name in _FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
