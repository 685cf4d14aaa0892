"""The operator console through the ASGI test client: sessions, roles, forms, the pages' facts.
(The same pages in a real browser: test_console_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from jpki_fast import open_store
from jpki_fast.places import partition_places
from jpki_fast_service import ServiceConfig, create_app
from jpki_fast_service.console import i18n
from .console_helpers import copy_world, revoked_serial

TEMPLATES = Path(__file__).resolve().parents[1] / "jpki_fast_service" / "console" / "templates"


@pytest.fixture(scope="module")
def world(console_world, tmp_path_factory):
    return copy_world(console_world, tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def app(world):
    return create_app(ServiceConfig(store=world.store, api_keys=world.key_file, audit_log=world.audit_log, reload_interval=0.1))


def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def sign_in(c: TestClient, key: str, next: str = "/ui") -> httpx.Response:
    form = c.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    return c.post("/ui/login", data={"api_key": key, "login_token": token, "next": next}, follow_redirects=False)


def csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def ops(app, world):
    with client(app) as c:
        assert sign_in(c, world.keys["ops"]).status_code == 303
        yield c


# ---- sessions ------------------------------------------------------------------------------


def test_pages_without_a_session_lead_to_the_login_form_keeping_where_to_go(app):
    with client(app) as c:
        r = c.get("/ui/partitions?prefecture=Tokyo", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Fpartitions%3Fprefecture%3DTokyo"
        assert c.get("/ui/static/console.css").status_code == 401  # assets need the session too


def test_signing_in_sets_an_encrypted_httponly_strict_cookie_and_never_puts_the_key_in_a_url(app, world):
    with client(app) as c:
        r = sign_in(c, world.keys["ops"], next="/ui/changes")
        assert r.status_code == 303 and r.headers["location"] == "/ui/changes"
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("jpkf_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie and "Secure" not in cookie
        assert world.keys["ops"] not in cookie and world.keys["ops"] not in r.headers["location"]
        page = c.get("/ui")
        assert page.status_code == 200 and 'data-testid="key-id">ops<' in page.text and world.keys["ops"] not in page.text


def test_cookies_are_secure_over_tls(app, world):
    with TestClient(app, base_url="https://testserver") as c:
        r = sign_in(c, world.keys["ops"])
        assert "Secure" in r.headers["set-cookie"]


def test_an_unknown_key_a_missing_form_token_or_another_sites_form_cannot_sign_in(app, world):
    with client(app) as c:
        assert sign_in(c, "jpkf_wrong").status_code == 401
        assert c.post("/ui/login", data={"api_key": world.keys["ops"], "next": "/ui"}, follow_redirects=False).status_code == 400
        form = c.get("/ui/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
        r = c.post("/ui/login", data={"api_key": world.keys["ops"], "login_token": token}, headers={"Sec-Fetch-Site": "cross-site"},
                   follow_redirects=False)
        assert r.status_code == 400 and "jpkf_session" not in r.headers.get("set-cookie", "")


def test_signing_in_and_out_read_small_forms_without_files(app, world):
    """Both forms are read before any key is known: a file part is refused before it is spooled,
    a field over 4 KiB as soon as it passes that; the real forms still work."""
    with client(app) as c:
        upload = {"api_key": ("key.txt", b"k" * (2 << 20))}
        for path in ("/ui/login", "/ui/logout"):
            r = c.post(path, files=upload, data={"login_token": "t"})
            assert r.status_code == 400 and "Too many files" in r.text, (path, r.text[:200])
        r = c.post("/ui/login", data={"api_key": "k" * 5000, "login_token": "t"})
        assert r.status_code == 400 and "maximum size" in r.text, r.text[:200]
        assert sign_in(c, world.keys["ops"]).status_code == 303


def test_a_forged_or_expired_session_cookie_is_no_session(app, world):
    with client(app) as c:
        c.cookies.set("jpkf_session", "gAAAAAforged", path="/ui")
        assert c.get("/ui", follow_redirects=False).status_code == 303
    from jpki_fast_service.console.session import Sessions

    secret = world.key_file.with_name(world.key_file.name + ".session-key")
    token = Sessions(secret).issue(world.keys["ops"])
    assert Sessions(secret).open(token).key == world.keys["ops"]  # another worker opens it too
    assert Sessions(secret, ttl=-1).open(token) is None  # past its time to live


def test_removing_a_key_from_the_key_file_ends_its_sessions(app, world, tmp_path):
    from jpki_fast_service.auth import KeyRing, add_key

    extra = add_key(world.key_file, "temp-key", ["query"])
    app.state.keys = KeyRing.load(world.key_file)
    with client(app) as c:
        assert sign_in(c, extra).status_code == 303
        assert c.get("/ui", follow_redirects=False).status_code == 200
        import json

        data = json.loads(world.key_file.read_text())
        data["keys"] = [k for k in data["keys"] if k["id"] != "temp-key"]
        world.key_file.write_text(json.dumps(data))
        app.state.keys = KeyRing.load(world.key_file)
        assert c.get("/ui", follow_redirects=False).status_code == 303


def test_logging_out_needs_the_forms_token_and_ends_the_session(ops):
    page = ops.get("/ui")
    assert ops.post("/ui/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    r = ops.post("/ui/logout", data={"csrf": csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert ops.get("/ui", follow_redirects=False).status_code == 303


def test_pages_forbid_outside_resources_and_framing(ops):
    r = ops.get("/ui")
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert not re.search(r'(?:src|href)="(?:https?:)?//', r.text)  # every reference is to this server
    login = ops.get("/ui/login?next=/ui")
    assert login.status_code in (200, 303)


# ---- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "allowed", "forbidden"),
    [
        ("ops", ["/ui", "/ui/partitions", "/ui/changes", "/ui/check", "/ui/audit"], []),
        ("admin", ["/ui", "/ui/partitions", "/ui/changes", "/ui/audit"], ["/ui/check"]),
        ("bank-a", ["/ui", "/ui/partitions", "/ui/changes", "/ui/check"], ["/ui/audit", "/ui/changes/diff"]),
        ("pd-only", [], ["/ui", "/ui/partitions", "/ui/changes", "/ui/check", "/ui/audit"]),
    ],
)
def test_each_role_sees_its_pages_only(app, world, key, allowed, forbidden):
    with client(app) as c:
        assert sign_in(c, world.keys[key]).status_code == 303
        for path in allowed:
            assert c.get(path).status_code == 200, path
        for path in forbidden:
            r = c.get(path)
            assert r.status_code == 403 and "Not allowed" in r.text, path
        nav = re.findall(r'<li><a href="(/ui[^"]*)"', c.get("/ui/check" if key == "pd-only" else "/ui").text)
        assert nav == [p for p in ["/ui", "/ui/partitions", "/ui/changes", "/ui/check", "/ui/audit"] if p in allowed]


def test_a_tenant_gets_no_diff_download_link_an_admin_does(app, world, ops):
    assert 'data-testid="download-csv"' in ops.get("/ui/changes").text
    with client(app) as c:
        sign_in(c, world.keys["bank-a"])
        page = c.get("/ui/changes")
        assert 'data-testid="no-download"' in page.text and "/ui/changes/diff" not in page.text


def test_a_tenants_admin_key_gets_no_diff_either(app, world):
    """The diff lists serials: a tenant-bound admin key (which sees its tenant's usage) is still
    a tenant's, and gets neither the link nor the file."""
    with client(app) as c:
        sign_in(c, world.keys["bank-admin"])
        page = c.get("/ui/changes")
        assert page.status_code == 200 and 'data-testid="no-download"' in page.text and "/ui/changes/diff" not in page.text
        for query in ("", "?format=parquet"):
            r = c.get("/ui/changes/diff" + query)
            assert r.status_code == 403 and "Not allowed" in r.text and "serial" not in r.headers.get("content-type", "")


def test_the_diff_download_is_the_librarys_diff(ops, world):
    from jpki_fast.history import diff

    r = ops.get("/ui/changes/diff?format=csv")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment; filename=\"jpki-fast-diff-")
    table = diff(world.store)
    lines = r.text.strip().splitlines()
    assert len(lines) == table.num_rows + 1 and lines[0].startswith('"issuer","serial","change"')
    assert ops.get("/ui/changes/diff?format=parquet").headers["content-type"] == "application/vnd.apache.parquet"
    assert ops.get("/ui/changes/diff?format=xml").status_code == 422


# ---- pages' facts --------------------------------------------------------------------------


def test_the_overview_shows_the_snapshots_numbers(ops, world):
    page = ops.get("/ui").text
    snapshot = ops.get("/v1/snapshot", headers={"X-API-Key": world.keys["ops"]}).json()
    assert f'data-testid="generation">{snapshot["generation"]}<' in page
    assert f'data-testid="entries">{snapshot["entries"]:,}<' in page
    for issuer in snapshot["issuers"]:
        row = re.search(rf'<tr data-issuer="{issuer["alias"]}".*?</tr>', page, re.S).group(0)
        assert f'data-testid="issuer-entries">{issuer["entries"]:,}<' in row


def test_partitions_filter_and_sort_on_the_server_without_scripts(ops, world):
    store = open_store(world.store)
    places = partition_places(store.partitions().column("name")).column("prefecture").to_pylist()
    prefecture = max(set(places) - {None}, key=places.count)
    page = ops.get(f"/ui/partitions?f=1&prefecture={prefecture}&sort=entries&order=desc").text
    rows = re.findall(r'<tr data-state="(\w+)" data-pref="([^"]*)".*?data-e="(\d+)"', page)
    assert len(rows) == places.count(prefecture) and {p for _, p, _ in rows} == {prefecture}
    entries = [int(e) for *_, e in rows]
    assert entries == sorted(entries, reverse=True)
    assert 'aria-sort="descending"' in page
    everything = ops.get("/ui/partitions?f=1").text  # the unticked group box: one table body
    assert everything.count('<tr data-state=') == store.partitions().num_rows and 'caption class="group-head"' not in everything
    assert ops.get("/ui/partitions?state=stale").text.count("<tr data-state=") == 0
    assert ops.get("/ui/partitions?sort=nonsense&order=sideways").status_code == 200


def test_the_changes_page_charts_each_kept_day_from_the_diff_counts(ops, world):
    from jpki_fast.history import diff_counts, generations

    page = ops.get("/ui/changes").text
    assert "<svg" in page and 'role="img"' in page
    kept = generations(world.store)
    total = sum(diff_counts(world.store, g.parent, g.generation)["by_change"].get("added", 0) for g in kept if g.parent)
    shown = sum(int(n.replace(",", "")) for n in re.findall(r'<td class="num"><strong>([\d,]+)</strong></td>', page))
    assert shown == total > 0


def test_checking_serials_answers_as_the_api_does(ops, world):
    serial, reason = revoked_serial(world, "auth_ca_2023")
    page = ops.get("/ui/check")
    r = ops.post("/ui/check", data={"csrf": csrf(page), "mode": "serials", "issuer": "auth_ca_2023",
                                    "serials": f"{serial}, 05A00001\nzz", "provenance": "1"})
    assert r.status_code == 200
    api = ops.post("/v1/status", headers={"X-API-Key": world.keys["ops"]},
                   json={"issuer": "auth_ca_2023", "serials": [serial, "05A00001", "zz"], "provenance": True}).json()
    shown = re.findall(r'<tr data-status="(\w+)">', r.text)
    assert shown == [row["status"] for row in api["results"]] == ["revoked", "good", "malformed"]
    assert reason in r.text and "Add provenance" in r.text and api["results"][0]["partition"] in r.text


def test_checking_a_certificate_file_answers_as_the_api_does(ops, world):
    from jpki_fast import synth

    cert = synth.read_certs(world.data).to_pylist()[0]
    der = (world.data / cert["path"]).read_bytes()
    page = ops.get("/ui/check")
    r = ops.post("/ui/check", data={"csrf": csrf(page), "mode": "certificate", "purpose": ""},
                 files={"certificate": ("card.der", der, "application/pkix-cert")})
    assert r.status_code == 200
    status = re.findall(r'<tr data-status="(\w+)">', r.text)
    assert status == ["revoked" if cert["revoked"] else "good"]
    assert f"{cert['serial']}" in r.text.replace(":", "") or cert["serial"].upper() in r.text


def test_check_forms_refuse_a_bad_token_no_input_and_too_many_serials(ops):
    page = ops.get("/ui/check")
    assert ops.post("/ui/check", data={"csrf": "x", "mode": "serials", "serials": "01"}).status_code == 403
    assert ops.post("/ui/check", data={"csrf": csrf(page), "mode": "serials", "serials": " "}).status_code == 422
    many = "\n".join(f"{i:08X}" for i in range(10_001))
    r = ops.post("/ui/check", data={"csrf": csrf(page), "mode": "serials", "issuer": "auth_ca_2023", "serials": many})
    assert r.status_code == 413 and "10,001 serials" in r.text
    assert ops.post("/ui/check", data={"csrf": csrf(page), "mode": "certificate"}).status_code == 422
    r = ops.post("/ui/check", data={"csrf": csrf(page), "mode": "certificate", "certificate_text": "not a certificate"})
    assert r.status_code == 422 and 'data-testid="api-error"' in r.text  # the API's own answer, shown


def test_the_audit_page_counts_requests_per_key_and_endpoint_and_verifies_the_chain(app, world, ops):
    for _ in range(3):
        ops.get("/v1/partitions", headers={"X-API-Key": world.keys["bank-a"]})
    page = ops.get("/ui/audit").text
    row = re.search(r'<tr data-key="bank-a" data-endpoint="/v1/partitions">.*?</tr>', page, re.S).group(0)
    assert re.search(r'data-testid="requests"><strong>(\d+)</strong>', row).group(1) == "3"
    assert 'data-testid="chain" data-ok="1"' in page
    # The static assets a page loads are not operations: not in the audit log.
    ops.get("/ui/static/console.js")
    assert "/ui/static" not in world.audit_log.read_text()
    lines = world.audit_log.read_text().splitlines()
    world.audit_log.write_text("\n".join([lines[0].replace('"GET"', '"PUT"'), *lines[1:]]) + "\n")
    page = ops.get("/ui/audit")
    broken = ops.post("/ui/audit/verify", data={"csrf": csrf(page)}, follow_redirects=False)
    assert broken.status_code == 303
    assert 'data-ok="0"' in ops.get("/ui/audit").text and "line 1: edited" in ops.get("/ui/audit").text


def test_no_key_ever_reaches_the_audit_log(world):
    text = world.audit_log.read_text() if world.audit_log.exists() else ""
    assert text and not any(key in text for key in world.keys.values())


def test_console_pages_are_not_billed_as_usage(ops, world):
    usage = ops.get("/v1/admin/usage", headers={"X-API-Key": world.keys["admin"]}).json()
    assert usage["requests"] and not any(row["endpoint"].startswith("/ui") for row in usage["requests"])


def test_big_pages_are_gzipped(ops):
    r = ops.get("/ui/partitions", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip" and "<table" in r.text


# ---- languages -----------------------------------------------------------------------------


def test_the_language_switch_sets_a_cookie_and_the_browsers_language_is_the_default(ops):
    assert '<html lang="en">' in ops.get("/ui").text
    assert '<html lang="ja">' in ops.get("/ui", headers={"Accept-Language": "ja-JP,ja;q=0.9"}).text
    page = ops.get("/ui/partitions?lang=ja&prefecture=Tokyo")
    assert '<html lang="ja">' in page.text and "都道府県" in page.text and "東京都" in page.text
    assert '<html lang="ja">' in ops.get("/ui").text  # remembered
    assert 'href="/ui/partitions?prefecture=Tokyo&amp;lang=en"' in page.text  # the switch keeps the filter


def test_every_text_of_every_template_has_its_japanese(ops):
    texts = set()
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text()
        texts |= set(re.findall(r'_\("((?:[^"\\]|\\.)+)"', source))
        texts |= set(re.findall(r"_\('((?:[^'\\]|\\.)+)'", source))
        texts |= {plural for _singular, plural in re.findall(r't\.ngettext\("([^"]+)", "([^"]+)"', source)}
    texts |= {f"{k}".capitalize() for k in ("overview", "partitions", "changes", "check", "audit")}
    texts |= set(i18n.STATE_LABELS.values()) | set(i18n.STATUS_LABELS.values())
    missing = sorted(t for t in texts if t not in i18n.JA)
    assert missing == []
