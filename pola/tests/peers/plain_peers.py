#!/usr/bin/python3
"""Real TCP echo and REST conversations for pola's report tests, on a port the test chose.

usage: plain_peers.py echo|rest PORT COUNT
echo: a socket echo server and a client that sends COUNT 64-byte messages on one connection.
rest: an HTTP/1.1 keep-alive item store (http.server) and an http.client walking COUNT items
through POST, GET, PUT, DELETE and the GET that answers 404, all on one connection.
Both ends run in this process and it exits 0 once every answer came back as expected.
"""
import http.client
import http.server
import json
import socket
import sys
import threading

pattern, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def echo():
    server = socket.create_server(("127.0.0.1", port))

    def serve():
        conn, _ = server.accept()
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(count):
        msg = f"echo-{i:04d}:".encode().ljust(64, b".")
        client.sendall(msg)
        back = b""
        while len(back) < len(msg):
            back += client.recv(64 - len(back))
        assert back == msg, (back, msg)
    client.close()


class Items(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    items = {}
    next_id = [1]

    def answer(self, status, body=None, location=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def item(self):
        try:
            return int(self.path.rsplit("/", 1)[1])
        except ValueError:
            return None

    def do_POST(self):
        i = self.next_id[0]
        self.next_id[0] += 1
        self.items[i] = self.body()
        self.answer(201, {"id": i, **self.items[i]}, f"/items/{i}")

    def do_GET(self):
        i = self.item()
        if i in self.items:
            self.answer(200, self.items[i])
        else:
            self.answer(404, {"error": f"no item with id {i}"})

    def do_PUT(self):
        i = self.item()
        self.items[i] = self.body()
        self.answer(200, self.items[i])

    def do_DELETE(self):
        del self.items[self.item()]
        self.answer(204)

    def log_message(self, *args):
        pass


def rest():
    server = http.server.HTTPServer(("127.0.0.1", port), Items)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    c = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}

    def call(method, path, body=None):
        c.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = c.getresponse()
        r.read()
        return r

    for n in range(count):
        r = call("POST", "/items", {"name": f"lamp {n}", "quantity": 1})
        assert r.status == 201, r.status
        path = r.getheader("Location")
        assert call("GET", path).status == 200
        assert call("PUT", path, {"name": f"lamp {n}", "quantity": 2}).status == 200
        assert call("DELETE", path).status == 204
        assert call("GET", path).status == 404
    c.close()
    server.shutdown()


{"echo": echo, "rest": rest}[pattern]()
