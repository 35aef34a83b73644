#!/usr/bin/python3
"""Fault test of the reference topology (deploy/local/up.sh must be running).

Simulated devices (one thread each, real mTLS, half through HAProxy's TLS passthrough and half through
its TLS termination) check for an update, download a byte range of the offered image (compared with
what was uploaded) and report their progress, steadily. Meanwhile the test kills a service replica
(kill -9) and brings it back, then kills the PostgreSQL primary node (Patroni and PostgreSQL, kill -9),
waits for Patroni to promote the synchronous standby and brings the old node back.

It prints, and judges:
  * requests that failed: only 503 with Retry-After, or a connection that broke and was retried,
    are acceptable; any other answer fails the test
  * seconds until traffic was served again after each fault
  * acknowledged status reports lost: every report answered 2xx must be in device_update_status
  * rollouts halted more than once (a rollout made to fail halts exactly once, the others never)
The whole run is bounded: every wait has a deadline, and the test fails when one passes.

Usage: faulttest.py [--devices N] [--period S] [--settle S] [--json FILE]
Exit code 0 when every check passed. The last line is "topology: N passed, M failed".
"""
import argparse
import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(HERE, "ctl.sh")


def ctl(*args, check=True):
    out = subprocess.run([CTL, *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"ctl.sh {' '.join(map(str, args))} failed: {out.stderr.strip()}")
    return out


def ctl_ok(*args):
    return ctl(*args, check=False).returncode == 0


def topology_env():
    env = {}
    for line in ctl("env").stdout.splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until(seconds, what, predicate):
    """Polls predicate every half second; returns the seconds it took, raises when the deadline passes."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"{what} did not happen within {seconds} s")
        time.sleep(0.5)
    return time.monotonic() - start


# ---- set-up through the admin API and openssl --------------------------------------------------------

def admin(env, key, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", int(env["admin"]), timeout=60)
    try:
        conn.request(method, path, body=body, headers={"X-API-Key": key, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None
    finally:
        conn.close()


def upload(env, key, model, version, image):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fw.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    admin(env, key, "POST", f"/api/admin/firmware/upload?version={version}&device_model={model}&skip_image_check=true",
          body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def rollout(env, key, name, model, threshold):
    body = {"name": name, "firmware_version": "1.1.0", "device_model": model, "target_type": "all",
            "is_active": True, "failure_threshold": threshold}
    admin(env, key, "POST", "/api/admin/rollout/create", json.dumps(body), {"Content-Type": "application/json"})


def device_certificates(state, ids):
    """Device certificates from the topology's fleet CA (CN = device id, client authentication)."""
    folder = os.path.join(state, "fault-devices")
    os.makedirs(folder, exist_ok=True)
    ext = os.path.join(folder, "client.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    secrets = os.path.join(state, "secrets")
    for device in ids:
        crt, key, csr = (os.path.join(folder, f"{device}.{x}") for x in ("crt", "key", "csr"))
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", f"/CN={device}", "-keyout", key, "-out", csr], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(secrets, "ca.crt"),
                        "-CAkey", os.path.join(secrets, "ca.key"), "-CAcreateserial", "-days", "2",
                        "-extfile", ext, "-out", crt], check=True, capture_output=True)
    return folder


# ---- the devices -------------------------------------------------------------------------------------

class Ledger:
    """Every request attempt, and every status report the service acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = []   # (start, end, kind, outcome, detail)
        self.acked = Counter()  # (device_id, version, status, progress) -> times answered 2xx

    def attempt(self, start, kind, outcome, detail=""):
        with self.lock:
            self.attempts.append((start, time.monotonic(), kind, outcome, detail))

    def ack(self, report):
        with self.lock:
            self.acked[report] += 1


class Device(threading.Thread):
    CHUNK = 16384

    def __init__(self, device_id, model, port, cert_dir, ca, image, ledger, stop, period, fail_at=None):
        super().__init__(daemon=True, name=device_id)
        self.device_id, self.model, self.port, self.image = device_id, model, port, image
        self.ledger, self.stop, self.period, self.fail_at = ledger, stop, period, fail_at
        self.context = ssl.create_default_context(cafile=ca)
        self.context.load_cert_chain(os.path.join(cert_dir, f"{device_id}.crt"), os.path.join(cert_dir, f"{device_id}.key"))
        self.conn = None
        self.gave_up = None

    def request(self, kind, method, path, body=None, headers=None, deadline=180, redirect_ok=False):
        """One request, tried again after a 503 + Retry-After or a broken connection, until it is answered
        or the deadline passes. Returns (status, headers, body) of the answer that ended it."""
        first = time.monotonic()
        while True:
            start = time.monotonic()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as e:
                # reset, refused, closed mid-answer, timed out: the device reconnects and asks again
                self.close()
                self.ledger.attempt(start, kind, "retried-connection", type(e).__name__)
                wait = 0.5
            else:
                if 200 <= response.status < 300 or (redirect_ok and response.status in (302, 307)):
                    self.ledger.attempt(start, kind, "ok")
                    return response.status, response, data
                retry_after = response.getheader("Retry-After")
                if response.status == 503 and retry_after and retry_after.isdigit():
                    self.ledger.attempt(start, kind, "503")
                    # a device honours Retry-After; capped at 2 s so recovery is measured finely
                    wait = min(int(retry_after), 2)
                    if response.getheader("Connection", "").lower() == "close":
                        self.close()
                else:
                    self.ledger.attempt(start, kind, "failed", f"{response.status} {data[:200]!r}")
                    raise RequestFailed(f"{kind}: {response.status} {data[:200]!r}")
            if time.monotonic() - first > deadline:
                raise RequestFailed(f"{kind}: not answered within {deadline} s")
            time.sleep(wait)

    def offloaded(self, location, headers):
        url = urllib.parse.urlsplit(location)
        start = time.monotonic()
        if url.scheme == "https":
            # nginx has the service's certificate, from the fleet CA the device trusts
            conn = http.client.HTTPSConnection(url.hostname, url.port, context=self.context, timeout=60)
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            conn.request("GET", f"{url.path}?{url.query}", headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.ledger.attempt(start, "offloaded", "failed", f"{location}: {type(e).__name__}")
            raise RequestFailed(f"offloaded download from {location}: {e}")
        finally:
            conn.close()
        self.ledger.attempt(start, "offloaded", "ok" if response.status == 206 else "failed", f"{response.status}")
        return response.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def report(self, status, progress):
        body = json.dumps({"device_id": self.device_id, "firmware_version": "1.1.0", "status": status,
                           "progress_percent": progress, "error_message": "made to fail" if status == "failed" else None})
        self.request("report", "POST", f"/api/device/{self.device_id}/update-status", body,
                     {"Content-Type": "application/json"})
        self.ledger.ack((self.device_id, "1.1.0", status, progress))

    def run(self):
        progress = 0
        failed = False
        time.sleep(random.uniform(0, self.period))
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                _, _, body = self.request("check", "GET", f"/api/firmware/check?device_id={self.device_id}"
                                          f"&device_model={self.model}&current_version=1.0.0")
                offer = json.loads(body)
                if offer.get("update_available"):
                    offset = random.randrange(0, len(self.image) - self.CHUNK)
                    wanted = {"Range": f"bytes={offset}-{offset + self.CHUNK - 1}"}
                    status, response, data = self.request("download", "GET", offer["download_url"], headers=wanted,
                                                          redirect_ok=True)
                    if status in (302, 307):
                        # offloaded: the bytes come from nginx at a signed, expiring link
                        status, data = self.offloaded(response.getheader("Location", ""), wanted)
                    if status != 206 or data != self.image[offset:offset + self.CHUNK]:
                        self.ledger.attempt(began, "download", "failed", f"{status}: the bytes differ from the image")
                        raise RequestFailed(f"download: {status}, {len(data)} bytes that differ from the image")
                    progress = progress % 99 + 1
                    self.report("downloading", progress)
                if self.fail_at is not None and not failed and self.fail_at.is_set():
                    self.report("failed", progress)
                    failed = True
                self.stop.wait(max(0.0, self.period * random.uniform(0.8, 1.2) - (time.monotonic() - began)))
        except RequestFailed as e:
            self.gave_up = str(e)
        finally:
            self.close()


class RequestFailed(Exception):
    pass


# ---- judging -----------------------------------------------------------------------------------------

def recovery_seconds(attempts, t0, t1):
    """Seconds from the fault at t0 until traffic was served again: the end of the first successful
    request begun after the last unsuccessful one of the window [t0, t1)."""
    window = [a for a in attempts if a[1] >= t0 and a[0] < t1]
    bad = [a for a in window if a[3] != "ok"]
    if not bad:
        return 0.0
    last_bad = max(a[0] for a in bad)
    served = [a[1] for a in window if a[3] == "ok" and a[0] >= last_bad]
    return (min(served) - t0) if served else None


def database_reports(run):
    sql = ("select device_id || '|' || firmware_version || '|' || status || '|' || progress_percent || '|' || count(*) "
           f"from device_update_status where source = 'device' and device_id like 'topo{run}-%' "
           "group by device_id, firmware_version, status, progress_percent")
    out = ctl("psql", "-d", "paku", "-qAt", "-c", sql)
    found = Counter()
    for line in out.stdout.split():
        device, version, status, progress, count = line.split("|")
        found[(device, version, status, int(progress))] = int(count)
    return found


def halts(run):
    out = ctl("psql", "-d", "paku", "-qAt", "-c",
              f"select target || '|' || count(*) from audit_log where action = 'rollout.halt' and target like 'topo{run}-%' group by target")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.stdout.split()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=24)
    parser.add_argument("--period", type=float, default=3.0, help="seconds between a device's cycles")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds of steady traffic around each fault")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    try:
        return run_test(args)
    except (OSError, RuntimeError, TimeoutError, subprocess.CalledProcessError) as e:
        # the topology is not there or the set-up was refused: a failed test, said in one line
        print(f"FAIL the fault test could not run: {type(e).__name__}: {e}")
        print("topology: 0 passed, 1 failed")
        return 1


def run_test(args):
    env = topology_env()
    state = env["state"]
    key = open(os.path.join(state, "secrets", "admin-api-key")).read().strip()
    run = format(int(time.time()) % 36 ** 6, "x")
    model, doomed_model = f"topo{run}", f"topo{run}-doomed"
    image = random.randbytes(96 * 1024)
    upload(env, key, model, "1.1.0", image)
    upload(env, key, doomed_model, "1.1.0", image)
    # steady devices only report progress: their rollout never halts (the default threshold);
    # the doomed rollout halts at its first failure (3 devices have started): exactly once
    rollout(env, key, f"topo{run}-steady", model, {"percent": 5, "minimum_attempts": 20})
    rollout(env, key, f"topo{run}-doomed", doomed_model, {"percent": 5, "minimum_attempts": 3})

    doomed = max(3, args.devices // 8)
    ids = [f"topo{run}-{i:04d}" for i in range(args.devices)]
    doomed_ids = [f"topo{run}-doomed-{i}" for i in range(doomed)]
    log(f"run {run}: {len(ids)} devices + {doomed} on a rollout made to fail; certificates from the fleet CA")
    cert_dir = device_certificates(state, ids + doomed_ids)
    ca = os.path.join(state, "secrets", "ca.crt")

    ledger, stop, fail_now = Ledger(), threading.Event(), threading.Event()
    ports = [int(env["passthrough"]), int(env["terminate"])]
    devices = [Device(d, model, ports[i % 2], cert_dir, ca, image, ledger, stop, args.period) for i, d in enumerate(ids)]
    devices += [Device(d, doomed_model, ports[i % 2], cert_dir, ca, image, ledger, stop, args.period, fail_now)
                for i, d in enumerate(doomed_ids)]
    for d in devices:
        d.start()

    faults, checks, problems = [], [], []
    started = time.monotonic()
    try:
        log(f"steady traffic for {args.settle:.0f} s")
        time.sleep(args.settle)

        t0 = time.monotonic()
        log("fault 1: kill -9 service replica 1")
        ctl("kill-replica", 1)
        time.sleep(args.settle)
        ctl("start-replica", 1)
        back = wait_until(180, "replica 1 to be healthy again", lambda: ctl_ok("replica-healthy", 1))
        log(f"replica 1 restarted, healthy after {back:.1f} s")
        faults.append({"fault": "service replica killed (kill -9), restarted after %.0f s" % args.settle, "t0": t0})
        time.sleep(args.settle)

        primary = int(ctl("primary").stdout.strip())
        t0 = time.monotonic()
        log(f"fault 2: kill -9 the PostgreSQL primary, node {primary} (Patroni and PostgreSQL)")
        fail_now.set()  # the doomed devices report their failure while the database fails over
        ctl("kill-pg", primary)
        wait_until(120, "Patroni to promote the standby",
                   lambda: ctl("primary", check=False).stdout.strip() not in ("", str(primary)))
        promoted = time.monotonic() - t0
        log(f"node {3 - primary} promoted after {promoted:.1f} s; restarting node {primary}")
        ctl("start-pg", primary)
        rejoined = wait_until(240, f"node {primary} to rejoin as synchronous standby", lambda: ctl_ok("sync-ready"))
        log(f"node {primary} is the synchronous standby again after another {rejoined:.1f} s")
        faults.append({"fault": "PostgreSQL primary lost (kill -9 Patroni + PostgreSQL), old node restarted at once",
                       "t0": t0, "promoted_after_s": round(promoted, 1), "standby_back_after_s": round(promoted + rejoined, 1)})
        time.sleep(args.settle)
    except (TimeoutError, RuntimeError) as e:
        problems.append(str(e))
    finally:
        stop.set()
        for d in devices:
            d.join(timeout=240)
    ended = time.monotonic()

    attempts = list(ledger.attempts)
    for i, f in enumerate(faults):
        t1 = faults[i + 1]["t0"] if i + 1 < len(faults) else ended
        f["served_again_after_s"] = recovery_seconds(attempts, f["t0"], t1)

    outcomes = Counter((a[2], a[3]) for a in attempts)
    failed = [a for a in attempts if a[3] == "failed"]
    stuck = [d.name for d in devices if d.is_alive()]
    gave_up = [f"{d.name}: {d.gave_up}" for d in devices if d.gave_up]

    try:
        stored = database_reports(run)
        lost = sum(max(0, n - stored.get(r, 0)) for r, n in ledger.acked.items())
        halted = halts(run)
    except RuntimeError as e:
        problems.append(str(e))
        stored, lost, halted = Counter(), None, {}

    acked = sum(ledger.acked.values())
    figures = {
        "run": run, "devices": len(devices), "period_s": args.period, "duration_s": round(ended - started, 1),
        "requests": {f"{k} {o}": n for (k, o), n in sorted(outcomes.items())},
        "requests_total": len(attempts), "requests_failed": len(failed),
        "reports_acknowledged": acked, "reports_stored": sum(stored.values()), "reports_lost": lost,
        "faults": [{k: v for k, v in f.items() if k != "t0"} for f in faults],
        "halts": halted,
    }

    print()
    print(f"fault test, run {run}: {len(devices)} devices for {figures['duration_s']} s, "
          f"{len(attempts)} requests ({len(attempts) / max(1, ended - started):.1f}/s)")
    for (kind, outcome), n in sorted(outcomes.items()):
        print(f"  {kind:9} {outcome:19} {n}")
    for f in figures["faults"]:
        extra = "".join(f", {k.removesuffix('_s').replace('_', ' ')} {v} s" for k, v in f.items() if k not in ("fault", "served_again_after_s"))
        served = f["served_again_after_s"]
        print(f"  {f['fault']}: traffic served again after {'never' if served is None else f'{served:.1f} s'}{extra}")
    print(f"  status reports acknowledged {acked}, found in the database {sum(stored.values())}, lost {lost}")
    print(f"  rollout halts (audit log): {halted or 'none'}")
    for a in failed[:10]:
        print(f"  failed request: {a[2]} {a[4]}")

    def judge(name, ok, why=""):
        checks.append(ok)
        print(("ok   " if ok else "FAIL ") + name + ("" if ok or not why else f": {why}"))

    print()
    judge("the run finished every phase within its deadline", not problems, "; ".join(problems))
    judge("no request failed (only 503 + Retry-After or retried connections)", not failed,
          f"{len(failed)} failed, e.g. {failed[0][2]} {failed[0][4]}" if failed else "")
    judge("every device kept going to the end", not gave_up and not stuck, "; ".join(gave_up[:3] + stuck[:3]))
    judge("both faults were injected", len(faults) == 2, f"{len(faults)} of 2")
    for f in figures["faults"]:
        judge(f"traffic was served again after: {f['fault']}", f["served_again_after_s"] is not None)
    every = all(outcomes.get((kind, "ok"), 0) > 0 for kind in ("check", "download", "report"))
    judge("checks, downloads and reports were served", every, str(dict(outcomes)))
    if env.get("offload") == "1":
        judge("downloads were offloaded: a 302 from the service, the bytes (206) from nginx",
              outcomes.get(("offloaded", "ok"), 0) > 0, str(dict(outcomes)))
    judge("no acknowledged status report was lost", lost == 0, f"{lost} of {acked} missing from device_update_status")
    judge("no rollout halted more than once", all(n <= 1 for n in halted.values()), str(halted))
    judge("the rollout made to fail halted exactly once", halted.get(f"topo{run}-doomed") == 1, str(halted))
    judge("the steady rollout never halted", f"topo{run}-steady" not in halted, str(halted))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print(f"topology: {sum(checks)} passed, {len(checks) - sum(checks)} failed")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
