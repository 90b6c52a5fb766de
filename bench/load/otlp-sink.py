#!/usr/bin/env python3
"""A do-nothing OTLP/HTTP receiver for bench/load/telemetry.sh: answers every export (POST /v1/traces, /v1/metrics,
/v1/logs, http/protobuf) with 200 and an empty protobuf body (an empty Export*ServiceResponse: nothing rejected),
and on SIGTERM prints how many exports and bytes each signal sent. Usage: otlp-sink.py PORT"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        exports, size = counts.get(self.path, (0, 0))
        counts[self.path] = (exports + 1, size + length)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def report(*_):
    print(", ".join(f"{path}: {n} exports, {size / 1e6:.1f} MB" for path, (n, size) in sorted(counts.items())) or "no exports", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
