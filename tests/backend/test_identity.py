"""Clients without X-Client-Id (Meta's official page) get a signed cookie id: their uploads are
listed to them only, not to one anonymous pool shared by all such clients."""

from __future__ import annotations

import stat

import requests

from demo.backend.identity import COOKIE, Identities, cookie_policy, load_key
from demo.testing.client import DemoClient

from .conftest import GALLERY

LIST = "{ videos { edges { node { path } } } }"


def test_ids_are_signed_and_forgeries_are_refused(tmp_path):
    key = load_key("", tmp_path)
    assert load_key("", tmp_path) == key  # kept: ids survive a restart
    assert stat.S_IMODE((tmp_path / ".identity_key").stat().st_mode) == 0o600
    identities = Identities(key)
    client, cookie = identities.issue()
    assert identities.verify(cookie) == client and client != identities.issue()[0]
    assert Identities(load_key("configured", tmp_path)).verify(cookie) is None  # another key
    forged = "c-someone-elses-id-abcdefgh." + cookie.split(".")[1]
    for value in (forged, client, cookie + "x", "", None, "a.b.c"):
        assert identities.verify(value) is None


def uploads_seen(client: DemoClient) -> set[str]:
    edges = client.graphql(LIST)["videos"]["edges"]
    return {e["node"]["path"] for e in edges if e["node"]["path"].startswith("uploads/")}


def test_clients_without_a_header_each_see_their_own_uploads(server):
    alice, bob = DemoClient(server.url), DemoClient(server.url)  # no X-Client-Id, cookies kept
    mine = alice.upload(GALLERY / "pedestrians_768x576_24fps.mp4", start=0.0, duration=0.25)["path"]
    assert mine in uploads_seen(alice)
    assert mine not in uploads_seen(bob)
    cookie = alice.http.cookies.get(COOKIE)
    assert cookie and cookie != bob.http.cookies.get(COOKIE)
    # The cookie: HttpOnly, SameSite=Lax, long-lived; issued once, kept afterwards.
    fresh = requests.post(f"{server.url}/graphql", json={"query": LIST}, timeout=30)
    header = fresh.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=") and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Max-Age=" in header
    again = requests.post(f"{server.url}/graphql", json={"query": LIST}, cookies={COOKIE: cookie}, timeout=30)
    assert "Set-Cookie" not in again.headers
    # An edited cookie is not anyone's id: a new one replaces it, and it sees nothing of alice's.
    mallory = DemoClient(server.url)
    mallory.http.cookies.set(COOKIE, cookie.split(".")[0] + ".AAAA")
    assert mine not in uploads_seen(mallory)
    # A client that sends its own X-Client-Id keeps using that, and gets no cookie.
    own = requests.post(f"{server.url}/graphql", json={"query": LIST}, headers={"X-Client-Id": "abcdefgh12"},
                        timeout=30)  # fmt: skip
    assert "Set-Cookie" not in own.headers


def test_cookie_is_lax_except_for_a_listed_https_origin_which_may_be_another_site():
    listed = ("https://app.example.org", "http://localhost:5173")
    assert cookie_policy(None, listed, secure_request=False) == ("Lax", False)  # our own page
    assert cookie_policy(None, listed, secure_request=True) == ("Lax", True)
    assert cookie_policy("https://app.example.org", listed, secure_request=False) == ("None", True)
    assert cookie_policy("https://APP.example.org", listed, secure_request=False) == ("None", True)
    assert cookie_policy("http://localhost:5173", listed, secure_request=False) == ("Lax", False)  # no https
    assert cookie_policy("https://evil.example", listed, secure_request=False) == ("Lax", False)
    assert cookie_policy("https://anyone.example", ("*",), secure_request=False) == ("Lax", False)
