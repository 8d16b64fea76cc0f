"""A fleet of N real `sluice run` processes (default 20) sharing one real etcd on loopback, for the figures
in docs/fleet.md: time to form the fleet, convergence of admin POSTs across all replicas (p50/p99), leader
failover time, and etcd writes per second per replica (counted by Sluice and by etcd itself).

    python3 scripts/fleet-sim.py SLUICE_BINARY [REPLICAS] [CHANGES]

Everything runs on 127.0.0.1 with ports picked free, in a temporary directory (kept when SLUICE_SIM_KEEP is
set), bounded in time (each wait has a deadline); every process it starts is stopped at the end, also on
error or Ctrl-C.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLUICE = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
CHANGES = int(sys.argv[3]) if len(sys.argv) > 3 else 40
DEADLINE = time.monotonic() + 600
WORK = tempfile.mkdtemp(prefix="sluice-fleet-sim-")
children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, seconds, cond, step=0.02):
    end = min(time.monotonic() + seconds, DEADLINE)
    while time.monotonic() < end:
        try:
            v = cond()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(step)
    raise SystemExit(f"fleet-sim: timed out waiting for {what}")


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read()


def post(url, body):
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def backend(name):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = json.dumps({"model_version": name}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    s = ThreadingHTTPServer(("127.0.0.1", 0), H)
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def cleanup(*_):
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("SLUICE_SIM_KEEP"):
        print(f"logs kept in {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)


def main():
    client, peer = free_port(), free_port()
    etcd = subprocess.Popen(["etcd", "--name", "sim", "--data-dir", f"{WORK}/etcd",
                             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
                             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-cluster", f"sim=http://127.0.0.1:{peer}", "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{WORK}/etcd.log", "w"))
    children.append(etcd)
    wait("etcd", 15, lambda: b"true" in get(f"http://127.0.0.1:{client}/health")[2] if etcd.poll() is None else None)
    stable, canary = backend("stable"), backend("canary")
    replicas = []
    started = time.monotonic()
    for i in range(N):
        port, admin = free_port(), free_port()
        cfg = f"""workers: 1
listeners: [{{ name: public, address: 127.0.0.1:{port} }}]
admin: {{ address: 127.0.0.1:{admin} }}
fleet:
  name: sim
  etcd: {{ endpoints: ["127.0.0.1:{client}"] }}
  lease_ttl: 2s
  publish_every: 1s
backends:
  - {{ name: stable, endpoints: [127.0.0.1:{stable.server_address[1]}] }}
  - {{ name: canary, endpoints: [127.0.0.1:{canary.server_address[1]}] }}
routes:
  - name: models
    match: {{ path_prefix: / }}
    baseline: stable
    targets: [{{ backend: stable, weight: 100 }}, {{ backend: canary, weight: 0 }}]
    rollback: {{ window: 30s, evaluate_every: 2s, min_requests: 50, max_error_rate: 0.05 }}
"""
        path = f"{WORK}/r{i}.yaml"
        with open(path, "w") as f:
            f.write(cfg)
        p = subprocess.Popen([SLUICE, "run", "--config", path, "--instance", f"r{i}"],
                             stdout=subprocess.DEVNULL, stderr=open(f"{WORK}/r{i}.log", "w"))
        children.append(p)
        replicas.append({"port": port, "admin": admin, "name": f"r{i}", "proc": p})

    def fleet(r):
        try:
            return json.loads(get(f"http://127.0.0.1:{r['admin']}/stats")[2])["fleet"]
        except Exception:
            return None

    def formed():
        fs = [fleet(r) for r in replicas if r["proc"].poll() is None]
        if not all(f and f["connected"] and len(f["members"]) == len(fs) for f in fs):
            return None
        leaders = {f["leader"] for f in fs}
        return leaders.pop() if len(leaders) == 1 and None not in leaders else None

    leader = wait("the fleet to form", 60, formed, step=0.1)
    print(f"fleet of {N} formed (all connected, {N} members, leader {leader}) in {time.monotonic() - started:.2f} s")
    def generations():
        return [json.loads(get(f"http://127.0.0.1:{r['admin']}/stats")[2])["routes"][0]["fleet"]["generation"] for r in replicas]
    try:
        wait("every replica to apply the fleet state", 20, lambda: all(generations()))
    except SystemExit:
        print("generations:", generations())
        os.system(f"grep -h -i 'fleet' {WORK}/r*.log | head -30")
        raise

    # Convergence: POST on one replica (round robin); one thread per replica polls it over a keep-alive
    # connection until it routes to the new target.
    import http.client
    from concurrent.futures import ThreadPoolExecutor
    local = threading.local()

    def until(i, target, t0):
        conns = getattr(local, "conns", None)
        if conns is None:
            conns = local.conns = {}
        while time.monotonic() - t0 < 5:
            c = conns.get(i) or http.client.HTTPConnection("127.0.0.1", replicas[i]["port"], timeout=2)
            conns[i] = c
            try:
                c.request("GET", "/x")
                r = c.getresponse()
                r.read()
                if r.getheader("x-sluice-target") == target:
                    return time.monotonic() - t0
            except (OSError, http.client.HTTPException):
                c.close()
                conns[i] = None
        return float("inf")

    times = []
    with ThreadPoolExecutor(max_workers=N) as pool:
        for c in range(CHANGES):
            target = "canary" if c % 2 == 0 else "stable"
            body = json.dumps({"stable": 0, "canary": 100} if target == "canary" else {"stable": 100, "canary": 0})
            post(f"http://127.0.0.1:{replicas[c % N]['admin']}/routes/models/weights", body)
            t0 = time.monotonic()
            times += list(pool.map(lambda i: until(i, target, t0), range(N)))
    times.sort()
    p = lambda q: times[min(len(times) - 1, max(0, int(q * len(times) + 0.999) - 1))]
    print(f"convergence over {CHANGES} changes x {N} replicas (POST answered -> replica routes to the new target): "
          f"p50 {p(0.5) * 1000:.1f} ms, p99 {p(0.99) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")

    # Size of what each replica publishes (1 route with traffic: the probes above).
    import base64
    req = urllib.request.Request(f"http://127.0.0.1:{client}/v3/kv/range", method="POST", data=json.dumps({
        "key": base64.b64encode(b"/sluice/sim/windows/").decode(), "range_end": base64.b64encode(b"/sluice/sim/windows0").decode()}).encode())
    kvs = json.loads(urllib.request.urlopen(req, timeout=5).read()).get("kvs", [])
    sizes = [len(base64.b64decode(kv["value"])) for kv in kvs]
    busy = [len(json.loads(base64.b64decode(kv["value"]))["seconds"]) for kv in kvs]
    print(f"windows values right after the probes: {len(sizes)} keys, mean {statistics.mean(sizes):.0f} B, max {max(sizes)} B "
          f"({max(busy)} seconds per publication, 1 route x 2 targets)")

    # etcd cost at rest: writes counted by every replica, and etcd's own committed proposals and puts.
    def sluice_writes():
        total = 0
        for r in replicas:
            if r["proc"].poll() is None:
                total += json.loads(get(f"http://127.0.0.1:{r['admin']}/stats")[2])["fleet"]["etcd_writes"]
        return total

    def etcd_metric(name):
        text = get(f"http://127.0.0.1:{client}/metrics")[2].decode()
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + " ") or l.startswith(name + "{"))

    w0, p0, q0, t0 = sluice_writes(), etcd_metric("etcd_server_proposals_committed_total"), etcd_metric("etcd_mvcc_put_total"), time.monotonic()
    time.sleep(10)
    w1, p1, q1, t1 = sluice_writes(), etcd_metric("etcd_server_proposals_committed_total"), etcd_metric("etcd_mvcc_put_total"), time.monotonic()
    dt = t1 - t0
    print(f"etcd at rest, {N} replicas, publish_every 1s, lease_ttl 2s: {(w1 - w0) / dt / N:.2f} writes/s per replica counted by Sluice; "
          f"etcd committed {(p1 - p0) / dt:.1f} proposals/s ({(p1 - p0) / dt / N:.2f} per replica), {(q1 - q0) / dt:.1f} puts/s")

    # Failover: SIGKILL the leader, time until every survivor names another one.
    li = int(leader[1:])
    replicas[li]["proc"].kill()
    t0 = time.monotonic()

    def new_leader():
        fs = [fleet(r) for r in replicas if r["proc"].poll() is None]
        ls = {f and f["leader"] for f in fs}
        return ls.pop() if len(ls) == 1 and leader not in ls and None not in ls else None

    nl = wait("a new leader", 30, new_leader, step=0.02)
    print(f"failover: {nl} leads {time.monotonic() - t0:.2f} s after {leader} was killed (lease_ttl 2s)")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(1)))
    try:
        main()
    finally:
        cleanup()
