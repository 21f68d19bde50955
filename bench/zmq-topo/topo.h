/* What the five C ends share: flags in pola's spelling (--name value), a sender's batch, a tcp://
 * endpoint from HOST:PORT, no high-water marks (as in pola's pipeline), a clock, and waiting for handshakes. */
#ifndef TOPO_H
#define TOPO_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* The value after --name, or the default. */
static inline const char *flag(int argc, char **argv, const char *name, const char *dflt) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

/* What a sender sends: --count messages, each with a --size byte payload of 'x', formatted into
 * msg (room for the payload and 64 bytes of JSON around it). */
struct batch {
    long count, size;
    char *payload, *msg;
};

static inline struct batch batch_flags(int argc, char **argv) {
    struct batch b = {atol(flag(argc, argv, "--count", "100")), atol(flag(argc, argv, "--size", "16"))};
    b.payload = malloc(b.size + 1);
    memset(b.payload, 'x', b.size);
    b.payload[b.size] = 0;
    b.msg = malloc(b.size + 64);
    return b;
}

static inline const char *endpoint(const char *hostport) {
    static char buf[256];
    snprintf(buf, sizeof buf, "tcp://%s", hostport);
    return buf;
}

static inline void check(int rc, const char *what) {
    if (rc == -1) {
        fprintf(stderr, "error: %s: %s\n", what, zmq_strerror(zmq_errno()));
        exit(1);
    }
}

static inline void no_hwm(void *s) {
    int zero = 0;
    check(zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero), "setting ZMQ_SNDHWM");
    check(zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero), "setting ZMQ_RCVHWM");
}

static inline double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Starts monitoring s for completed handshakes; call before its bind. */
static inline void *monitor(void *ctx, void *s, const char *inproc) {
    check(zmq_socket_monitor(s, inproc, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), "starting a monitor");
    void *events = zmq_socket(ctx, ZMQ_PAIR);
    check(zmq_connect(events, inproc), "connecting to the monitor");
    return events;
}

/* Blocks until n peers completed the ZMTP handshake (frame 1: event, frame 2: endpoint). */
static inline void wait_handshakes(void *events, long n) {
    char buf[256];
    for (long seen = 0; seen < n; seen++) {
        check(zmq_recv(events, buf, sizeof buf, 0), "reading a monitor event");
        check(zmq_recv(events, buf, sizeof buf, 0), "reading a monitor event");
    }
}
#endif
