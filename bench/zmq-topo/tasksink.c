/* Task sink: binds PULL, collects results until the announced batch is complete (the clock starts
 * at the first message), and judges the split: fair when worker counts differ by at most one. */
#include "topo.h"

#define MAX_WORKERS 64

int main(int argc, char **argv) {
    const char *listen = flag(argc, argv, "--listen", "127.0.0.1:5558");
    long expected = atol(flag(argc, argv, "--workers", "3"));

    void *ctx = zmq_ctx_new();
    void *results = zmq_socket(ctx, ZMQ_PULL);
    no_hwm(results);
    check(zmq_bind(results, endpoint(listen)), "binding the result socket");

    long batch = -1, received = 0, duplicates = 0, malformed = 0, cap = 0, nworkers = 0;
    unsigned char *done = NULL;
    char names[MAX_WORKERS][64];
    long counts[MAX_WORKERS] = {0};
    double start = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (batch < 0 || received < batch) {
        if (zmq_msg_recv(&msg, results, 0) == -1) break; /* timed out: incomplete */
        if (start == 0) {
            start = now_ms();
            int limit = 30000;
            zmq_setsockopt(results, ZMQ_RCVTIMEO, &limit, sizeof limit);
        }
        const char *m = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg);
        const char *b = memmem(m, len, "\"batch\":", 8);
        const char *t = memmem(m, len, "\"task\":", 7);
        const char *w = memmem(m, len, "\"worker\":\"", 10);
        if (b) { batch = atol(b + 8); continue; }
        if (!t || !w) { malformed++; continue; }
        long task = atol(t + 7);
        w += 10;
        const char *end = memchr(w, '"', m + len - w);
        int wlen = end ? (int)(end - w) : 0;
        if (task >= cap) {
            long grown = (task + 1) * 2;
            done = realloc(done, grown);
            memset(done + cap, 0, grown - cap);
            cap = grown;
        }
        if (done[task]) duplicates++; else { done[task] = 1; received++; }
        long i = 0;
        while (i < nworkers && (strncmp(names[i], w, wlen) || names[i][wlen])) i++;
        if (i == nworkers && nworkers < MAX_WORKERS) snprintf(names[nworkers++], 64, "%.*s", wlen, w);
        if (i < MAX_WORKERS) counts[i]++;
    }
    double elapsed = start ? now_ms() - start : 0;
    long max = 0, min = nworkers < expected ? 0 : -1;
    printf("sent=%ld received=%ld lost=%ld elapsed_ms=%.0f per_worker=", batch, received,
           batch - received, elapsed);
    for (long i = 0; i < nworkers; i++) {
        printf("%s%s:%ld", i ? "," : "", names[i], counts[i]);
        if (counts[i] > max) max = counts[i];
        if (min < 0 || counts[i] < min) min = counts[i];
    }
    int fair = max - min <= 1;
    printf(" fair=%s duplicates=%ld malformed=%ld\n", fair ? "true" : "false", duplicates, malformed);
    zmq_msg_close(&msg);
    zmq_close(results);
    zmq_ctx_term(ctx);
    return batch >= 0 && received == batch && fair && duplicates == 0 ? 0 : 1;
}
