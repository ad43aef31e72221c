"""A loopback HTTP peer that authenticates Synth requests with bittensor 11's own
`bittensor.http_auth.verify` (btauth/1), for tests/interop_bittensor.rs.

    bt11_verify_server.py <miner-hotkey.json>

The server's identity (`self_hotkey_ss58`) is the ss58 address in the given keyfile; it signs
nothing, so the secret is not needed. On `POST /Simulation` it runs `verify` three times on what
it received, in this order, and logs each outcome:
  "tampered": the raw body with one byte changed (the last `}` → `]`), headers as received
  "original": the request exactly as received (its outcome decides the answer)
  "replay":   the same request again (the default nonce store must refuse it)
It answers 200 with the Simulation JSON (the request body with `simulation_output` filled and
`axon.status_code` 200) when "original" verified, 401 with the error otherwise.

stdout, one JSON object per line: {"event":"ready","port":…,"hotkey":…}, then
{"event":"request","results":{name: "ok" | error class name},"headers":{lower-case name: value}} per request. Serves until stdin closes.
"""
import http.server
import json
import os
import sys
import threading
import time
from datetime import datetime

# Events go to the original stdout alone; everything else printed (bittensor's logger writes to
# stdout) goes to stderr.
EVENTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

import bittensor as bt  # noqa: E402
from bittensor import http_auth


def emit(obj) -> None:
    EVENTS.write(json.dumps(obj) + "\n")
    EVENTS.flush()


def simulation_output(si: dict) -> list:
    start = int(datetime.fromisoformat(si["start_time"]).timestamp())
    points = si["time_length"] // si["time_increment"] + 1
    paths = []
    for p in range(si["num_simulations"]):
        price, path = 91234.56, []
        for i in range(points):
            path.append(float(f"{price:.8g}"))
            price *= 1.0 + ((p * 7 + i * 13) % 11 - 5) * 1e-4
        paths.append(path)
    return [start, si["time_increment"]] + paths


def handler(self_hotkey: str):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status: int, obj) -> None:
            body = json.dumps(obj, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            t0 = time.perf_counter()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}

            def check(raw: bytes):
                try:
                    http_auth.verify(headers, raw, method=self.command, path=self.path,
                                     self_hotkey_ss58=self_hotkey)
                    return "ok", None
                except http_auth.AuthError as e:
                    return type(e).__name__, str(e)

            tampered = body[:-1] + (b"]" if body[-1:] == b"}" else b"}")
            results, errors = {}, {}
            for name, raw in (("tampered", tampered), ("original", body), ("replay", body)):
                results[name], errors[name] = check(raw)
            emit({"event": "request", "path": self.path, "results": results, "errors": errors,
                  "headers": {k.lower(): v for k, v in headers.items()}})
            if self.path != "/Simulation":
                return self.answer(404, {"message": "not found"})
            if results["original"] != "ok":
                return self.answer(401, {"message": errors["original"]})
            syn = json.loads(body)
            syn["simulation_output"] = simulation_output(syn["simulation_input"])
            syn["axon"] = dict(syn.get("axon") or {}, status_code=200, status_message="Success",
                               process_time=time.perf_counter() - t0)
            self.answer(200, syn)

    return H


def main() -> None:
    with open(sys.argv[1]) as f:
        hotkey = json.load(f)["ss58Address"]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(hotkey))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    emit({"event": "ready", "port": server.server_address[1], "hotkey": hotkey,
          "bittensor": bt.__version__})
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
