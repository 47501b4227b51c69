"""Test harness of the panel's browser and HTTP tests: a real `tocsin serve` with the panel on
its own listener, the real provider simulator as PagerDuty, and headless Chromium (Debian's
chromium + chromium-driver) driven by python3-selenium. Every wait polls a real process and is
bounded; nothing waits for a timer by sleeping a fixed time."""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

RESPONDER_TOKEN = "panel-responder-token-0123456789"
VIEWER_TOKEN = "panel-viewer-token-0123456789abc"
BOT_TOKEN = "panel-bot-token-0123456789abcdef"  # a responder that is no person of the roster
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
PD_API_TOKEN = "panel-pd-rest-token"
PREFIX = "/tocsin"

ROSTER = """
people:
  l1a: {name: L1 Day, time_zone: UTC, pagerduty_user_id: PL1A001}
  pay: {name: Payments L2, time_zone: UTC, pagerduty_user_id: PPAY001}
  comms: {name: Comms Officer, time_zone: UTC, pagerduty_user_id: PCOM001}
  dm: {name: Duty Manager, time_zone: UTC, pagerduty_user_id: PDMG001}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [l1a]}
  l2-payments: {role: l2-payments, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [pay]}
  comms: {role: comms, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [comms]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [dm]}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=15.0, every=0.05):
    """Polls `predicate` (a real process's answer) until true or `timeout`; raises saying what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the process may not be up yet
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Daemon:
    """tocsin + provider simulator in a temporary directory."""

    # `prefix`: the panel's path_prefix ("" serves it at the root, as by default).
    def __init__(self, tocsin, sim, tokens=True, extra_panel="", prefix=PREFIX):
        self.dir = tempfile.mkdtemp(prefix="tocsin-panel-")
        self.tocsin_bin, self.sim_bin = tocsin, sim
        self.tokens, self.extra_panel, self.prefix = tokens, extra_panel, prefix
        self.procs = []

    def start(self):
        port_file = os.path.join(self.dir, "sim.ports")
        self.procs.append(subprocess.Popen(
            [self.sim_bin, "--listen", "127.0.0.1:0", "--port-file", port_file,
             "--smtp-listen", "off"],
            stdout=open(os.path.join(self.dir, "sim.log"), "w"), stderr=subprocess.STDOUT))
        sim_port = wait_for("the simulator's port file",
                            lambda: int(open(port_file).read().split()[0]))
        self.sim = f"http://127.0.0.1:{sim_port}"
        # The simulated PagerDuty account: its REST API adds later steps' people to the
        # incident as responders, as the real one does.
        self.sim_call("POST", "/_sim/pagerduty/account", {
            "api_token": PD_API_TOKEN,
            "users": [{"id": "PBOT001", "email": "tocsin@example.com"},
                      {"id": "PL1A001", "email": "l1a@example.com", "name": "L1 Day"},
                      {"id": "PPAY001", "email": "pay@example.com", "name": "Payments L2"},
                      {"id": "PCOM001", "email": "comms@example.com", "name": "Comms Officer"},
                      {"id": "PDMG001", "email": "dm@example.com", "name": "Duty Manager"}],
            "services": {ROUTING_KEY: ["PL1A001"]}})
        with open(os.path.join(self.dir, "pd-api-token"), "w") as f:
            f.write(PD_API_TOKEN + "\n")
        with open(os.path.join(self.dir, "roster.yaml"), "w") as f:
            f.write(ROSTER)
        self.api_port, self.panel_port = free_port(), free_port()
        api = ""
        if self.tokens:
            api = ("api:\n  tokens:\n"
                   f"    - {{name: resp, sha256: {sha256(RESPONDER_TOKEN)}, role: responder, person: l1a}}\n"
                   f"    - {{name: view, sha256: {sha256(VIEWER_TOKEN)}, role: viewer, person: pay}}\n"
                   f"    - {{name: bot, sha256: {sha256(BOT_TOKEN)}, role: responder}}\n")
        config = f"""log: {{level: info}}
roster_file: roster.yaml
providers:
  pagerduty:
    events_url: {self.sim}
    routing_key: {ROUTING_KEY}
    api_url: {self.sim}
    api_token_file: pd-api-token
    from: tocsin@example.com
    requester_id: PBOT001
{api}route: {{receiver: oncall, group_by: [alertname], group_wait: 0s}}
receivers:
  - {{name: oncall, escalation_policy: default}}
escalation_policies:
  default:
    steps:
      - {{after: 0s, targets: [{{role: l1}}], channels: [pagerduty]}}
      - {{after: 10m, targets: [{{role: "l2-{{domain}}"}}, {{role: comms}}], channels: [pagerduty]}}
      - {{after: 30m, targets: [{{role: duty-manager}}], channels: [pagerduty]}}
    default_domain: payments
panel:
  listen: 127.0.0.1:{self.panel_port}
{f"  path_prefix: {self.prefix}{chr(10)}" if self.prefix else ""}{self.extra_panel}"""
        self.config = os.path.join(self.dir, "tocsin.yaml")
        with open(self.config, "w") as f:
            f.write(config)
        self.procs.append(subprocess.Popen(
            [self.tocsin_bin, "serve", "--config", self.config, "--listen",
             f"127.0.0.1:{self.api_port}", "--data-dir", os.path.join(self.dir, "data")],
            stdout=open(os.path.join(self.dir, "tocsin.log"), "w"), stderr=subprocess.STDOUT))
        wait_for("tocsin's panel listener", lambda: self.panel_get("/session")[0] == 200)
        self.panel_url = f"http://127.0.0.1:{self.panel_port}{self.prefix}"
        return self

    def stop(self, keep=False):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        out = ""
        for name in ("tocsin.log", "sim.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                out += f"--- {name} ---\n" + open(path).read()[-6000:]
        return out

    # --- HTTP ---------------------------------------------------------------------------
    def raw(self, port, method, target, body=None, headers=None, source=None):
        """One request with the target sent exactly as given (no normalisation), from the
        loopback address `source` when given (a reverse proxy's)."""
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                       source_address=(source, 0) if source else None)
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        h = {"Host": f"127.0.0.1:{port}"}
        h.update(headers or {})
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            h["Content-Length"] = str(len(data))
        for k, v in h.items():
            c.putheader(k, v)
        c.endheaders(data)
        r = c.getresponse()
        out = (r.status, r.read().decode(errors="replace"), dict(r.getheaders()))
        c.close()
        return out

    def panel_get(self, path, headers=None, source=None):
        return self.raw(self.panel_port, "GET", self.prefix + path, headers=headers, source=source)

    def panel_post(self, path, body, headers=None):
        return self.raw(self.panel_port, "POST", self.prefix + path, json.dumps(body), headers)

    def api(self, method, path, body=None):
        status, text, _ = self.raw(
            self.api_port, method, path, None if body is None else json.dumps(body),
            {"Authorization": f"Bearer {RESPONDER_TOKEN}", "Content-Type": "application/json"}
            if self.tokens else {"Content-Type": "application/json"})
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def push_alert(self, name, summary, labels=None, annotations=None):
        alert = {"labels": {"alertname": name, "severity": "critical", "domain": "payments",
                            **(labels or {})},
                 "annotations": {"summary": summary, "runbook": "https://runbooks.example/" + name,
                                 "dashboard": "https://grafana.example/d/" + name,
                                 **(annotations or {})}}
        status, text = self.api("POST", "/api/v2/alerts", [alert])
        assert status == 200, (status, text)

    def sim_call(self, method, path, body=None):
        req = urllib.request.Request(self.sim + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def sim_enqueued(self):
        with urllib.request.urlopen(self.sim + "/_sim/requests?path=/v2/enqueue") as r:
            return [json.loads(x["body"]) for x in json.loads(r.read())]


def chromium(width=360, height=780, tz=None):
    """Headless Chromium as root in a container: no sandbox, no GPU, nothing fetched from the
    network behind the test's back, a fresh profile; `tz` sets the browser's time zone."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="tocsin-chromium-")
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}",
              f"--window-size={width},{height}", "--force-device-scale-factor=1"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or
                                              "/usr/bin/chromedriver"), options=opts)
    if tz:
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": tz})
    driver.set_window_size(width, height)
    driver._tocsin_profile = profile
    return driver


def full_page_png(driver, path):
    """A screenshot of the whole page at the window's width (DevTools protocol)."""
    import base64
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width = driver.execute_script("return window.innerWidth")
    height = min(int(size["height"]) + 1, 6000)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def close(driver):
    profile = getattr(driver, "_tocsin_profile", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
