#!/usr/bin/env python3
"""End-to-end test of paku-ota-sim against a small local stand-in for the
Paku OTA server (Python standard library only, loopback only).

It speaks the server contract (check, Range downloads, status reports,
mutual TLS with CN = device id) and checks what the simulator does: resumes
with Range after a drop, verifies signatures, reports statuses, "reboots",
confirms, prints one summary line and exits with the documented code.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if cond:
        print(f"ok   - {what}")
    else:
        print(f"FAIL - {what}")
        FAILURES.append(what)


class OtaState:
    def __init__(self):
        self.releases = {}      # version -> bytes
        self.offer = None       # dict describing the offered release, or None
        self.checks = []        # (device_id, current_version)
        self.ranges = []        # Range header values of downloads
        self.statuses = []      # posted JSON documents
        self.cn_required = None

    def reset(self):
        self.checks, self.ranges, self.statuses = [], [], []


STATE = OtaState()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output readable
        pass

    def _peer_cn(self):
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            return None
        if not cert:
            return None
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def _send(self, status, body=b"", headers=None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _problem(self, status, title):
        body = json.dumps({"title": title, "status": status}).encode()
        self._send(status, body, content_type="application/problem+json")

    def _authorised(self, device_id):
        if STATE.cn_required is None:
            return True
        return self._peer_cn() == device_id

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/firmware/check":
            device = q.get("device_id", "")
            if not self._authorised(device):
                return self._problem(403, "Forbidden")
            current = q.get("current_version", "")
            STATE.checks.append((device, current))
            o = STATE.offer
            if o is None or o["version"] == current:
                body = {"update_available": False, "current_version": current,
                        "latest_version": current, "download_url": None,
                        "checksum_sha256": None, "size_bytes": None, "signature": None,
                        "signature_algorithm": None, "release_notes": None, "rollout": None,
                        "is_rollback": False, "next_check_seconds": 3600}
            else:
                data = STATE.releases[o["version"]]
                body = {"update_available": True, "current_version": current,
                        "latest_version": o["version"],
                        "download_url": f"/api/firmware/download/{o['version']}?device_model=esp32",
                        "checksum_sha256": hashlib.sha256(data).hexdigest(),
                        "size_bytes": len(data),
                        "signature": o.get("signature"),
                        "signature_algorithm": o.get("algorithm"),
                        "release_notes": "test", "rollout": "e2e",
                        "is_rollback": o.get("is_rollback", False),
                        "next_check_seconds": 3600}
            return self._send(200, json.dumps(body).encode())
        if url.path.startswith("/api/firmware/download/"):
            version = url.path.rsplit("/", 1)[1]
            data = STATE.releases.get(version)
            if data is None:
                return self._problem(404, "Not Found")
            sha = hashlib.sha256(data).hexdigest()
            headers = {"ETag": f'"{sha}"', "X-Checksum-SHA256": sha, "Accept-Ranges": "bytes"}
            rng = self.headers.get("Range")
            STATE.ranges.append(rng)
            if rng:
                spec = rng.split("=", 1)[1]
                start_s, end_s = spec.split("-", 1)
                start = int(start_s)
                end = int(end_s) if end_s else len(data) - 1
                if start >= len(data):
                    return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                end = min(end, len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return self._send(206, data[start:end + 1], headers, "application/octet-stream")
            return self._send(200, data, headers, "application/octet-stream")
        return self._problem(404, "Not Found")

    def do_POST(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if len(parts) == 4 and parts[:2] == ["api", "device"] and parts[3] == "update-status":
            if not self._authorised(parts[2]):
                return self._problem(403, "Forbidden")
            doc = json.loads(body)
            STATE.statuses.append(doc)
            return self._send(200, b"{}")
        return self._problem(404, "Not Found")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # TLS handshakes refused on purpose land here


def start_server(tls=None):
    server = QuietServer(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls["cert"], tls["key"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(tls["ca"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_sim(args, sim, *extra):
    cmd = [sim, *extra, "--retry-base-ms", "20", "--once"]
    env = dict(os.environ, PAKU_OTA_LOG="2")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    if args.verbose or p.returncode not in (0, 2, 3, 4, 5):
        print(p.stderr)
    return p.returncode, last, p.stderr


def read_state(state_dir):
    out = {}
    with open(os.path.join(state_dir, "state")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    fx = lambda name: os.path.join(args.fixtures, name)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    work = lambda name: os.path.join(args.work, name)

    image = open(fx("fw-1.1.0.bin"), "rb").read()
    STATE.releases["1.1.0"] = image
    rsa_sig = base64.b64encode(open(fx("fw-1.1.0.rsa.sig"), "rb").read()).decode()
    ec_sig = base64.b64encode(open(fx("fw-1.1.0.ec.sig"), "rb").read()).decode()
    bad_sig = base64.b64encode(open(fx("fw-1.1.0.other-rsa.sig"), "rb").read()).decode()

    http = start_server()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    common = ["--server", base, "--id", "sim-device-1", "--model", "esp32"]

    # 1. Signed update, interrupted and resumed with Range, then confirmed.
    STATE.offer = {"version": "1.1.0", "signature": rsa_sig, "algorithm": "rsa-pkcs1v15-sha256"}
    STATE.reset()
    d1 = work("device-1")
    code, line, _ = run_sim(args, args.sim, *common, "--version", "1.0.0", "--state-dir", d1,
                            "--pubkey", fx("rsa.pub.pem"), "--interrupt-at", "262144")
    check(code == 0, f"interrupted update exits 0 (got {code})")
    # the drop costs the connection: one more for the resumed rest
    check(line == "paku-ota-sim: updated 1.0.0 -> 1.1.0 (resumed at 262144) "
                  "(connections: 2 update, 1 confirm)",
          f"summary names the resume offset and the connections: {line!r}")
    check("bytes=262144-" in STATE.ranges, f"resumed with a Range request: {STATE.ranges}")
    kinds = [s["status"] for s in STATE.statuses]
    check(kinds and kinds[0] == "downloading" and kinds[-2:] == ["installing", "success"],
          f"status sequence downloading.. installing, success: {kinds}")
    progress = [s["progress_percent"] for s in STATE.statuses if s["status"] == "downloading"]
    check(progress == sorted(set(progress)) and progress[-1] == 100 and
          all(p % 10 == 0 for p in progress), f"progress every 10 %: {progress}")
    check(all(s["device_id"] == "sim-device-1" and s["firmware_version"] == "1.1.0"
              for s in STATE.statuses), "reports name the device and the target version")
    check(STATE.checks[-1] == ("sim-device-1", "1.1.0"),
          f"checked in again with the new version: {STATE.checks}")
    st = read_state(d1)
    check(st.get("running_version") == "1.1.0", f"state file records 1.1.0 running: {st}")
    check(st.get("pending_verify") == "0" and st.get("ota_pending_confirm") == "0",
          "new version is confirmed (no pending verification)")
    with open(os.path.join(d1, "ota-slot.bin"), "rb") as f:
        check(f.read() == image, "the slot file holds exactly the released image")

    # 2. Same device again: nothing newer.
    STATE.reset()
    code, line, _ = run_sim(args, args.sim, *common, "--version", "1.0.0", "--state-dir", d1,
                            "--pubkey", fx("rsa.pub.pem"))
    check(code == 0 and line == "paku-ota-sim: up to date at 1.1.0",
          f"second run is up to date at the new version: {code} {line!r}")

    # 3. Signature from another key: refused, reported, old version kept.
    STATE.offer = {"version": "1.1.0", "signature": bad_sig, "algorithm": "rsa-pkcs1v15-sha256"}
    STATE.reset()
    d3 = work("device-3")
    code, line, _ = run_sim(args, args.sim, *common, "--version", "1.0.0", "--state-dir", d3,
                            "--pubkey", fx("rsa.pub.pem"))
    check(code == 3, f"bad signature exits 3 (got {code})")
    check(line == "paku-ota-sim: refused 1.1.0: signature does not verify", f"summary: {line!r}")
    failed = [s for s in STATE.statuses if s["status"] == "failed"]
    check(len(failed) == 1 and failed[0].get("error_message") == "signature does not verify",
          f"failed reported with the reason: {failed}")
    check(not [s for s in STATE.statuses if s["status"] == "success"], "no success reported")
    check(read_state(d3).get("running_version", "") in ("", "1.0.0"), "still runs 1.0.0")

    # 4. Unsigned release while a key is configured: refused before download.
    STATE.offer = {"version": "1.1.0"}
    STATE.reset()
    code, line, _ = run_sim(args, args.sim, *common, "--version", "1.0.0",
                            "--state-dir", work("device-4"), "--pubkey", fx("ec.pub.pem"))
    check(code == 3 and "unsigned" in line, f"unsigned release refused: {code} {line!r}")
    check(STATE.ranges == [], "nothing was downloaded")

    # 5. Downgrade not marked as rollback: refused.
    STATE.offer = {"version": "1.1.0", "signature": rsa_sig, "algorithm": "rsa-pkcs1v15-sha256"}
    STATE.reset()
    code, line, _ = run_sim(args, args.sim, *common, "--version", "1.2.0",
                            "--state-dir", work("device-5"), "--pubkey", fx("rsa.pub.pem"))
    check(code == 3 and "downgrade" in line, f"downgrade refused: {code} {line!r}")

    # 6. Server unreachable: http error.
    code, line, _ = run_sim(args, args.sim, "--server", f"http://127.0.0.1:{free_port()}",
                            "--id", "sim-device-1", "--model", "esp32", "--version", "1.0.0",
                            "--state-dir", work("device-6"))
    check(code == 5 and line.startswith("paku-ota-sim: http error"),
          f"unreachable server exits 5: {code} {line!r}")

    # 7. Usage error.
    code, _, _ = run_sim(args, args.sim, "--server", base)
    check(code == 2, f"missing options exit 2 (got {code})")

    # 8. Mutual TLS: the device certificate (CN = device id) is required.
    tls = start_server({"cert": fx("server.pem"), "key": fx("server.key"), "ca": fx("ca.pem")})
    STATE.cn_required = True
    tbase = f"https://localhost:{tls.server_address[1]}"
    STATE.offer = {"version": "1.1.0", "signature": ec_sig, "algorithm": "ecdsa-p256-sha256"}
    STATE.reset()
    code, line, _ = run_sim(args, args.sim, "--server", tbase, "--id", "sim-device-1",
                            "--model", "esp32", "--version", "1.0.0",
                            "--state-dir", work("device-8"), "--cert", fx("device.pem"),
                            "--key", fx("device.key"), "--cacert", fx("ca.pem"),
                            "--pubkey", fx("ec.pub.pem"), "--range-size", "65536")
    # check, ten Range requests, every report and the confirming check-in:
    # one TLS handshake for the update, one after the "reboot"
    check(code == 0 and line == "paku-ota-sim: updated 1.0.0 -> 1.1.0 "
                                "(connections: 1 update, 1 confirm)",
          f"update over mutual TLS on one connection: {code} {line!r}")
    progress = [s["progress_percent"] for s in STATE.statuses if s["status"] == "downloading"]
    check(len(STATE.ranges) == 10 and len(progress) >= 9,
          f"ten ranges with progress reports between them: {STATE.ranges} {progress}")
    code, line, _ = run_sim(args, args.sim, "--server", tbase, "--id", "sim-device-1",
                            "--model", "esp32", "--version", "1.0.0",
                            "--state-dir", work("device-9"), "--cacert", fx("ca.pem"))
    check(code == 5, f"without a client certificate the TLS server is unreachable: {code}")
    code, line, _ = run_sim(args, args.sim, "--server", tbase, "--id", "someone-else",
                            "--model", "esp32", "--version", "1.0.0",
                            "--state-dir", work("device-10"), "--cert", fx("device.pem"),
                            "--key", fx("device.key"), "--cacert", fx("ca.pem"))
    check(code == 5 and "403" in line, f"a certificate for another id gets 403: {code} {line!r}")
    STATE.cn_required = None

    http.shutdown()
    tls.shutdown()
    print(f"{CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
