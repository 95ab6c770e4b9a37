"""PowerDNS Authoritative through its HTTP API: Secondary zones whose masters are mdns.

PowerDNS does not transfer a new zone until its next xfr cycle (~60 s) and acts on a NOTIFY
only at the next step of a 1 s loop, so the driver calls ``axfr-retrieve`` after creating a
zone and after every change (peers.md §4)::

    type: pdns
    masters: [{host: 127.0.0.1, port: 5354}]
    options:
      host: 127.0.0.1                       # PowerDNS's DNS address (NOTIFY goes here)
      port: 53
      api_endpoint: http://127.0.0.1:8081
      api_token: changeme
      server_id: localhost
      timeout: 10

A target ``tsigkey_id`` is passed as ``slave_tsig_key_ids`` (the key must exist in PowerDNS).
Zones get the metadata ``IXFR=1`` (option ``ixfr``), so PowerDNS takes each change as an
incremental transfer from mdns's journal instead of the whole zone.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from backends.base import Backend, BackendError, BackendOptions, ZoneRef


class PowerDNSOptions(BackendOptions):
    api_endpoint: str = "http://127.0.0.1:8081"
    api_token: str = ""
    server_id: str = "localhost"
    retrieve: bool = True  # axfr-retrieve after create and after every change
    ixfr: bool = True  # zone metadata IXFR=1: take changes as IXFR (PowerDNS defaults to AXFR)


class PowerDNSBackend(Backend):
    """Secondary zones over the PowerDNS HTTP API (aiohttp)."""

    name = "pdns"
    Options = PowerDNSOptions
    options: PowerDNSOptions
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"X-API-Key": self.options.api_token},
            timeout=aiohttp.ClientTimeout(total=self.options.timeout))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        base = self.options.api_endpoint.rstrip("/")
        return f"{base}/api/v1/servers/{self.options.server_id}{path}"

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        if self._session is None:
            await self.start()
        assert self._session is not None
        try:
            async with self._session.request(method, self._url(path), json=body) as resp:
                return resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise BackendError(f"PowerDNS API {method} {path}: {exc!r}") from None

    async def create_zone(self, zone: ZoneRef) -> None:
        body: dict[str, Any] = {
            "name": zone.name, "kind": "Secondary",
            "masters": [f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h, p in self.masters()],
        }
        if self.target.tsigkey is not None:
            body["slave_tsig_key_ids"] = [self.target.tsigkey.name.rstrip(".") + "."]
        status, text = await self._call("POST", "/zones", body)
        if status not in (201, 409):  # 409: it exists already
            raise BackendError(f"PowerDNS create {zone.name}: {status} {text[:200]}")
        if self.options.ixfr:
            status, text = await self._call("PUT", f"/zones/{zone.name}/metadata/IXFR",
                                            {"metadata": ["1"]})
            if status >= 400:
                raise BackendError(f"PowerDNS metadata IXFR {zone.name}: {status} {text[:200]}")
        await self._retrieve(zone)

    async def update_zone(self, zone: ZoneRef) -> None:
        await self._retrieve(zone)

    async def _retrieve(self, zone: ZoneRef) -> None:
        if not self.options.retrieve:
            return
        status, text = await self._call("PUT", f"/zones/{zone.name}/axfr-retrieve")
        if status == 404:  # lost the zone (e.g. a wiped server): create it again
            raise BackendError(f"PowerDNS has no zone {zone.name}")
        if status >= 400:
            raise BackendError(f"PowerDNS axfr-retrieve {zone.name}: {status} {text[:200]}")

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        status, text = await self._call("DELETE", f"/zones/{zone.name}")
        if status not in (204, 404, 422):
            raise BackendError(f"PowerDNS delete {zone.name}: {status} {text[:200]}")

    async def health(self) -> bool:
        try:
            status, _ = await self._call("GET", "")
        except BackendError:
            return False
        return status == 200
