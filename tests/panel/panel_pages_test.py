#!/usr/bin/env python3
"""The panel's On call, SLOs, Alerts & silences and Notifications pages in a real browser
(headless Chromium through python3-selenium) against a real `tocsin serve` and the provider
simulator: create a silence with its live preview and expire it; an override refused by the
roster's fairness rules (the error next to its field), then one accepted and in force; the SLO
table with its 30-day budget chart; the delivery log. Saves a 360 px wide screenshot of each
page under --out.

The SLI source is a small stand-in for Prometheus's HTTP API (FakePrometheus below): it answers
/api/v1/query and /api/v1/query_range in Prometheus's JSON for the one SLO of this test, so the
chart has 30 days of data without a month of scraping.

Usage: panel_pages_test.py --tocsin BIN --sim BIN --out DIR"""
import argparse
import datetime
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium.webdriver.common.by import By

import panel_harness as h
from panel_browser_test import find, shot, sign_in

# l1b is in no rotation: free to cover. pay holds l2-payments around the clock, so giving pay
# the L1 shift too breaks the "two roles at once" rule.
ROSTER = h.ROSTER.replace("people:\n", "people:\n  l1b: {name: L1 Backup, time_zone: UTC}\n", 1)

RULES = """groups:
  - name: payments
    interval: 30s
    slos:
      - name: deposit_success
        service: payments-api
        domain: payments
        objective: 99.85
        window: 30d
        sli:
          error: sum by (psp) (rate(dep_total{outcome="error"}[{{window}}]))
          total: sum by (psp) (rate(dep_total[{{window}}]))
        by: [psp]
        burn_rate_alerts:
          page_fast: {enabled: false}
          page_slow: {enabled: false}
          ticket: {factor: 1, long_window: 3d, short_window: 6h, severity: warning}
        annotations:
          summary: "Deposit success {{ $value | percent }} at {{ $labels.psp }}"
"""


def ratio(query, psp, frac):
    """The error ratio the fake answers: over 30 days PSP-A has spent `frac` of its budget
    (0.15 % errors allowed); over the short windows it burns at 2x; PSP-B is healthy."""
    if psp == "PSP-B":
        return 0.0001
    return 0.0015 * frac if "[30d]" in query else 0.003


def seconds(text):
    """A time as Prometheus's API takes it: unix seconds or RFC 3339."""
    try:
        return float(text)
    except ValueError:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def duration(text):
    """A step as Prometheus's API takes it: seconds or a duration such as 6h."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit) and text[:-len(unit)].replace(".", "").isdigit():
            return float(text[:-len(unit)]) * units[unit]
    return float(text)


class FakePrometheus(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(urllib.parse.urlparse(self.path).query)

    def do_POST(self):
        self.answer(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())

    def answer(self, form):
        q = urllib.parse.parse_qs(form)
        query = q.get("query", [""])[0]
        path = urllib.parse.urlparse(self.path).path
        if path == "/api/v1/query":
            data = {"resultType": "vector", "result": [
                {"metric": {"psp": psp}, "value": [seconds(q.get("time", ["0"])[0] or "0"),
                                                    str(ratio(query, psp, 0.5))]}
                for psp in ("PSP-A", "PSP-B")]}
        elif path == "/api/v1/query_range":
            start, end = seconds(q["start"][0]), seconds(q["end"][0])
            step = duration(q["step"][0])
            n = int((end - start) // step) + 1
            data = {"resultType": "matrix", "result": [
                {"metric": {"psp": psp}, "values": [
                    [start + i * step, str(ratio(query, psp, 0.5 * i / max(1, n - 1)))]
                    for i in range(n)]} for psp in ("PSP-A", "PSP-B")]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def set_value(driver, css, value):
    el = find(driver, css)
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", el, value)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tocsin", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    prom = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    threading.Thread(target=prom.serve_forever, daemon=True).start()
    h.ROSTER = ROSTER
    rules_dir = h.tempfile.mkdtemp(prefix="tocsin-panel-rules-")
    with open(os.path.join(rules_dir, "slo.yaml"), "w") as f:
        f.write(RULES)
    top = (f"rule_files: [{rules_dir}/slo.yaml]\n"
           f"sources:\n  - {{name: prometheus, type: prometheus, "
           f"url: \"http://127.0.0.1:{prom.server_address[1]}\"}}\n")
    d = h.Daemon(args.tocsin, args.sim, extra_panel=top).start()
    a = None
    ok = False
    try:
        base = d.panel_url
        d.push_alert("DepositFailures", "Deposit success 91 % for PSP-A", {"psp": "PSP-A"})
        d.push_alert("LoginSlow", "Login p95 2.1 s", {"region": "eu"})
        h.wait_for("the PagerDuty trigger at the simulator", lambda: any(
            e.get("event_action") == "trigger" for e in d.sim_enqueued()))
        a = h.chromium()
        sign_in(a, base, h.RESPONDER_TOKEN)

        # --- Alerts & silences: preview, create, expire -----------------------------------
        a.get(base + "/alerts")
        find(a, '#alerts li.card')
        matchers = find(a, "#sil-matchers")
        matchers.send_keys('alertname=~"Deposit.*", psp!="PSP-B"')
        h.wait_for("the live preview", lambda: "Would silence 1 current alert" in
                   a.find_element(By.ID, "sil-preview").text, 5)
        assert "DepositFailures" in a.find_element(By.ID, "sil-preview").text
        find(a, "#sil-comment").send_keys("PSP-A maintenance window")
        a.find_element(By.CSS_SELECTOR, "#silence-form button[type=submit]").click()
        h.wait_for("the silence listed", lambda: "PSP-A maintenance window" in
                   a.find_element(By.ID, "silences").text, 5)
        status, silences = d.api("GET", "/api/v2/silences")
        active = [s for s in silences if s["status"]["state"] == "active"]
        assert len(active) == 1 and active[0]["createdBy"] == "l1a", silences
        h.wait_for("the alert shown suppressed", lambda: "suppressed" in
                   a.find_element(By.CSS_SELECTOR, "#alerts").text, 5)
        shot(a, args.out, "pages-alerts")
        find(a, f'li[data-silence="{active[0]["id"]}"] button[data-action="expire"]').click()
        h.wait_for("the silence expired", lambda: d.api(
            "GET", f"/api/v2/silence/{active[0]['id']}")[1]["status"]["state"] == "expired", 5)
        h.wait_for("the page saying so", lambda: "expired" in
                   a.find_element(By.ID, "silence-status").text, 5)

        # --- On call: a refused override, then an accepted one ----------------------------
        a.get(base + "/oncall")
        card = find(a, '#now li.card[data-rotation="l1"]')
        assert "L1 Day" in card.text, card.text
        find(a, "#override-form")
        tomorrow = (datetime.datetime.utcnow() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        set_value(a, "#ov-rotation", "l1")
        set_value(a, "#ov-from", f"{tomorrow}T10:00")
        set_value(a, "#ov-to", f"{tomorrow}T12:00")
        set_value(a, "#ov-person", "pay")
        set_value(a, "#ov-reason", "dentist")
        a.find_element(By.CSS_SELECTOR, "#override-form button[type=submit]").click()
        h.wait_for("the answer to the override", lambda: a.find_element(By.ID, "ov-summary")
                   .text, 5)
        err = a.find_element(By.ID, "ov-person-error")
        assert err.is_displayed() and "two-roles" in err.text, \
            (err.text, a.find_element(By.ID, "ov-summary").text)
        assert a.find_element(By.ID, "ov-person").get_attribute("aria-invalid") == "true"
        shot(a, args.out, "pages-oncall-refused")
        set_value(a, "#ov-person", "l1b")
        a.find_element(By.CSS_SELECTOR, "#override-form button[type=submit]").click()
        h.wait_for("the override accepted", lambda: "Override added" in
                   a.find_element(By.ID, "ov-summary").text, 5)
        assert not a.find_element(By.ID, "ov-person-error").is_displayed()
        status, stored = d.api("GET", "/api/v1/oncall/overrides")
        assert status == 200 and stored["overrides"][0]["person"] == "l1b", stored
        assert stored["overrides"][0]["created_by"] == "l1a", stored
        status, shifts = d.api("GET", f"/api/v1/oncall/shifts?from={tomorrow}T10:30:00Z"
                               f"&to={tomorrow}T11:00:00Z&rotation=l1")
        assert [s["person"] for s in shifts["shifts"]] == ["l1b"], shifts
        a.execute_script("window.scrollTo(0, 0)")
        shot(a, args.out, "pages-oncall")
        find(a, 'button[data-mode="month"]').click()
        find(a, "table.month")
        a.execute_script("document.getElementById('calendar').scrollIntoView()")
        shot(a, args.out, "pages-oncall-month")

        # --- SLOs: the table with the budget chart -----------------------------------------
        h.wait_for("the SLO evaluated", lambda: d.api("GET", "/api/v1/slos")[1]["slos"][0]
                   ["series"], 60, every=0.5)
        a.get(base + "/slos")
        h.wait_for("the SLO details", lambda: a.find_element(By.TAG_NAME, "body")
                   .get_attribute("data-loaded") == "true", 15)
        charts = a.find_elements(By.CSS_SELECTOR, '[data-slo="deposit_success"] svg.budget-chart')
        assert len(charts) == 2, len(charts)
        title = charts[0].find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert "from 100 % to 50 %" in title, title
        shot(a, args.out, "pages-slos")

        # --- Notifications: the page to PagerDuty, sent ------------------------------------
        a.get(base + "/notifications")
        h.wait_for("the delivery log", lambda: "pagerduty" in
                   a.find_element(By.ID, "notifications").text, 10)
        assert "sent" in a.find_element(By.ID, "notifications").text
        set_value(a, "#state", "failed")
        a.find_element(By.CSS_SELECTOR, "#notif-filters button[type=submit]").click()
        h.wait_for("the filter applied", lambda: "No deliveries match" in
                   a.find_element(By.ID, "notif-status").text, 5)
        set_value(a, "#state", "")
        a.find_element(By.CSS_SELECTOR, "#notif-filters button[type=submit]").click()
        h.wait_for("the log again", lambda: "pagerduty" in
                   a.find_element(By.ID, "notifications").text, 5)
        shot(a, args.out, "pages-notifications")
        ok = True
    finally:
        if a is not None:
            h.close(a)
        if not ok:
            print(d.log(), file=sys.stderr)
        d.stop()
        prom.shutdown()
        h.shutil.rmtree(rules_dir, ignore_errors=True)
    print("panel pages test: ok")


if __name__ == "__main__":
    main()
