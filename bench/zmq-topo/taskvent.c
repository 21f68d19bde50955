/* Task ventilator: binds PUSH, tells the sink the batch size, waits for --workers handshakes,
 * then sends --count JSON tasks with a --size byte payload and one end marker per worker. */
#include "topo.h"

int main(int argc, char **argv) {
    const char *listen = flag(argc, argv, "--listen", "127.0.0.1:5557");
    const char *sink_at = flag(argc, argv, "--sink", "127.0.0.1:5558");
    long workers = atol(flag(argc, argv, "--workers", "3"));
    struct batch b = batch_flags(argc, argv);

    void *ctx = zmq_ctx_new();
    void *tasks = zmq_socket(ctx, ZMQ_PUSH);
    no_hwm(tasks);
    void *events = monitor(ctx, tasks, "inproc://taskvent");
    check(zmq_bind(tasks, endpoint(listen)), "binding the task socket");
    void *sink = zmq_socket(ctx, ZMQ_PUSH);
    no_hwm(sink);
    check(zmq_connect(sink, endpoint(sink_at)), "connecting to the sink");
    wait_handshakes(events, workers);
    int ev;
    size_t len = sizeof ev;
    zmq_getsockopt(tasks, ZMQ_EVENTS, &ev, &len); /* take in every pending pipe before task 0 */

    int n = snprintf(b.msg, b.size + 64, "{\"batch\":%ld}", b.count);
    check(zmq_send(sink, b.msg, n, 0), "announcing the batch");
    double start = now_ms();
    for (long i = 0; i < b.count; i++) {
        n = snprintf(b.msg, b.size + 64, "{\"payload\":\"%s\",\"task\":%ld}", b.payload, i);
        check(zmq_send(tasks, b.msg, n, 0), "sending a task");
    }
    for (long w = 0; w < workers; w++)
        check(zmq_send(tasks, "{\"end\":true}", 12, 0), "sending an end marker");
    printf("sent=%ld received=0 lost=0 elapsed_ms=%.0f workers=%ld\n", b.count, now_ms() - start,
           workers);
    zmq_close(events);
    zmq_close(tasks); /* default linger: close waits until every task was delivered */
    zmq_close(sink);
    zmq_ctx_term(ctx);
    return 0;
}
