"""Bounded soak of a release `sluice run` on loopback (issue #11): mixed HTTP/1.1, h2c, TLS and gRPC
traffic, backends killed and restarted, reloads every few seconds, clients that vanish mid-request.

Run through scripts/soak, which builds the release binary and installs what is missing:

    scripts/soak [SECONDS]          (default 600)

Prints requests served, errors by cause, RSS and open descriptors of the sluice process at start
and end, and whether it stayed up. Exit status 0 when sluice never died and its RSS and descriptor
count did not keep growing; 1 otherwise.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DURATION = int(sys.argv[2]) if len(sys.argv) > 2 else 600
SLUICE = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="sluice-soak-")
STOP = threading.Event()
LOCK = threading.Lock()
COUNTS = {}


def count(key, n=1):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- backends

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        body = json.dumps({"path": self.path, "version": self.server.version}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    """Sluice closing a pooled connection mid-write is normal here: no traceback per broken pipe."""

    def handle_error(self, request, client_address):
        count("backend connection errors")


class HTTPBackend:
    """A threaded HTTP/1.1 server that can be stopped and started again on the same port."""

    def __init__(self, version):
        self.version, self.port, self.server = version, free_port(), None
        self.start()

    def start(self):
        for _ in range(50):
            try:
                self.server = QuietServer(("127.0.0.1", self.port), Echo)
                break
            except OSError:
                time.sleep(0.1)
        self.server.daemon_threads = True
        self.server.version = self.version
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ProcessBackend:
    """A backend process (nghttpx, a grpcio server) that can be killed and started again."""

    def __init__(self, argv_for_port):
        self.port = free_port()
        self.argv_for_port = argv_for_port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.argv_for_port(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


GRPC_SERVER = r"""
import grpc, sys
from concurrent import futures
h = grpc.method_handlers_generic_handler('inference.GRPCInferenceService', {
    'ModelInfer': grpc.unary_unary_rpc_method_handler(lambda req, ctx: b'echo:' + req)})
s = grpc.server(futures.ThreadPoolExecutor(8))
s.add_generic_rpc_handlers((h,))
s.add_insecure_port('127.0.0.1:%s' % sys.argv[1])
s.start()
s.wait_for_termination()
"""


# ---------------------------------------------------------------- sluice

def config(ports, weights, cert, key):
    a, b = weights
    return f"""
workers: 2
listeners:
  - {{ name: plain, address: 127.0.0.1:{ports['plain']} }}
  - {{ name: tls, address: 127.0.0.1:{ports['tls']}, tls: {{ certificate: {cert}, private_key: {key} }} }}
admin: {{ address: 127.0.0.1:{ports['admin']} }}
backends:
  - {{ name: a, endpoints: [127.0.0.1:{ports['a']}], timeouts: {{ connect: 250ms, request: 5s }} }}
  - {{ name: b, endpoints: [127.0.0.1:{ports['b']}], timeouts: {{ connect: 250ms, request: 5s }} }}
  - {{ name: h2, endpoints: [127.0.0.1:{ports['h2']}], protocol: h2, timeouts: {{ connect: 250ms, request: 5s }} }}
  - {{ name: grpc, endpoints: [127.0.0.1:{ports['grpc']}], protocol: h2, timeouts: {{ connect: 250ms, request: 5s }} }}
routes:
  - name: grpc
    match: {{ path_prefix: /inference. }}
    targets: [{{ backend: grpc, weight: 100 }}]
  - name: h2
    match: {{ path_prefix: /h2 }}
    targets: [{{ backend: h2, weight: 100 }}]
  - name: split
    match: {{ path_prefix: / }}
    baseline: a
    targets: [{{ backend: a, weight: {a} }}, {{ backend: b, weight: {b} }}]
    rollback: {{ window: 30s, evaluate_every: 1s, max_error_rate: 0.9, min_requests: 1000000 }}
"""


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


# ---------------------------------------------------------------- clients

def run_until_stop(argv_fn, name):
    """Runs a load tool again and again until the soak ends, counting how its runs end."""
    while not STOP.is_set():
        p = subprocess.run(argv_fn(), capture_output=True, text=True)
        count(f"{name} runs exit {p.returncode}")
        parse_tool(name, p.stdout)


def parse_tool(name, out):
    for line in out.splitlines():
        line = line.strip()
        if name == "h2load" and line.startswith("requests:"):
            # requests: 600 total, 600 started, 600 done, 598 succeeded, 2 failed, 2 errored, 0 timeout
            parts = dict((w[1], int(w[0])) for w in (p.strip().split(" ")[:2] for p in line[9:].split(",")) if len(w) == 2 and w[0].isdigit())
            count("h2c requests", parts.get("done", 0))
            count("h2c failed", parts.get("failed", 0))
        if name == "h2load" and line.startswith("status codes:"):
            for part in line[13:].split(","):
                n, code = part.strip().split(" ")
                if code.startswith("5") and int(n):
                    count(f"h2c {code}", int(n))
        if name == "wrk" and "requests in" in line:
            count("http1 requests", int(line.split()[0]))
        if name == "wrk" and line.startswith("Non-2xx"):
            count("http1 non-2xx", int(line.split()[-1]))
        if name == "wrk" and line.startswith("Socket errors"):
            count("http1 socket errors", sum(int(x.strip().split()[-1]) for x in line.split(":")[1].split(",")))


def tls_loop(port):
    while not STOP.is_set():
        p = subprocess.run(["curl", "-sk", "--http2", "-w", "%{http_code}\\n", "-m", "5",
                            "-o", "/dev/null", f"https://127.0.0.1:{port}/tls/a",
                            "-o", "/dev/null", f"https://127.0.0.1:{port}/h2/b"],
                           capture_output=True, text=True)
        for code in p.stdout.split():
            count("tls requests")
            if code != "200":
                count(f"tls status {code}")
        if p.returncode not in (0,):
            count(f"tls curl exit {p.returncode}")


GRPC_CLIENT = r"""
import grpc, sys, time
ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
infer = ch.unary_unary('/inference.GRPCInferenceService/ModelInfer')
end = time.time() + float(sys.argv[2])
ok = bad = 0
codes = {}
while time.time() < end:
    try:
        infer(b'x', timeout=5)
        ok += 1
    except grpc.RpcError as e:
        codes[str(e.code())] = codes.get(str(e.code()), 0) + 1
    time.sleep(0.005)
print(ok)
for k, v in codes.items():
    print('%s %d' % (k, v))
"""


def grpc_loop(port):
    while not STOP.is_set():
        p = subprocess.run([sys.executable, "-c", GRPC_CLIENT, str(port), "20"], capture_output=True, text=True)
        lines = p.stdout.splitlines()
        if lines:
            count("grpc ok", int(lines[0]))
            for l in lines[1:]:
                code, n = l.rsplit(" ", 1)
                count(f"grpc {code}", int(n))


def vanishing_clients(port):
    """Clients that give up mid-request: half a head, a body cut short, an h2 preface then nothing."""
    shapes = [
        b"GET /a HTTP/1.1\r\nHost: x\r\nX-Half: ",
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /h2/slow HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    while not STOP.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(random.choice(shapes))
            if random.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")   # RST
            s.close()
            count("vanishing clients")
        except OSError:
            count("vanishing client connect errors")
        time.sleep(0.02)


# ---------------------------------------------------------------- main

def main():
    cert, key = f"{WORK}/cert.pem", f"{WORK}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    a, b, c = HTTPBackend("a"), HTTPBackend("b"), HTTPBackend("c")
    h2 = ProcessBackend(lambda port: ["nghttpx", f"--frontend=127.0.0.1,{port};no-tls", f"--backend=127.0.0.1,{c.port}",
                                      "--workers=1", "--conf=/dev/null", "--errorlog-file=/dev/null", f"--pid-file={WORK}/nghttpx.pid"])
    grpc = ProcessBackend(lambda port: [sys.executable, "-c", GRPC_SERVER, str(port)])
    ports = {"plain": free_port(), "tls": free_port(), "admin": free_port(), "a": a.port, "b": b.port, "h2": h2.port, "grpc": grpc.port}
    path = f"{WORK}/sluice.yaml"
    with open(path, "w") as f:
        f.write(config(ports, (90, 10), cert, key))
    log = open(f"{WORK}/sluice.log", "w")
    sluice = subprocess.Popen([SLUICE, "run", "--config", path], stdout=log, stderr=log)
    admin = f"http://127.0.0.1:{ports['admin']}"
    for _ in range(100):
        try:
            urllib.request.urlopen(admin + "/ready", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    plain = ports["plain"]
    chunk = 30
    threads = [
        threading.Thread(target=run_until_stop, args=(lambda: ["wrk", "-t1", "-c8", f"-d{chunk}s", "--timeout", "5s", f"http://127.0.0.1:{plain}/a"], "wrk")),
        threading.Thread(target=run_until_stop, args=(lambda: ["h2load", "-c4", "-m4", f"-D{chunk}", "--rps=50", f"http://127.0.0.1:{plain}/h2/x"], "h2load")),
        threading.Thread(target=tls_loop, args=(ports["tls"],)),
        threading.Thread(target=grpc_loop, args=(plain,)),
        threading.Thread(target=vanishing_clients, args=(plain,)),
    ]
    time.sleep(2)
    start_figures = proc_figures(sluice.pid)
    samples = [(0, *start_figures)]
    for t in threads:
        t.daemon = True
        t.start()
    started = time.time()
    next_reload = next_kill = next_sample = started
    kills = reloads = 0
    weights = [(90, 10), (80, 20), (50, 50)]
    down = []
    while time.time() - started < DURATION:
        now = time.time()
        if sluice.poll() is not None:
            break
        for when, backend in list(down):
            if now >= when:
                backend.start()
                down.remove((when, backend))
        if now >= next_kill:
            victim = random.choice([a, b, h2, grpc])
            if all(v is not victim for _, v in down):
                victim.stop()
                down.append((now + 3, victim))
                kills += 1
            next_kill = now + 15
        if now >= next_reload:
            with open(path + ".tmp", "w") as f:
                f.write(config(ports, weights[reloads % len(weights)], cert, key))
            os.rename(path + ".tmp", path)
            sluice.send_signal(signal.SIGHUP)
            reloads += 1
            next_reload = now + 4
        if now >= next_sample:
            samples.append((int(now - started), *proc_figures(sluice.pid)))
            next_sample = now + 30
        time.sleep(0.2)
    alive = sluice.poll() is None
    STOP.set()
    for t in threads:
        t.join(timeout=60)
    for _, backend in down:
        backend.start()
    time.sleep(3)   # let in-flight exchanges and pools settle before the last reading
    end_figures = proc_figures(sluice.pid) if alive else (0, 0)
    stats = {}
    if alive:
        try:
            stats = json.load(urllib.request.urlopen(admin + "/stats", timeout=5))
        except Exception as e:
            stats = {"error": str(e)}
        sluice.send_signal(signal.SIGTERM)
        sluice.wait(timeout=30)
    code = sluice.returncode
    for backend in (a, b, c):
        backend.stop()
    for backend in (h2, grpc):
        backend.stop()

    print(f"soak: {DURATION} s, 2 workers, {kills} backend kills (restarted after 3 s), {reloads} reloads (SIGHUP every 4 s)")
    print(f"sluice stayed up: {alive}; exit status after SIGTERM: {code}")
    print(f"RSS KiB / open fds: start {start_figures[0]} / {start_figures[1]}, end (after load) {end_figures[0]} / {end_figures[1]}")
    print("samples (s, RSS KiB, fds): " + ", ".join(f"({t}, {r}, {d})" for t, r, d in samples))
    print("client-side counts:")
    for k in sorted(COUNTS):
        print(f"  {k}: {COUNTS[k]}")
    glob = stats.get("global", {})
    keys = ["requests_received", "local_error_responses", "upstream_connect_failures", "upstream_resets", "upstream_timeouts",
            "client_disconnects", "header_timeouts", "requests_parsed_error", "h2_connections", "tls_handshake_failures",
            "config_reloads", "config_reload_failures"]
    print("sluice counters: " + ", ".join(f"{k} {glob.get(k)}" for k in keys))
    for r in stats.get("routes", []):
        per = ", ".join(f"{t['backend']} {t['requests']} (5xx {t['responses']['5xx']})" for t in r["targets"])
        print(f"  route {r['name']}: {per}")
    # Flat: the end is within 20 % (RSS) and 64 descriptors of the start reading.
    rss_ok = end_figures[0] <= start_figures[0] * 1.2 + 16384
    fd_ok = end_figures[1] <= start_figures[1] + 64
    print(f"RSS flat: {rss_ok}; descriptors flat: {fd_ok}; log: {WORK}/sluice.log")
    sys.exit(0 if alive and code == 0 and rss_ok and fd_ok else 1)


if __name__ == "__main__":
    main()
