#!/usr/bin/env python3
"""The panel's On call, SLOs, Alerts & silences and Notifications pages in a real browser
(headless Chromium through python3-selenium) against a real `tocsin serve` and the provider
simulator: create a silence with its live preview and expire it; an override refused by the
roster's fairness rules (the error next to its field), then one accepted and in force; the SLO
table with its 30-day budget chart; the delivery log. Saves a 360 px wide screenshot of each
page under --out.

The SLI source is the real Prometheus server (Debian's `prometheus`), with 31 days of request
counters loaded before it starts (`promtool tsdb create-blocks-from openmetrics`, as the
report tests do), so the chart has a month of history without a month of scraping: PSP-A
served without errors until 7.5 days ago and with 0.3 % errors since (half its 30-day budget
spent by now), PSP-B at 0.01 % throughout.

Usage: panel_pages_test.py --tocsin BIN --sim BIN --out DIR"""
import argparse
import datetime
import json
import os
import sys
import subprocess
import time
import urllib.request

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


REQUESTS_PER_S = 10.0
DAY = 86400


def counters(t, now):
    """The request counters at unix time t: (psp, outcome) -> total since the history began."""
    start = now - 31 * DAY
    total = REQUESTS_PER_S * (t - start)
    a_err = 0.003 * REQUESTS_PER_S * max(0.0, t - (now - 7.5 * DAY))
    b_err = 0.0001 * total
    return {("PSP-A", "error"): a_err, ("PSP-A", "ok"): total - a_err,
            ("PSP-B", "error"): b_err, ("PSP-B", "ok"): total - b_err}


def start_prometheus(work):
    """The real Prometheus on a free loopback port over the backfilled history; its URL."""
    now = int(time.time())
    times = list(range(now - 31 * DAY, now - 3600, 300)) + list(range(now - 3600, now + 1, 15))
    om = os.path.join(work, "history.om")
    with open(om, "w") as f:
        f.write("# TYPE dep counter\n")
        for psp, outcome in counters(now, now):
            for t in times:
                f.write(f'dep_total{{outcome="{outcome}",psp="{psp}"}} '
                        f"{counters(t, now)[(psp, outcome)]:.3f} {t}\n")
        f.write("# EOF\n")
    data = os.path.join(work, "prometheus-data")
    os.makedirs(data)
    # One block for the whole month: promtool's default 2 h blocks take far longer to write.
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=1000h", "--quiet", om, data], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    port = h.free_port()
    proc = subprocess.Popen(
        [os.environ.get("TOCSIN_PROMETHEUS", "/usr/bin/prometheus"), f"--config.file={config}",
         f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=100y",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=open(os.path.join(work, "prometheus.log"), "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready():
        if proc.poll() is not None:
            raise RuntimeError("prometheus exited: " + open(os.path.join(work, "prometheus.log"))
                               .read()[-2000:])
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False
    h.wait_for("Prometheus ready", ready, 30, every=0.1)
    return proc, url


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
    h.ROSTER = ROSTER
    rules_dir = h.tempfile.mkdtemp(prefix="tocsin-panel-rules-")
    prom, prom_url = start_prometheus(rules_dir)
    with open(os.path.join(rules_dir, "slo.yaml"), "w") as f:
        f.write(RULES)
    top = (f"rule_files: [{rules_dir}/slo.yaml]\n"
           f"sources:\n  - {{name: prometheus, type: prometheus, url: \"{prom_url}\"}}\n")
    # At the root (no path_prefix), as by default: the other panel tests run under one.
    d = h.Daemon(args.tocsin, args.sim, extra_panel=top, prefix="").start()
    a = None
    ok = False
    try:
        base = d.panel_url
        d.push_alert("DepositFailures", "Deposit success 91 % for PSP-A", {"psp": "PSP-A"})
        d.push_alert("LoginSlow", "Login p95 2.1 s", {"region": "eu"})
        h.wait_for("the PagerDuty trigger at the simulator", lambda: any(
            e.get("event_action") == "trigger" for e in d.sim_enqueued()))
        a = h.chromium()
        # Attack finding: the page to go to after sign-in ("next") was checked as text, and
        # "/\\evil.example" or "/<tab>/evil.example" (to a browser, "//evil.example") sent the
        # browser to another site. Only a page of this panel is followed.
        for bad in ("/%5Cevil.example/phish", "/%09/evil.example/phish"):
            a.get(base + "/signin?next=" + bad)
            find(a, "#token").send_keys(h.RESPONDER_TOKEN)
            a.find_element(By.CSS_SELECTOR, "#token-form button").click()
            h.wait_for("the panel's first page after sign-in",
                       lambda: a.current_url.rstrip("/") == base.rstrip("/"))
            a.get(base + "/signin")
            find(a, "#who button").click()
            h.wait_for("signed out", lambda: "/signin" in a.current_url)
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
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
        h.shutil.rmtree(rules_dir, ignore_errors=True)
    print("panel pages test: ok")


if __name__ == "__main__":
    main()
