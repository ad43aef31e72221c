"""A real bittensor 10.0.1 Axon serving Synth's `Simulation` synapse on loopback, for
tests/interop_bittensor.rs. No chain access: no subtensor, no metagraph, no serve_axon.

    bt10_axon.py <miner-hotkey.json>

The miner's wallet is a temp wallet dir holding the given unencrypted hotkey keyfile.
The forward fills `simulation_output` with `[start_unix, increment, path...]`, prices like Synth's
(8 significant digits around 91234.56).

Besides the Axon, a small relay ("tamper port") accepts one validator request, and sends it to the
Axon four times, logging each status: the request with one hex digit of
`bt_header_dendrite_signature` flipped ("tampered"), the request as received ("original", whose
response is relayed back to the caller), the same bytes again ("replay"), and a copy with the
signature header removed and the nonce raised by one ("unsigned").

stdout, one JSON object per line: first {"event":"ready","port":…,"tamper_port":…,"hotkey":…},
then {"event":"relay", "statuses": {...}} per relayed request. Serves until stdin closes.
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import List, Optional, Union

# Events go to the original stdout alone; everything else printed (bittensor's logger writes to
# stdout) goes to stderr.
EVENTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

import bittensor as bt  # noqa: E402
import pydantic


class SimulationInput(pydantic.BaseModel):
    asset: str = "BTC"
    start_time: str = ""
    time_increment: int = 300
    time_length: int = 86400
    num_simulations: int = 1


class Simulation(bt.Synapse):
    simulation_input: SimulationInput
    simulation_output: Optional[List[Union[int, float, List[float]]]] = None

    def deserialize(self):
        return self.simulation_output


def paths_for(si: SimulationInput):
    start = int(datetime.fromisoformat(si.start_time).timestamp())
    points = si.time_length // si.time_increment + 1
    paths = []
    for p in range(si.num_simulations):
        price, path = 91234.56, []
        for i in range(points):
            path.append(float(f"{price:.8g}"))
            price *= 1.0 + ((p * 7 + i * 13) % 11 - 5) * 1e-4
        paths.append(path)
    return [start, si.time_increment] + paths


def forward(synapse: Simulation) -> Simulation:
    synapse.simulation_output = paths_for(synapse.simulation_input)
    return synapse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def wait_listening(port: int, limit_s: float = 30.0) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the Axon did not listen on {port} within {limit_s} s")


def emit(obj) -> None:
    EVENTS.write(json.dumps(obj) + "\n")
    EVENTS.flush()


def relay_handler(axon_port: int):
    class Relay(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, headers, body):
            c = http.client.HTTPConnection("127.0.0.1", axon_port, timeout=30)
            try:
                c.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    c.putheader(k, v)
                c.endheaders(body)
                r = c.getresponse()
                return r.status, r.getheaders(), r.read()
            finally:
                c.close()

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = list(self.headers.items())
            statuses = {}

            def swap(name, fn):
                out = []
                for k, v in headers:
                    if k.lower() == name:
                        v = fn(v)
                        if v is None:
                            continue
                    out.append((k, v))
                return out

            def flip(sig):
                last = sig[-1]
                return sig[:-1] + ("0" if last != "0" else "1")

            tampered = swap("bt_header_dendrite_signature", flip)
            statuses["tampered"] = self.send(tampered, body)[0]
            status, rheaders, rbody = self.send(headers, body)
            statuses["original"] = status
            statuses["replay"] = self.send(headers, body)[0]
            unsigned = swap("bt_header_dendrite_signature", lambda v: None)
            unsigned = [(k, str(int(v) + 1) if k.lower() == "bt_header_dendrite_nonce" else v) for k, v in unsigned]
            statuses["unsigned"] = self.send(unsigned, body)[0]
            emit({"event": "relay", "statuses": statuses})

            self.send_response(status)
            for k, v in rheaders:
                if k.lower() not in ("date", "server", "content-length", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(rbody)))
            self.end_headers()
            self.wfile.write(rbody)

    return Relay


def main() -> None:
    keyfile = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="bt10-axon-")
    try:
        hot = os.path.join(tmp, "wallets", "miner", "hotkeys")
        os.makedirs(hot)
        shutil.copyfile(keyfile, os.path.join(hot, "default"))
        os.chmod(os.path.join(hot, "default"), 0o600)
        wallet = bt.Wallet(name="miner", hotkey="default", path=os.path.join(tmp, "wallets"))
        hotkey = wallet.hotkey.ss58_address

        # The Axon's uvicorn binds 0.0.0.0:<port> whatever `ip` says, and `Axon.start()` waits
        # forever if that bind fails (another process took the port between our probe and it):
        # start it in a thread and try another port after 20 s.
        for attempt in range(3):
            port = free_port()
            axon = bt.Axon(wallet=wallet, ip="127.0.0.1", port=port, external_ip="127.0.0.1")
            axon.attach(forward_fn=forward)
            starting = threading.Thread(target=axon.start, daemon=True)
            starting.start()
            starting.join(20)
            if not starting.is_alive():
                break
        else:
            raise RuntimeError("the Axon did not start on any of 3 ports")
        wait_listening(port)

        relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), relay_handler(port))
        threading.Thread(target=relay.serve_forever, daemon=True).start()

        emit({"event": "ready", "port": port, "tamper_port": relay.server_address[1],
              "hotkey": hotkey, "bittensor": bt.__version__})
        sys.stdin.read()  # until the test closes our stdin (or kills us)
        relay.shutdown()
        axon.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    main()
