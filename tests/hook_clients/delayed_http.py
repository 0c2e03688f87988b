#!/usr/bin/env python3
"""A loopback HTTP server that answers late and counts what it serves at once.

Usage: delayed_http.py <port file>   (binds 127.0.0.1 on a free port and
writes the port to the file once it listens)

  GET /delay?ms=M&id=I[&gather=N]  answers "I" after M ms (default 500); with
      gather, the M ms start once N requests are in flight together (or after
      30 s, when they never are), so "all N were in flight at once" does not
      depend on how fast they arrived
  GET /stats   {"served": S, "max_in_flight": F} since the last reset
  GET /reset   sets both to 0
One thread per connection (ThreadingHTTPServer), so the server itself never
serializes requests: a client that sends them one at a time shows max 1.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

GATHER_LIMIT_S = 30


class Counters:
    def __init__(self):
        self.lock = threading.Condition()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0

    def enter(self, gather):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.in_flight >= gather, timeout=GATHER_LIMIT_S)

    def leave(self):
        with self.lock:
            self.in_flight -= 1
            self.served += 1

    def stats(self):
        with self.lock:
            return {"served": self.served, "max_in_flight": self.max_in_flight}

    def reset(self):
        with self.lock:
            self.served = 0
            self.max_in_flight = 0


counters = Counters()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/delay":
            counters.enter(int(query.get("gather", "1")))
            time.sleep(int(query.get("ms", "500")) / 1000)
            counters.leave()
            self.answer(query.get("id", ""))
        elif url.path == "/stats":
            self.answer(json.dumps(counters.stats()))
        elif url.path == "/reset":
            counters.reset()
            self.answer("")
        else:
            self.send_error(404)

    def answer(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # every client connects at once


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as port_file:
        port_file.write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
