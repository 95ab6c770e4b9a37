"""BIND 9 through rndc: ``addzone`` a secondary of mdns, ``delzone -clean`` to remove it.

Options (pools.yaml ``targets[].options``)::

    type: bind9
    masters: [{host: 127.0.0.1, port: 5354}]     # mdns
    options:
      host: 127.0.0.1          # BIND's DNS address (NOTIFY goes here)
      port: 53
      rndc_host: 127.0.0.1
      rndc_port: 953
      rndc_key_file: /etc/bind/rndc.key          # optional
      rndc_config_file: /etc/bind/rndc.conf      # optional
      view: internal                             # optional
      timeout: 10

BIND needs ``allow-new-zones yes;`` (and should have ``serial-query-rate 1000;`` and
``notify no;``, see peers.md). A target ``tsigkey_id`` adds ``key "<name>"`` to the primaries; the
key must be defined in named.conf under the same name.
"""

from __future__ import annotations

import re

from backends.base import Backend, BackendError, BackendOptions, ZoneRef, run_command

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class Bind9Options(BackendOptions):
    rndc_host: str = "127.0.0.1"
    rndc_port: int = 953
    rndc_key_file: str | None = None
    rndc_config_file: str | None = None
    rndc_bin: str = "rndc"
    view: str | None = None
    clean: bool = True


class Bind9Backend(Backend):
    """``rndc addzone``/``delzone`` against one BIND server."""

    name = "bind9"
    Options = Bind9Options
    options: Bind9Options

    def _rndc(self, *args: str) -> list[str]:
        o = self.options
        argv = [o.rndc_bin]
        if o.rndc_config_file:
            argv += ["-c", o.rndc_config_file]
        argv += ["-s", o.rndc_host, "-p", str(o.rndc_port)]
        if o.rndc_key_file:
            argv += ["-k", o.rndc_key_file]
        return [*argv, *args]

    def _zone_args(self, zone: ZoneRef) -> list[str]:
        name = zone.name.rstrip(".")
        if not _SAFE_NAME.match(name):
            raise BackendError(f"refusing unsafe zone name {zone.name!r}")
        return [name, "IN", self.options.view] if self.options.view else [name]

    def zone_spec(self, zone: ZoneRef) -> str:
        """The zone-options block given to ``rndc addzone``."""
        key = f' key "{self.target.tsigkey.name}"' if self.target.tsigkey else ""
        primaries = " ".join(f"{h} port {p}{key};" for h, p in self.masters())
        fname = f"slave.{zone.name.rstrip('.')}.{zone.id}.db"
        return f'{{ type secondary; primaries {{ {primaries} }}; file "{fname}"; }};'

    async def create_zone(self, zone: ZoneRef) -> None:
        """``rndc addzone``; when the zone exists already (a retry or a repair after BIND did
        not reach the serial within the poll timeout) ``rndc retransfer`` forces a full AXFR,
        so a secondary stuck on a failing incremental transfer heals itself."""
        rc, out = await run_command(
            self._rndc("addzone", *self._zone_args(zone), self.zone_spec(zone)),
            self.options.timeout)
        if rc == 0:
            return
        if "already exists" not in out:
            raise BackendError(f"rndc addzone {zone.name}: {out or rc}")
        rc, out = await run_command(self._rndc("retransfer", *self._zone_args(zone)),
                                    self.options.timeout)
        if rc != 0:
            raise BackendError(f"rndc retransfer {zone.name}: {out or rc}")

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        args = ["delzone"] + (["-clean"] if self.options.clean else [])
        rc, out = await run_command(self._rndc(*args, *self._zone_args(zone)),
                                    self.options.timeout)
        if rc != 0 and "not found" not in out:
            raise BackendError(f"rndc delzone {zone.name}: {out or rc}")

    async def health(self) -> bool:
        try:
            rc, _ = await run_command(self._rndc("status"), self.options.timeout)
        except BackendError:
            return False
        return rc == 0
