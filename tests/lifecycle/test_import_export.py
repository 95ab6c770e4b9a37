"""Zone import and export over HTTP (designate-api.md §1.5, §1.6), SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from lifehelp import (
    ADMIN,
    ALICE,
    BOB,
    READER,
    TEXT_DNS,
    error,
    finished,
    import_zone,
    make_zone,
    need,
)

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.settings import Settings

# As BIND writes it (named-compilezone -D): $ORIGIN ., SOA over several lines with comments,
# omitted owners and TTLs, relative names, and all 16 record types an API user may create.
BIND_ZONE = """$ORIGIN .
$TTL 3600	; 1 hour
import.test		IN SOA	ns1.import.test. host\\.master.import.test. (
				2024010101 ; serial
				3500       ; refresh (58 minutes 20 seconds)
				700        ; retry (11 minutes 40 seconds)
				90000      ; expire (1 day 1 hour)
				1800       ; minimum (30 minutes)
				)
			NS	ns1.import.test.
			NS	ns2.import.test.
			MX	10 mail.import.test.
			HTTPS	1 . alpn=h2
$ORIGIN import.test.
ns1			A	192.0.2.1
ns2			A	192.0.2.2
www			300	A	192.0.2.3
			300	AAAA	2001:db8::3
mail			A	192.0.2.4
txt			TXT	"hello world" "second string"
spf			SPF	"v=spf1 -all"
_sip._tcp		SRV	0 5 5060 sip
sip			CNAME	www
*.wild			A	192.0.2.9
sub			NS	ns.sub
ns.sub			A	192.0.2.10
caa			CAA	0 issue "letsencrypt.org"
ssh			SSHFP	1 1 ( 0123456789abcdef0123
					456789abcdef01234567 )
_443._tcp		TLSA	3 1 1 ( 0123456789abcdef0123456789abcdef
					0123456789abcdef0123456789abcdef )
naptr			NAPTR	100 10 "S" "SIP+D2U" "" _sip._udp
ptr			PTR	host.example.net.
svc			SVCB	1 svc2 alpn="h2,h3" port=8443
cert			CERT	PKIX 0 RSASHA256 ( MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A )
"""

SIMPLE = """$ORIGIN simple.test.
$TTL 600
@ IN SOA ns1.simple.test. admin.simple.test. 7 3600 600 86400 600
www IN A 192.0.2.1
"""


async def test_import_bind_file_all_types(client: TestClient, service: Service) -> None:
    task = await import_zone(client, service, BIND_ZONE)
    assert task["status"] == "COMPLETE", task
    assert task["message"] == "import.test. imported"
    assert task["progress"] == 100 and task["project_id"] == "project-alice"
    zone_id = task["zone_id"]
    assert task["links"]["zone"].endswith(f"/v2/zones/{zone_id}")
    zone = await (await client.get(f"/v2/zones/{zone_id}", headers=ALICE)).json()
    assert zone["name"] == "import.test." and zone["email"] == "host.master@import.test"
    assert zone["ttl"] == 3600 and zone["serial"] == 2024010101 and zone["status"] == "PENDING"
    rs = await (await client.get(f"/v2/zones/{zone_id}/recordsets?limit=100",
                                 headers=ALICE)).json()
    sets = {(r["name"], r["type"]): r for r in rs["recordsets"]}
    types = {t for _, t in sets}
    assert types == {"SOA", "NS", "A", "AAAA", "MX", "TXT", "SPF", "SRV", "CNAME", "CAA", "SSHFP",
                     "TLSA", "NAPTR", "PTR", "SVCB", "HTTPS", "CERT"}
    # The file's apex NS are replaced by the pool's (Designate drops them).
    assert sets[("import.test.", "NS")]["records"] == ["ns1.example.com."]
    assert sets[("sub.import.test.", "NS")]["records"] == ["ns.sub.import.test."]
    assert sets[("www.import.test.", "A")]["ttl"] == 300
    assert sets[("ns1.import.test.", "A")]["ttl"] is None  # = zone TTL: inherited
    assert sets[("import.test.", "MX")]["records"] == ["10 mail.import.test."]
    assert sets[("sip.import.test.", "CNAME")]["records"] == ["www.import.test."]
    assert sets[("txt.import.test.", "TXT")]["records"] == ['"hello world" "second string"']
    assert sets[("ssh.import.test.", "SSHFP")]["records"] == [
        "1 1 0123456789abcdef0123456789abcdef01234567"]
    assert sets[("svc.import.test.", "SVCB")]["records"] == [
        '1 svc2.import.test. alpn="h2,h3" port=8443']
    soa = sets[("import.test.", "SOA")]["records"][0]
    assert soa.split()[2:] == ["2024010101", "3500", "700", "90000", "1800"]


async def test_import_json_and_listing(client: TestClient, service: Service) -> None:
    resp = await client.post("/v2/zones/tasks/imports", json={"zonefile": SIMPLE}, headers=ALICE)
    body = await resp.json()
    assert resp.status == 202 and body["status"] == "PENDING" and body["zone_id"] is None
    assert body["message"] is None and body["version"] == 1
    task = await finished(client, service, f"/v2/zones/tasks/imports/{body['id']}")
    assert task["status"] == "COMPLETE" and task["version"] == 2
    listing = await (await client.get("/v2/zones/tasks/imports", headers=ALICE)).json()
    assert [t["id"] for t in listing["imports"]] == [body["id"]]
    assert listing["metadata"]["total_count"] == 1
    done = await (await client.get("/v2/zones/tasks/imports?status=COMPLETE",
                                   headers=ALICE)).json()
    assert len(done["imports"]) == 1
    none = await (await client.get("/v2/zones/tasks/imports?status=ERROR", headers=ALICE)).json()
    assert none["imports"] == []
    await error(await client.get("/v2/zones/tasks/imports?bogus=1", headers=ALICE), 400,
                "bad_request")
    # Other projects do not see it.
    await error(await client.get(f"/v2/zones/tasks/imports/{body['id']}", headers=BOB), 404,
                "zone_import_not_found")
    assert (await (await client.get("/v2/zones/tasks/imports", headers=BOB)).json()
            )["imports"] == []
    await error(await client.delete(f"/v2/zones/tasks/imports/{body['id']}", headers=BOB), 404,
                "zone_import_not_found")
    resp = await client.delete(f"/v2/zones/tasks/imports/{body['id']}", headers=ALICE)
    assert resp.status == 204
    await error(await client.get(f"/v2/zones/tasks/imports/{body['id']}", headers=ALICE), 404,
                "zone_import_not_found")
    # The zone stays.
    zones = await (await client.get("/v2/zones", headers=ALICE)).json()
    assert [z["name"] for z in zones["zones"]] == ["simple.test."]


BAD_FILES = [
    ("www 300 IN A 192.0.2.1\n",
     "The $ORIGIN statement is required and must be the first statement in the zonefile."),
    ("$ORIGIN bad.test.\nwww 300 IN A 192.0.2.1\n", "An SOA record is required."),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\n\nwww 300 IN A 1.2.3\n",
     "Malformed zonefile. Line 4: '1.2.3' is not a 'A' Record"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nwww.other.test. 300 IN A 1.1.1.1\n",
     "Malformed zonefile. Line 3: www.other.test. is outside the zone bad.test."),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nw 300 IN A 1.1.1.1\n"
     "w 300 IN CNAME x.test.\n",
     "Malformed zonefile. Line 4: the CNAME w.bad.test. shares its name with other records"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nw 300 IN MX 010 a.test.\n",
     "Malformed zonefile. Line 3: '010 a.test.' is not a 'MX' Record"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nw 300 IN A ( 1.1.1.1\n",
     "Malformed zonefile. Line 3: unbalanced parentheses"),
    ("$ORIGIN bad.test.\n$INCLUDE /etc/passwd\n",
     "Malformed zonefile. Line 2: the $INCLUDE directive is not supported"),
    ("$ORIGIN bad.test.\n$GENERATE 1-100000000 h$ A 10.0.0.1\n",
     "Malformed zonefile. Line 2: the $GENERATE directive is not supported"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nw 300 IN LOC 1 2 3 N\n",
     "Malformed zonefile. Line 3: record type LOC is not supported"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\n@ 300 IN CNAME x.test.\n",
     "Malformed zonefile. Line 3: a CNAME is not allowed at the zone apex"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\n*.w 300 IN NS ns.test.\n",
     "Malformed zonefile. Line 3: invalid name *.w.bad.test.: NS recordsets may not have a "
     "wildcard name"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\n@ 300 IN SOA ns. h.bad.test. "
     "1 2 3 4 5\n", "Malformed zonefile. Line 3: more than one SOA record"),
    ("$ORIGIN bad.test.\n@ 300 CH SOA ns. h.bad.test. 1 2 3 4 5\n",
     "Malformed zonefile. Line 2: only class IN is supported"),
    ("$ORIGIN bad.test.\n@ 300 IN SOA ns. h.bad.test. 1 2 3 4 5\nw 300 IN TXT \"unterminated\n",
     "Malformed zonefile. Line 3"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
async def test_bad_zone_files_end_in_error(client: TestClient, service: Service, text: str,
                                           message: str) -> None:
    task = await import_zone(client, service, text)
    assert task["status"] == "ERROR", task
    assert task["message"].startswith(message), task["message"]
    assert len(task["message"]) <= 160 and task["zone_id"] is None
    zones = await (await client.get("/v2/zones", headers=ALICE)).json()
    assert zones["zones"] == []


async def test_import_limits_and_conflicts(client: TestClient, service: Service,
                                           settings: Settings) -> None:
    await make_zone(client, "simple.test.", headers=BOB)
    task = await import_zone(client, service, SIMPLE)
    assert (task["status"], task["message"]) == ("ERROR", "Duplicate zone.")
    # Quotas of the importing project.
    await service.set_quotas(Context("admin", roles=frozenset({"admin"})), "project-alice",
                             {"zone_records": 1})
    two = SIMPLE.replace("simple.test.", "two.test.") + "ftp IN A 192.0.2.7\n"
    task = await import_zone(client, service, two)
    assert (task["status"], task["message"]) == ("ERROR", "Quota exceeded during zone import.")
    # TTL below the minimum (admins may).
    settings.min_ttl = 100
    low = "$ORIGIN low.test.\n@ 300 IN SOA ns. h.low.test. 1 2 3 4 5\nw 5 IN A 192.0.2.1\n"
    task = await import_zone(client, service, low)
    assert task["status"] == "ERROR" and "TTL is below the minimum: 100" in task["message"]
    task = await import_zone(client, service, low, headers=ADMIN)
    assert task["status"] == "COMPLETE", task
    # Larger than the import size limit: ERROR, nothing parsed.
    settings.max_import_size = 200
    task = await import_zone(client, service, BIND_ZONE)
    assert task["status"] == "ERROR"
    assert task["message"] == "The zone file is larger than 200 bytes."
    zones = await (await client.get("/v2/zones", headers=ALICE)).json()
    assert zones["zones"] == []


async def test_import_request_errors(client: TestClient) -> None:
    await error(await client.post("/v2/zones/tasks/imports", data=b"x",
                                  headers={**ALICE, "Content-Type": "text/plain"}), 415,
                "unsupported_content_type")
    await error(await client.post("/v2/zones/tasks/imports", data=b"",
                                  headers={**ALICE, **TEXT_DNS}), 400, "empty_request_body")
    body = await error(await client.post("/v2/zones/tasks/imports", json={"attributes": {}},
                                         headers=ALICE), 400, "invalid_object")
    assert body["errors"]["errors"][0]["path"] == ["zonefile"]
    await error(await client.post("/v2/zones/tasks/imports", json={"zonefile": SIMPLE, "x": 1},
                                  headers=ALICE), 400, "invalid_object")
    await error(await client.post("/v2/zones/tasks/imports", data=b"{",
                                  headers={**ALICE, "Content-Type": "application/json"}), 400,
                "invalid_json")
    await error(await client.post("/v2/zones/tasks/imports", data=SIMPLE.encode(),
                                  headers={**READER, **TEXT_DNS}), 403, "forbidden")
    await error(await client.get("/v2/zones/tasks/imports/not-a-uuid", headers=ALICE), 400,
                "invalid_uuid")
    await error(await client.get(f"/v2/zones/tasks/imports/{uuid.uuid4()}", headers=ALICE), 404,
                "zone_import_not_found")


# --- export ---------------------------------------------------------------------------------
async def test_export_task_and_file(client: TestClient, service: Service) -> None:
    task = await import_zone(client, service, BIND_ZONE)
    zone_id = task["zone_id"]
    resp = await client.post(f"/v2/zones/{zone_id}/tasks/export", headers=ALICE)
    body = await resp.json()
    assert resp.status == 202 and body["status"] == "PENDING" and body["location"] is None
    assert resp.headers["Location"] == body["links"]["self"]
    export_id = body["id"]
    done = await finished(client, service, f"/v2/zones/tasks/exports/{export_id}")
    assert done["status"] == "COMPLETE"
    assert done["location"] == f"designate://v2/zones/tasks/exports/{export_id}/export"
    assert done["links"]["export"].endswith(f"/v2/zones/tasks/exports/{export_id}/export")
    # Plural and singular paths (openstacksdk uses the singular).
    for base in ("/v2/zones/tasks/exports", "/v2/zones/tasks/export"):
        got = await client.get(f"{base}/{export_id}", headers=ALICE)
        assert (await got.json())["id"] == export_id
        listing = await (await client.get(base, headers=ALICE)).json()
        assert [e["id"] for e in listing["exports"]] == [export_id]
        assert listing["metadata"]["total_count"] == 1
        resp = await client.get(f"{base}/{export_id}/export", headers=ALICE)
        assert resp.status == 200 and resp.content_type == "text/dns"
        text = await resp.text()
        for accept in ("*/*", "text/dns"):
            ok = await client.get(f"{base}/{export_id}/export",
                                  headers={**ALICE, "Accept": accept})
            assert ok.status == 200 and await ok.text() == text
        await error(await client.get(f"{base}/{export_id}/export",
                                     headers={**ALICE, "Accept": "test/goat"}), 406,
                    "unsupported_accept")
    lines = text.splitlines()
    assert lines[0] == "$ORIGIN import.test." and lines[1] == "$TTL 3600"
    assert lines[2].startswith("import.test. 3600 IN SOA ns1.example.com. host\\.master."
                               "import.test. 2024010101 3500 700 90000 1800")
    assert "www.import.test. 300 IN A 192.0.2.3" in lines
    assert "ns1.import.test. IN A 192.0.2.1" in lines
    await error(await client.get(f"/v2/zones/tasks/exports/{export_id}/export", headers=BOB),
                404, "zone_export_not_found")
    await error(await client.get(f"/v2/zones/tasks/exports/{export_id}", headers=BOB), 404,
                "zone_export_not_found")
    resp = await client.delete(f"/v2/zones/tasks/export/{export_id}", headers=ALICE)
    assert resp.status == 204
    await error(await client.get(f"/v2/zones/tasks/exports/{export_id}", headers=ALICE), 404,
                "zone_export_not_found")


async def test_export_errors(client: TestClient, service: Service) -> None:
    zone = await make_zone(client, "exp.test.")
    await error(await client.post(f"/v2/zones/{uuid.uuid4()}/tasks/export", headers=ALICE), 404,
                "zone_not_found")
    await error(await client.post(f"/v2/zones/{zone['id']}/tasks/export", headers=BOB), 404,
                "zone_not_found")
    await error(await client.post(f"/v2/zones/{zone['id']}/tasks/export", headers=READER), 403,
                "forbidden")
    await service.set_quotas(Context("admin", roles=frozenset({"admin"})), "project-alice",
                             {"api_export_size": 1})
    body = await error(await client.post(f"/v2/zones/{zone['id']}/tasks/export", headers=ALICE),
                       413, "over_quota")
    assert body["message"] == "Quota exceeded for api_export_size."
    await error(await client.get(f"/v2/zones/tasks/exports/{uuid.uuid4()}/export",
                                 headers=ALICE), 404, "zone_export_not_found")


def _checkzone(zone: str, text: str, tmp_path: Path) -> str:
    path = tmp_path / "zone.db"
    path.write_text(text)
    result = subprocess.run(["named-checkzone", "-i", "local", zone, str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def test_round_trip_named_checkzone(client: TestClient, service: Service,
                                          tmp_path: Path) -> None:
    """export → named-checkzone → abandon → import → export gives the same file."""
    need(shutil.which("named-checkzone") is not None, "named-checkzone")
    task = await import_zone(client, service, BIND_ZONE)
    first = await _export_text(client, service, task["zone_id"])
    assert "OK" in _checkzone("import.test", first, tmp_path)
    resp = await client.post(f"/v2/zones/{task['zone_id']}/tasks/abandon", headers={
        **ADMIN, "X-Auth-All-Projects": "true"})
    assert resp.status == 204
    again = await import_zone(client, service, first)
    assert again["status"] == "COMPLETE", again
    assert await _export_text(client, service, again["zone_id"]) == first


async def _export_text(client: TestClient, service: Service, zone_id: str) -> str:
    body = await (await client.post(f"/v2/zones/{zone_id}/tasks/export", headers=ALICE)).json()
    await finished(client, service, f"/v2/zones/tasks/exports/{body['id']}")
    resp = await client.get(f"/v2/zones/tasks/exports/{body['id']}/export", headers=ALICE)
    assert resp.status == 200
    return await resp.text()
