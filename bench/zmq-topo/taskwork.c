/* Task worker: connects PUSH to the sink and, once that is up, PULL to the ventilator; reads each
 * JSON task's number and payload length, reports {worker, task, bytes}, stops at its end marker. */
#include <unistd.h>
#include "topo.h"

int main(int argc, char **argv) {
    const char *tasks_at = flag(argc, argv, "--connect", "127.0.0.1:5557");
    const char *sink_at = flag(argc, argv, "--sink", "127.0.0.1:5558");
    char id[64];
    snprintf(id, sizeof id, "c-worker-%d", (int)getpid());

    void *ctx = zmq_ctx_new();
    void *sink = zmq_socket(ctx, ZMQ_PUSH);
    no_hwm(sink);
    void *events = monitor(ctx, sink, "inproc://taskwork");
    check(zmq_connect(sink, endpoint(sink_at)), "connecting to the sink");
    /* As zmq-worker does: only a worker whose results can flow takes tasks, so results never
     * pile up unseen and reach the sink (whose clock starts at its first message) in one burst. */
    wait_handshakes(events, 1);
    zmq_close(events);
    void *tasks = zmq_socket(ctx, ZMQ_PULL);
    no_hwm(tasks);
    check(zmq_connect(tasks, endpoint(tasks_at)), "connecting to the ventilator");

    long received = 0;
    char result[160];
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    double start = now_ms();
    for (;;) {
        check(zmq_msg_recv(&msg, tasks, 0), "receiving a task");
        const char *task = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg);
        if (memmem(task, len, "\"end\"", 5)) break;
        const char *num = memmem(task, len, "\"task\":", 7);
        const char *pay = memmem(task, len, "\"payload\":\"", 11);
        if (!num || !pay) continue;
        pay += 11;
        const char *close = memchr(pay, '"', task + len - pay);
        long bytes = close ? close - pay : 0;
        int n = snprintf(result, sizeof result, "{\"bytes\":%ld,\"task\":%lld,\"worker\":\"%s\"}",
                         bytes, strtoll(num + 7, NULL, 10), id);
        check(zmq_send(sink, result, n, 0), "sending a result");
        received++;
    }
    printf("sent=%ld received=%ld lost=0 elapsed_ms=%.0f\n", received, received, now_ms() - start);
    zmq_msg_close(&msg);
    zmq_close(tasks);
    zmq_close(sink); /* default linger: every result reaches the sink */
    zmq_ctx_term(ctx);
    return 0;
}
