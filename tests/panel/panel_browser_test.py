#!/usr/bin/env python3
"""The panel in a real browser (headless Chromium through python3-selenium) against a real
`tocsin serve` and the provider simulator: sign in, see the incident a pushed alert opened,
acknowledge it, see the timeline update in this browser and another one within 2 s, and the
simulator receive the acknowledgement; a note; escalate now (PagerDuty adds the next step's
people as responders); resolve (PagerDuty's incident resolved); sign-out; the "connection lost" banner; 1,000
open incidents rendered, timed with performance.now(). Saves a 360 px wide screenshot of every
page under --out.

Usage: panel_browser_test.py --tocsin BIN --sim BIN --out DIR"""
import argparse
import json
import os
import sys
import time

from selenium.webdriver.common.by import By

import panel_harness as h


def shot(driver, out, name):
    path = os.path.join(out, f"{name}.png")
    h.full_page_png(driver, path)
    print(f"screenshot: {path}")


def find(driver, css, timeout=10):
    return h.wait_for(f"element {css}", lambda: driver.find_elements(By.CSS_SELECTOR, css),
                      timeout)[0]


def text_of(driver, css):
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def sign_in(driver, base, token):
    driver.get(base + "/")
    h.wait_for("the sign-in page", lambda: "/signin" in driver.current_url)
    find(driver, "#token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
    h.wait_for("the incidents page after sign-in",
               lambda: driver.current_url.rstrip("/") == base.rstrip("/"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tocsin", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    d = h.Daemon(args.tocsin, args.sim).start()
    a = b = None
    ok = False
    try:
        base = d.panel_url
        d.push_alert("DepositFailures", "Deposit success 91 % (SLO 99.5 %) for PSP-A",
                     {"psp": "PSP-A", "market": "DE"})
        h.wait_for("PagerDuty trigger for INC-1 at the simulator",
                   lambda: any(e.get("event_action") == "trigger" for e in d.sim_enqueued()))

        a = h.chromium()
        shot_signin = lambda: shot(a, args.out, "signin")  # noqa: E731
        a.get(base + "/signin")
        find(a, "#token")
        shot_signin()
        sign_in(a, base, h.RESPONDER_TOKEN)
        card = find(a, 'li.card[data-id="INC-1"]')
        assert "DepositFailures" in card.text or "Deposit" in card.text, card.text
        assert "triggered" in card.text, card.text
        assert "l1a via pagerduty" in card.text, card.text
        shot(a, args.out, "incidents")

        # The incident page before anyone acknowledged: the ladder ahead, the page text.
        a.get(base + "/incidents/INC-1")
        find(a, "#timeline")
        body = a.find_element(By.TAG_NAME, "main").text
        for want in ["Hash chain verified", "What", "Deposit success 91 %", "Where", "PSP-A",
                     "Runbook", "SLO dashboard", "Step 2", "Payments L2", "Comms Officer",
                     "Step 3", "Duty Manager", "pagerduty", "l1a"]:
            assert want in body, f"{want!r} missing from the incident page:\n{body}"
        shot(a, args.out, "incident")
        a.get(base + "/")
        find(a, 'li.card[data-id="INC-1"]')

        b = h.chromium(tz="Europe/Kyiv")  # the other browser shows local time and UTC
        sign_in(b, base, h.VIEWER_TOKEN)
        find(b, 'li.card[data-id="INC-1"]')
        assert not b.find_elements(By.CSS_SELECTOR, 'button[data-action="ack"]'), \
            "a viewer must not get an acknowledge button"

        # Acknowledge in A; both browsers show it, B through the live updates alone.
        clicked = time.monotonic()
        find(a, 'li.card[data-id="INC-1"] button[data-action="ack"]').click()
        h.wait_for("A shows INC-1 acknowledged", lambda: "acknowledged" in
                   a.find_element(By.CSS_SELECTOR, 'li.card[data-id="INC-1"] .state').text, 5)
        h.wait_for("B shows INC-1 acknowledged", lambda: "acknowledged" in
                   b.find_element(By.CSS_SELECTOR, 'li.card[data-id="INC-1"] .state').text, 5,
                   every=0.02)
        seen = time.monotonic() - clicked
        print(f"live update: the other browser showed the acknowledgement {seen * 1000:.0f} ms "
              "after the click")
        assert seen < 2.0, f"the other browser took {seen:.2f} s"
        card_b = b.find_element(By.CSS_SELECTOR, 'li.card[data-id="INC-1"]').text
        assert "L1 Day" in card_b, card_b
        clock = b.find_element(By.ID, "clock").text
        assert "Times in Europe/Kyiv and UTC" in clock or "Times in Europe/Kiev and UTC" in clock, clock
        shot(b, args.out, "incidents-acknowledged-kyiv")

        acks = h.wait_for("the simulator receiving the acknowledgement", lambda: [
            e for e in d.sim_enqueued() if e.get("event_action") == "acknowledge"])
        assert acks[0]["dedup_key"].endswith("INC-1"), acks

        # The incident page again: the ack by the signed-in person in the timeline.
        a.get(base + "/incidents/INC-1")
        tl = find(a, "#timeline")
        h.wait_for("the ack in the timeline", lambda: "acknowledged by l1a" in tl.text)
        assert "Hash chain verified" in a.find_element(By.TAG_NAME, "main").text

        # A note through the form; the timeline updates live.
        find(a, 'button[data-action="note-open"]').click()
        find(a, "form.note textarea").send_keys("PSP-A confirms an outage; routing to PSP-B")
        a.find_element(By.CSS_SELECTOR, "form.note button[type=submit]").click()
        h.wait_for("the note in the timeline", lambda: "routing to PSP-B" in
                   a.find_element(By.ID, "timeline").text)
        status, detail, _ = d.panel_get("/data/incidents/INC-1",
                                        {"Cookie": a.get_cookie("tocsin_session") and
                                         f"tocsin_session={a.get_cookie('tocsin_session')['value']}"})
        events = json.loads(detail)["incident"]["timeline"]
        note = [e for e in events if e["kind"] == "note"]
        assert note and note[0]["actor"] == "l1a", note

        # Escalate now: step 2 is paged at once, and PagerDuty adds its people as responders
        # of the incident l1a acknowledged (a trigger alone would fold into it, paging no one).
        find(a, 'button[data-action="escalate"]').click()
        h.wait_for("the escalation in the timeline", lambda: "escalated by l1a" in
                   a.find_element(By.ID, "timeline").text)
        h.wait_for("Payments L2 and the Comms Officer paged by PagerDuty", lambda: {
            "PPAY001 responder_request", "PCOM001 responder_request"} <= {
            f"{p['user_id']} {p['how']}" for p in d.sim_call("GET", "/_sim/pagerduty/pages")})
        h.wait_for("the step's delivery in the timeline", lambda: "responder" in
                   a.find_element(By.ID, "timeline").text)
        # The Deliveries table says PagerDuty's answer, its HTTP status once.
        answers = h.wait_for("PagerDuty's answer in the Deliveries table", lambda: [
            c.text for c in a.find_elements(By.CSS_SELECTOR, "table.deliveries td:nth-child(4)")
            if "HTTP 202" in c.text])
        assert all(t.count("HTTP 202") == 1 for t in answers), answers
        shot(a, args.out, "incident-escalated")

        # Resolve a second incident from its page: the timeline with the signed-in person, no
        # Resolve button any more, and the incident resolved at PagerDuty. (Before the 1,000
        # below: their triggers fill PagerDuty's 120 events a minute for minutes.)
        d.push_alert("WithdrawalFailures", "Withdrawal success 95 % (SLO 99.5 %)",
                     {"psp": "PSP-B", "market": "DE"})
        h.wait_for("INC-2 triggered at PagerDuty", lambda: [
            i for i in d.sim_call("GET", "/_sim/pagerduty/incidents")
            if i["incident_key"].endswith("INC-2") and i["status"] == "triggered"])
        a.get(base + "/incidents/INC-2")
        find(a, "#timeline")
        find(a, 'button[data-action="resolve"]').click()
        h.wait_for("the resolve in the timeline", lambda: "resolved by l1a" in
                   a.find_element(By.ID, "timeline").text)
        h.wait_for("the page without a Resolve button", lambda: not a.find_elements(
            By.CSS_SELECTOR, 'button[data-action="resolve"]'))
        h.wait_for("INC-2 resolved at PagerDuty", lambda: [
            i for i in d.sim_call("GET", "/_sim/pagerduty/incidents")
            if i["incident_key"].endswith("INC-2") and i["status"] == "resolved"])
        shot(a, args.out, "incident-resolved")

        for page in ["oncall", "slos", "alerts", "notifications"]:
            a.get(f"{base}/{page}")
            find(a, "#content p")
            shot(a, args.out, page)

        # 1,000 open incidents: one batch of 999 more alerts, each its own group.
        batch = [{"labels": {"alertname": f"Synthetic{i:04d}", "severity": "warning",
                             "service": "load"},
                  "annotations": {"summary": f"synthetic incident {i}"}} for i in range(999)]
        opening = time.monotonic()
        status, text = d.api("POST", "/api/v2/alerts", batch)
        assert status == 200, (status, text)
        h.wait_for("1,000 open incidents", lambda: len(
            d.api("GET", "/api/v1/incidents?state=open&limit=2000")[1]["incidents"]) >= 1000, 180,
            every=0.5)
        print(f"1,000 incidents open after {time.monotonic() - opening:.1f} s")
        a.get(base + "/")
        h.wait_for("the list rendered with 1,000 incidents", lambda: a.find_element(
            By.TAG_NAME, "body").get_attribute("data-rendered") == "1000", 30)
        body = a.find_element(By.TAG_NAME, "body")
        h.wait_for("every card in the page", lambda: body.get_attribute("data-complete-ms"), 30)
        first = float(body.get_attribute("data-render-ms"))
        complete = float(body.get_attribute("data-complete-ms"))
        # Four more renders of the same list, as a live update does: the page's own render
        # function, timed inside it with performance.now() up to the laid-out list (all 1,000
        # cards: it renders up to 1,000 at once). The machine running the tests is shared, so
        # the budget is checked on the median of the five, and every figure is printed.
        more = a.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const prefix = document.querySelector('meta[name=tocsin-prefix]').content;
            Promise.all([import(prefix + '/assets/incidents.js'),
                         fetch(prefix + '/data/incidents').then((r) => r.json())])
              .then(([m, data]) => done([1, 2, 3, 4].map(() => [
                m.render(data), document.querySelectorAll('li.card').length])));""")
        cards = [n for _, n in more]
        assert cards == [1000] * 4, f"cards in the page when render returned: {cards}"
        times = sorted([first] + [t for t, _ in more])
        median = times[2]
        print(f"render: 1000 open incidents: all 1000 cards in the page and laid out in "
              f"{first:.1f} ms on first load (complete {complete:.1f} ms); five renders "
              f"(performance.now()): {', '.join(f'{t:.1f}' for t in times)} ms, median "
              f"{median:.1f} ms; load average {open('/proc/loadavg').read().split()[0]}")
        assert median < 300, f"rendering 1,000 incidents took {median:.1f} ms (median)"
        assert "(1000)" in a.find_element(By.ID, "count").text
        # Read in one go: deliveries of the new incidents keep re-rendering the list.
        ends = h.wait_for("the whole list in order", lambda: a.execute_script(
            "const c = document.querySelectorAll('li.card');"
            "return c.length === 1000 ? [c[0].dataset.id, c[c.length - 1].dataset.id] : null;"),
            30)
        # The newest is the latest opening time, not the highest number: a storm's groups are
        # numbered as their lanes run, which need not be the order they were opened in (a
        # run saw INC-796 opened after INC-1001). The API says which it is.
        listed = d.api("GET", "/api/v1/incidents?state=open&limit=2000")[1]["incidents"]
        triggered = [i for i in listed if i["state"] == "triggered"]
        newest = max(triggered, key=lambda i: (-int(i["sev"][-1]), i["opened_at"],
                                               int(i["id"].split("-")[1])))
        assert ends == [newest["id"], "INC-1"], \
            f"unacknowledged first (the newest, {newest['id']}, first), the acknowledged INC-1 " \
            f"last: {ends}"
        shot(a, args.out, "incidents-1000")


        # Sign-out ends the session: the cookie replayed is refused.
        cookie = a.get_cookie("tocsin_session")["value"]
        a.get(base + "/signin")
        find(a, "#who button").click()
        h.wait_for("signed out", lambda: "/signin" in a.current_url)
        status, _, _ = d.panel_get("/data/incidents", {"Cookie": f"tocsin_session={cookie}"})
        assert status == 401, f"a replayed cookie after sign-out got {status}"

        # The daemon goes away: the open page says so.
        d.stop(keep=True)
        h.wait_for("the connection-lost banner", lambda: b.find_element(By.ID, "conn")
                   .is_displayed(), 40)
        assert "Connection lost" in b.find_element(By.ID, "conn").text
        shot(b, args.out, "connection-lost")
        ok = True
    finally:
        for drv in (a, b):
            if drv is not None:
                h.close(drv)
        if not ok:
            print(d.log(), file=sys.stderr)
        d.stop()
    print("panel browser test: ok")


if __name__ == "__main__":
    main()
