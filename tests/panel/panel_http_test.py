#!/usr/bin/env python3
"""The panel's listener attacked over raw HTTP, against a real `tocsin serve`: path variants
(//, /./, encoded slashes and dots, outside the prefix), oversized bodies, missing and forged
CSRF tokens, a foreign Origin, a viewer acting, a replayed cookie after sign-out, the security
headers and the asset cache validators, the loopback rule (with and without tokens, and a
DNS-rebinding Host), and a trusted proxy's user header.

Usage: panel_http_test.py --tocsin BIN --sim BIN"""
import argparse
import json
import os
import sys

import panel_harness as h

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def sign_in(d, token):
    origin = {"Origin": f"http://127.0.0.1:{d.panel_port}", "Content-Type": "application/json"}
    status, body, headers = d.panel_post("/session", {"token": token}, origin)
    assert status == 200, (status, body)
    cookie = headers["Set-Cookie"].split(";")[0]
    return cookie, json.loads(body)["csrf"], headers["Set-Cookie"]


def action_headers(d, cookie, csrf=None, origin=None):
    hd = {"Cookie": cookie, "Content-Type": "application/json",
          "Origin": origin or f"http://127.0.0.1:{d.panel_port}"}
    if csrf is not None:
        hd["X-Tocsin-CSRF"] = csrf
    return hd


def with_tokens(d):
    p = h.PREFIX
    d.push_alert("PanelHttp", "panel http test")
    h.wait_for("INC-1", lambda: d.api("GET", "/api/v1/incidents/INC-1")[0] == 200)

    # Pages and assets: public, strict CSP, validators.
    status, body, hd = d.panel_get("/")
    check(status == 200 and "<html" in body, "GET <prefix>/ serves the incidents page")
    csp = hd.get("Content-Security-Policy", "")
    check("default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp,
          f"strict CSP on pages ({csp})")
    check(hd.get("X-Content-Type-Options") == "nosniff", "nosniff")
    check("<script>" not in body and "style=" not in body, "no inline script or style")
    status, _, hd = d.raw(d.panel_port, "GET", p + "/")
    check(status == 200, "GET <prefix>/ with the trailing slash")
    status, js, hd = d.panel_get("/assets/common.js")
    etag = hd.get("ETag", "")
    check(status == 200 and etag and "no-cache" in hd.get("Cache-Control", ""),
          "assets carry ETag and Cache-Control")
    status, again, hd2 = d.panel_get("/assets/common.js", {"If-None-Match": etag})
    check(status == 304 and again == "", "If-None-Match answers 304 without a body")
    # Every script and style the panel serves (the list is the source folder's), as served.
    assets = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/panel/assets")
    served = [n for n in sorted(os.listdir(assets)) if n.endswith((".js", ".css"))]
    check(len(served) >= 2, f"assets to check ({served})")
    for name in served:
        status, text, _ = d.panel_get("/assets/" + name)
        check(status == 200 and text, f"GET /assets/{name}")
        # The SVG namespace is a name, never fetched.
        text = text.replace("http://127", "").replace("http://www.w3.org/2000/svg", "")
        check("http://" not in text and "https://" not in text, f"no external address in {name}")

    # Path variants never reach a handler.
    for target in [p + "//data/incidents", p + "/./data/incidents", p + "/data/%2e/incidents",
                   p + "/data%2Fincidents", p + "/assets/..%2Fpanel.css", p + "/data/incidents/",
                   p + "/assets/%2e%2e/incidents.html", "/data/incidents", "/tocsinx/data/incidents",
                   p + "/data\\incidents", "//tocsin/data/incidents"]:
        status, body, _ = d.raw(d.panel_port, "GET", target)
        check(status in (400, 404), f"GET {target} refused ({status})")
    status, _, _ = d.panel_get("/assets/incidents.html")
    check(status == 404, "HTML is not served as an asset")

    # Data needs a sign-in; the sign-in needs the panel's own Origin.
    status, body, _ = d.panel_get("/data/incidents")
    check(status == 401, "data without a session: 401")
    status, _, _ = d.panel_post("/session", {"token": h.RESPONDER_TOKEN},
                                {"Origin": "http://evil.example", "Content-Type": "application/json"})
    check(status == 403, "sign-in from a foreign Origin: 403")
    status, _, _ = d.panel_post("/session", {"token": "wrong-token"},
                                {"Origin": f"http://127.0.0.1:{d.panel_port}"})
    check(status == 401, "sign-in with an unknown token: 401")
    status, _, _ = d.panel_post("/session", {"person": "l1a"},
                                {"Origin": f"http://127.0.0.1:{d.panel_port}"})
    check(status == 401, "naming yourself while tokens are configured: 401")

    # Attack finding: a responder token that names no person of the roster was told it can
    # act, and every button it then showed was refused.
    bot, _, _ = sign_in(d, h.BOT_TOKEN)
    status, body, _ = d.panel_get("/session", {"Cookie": bot})
    check(status == 200 and json.loads(body)["can_act"] is False,
          f"a responder token without a person cannot act ({body})")

    cookie, csrf, set_cookie = sign_in(d, h.RESPONDER_TOKEN)
    status, body, _ = d.panel_get("/session", {"Cookie": cookie})
    check(status == 200 and json.loads(body)["can_act"] is True,
          f"a responder token of a roster person can act ({body})")
    check("HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and
          f"Path={p}/" in set_cookie and "Secure" not in set_cookie,
          f"session cookie flags ({set_cookie})")
    status, body, _ = d.panel_get("/data/incidents", {"Cookie": cookie})
    check(status == 200 and json.loads(body)["incidents"][0]["id"] == "INC-1",
          "signed in: the list has INC-1")
    status, body, _ = d.panel_get("/api/v1/incidents/INC-1", {"Cookie": cookie})
    check(status == 200, "the /api/v1 reads on the panel listener with the session")

    # CSRF: missing, forged, foreign Origin, no Origin.
    url = "/data/incidents/INC-1/note"
    status, _, _ = d.panel_post(url, {"text": "x"}, action_headers(d, cookie))
    check(status == 403, "action without the CSRF header: 403")
    status, _, _ = d.panel_post(url, {"text": "x"}, action_headers(d, cookie, "f" * 64))
    check(status == 403, "action with a forged CSRF token: 403")
    status, _, _ = d.panel_post(url, {"text": "x"},
                                action_headers(d, cookie, csrf, "http://evil.example"))
    check(status == 403, "action from a foreign Origin: 403")
    hd = action_headers(d, cookie, csrf)
    del hd["Origin"]
    status, _, _ = d.panel_post(url, {"text": "x"}, hd)
    check(status == 403, "action without Origin: 403")
    status, _, _ = d.panel_post("/api/v1/incidents/INC-1/note", {"text": "x", "actor": "dm"},
                                action_headers(d, cookie))
    check(status == 403, "the API's actions on the panel listener need the CSRF token too")
    events = d.api("GET", "/api/v1/incidents/INC-1")[1]["timeline"]
    check(not [e for e in events if e["kind"] == "note"], "no refused action reached the timeline")

    # Oversized body: refused before it is read.
    big = json.dumps({"text": "x" * (80 * 1024)})
    status, _, _ = d.raw(d.panel_port, "POST", p + url, big, action_headers(d, cookie, csrf))
    check(status == 413, f"an 80 KiB body: 413 ({status})")

    # The real thing: the note lands with the signed-in person as actor.
    status, body, _ = d.panel_post(url, {"text": "checked the PSP"}, action_headers(d, cookie, csrf))
    check(status == 200, f"note with session, CSRF and Origin: 200 ({body})")
    status, body, _ = d.panel_post(url, {"text": "forged actor", "actor": "dm"},
                                   action_headers(d, cookie, csrf))
    events = d.api("GET", "/api/v1/incidents/INC-1")[1]["timeline"]
    notes = [(e["actor"], e["text"]) for e in events if e["kind"] == "note"]
    check(notes and all(a == "l1a" for a, _ in notes), f"notes carry the session's person ({notes})")

    # A viewer reads and cannot act.
    vcookie, vcsrf, _ = sign_in(d, h.VIEWER_TOKEN)
    status, _, _ = d.panel_get("/data/incidents/INC-1", {"Cookie": vcookie})
    check(status == 200, "a viewer reads an incident")
    status, _, _ = d.panel_post("/data/incidents/INC-1/ack", {}, action_headers(d, vcookie, vcsrf))
    check(status == 403, "a viewer's ack: 403")
    status, _, _ = d.panel_post("/data/incidents/INC-1/ack", {}, action_headers(d, cookie, vcsrf))
    check(status == 403, "one session's CSRF token does not work for another")

    # Live updates: a change answers a waiting request at once.
    status, body, hd = d.panel_get("/events", {"Cookie": cookie, "Last-Event-ID": "0"})
    check(status == 200 and hd.get("Content-Type", "").startswith("text/event-stream") and
          "event: " in body, f"events answer in the SSE format ({body!r})")
    status, _, _ = d.panel_get("/events", {"Cookie": cookie, "Last-Event-ID": "x"})
    check(status == 400, "a malformed Last-Event-ID: 400")

    # Regression: an annotation's javascript: address became a clickable link on the page.
    d.push_alert("PanelHostileLink", "hostile link",
                 annotations={"dashboard": "javascript:alert(document.domain)"})
    h.wait_for("INC-2", lambda: d.api("GET", "/api/v1/incidents/INC-2")[0] == 200)
    status, body, _ = d.panel_get("/data/incidents/INC-2", {"Cookie": cookie})
    links = json.loads(body)["incident"]["text"]["links"] if status == 200 else []
    check(links and all(l["href"] == "" or l["href"].startswith(("http://", "https://"))
                        for l in links), f"only http(s) addresses become links ({links})")
    check([l for l in links if l["url"].startswith("javascript:") and l["href"] == ""],
          f"the javascript: address is kept as text ({links})")

    # A change event's ids: only those incidents, an id not open left out.
    status, body, _ = d.panel_get("/data/incidents?ids=INC-2", {"Cookie": cookie})
    got = [i["id"] for i in json.loads(body)["incidents"]] if status == 200 else status
    check(got == ["INC-2"], f"?ids=INC-2 answers INC-2 alone ({got})")
    status, body, _ = d.panel_get("/data/incidents?ids=INC-1,INC-99", {"Cookie": cookie})
    got = [i["id"] for i in json.loads(body)["incidents"]] if status == 200 else status
    check(got == ["INC-1"], f"?ids=INC-1,INC-99 answers INC-1 alone ({got})")
    status, body, _ = d.panel_get("/data/incidents", {"Cookie": cookie})
    got = sorted(i["id"] for i in json.loads(body)["incidents"]) if status == 200 else status
    check(got == ["INC-1", "INC-2"], f"the whole list after them ({got})")

    # Sign-out; the cookie replayed afterwards is refused.
    status, _, hd = d.panel_post("/session/end", {}, action_headers(d, cookie, csrf))
    check(status == 200 and "Max-Age=0" in hd.get("Set-Cookie", ""), "sign-out clears the cookie")
    status, _, _ = d.panel_get("/data/incidents", {"Cookie": cookie})
    check(status == 401, "the cookie replayed after sign-out: 401")
    status, _, _ = d.panel_post(url, {"text": "after sign-out"}, action_headers(d, cookie, csrf))
    check(status == 401, "an action with the cookie after sign-out: 401")

    # No loopback trust while tokens are configured.
    status, _, _ = d.panel_get("/data/incidents")
    check(status == 401, "loopback without a session while tokens exist: 401")

    # Attack finding: a token over its rate limit got 503 without Retry-After at sign-in (the
    # API answers 429 and says when to come back).
    origin = {"Origin": f"http://127.0.0.1:{d.panel_port}", "Content-Type": "application/json"}
    for _ in range(200):  # the token's default budget is 120 a minute
        status, _, hd = d.panel_post("/session", {"token": h.BOT_TOKEN}, origin)
        if status != 200:
            break
    check(status == 429 and hd.get("Retry-After") == "60",
          f"sign-in over the token's rate limit: 429 with Retry-After ({status}, {hd})")


def loopback(d):
    status, body, _ = d.panel_get("/data/incidents")
    check(status == 200, "no token configured: a loopback browser reads without signing in")
    status, body, _ = d.panel_get("/session")
    s = json.loads(body)
    check(s["signed_in"] and s["via"] == "loopback" and not s["can_act"],
          "loopback: signed in, cannot act before naming itself")
    status, _, _ = d.panel_get("/data/incidents", {"Host": "rebind.example:80"})
    check(status == 401, "DNS rebinding (a foreign Host on loopback): 401")
    status, _, _ = d.panel_post("/session", {"person": "nobody"},
                                {"Origin": f"http://127.0.0.1:{d.panel_port}"})
    check(status == 400, "naming yourself as someone the roster does not know: 400")
    status, body, hd = d.panel_post("/session", {"person": "l1a"},
                                    {"Origin": f"http://127.0.0.1:{d.panel_port}"})
    check(status == 200, "a loopback browser names itself")
    cookie = hd["Set-Cookie"].split(";")[0]
    csrf = json.loads(body)["csrf"]
    d.push_alert("Loopback", "loopback test")
    h.wait_for("INC-1", lambda: d.api("GET", "/api/v1/incidents/INC-1")[0] == 200)
    status, body, _ = d.panel_post("/data/incidents/INC-1/ack", {}, action_headers(d, cookie, csrf))
    check(status == 200 and json.loads(body)["state"] == "acknowledged", "loopback ack")
    events = d.api("GET", "/api/v1/incidents/INC-1")[1]["timeline"]
    acks = [e["actor"] for e in events if e["kind"] == "acknowledged"]
    check(acks == ["l1a"], f"the ack carries the named person ({acks})")
    # A trusted proxy's user header; the proxy is never "a browser on this host".
    status, body, _ = d.panel_get("/session", {"X-Forwarded-User": "pay",
                                               "X-Forwarded-Role": "responder"}, "127.0.0.2")
    s = json.loads(body)
    check(s.get("via") == "proxy" and s.get("actor") == "pay" and s.get("role") == "responder",
          f"a trusted proxy's user header is the user ({s})")
    status, _, _ = d.panel_get("/data/incidents", {}, "127.0.0.2")
    check(status == 401, "a trusted proxy without the user header is not a loopback browser")
    status, body, _ = d.panel_get("/session", {"X-Forwarded-User": "dm"})
    check(json.loads(body).get("actor") != "dm", "the user header from an untrusted address is ignored")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tocsin", required=True)
    ap.add_argument("--sim", required=True)
    args = ap.parse_args()
    for name, tokens, extra, fn in [
            ("with tokens", True, "", with_tokens),
            ("loopback, no tokens", False,
             "  trusted_proxies: ['127.0.0.2']\n  role_header: X-Forwarded-Role\n", loopback)]:
        print(f"--- {name}")
        d = h.Daemon(args.tocsin, args.sim, tokens=tokens, extra_panel=extra).start()
        try:
            fn(d)
        except Exception:
            print(d.log(), file=sys.stderr)
            raise
        finally:
            d.stop()
    if FAILURES:
        print(f"{len(FAILURES)} checks failed", file=sys.stderr)
        sys.exit(1)
    print("panel http test: ok")


if __name__ == "__main__":
    main()
