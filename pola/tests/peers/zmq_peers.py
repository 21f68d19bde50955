#!/usr/bin/python3
"""Real ZeroMQ traffic for pola's capture tests (pyzmq, i.e. libzmq), on a port the test chose.

usage: zmq_peers.py reqrep|pushpull|pubsub PORT COUNT
Each pattern runs both ends in this process over TCP loopback and exits 0 once every message
arrived, so the test knows the conversation is complete before it stops tcpdump.
"""
import sys
import threading

import zmq

pattern, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = zmq.Context()
addr = f"tcp://127.0.0.1:{port}"


def reqrep():
    rep = ctx.socket(zmq.REP)
    rep.bind(addr)
    req = ctx.socket(zmq.REQ)
    req.connect(addr)
    for i in range(count):
        req.send(f"request {i}".encode())
        rep.send(rep.recv().upper())
        assert req.recv() == f"REQUEST {i}".encode()
    for s in (req, rep):
        s.close(linger=1000)


def pushpull():
    # Three workers connect to one pusher; each gets a fair turn. A second frame tests MORE.
    push = ctx.socket(zmq.PUSH)
    # The monitor comes first: a handshake that completes before it exists is never reported.
    mon = push.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    push.bind(addr)
    pulls = []
    for _ in range(3):
        p = ctx.socket(zmq.PULL)
        p.connect(addr)
        pulls.append(p)
    # Wait until every worker's connection is up, so tasks are spread over all three.
    for _ in range(3):
        mon.recv_multipart()
    for i in range(count):
        push.send_multipart([b"task", str(i).encode()])
    got = 0
    poller = zmq.Poller()
    for p in pulls:
        poller.register(p, zmq.POLLIN)
    while got < count:
        for sock, _ in poller.poll(10000):
            sock.recv_multipart()
            got += 1
    push.disable_monitor()
    mon.close()
    for s in pulls + [push]:
        s.close(linger=1000)


def pubsub():
    pub = ctx.socket(zmq.PUB)
    pub.bind(addr)
    subs = []
    for topic in (b"weather", b"sport"):
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, topic)
        s.connect(addr)
        subs.append(s)
    # XPUB-free readiness: publish a probe until both subscribers have seen one.
    ready = [False, False]
    while not all(ready):
        pub.send(b"weather probe")
        pub.send(b"sport probe")
        for i, s in enumerate(subs):
            while s.poll(50):
                s.recv()
                ready[i] = True
    for i in range(count):
        pub.send(f"{'weather' if i % 2 == 0 else 'sport'} {i}".encode())
        pub.send(f"news {i}".encode())  # nobody subscribed: never leaves the publisher
    want = {0: (count + 1) // 2, 1: count // 2}
    for i, s in enumerate(subs):
        n = 0
        while n < want[i]:
            if s.recv().split()[1] != b"probe":
                n += 1
    subs[0].setsockopt(zmq.UNSUBSCRIBE, b"weather")  # a CANCEL on the wire
    for s in subs + [pub]:
        s.close(linger=1000)


{"reqrep": reqrep, "pushpull": pushpull, "pubsub": pubsub}[pattern]()
ctx.term()
