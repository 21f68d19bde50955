/* Subscriber (the guide's weather client): connects SUB, subscribes to --topics, reads each
 * update's seq, and stops at the end marker; lost counts the gaps in seq. */
#include "topo.h"

int main(int argc, char **argv) {
    const char *connect = flag(argc, argv, "--connect", "127.0.0.1:5556");
    const char *topic = flag(argc, argv, "--topics", "bench");

    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    no_hwm(sub);
    check(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)), "subscribing");
    check(zmq_connect(sub, endpoint(connect)), "connecting to the publisher");

    long received = 0, next = 0, missed = 0, announced = -1;
    double start = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (announced < 0) {
        if (zmq_msg_recv(&msg, sub, 0) == -1) break;              /* topic frame */
        if (start == 0) {
            start = now_ms();
            int limit = 30000;
            zmq_setsockopt(sub, ZMQ_RCVTIMEO, &limit, sizeof limit);
        }
        if (zmq_msg_recv(&msg, sub, 0) == -1) break;              /* payload frame */
        const char *m = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg);
        if (len > 4 && memcmp(m, "END ", 4) == 0) {
            announced = atol(m + 4);
            missed += announced - next;
            break;
        }
        received++;
        const char *s = memmem(m, len, "\"seq\":", 6);
        long seq = s ? atol(s + 6) : -1;
        if (seq >= next) { missed += seq - next; next = seq + 1; }
    }
    printf("sent=%ld received=%ld lost=%ld elapsed_ms=%.0f\n", announced, received, missed,
           start ? now_ms() - start : 0);
    zmq_msg_close(&msg);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return announced == received && missed == 0 ? 0 : 1;
}
