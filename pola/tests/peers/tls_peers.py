#!/usr/bin/python3
"""Real TLS peers for pola's decryption tests, on a port the test chose. Python's ssl module
(OpenSSL) writes the session secrets to $SSLKEYLOGFILE.

usage: tls_peers.py https-server PORT CERT KEY
    an HTTP/1.1 keep-alive server over TLS answering GET /reading.json (200) and anything
    else (404); runs until killed.
usage: tls_peers.py mqtt-client PORT CAFILE COUNT VERSION [CIPHERS]
    an MQTT 3.1.1 client over TLS (VERSION 1.2 or 1.3, or plain for no TLS; CIPHERS an
    OpenSSL TLS 1.2 cipher list) to a broker on PORT: CONNECT, SUBSCRIBE lab/# (QoS 0), COUNT PUBLISHes at QoS 1 to
    lab/temp, each answered by a PUBACK and delivered back, then DISCONNECT. Exits 0 once every
    answer came.
"""
import http.server
import socket
import ssl
import struct
import sys


def https_server(port, cert, key):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            found = self.path == "/reading.json"
            body = b'{"room":"lab","celsius":21.5}' if found else b"no such item"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def packet(kind, body):
    """An MQTT packet: fixed header byte, remaining length (varint), body."""
    out, n = bytearray([kind]), len(body)
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + body


def text(s):
    return struct.pack(">H", len(s)) + s.encode()


def read_packet(conn):
    def exactly(n):
        data = b""
        while len(data) < n:
            more = conn.recv(n - len(data))
            assert more, "broker closed the connection"
            data += more
        return data

    kind = exactly(1)[0]
    length, shift = 0, 0
    while True:
        byte = exactly(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return kind >> 4, exactly(length)


def mqtt_client(port, cafile, count, version, ciphers):
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if version == "plain":
        return mqtt_session(raw, count)
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ctx.minimum_version = {
        "1.2": ssl.TLSVersion.TLSv1_2,
        "1.3": ssl.TLSVersion.TLSv1_3,
    }[version]
    if ciphers:
        ctx.set_ciphers(ciphers)
    mqtt_session(ctx.wrap_socket(raw, server_hostname="localhost"), count)


def mqtt_session(conn, count):
    connect = text("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 30) + text("tls-student")
    conn.sendall(packet(0x10, connect))
    assert read_packet(conn)[0] == 2, "no CONNACK"
    conn.sendall(packet(0x82, struct.pack(">H", 1) + text("lab/#") + b"\x00"))
    assert read_packet(conn)[0] == 9, "no SUBACK"
    for i in range(count):
        body = text("lab/temp") + struct.pack(">H", i + 2) + f"{20 + i / 2:.1f}".encode()
        conn.sendall(packet(0x32, body))
        kinds = sorted(read_packet(conn)[0] for _ in range(2))
        assert kinds == [3, 4], kinds
    conn.sendall(packet(0xE0, b""))
    conn.close()


mode, port = sys.argv[1], int(sys.argv[2])
if mode == "https-server":
    https_server(port, sys.argv[3], sys.argv[4])
else:
    mqtt_client(port, sys.argv[3], int(sys.argv[4]), sys.argv[5], (sys.argv[6:] or [None])[0])
