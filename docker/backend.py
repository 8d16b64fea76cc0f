"""A stand-in fraud-detector model server for docker/compose.yaml.

Sluice has no standalone model-server binary (the one inside `sluice demo` only
runs in-process), so the compose example uses this stdlib-only script instead.
It answers the same shapes as the demo servers:

  POST /v1/models/fraud-detector/predict   (also NAME:predict, /v2/models/NAME/infer)
       {"request_id": ..., "inputs": {"transaction_amount": 499.99, ...},
        "parameters": {"threshold": 0.7}}
    -> {"request_id", "model_name", "model_version",
        "predictions": {"fraud_probability", "is_fraud"}, "metadata": {...}}
  GET  /v1/models/fraud-detector           model status (health-check path)

Environment: MODEL_VERSION (e.g. v2.3.1), PORT (default 8501),
PROBABILITY_OFFSET (added to the toy score so versions disagree a little),
LATENCY_MS (sleep before answering a prediction).
"""

import json
import os
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("MODEL_VERSION", "v0.0.0")
PORT = int(os.environ.get("PORT", "8501"))
OFFSET = float(os.environ.get("PROBABILITY_OFFSET", "0"))
LATENCY = float(os.environ.get("LATENCY_MS", "0")) / 1000


def model_name(path):
    """The model NAME of a predict path, or None."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) == 4 and parts[1] == "v1" and parts[2] == "models" and parts[3].endswith(":predict"):
        return parts[3][: -len(":predict")]
    if len(parts) == 5 and parts[2] == "models" and (parts[1], parts[4]) in (("v1", "predict"), ("v2", "infer")):
        return parts[3]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so Sluice can pool connections
    # Headers and body go out in two writes; without TCP_NODELAY the second waits for the
    # peer's delayed ACK, adding about 40 ms to every answer on a keep-alive connection.
    disable_nagle_algorithm = True

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("?", 1)[0].split("/")
        if len(parts) == 4 and parts[1] in ("v1", "v2") and parts[2] == "models":
            self.reply(200, {"model_name": parts[3],
                             "model_version_status": [{"version": VERSION, "state": "AVAILABLE"}]})
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        name = model_name(self.path)
        if name is None:
            return self.reply(404, {"error": "not_found"})
        started = time.monotonic()
        try:
            req = json.loads(raw or b"{}")
            inputs = req.get("inputs") or {}
            amount = float(inputs.get("transaction_amount", 0)) if isinstance(inputs, dict) else 0.0
            threshold = float((req.get("parameters") or {}).get("threshold", 0.7))
        except (ValueError, AttributeError, TypeError):
            return self.reply(400, {"error": "bad_request", "message": "body must be a JSON object"})
        if LATENCY:
            time.sleep(LATENCY)
        p = round(min(0.99, max(0.01, amount / 1000 + OFFSET)), 4)
        self.reply(200, {
            "request_id": req.get("request_id") or self.headers.get("x-request-id") or str(uuid.uuid4()),
            "model_name": name,
            "model_version": VERSION,
            "predictions": {"fraud_probability": p, "is_fraud": p >= threshold},
            "metadata": {"latency_ms": round((time.monotonic() - started) * 1000, 3),
                         "timestamp": datetime.now(timezone.utc).isoformat()},
        })

    def log_message(self, fmt, *args):  # no per-request log lines
        pass


if __name__ == "__main__":
    print(f"fraud-detector {VERSION} listening on 0.0.0.0:{PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
