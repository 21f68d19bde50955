/* Publisher (the guide's weather server): binds XPUB, waits for --subscriptions subscriptions,
 * publishes --count [topic, {"data","seq"}] messages, then an "END <count>" marker that is never dropped. */
#include "topo.h"

int main(int argc, char **argv) {
    const char *listen = flag(argc, argv, "--listen", "127.0.0.1:5556");
    const char *topic = flag(argc, argv, "--topics", "bench");
    struct batch b = batch_flags(argc, argv);
    long subscriptions = atol(flag(argc, argv, "--subscriptions", "1"));

    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_XPUB);
    int one = 1, zero = 0;
    check(zmq_setsockopt(pub, ZMQ_XPUB_VERBOSER, &one, sizeof one), "setting ZMQ_XPUB_VERBOSER");
    check(zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero), "setting ZMQ_SNDHWM");
    check(zmq_bind(pub, endpoint(listen)), "binding the XPUB socket");
    char sub[256];
    for (long live = 0; live < subscriptions;) {
        int n = zmq_recv(pub, sub, sizeof sub, 0);
        check(n, "reading a subscription");
        live += n > 0 && sub[0] == 1 ? 1 : -1;
    }

    size_t tlen = strlen(topic);
    double start = now_ms();
    for (long seq = 0; seq < b.count; seq++) {
        int n = snprintf(b.msg, b.size + 64, "{\"data\":\"%s\",\"seq\":%ld}", b.payload, seq);
        check(zmq_send(pub, topic, tlen, ZMQ_SNDMORE), "sending a topic");
        check(zmq_send(pub, b.msg, n, 0), "sending an update");
    }
    check(zmq_setsockopt(pub, ZMQ_XPUB_NODROP, &one, sizeof one), "setting ZMQ_XPUB_NODROP");
    int n = snprintf(b.msg, b.size + 64, "END %ld", b.count);
    check(zmq_send(pub, topic, tlen, ZMQ_SNDMORE), "sending the end marker");
    check(zmq_send(pub, b.msg, n, 0), "sending the end marker");
    printf("sent=%ld received=0 lost=0 elapsed_ms=%.0f\n", b.count, now_ms() - start);
    zmq_close(pub); /* default linger: every update reaches every subscriber */
    zmq_ctx_term(ctx);
    return 0;
}
