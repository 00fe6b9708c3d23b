/*
 * turnload: a small TURN-over-UDP load generator for loopback benchmarks.
 *
 * Client side of STUN/TURN, just enough to load a server: Allocate with the long-term credential 401 round
 * (key = MD5(user:realm:pass), MESSAGE-INTEGRITY = HMAC-SHA1), CreatePermission, ChannelBind, then ChannelData
 * sent with sendmmsg. It also speaks to rawrelay.c (mode "raw"), which relays ChannelData without any TURN.
 *
 * --transport tcp|tls: the client side runs over one TCP connection (or TLS through libssl, no certificate
 * check: loopback benchmark) per allocation instead (RFC 8656 §3.1: the relay to the peer stays UDP). Messages
 * on the stream are framed by their own length, ChannelData padded to 4 bytes (RFC 8656 §12.5). The flood and
 * round-trip commands work over streams; binding and allocs stay UDP.
 *
 * Counting what the relay delivers: the peer is a "sink" socket that never reads. Its receive buffer is tiny,
 * so nearly everything that arrives is dropped by the kernel and counted in the socket's drop counter
 * (/proc/net/udp, last column). Arrivals = drops + what was queued (drained with recv when sampled). Reading
 * nothing keeps the load core free to offer more than the server can relay.
 *
 * Safety: every destination must be in 127.0.0.0/8; every loop stops at a deadline and at a packet count.
 *
 * Commands (output: key=value lines on stdout, diagnostics on stderr):
 *   ping     wait until the target answers (Binding, or the raw relay's ping)
 *   flood    N allocations with a channel each to the sink; ChannelData as fast as possible, or at --rate
 *   rtt      one allocation with a channel to an echo peer; paced probes, round-trip percentiles
 *   binding  Binding requests as fast as possible from a few sockets; answers counted at the sockets' drops
 *   allocs   N authenticated allocations (401 round included), a window of them in flight; rate and RSS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define COOKIE 0x2112A442u
#define MAX_BATCH 64
#define REQ_MAX 320

enum { T_UDP, T_TCP, T_TLS };
enum { ST_IDLE, ST_ALLOC0, ST_ALLOC1, ST_PERM, ST_CHAN, ST_DONE, ST_FAIL };

static struct {
    const char *cmd;
    struct sockaddr_in server;
    int raw;                 /* target is rawrelay, not a TURN server */
    const char *user, *pass, *realm;
    int pid;                 /* server process, for CPU and RSS */
    int allocs;              /* allocations (sessions) */
    int payload;             /* ChannelData payload bytes */
    double warmup, seconds;  /* warm-up, then measured window */
    double rate;             /* packets/s offered; 0 = flood */
    long max_packets;        /* hard cap on packets sent */
    int window;              /* requests in flight during set-up */
    double deadline_total;   /* the whole command stops after this many seconds */
    int want_perm;           /* CreatePermission before ChannelBind */
    int sockets;             /* binding: sockets */
    int rcvbuf;              /* SO_RCVBUF of counting sockets */
    int server_cpu;          /* the core the server is pinned to, for its busy time in /proc/stat; -1: none */
    int gso;                 /* flood: each batch is one sendmsg with UDP_SEGMENT (the server still gets datagrams) */
    int transport;           /* T_UDP, T_TCP or T_TLS: how the client side reaches the server */
} cfg = {
    .user = "load", .pass = "load", .realm = "load.test", .allocs = 16, .payload = 100, .warmup = 1.0,
    .seconds = 3.0, .max_packets = 50000000, .window = 32, .deadline_total = 120, .want_perm = 1, .sockets = 4,
    .rcvbuf = 1, .server_cpu = -1,
};

static double t_start;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "turnload %s: ", cfg.cmd ? cfg.cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void check_deadline(void)
{
    if (now() - t_start > cfg.deadline_total) die("overall deadline of %.0f s reached", cfg.deadline_total);
}

static int is_loopback(const struct sockaddr_in *a)
{
    return a->sin_family == AF_INET && (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

static void parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon - s >= (long)sizeof host) die("bad address %s (want IP:PORT)", s);
    memcpy(host, s, colon - s);
    host[colon - s] = 0;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) die("bad IPv4 address %s", host);
    if (!is_loopback(a)) die("refusing %s: only loopback (127.0.0.0/8) targets are allowed", s);
}

/* ---------- process figures from /proc ---------- */

static double proc_cpu_seconds(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static long proc_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Busy and softirq time of one core (/proc/stat), in seconds: everything that ran there, not only the server. */
static void core_seconds(int cpu, double *busy, double *softirq)
{
    char line[512], name[16];
    *busy = *softirq = -1;
    if (cpu < 0) return;
    snprintf(name, sizeof name, "cpu%d ", cpu);
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[10] = { 0 };
        if (strncmp(line, name, strlen(name)) != 0) continue;
        sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]);
        double tck = (double)sysconf(_SC_CLK_TCK);
        /* user nice system idle iowait irq softirq steal */
        *busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
        *softirq = (v[5] + v[6]) / tck;
        break;
    }
    fclose(f);
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* ---------- counting sockets: drops in /proc/net/udp + drained queue ---------- */

typedef struct {
    int fd;
    unsigned long inode;
    unsigned long long drained;
} counter_t;

static int udp_socket(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
        die("SO_RCVBUF: %s", strerror(errno));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind: %s", strerror(errno));
    return fd;
}

static void counter_init(counter_t *c, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) die("fstat: %s", strerror(errno));
    c->fd = fd;
    c->inode = st.st_ino;
    c->drained = 0;
}

/* Arrivals so far for each counter: kernel drops + datagrams drained from the queue (drained now). */
static void counters_sample(counter_t *cs, int n, unsigned long long *out)
{
    static char buf[1 << 16];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 1000000; k++) {
            if (recv(cs[i].fd, buf, sizeof buf, MSG_DONTWAIT) < 0) break;
            cs[i].drained++;
        }
        out[i] = (unsigned long long)-1;
    }
    FILE *f = fopen("/proc/net/udp", "r");
    if (!f) die("/proc/net/udp: %s", strerror(errno));
    char line[512];
    int found = 0;
    while (found < n && fgets(line, sizeof line, f)) {
        unsigned long inode;
        unsigned long long drops;
        char *tok[16];
        int nt = 0;
        for (char *s = strtok(line, " \n"); s && nt < 16; s = strtok(NULL, " \n")) tok[nt++] = s;
        if (nt < 13 || !strcmp(tok[0], "sl")) continue;
        inode = strtoul(tok[9], NULL, 10);
        drops = strtoull(tok[nt - 1], NULL, 10);
        for (int i = 0; i < n; i++)
            if (cs[i].inode == inode && out[i] == (unsigned long long)-1) {
                out[i] = drops + cs[i].drained;
                found++;
            }
    }
    fclose(f);
    if (found < n) die("socket not found in /proc/net/udp");
}

static unsigned long long counters_total(counter_t *cs, int n)
{
    unsigned long long v[64], t = 0;
    if (n > 64) die("too many counters");
    counters_sample(cs, n, v);
    for (int i = 0; i < n; i++) t += v[i];
    return t;
}

/* ---------- STUN messages ---------- */

typedef struct {
    uint8_t b[REQ_MAX];
    int len;
} msg_t;

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void msg_init(msg_t *m, uint16_t type)
{
    put16(m->b, type);
    put16(m->b + 2, 0);
    put32(m->b + 4, COOKIE);
    for (int i = 0; i < 12; i++) m->b[8 + i] = (uint8_t)rng();
    m->len = 20;
}

static void msg_attr(msg_t *m, uint16_t type, const void *v, int len)
{
    int padded = (len + 3) & ~3;
    if (m->len + 4 + padded > REQ_MAX) die("request too long");
    put16(m->b + m->len, type);
    put16(m->b + m->len + 2, (uint16_t)len);
    memcpy(m->b + m->len + 4, v, len);
    memset(m->b + m->len + 4 + len, 0, padded - len);
    m->len += 4 + padded;
    put16(m->b + 2, (uint16_t)(m->len - 20));
}

static void msg_xor_addr(msg_t *m, uint16_t type, const struct sockaddr_in *a)
{
    uint8_t v[8] = { 0, 1 };
    put16(v + 2, ntohs(a->sin_port) ^ (COOKIE >> 16));
    put32(v + 4, ntohl(a->sin_addr.s_addr) ^ COOKIE);
    msg_attr(m, type, v, 8);
}

static uint8_t lt_key[16];

static void msg_auth(msg_t *m, const char *nonce, int nonce_len)
{
    msg_attr(m, 0x0006, cfg.user, (int)strlen(cfg.user));
    msg_attr(m, 0x0014, cfg.realm, (int)strlen(cfg.realm));
    msg_attr(m, 0x0015, nonce, nonce_len);
    /* RFC 8489 §14.5: the length field counts MESSAGE-INTEGRITY itself while hashing. */
    put16(m->b + 2, (uint16_t)(m->len - 20 + 24));
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha1(), lt_key, 16, m->b, m->len, mac, &mac_len);
    msg_attr(m, 0x0008, mac, 20);
}

static void derive_key(void)
{
    char s[512];
    unsigned int n = 0;
    snprintf(s, sizeof s, "%s:%s:%s", cfg.user, cfg.realm, cfg.pass);
    if (!EVP_Digest(s, strlen(s), lt_key, &n, EVP_md5(), NULL) || n != 16) die("MD5 unavailable");
}

typedef struct {
    uint16_t type;
    int error;                 /* 0, or class*100+number */
    char nonce[256];
    int nonce_len;
    char realm[256];
    struct sockaddr_in relayed;
} resp_t;

static int parse_response(const uint8_t *b, int len, const uint8_t *tid, resp_t *r)
{
    if (len < 20 || get32(b + 4) != COOKIE || (b[0] & 0xC0) != 0) return 0;
    if (tid && memcmp(b + 8, tid, 12) != 0) return 0;
    int mlen = get16(b + 2);
    if (20 + mlen > len) return 0;
    memset(r, 0, sizeof *r);
    r->type = get16(b);
    for (int off = 20; off + 4 <= 20 + mlen;) {
        uint16_t at = get16(b + off), al = get16(b + off + 2);
        const uint8_t *v = b + off + 4;
        if (off + 4 + al > 20 + mlen) break;
        if (at == 0x0009 && al >= 4) r->error = (v[2] & 7) * 100 + v[3];
        else if (at == 0x0015 && al < sizeof r->nonce) { memcpy(r->nonce, v, al); r->nonce_len = al; }
        else if (at == 0x0014 && al < sizeof r->realm) { memcpy(r->realm, v, al); r->realm[al] = 0; }
        else if (at == 0x0016 && al == 8 && v[1] == 1) {
            r->relayed.sin_family = AF_INET;
            r->relayed.sin_port = htons(get16(v + 2) ^ (COOKIE >> 16));
            r->relayed.sin_addr.s_addr = htonl(get32(v + 4) ^ COOKIE);
        }
        off += 4 + ((al + 3) & ~3);
    }
    return 1;
}

/* ---------- sessions: one client socket, one allocation ---------- */

typedef struct {
    int fd;
    int state;
    int final_state;         /* where this session stops */
    int retries;
    int error;
    double sent_at;
    uint16_t channel;
    char nonce[256];
    int nonce_len;
    struct sockaddr_in relayed;
    msg_t req;
    SSL *ssl;                /* T_TLS */
    uint8_t *rx;             /* T_TCP, T_TLS: bytes read from the stream, rx[rx_start, rx_end) not yet framed */
    int rx_start, rx_end;
    const uint8_t *out;      /* flood over a stream: the run being written, out[out_off, out_len) still to go */
    int out_off, out_len;
} sess_t;

#define RX_CAP 65536

static struct sockaddr_in peer_addr; /* sink or echo peer, the XOR-PEER-ADDRESS of every session */

static SSL_CTX *tls_ctx;

/* Opens the session's connection to the server: a connected UDP socket, or a TCP connection (TLS handshake
 * done) left non-blocking. Returns 0, or -1 when the server refused the connection and `soft` is set. */
static int sess_open(sess_t *s, int soft)
{
    if (cfg.transport == T_UDP) {
        s->fd = udp_socket(0);
        if (connect(s->fd, (struct sockaddr *)&cfg.server, sizeof cfg.server) < 0) die("connect: %s", strerror(errno));
        return 0;
    }
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0) die("socket: %s", strerror(errno));
    struct timeval tv = { 5, 0 }; /* connect and handshake are bounded */
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&cfg.server, sizeof cfg.server) < 0) {
        if (soft) { close(s->fd); s->fd = -1; return -1; }
        die("TCP connect: %s", strerror(errno));
    }
    if (cfg.transport == T_TLS) {
        if (!tls_ctx) {
            tls_ctx = SSL_CTX_new(TLS_client_method());
            if (!tls_ctx) die("SSL_CTX_new failed");
            SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
            SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
        }
        s->ssl = SSL_new(tls_ctx);
        if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) die("SSL_new failed");
        if (SSL_connect(s->ssl) != 1) {
            SSL_free(s->ssl); s->ssl = NULL;
            if (soft) { close(s->fd); s->fd = -1; return -1; }
            die("TLS handshake failed");
        }
    }
    if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl: %s", strerror(errno));
    if (!s->rx) s->rx = malloc(RX_CAP);
    s->rx_start = s->rx_end = 0;
    return 0;
}

/* Bytes written to a stream (0: would block); dies on an error. */
static int stream_write_some(sess_t *s, const uint8_t *b, int len)
{
    if (s->ssl) {
        int r = SSL_write(s->ssl, b, len);
        if (r > 0) return r;
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
        die("SSL_write failed (error %d)", e);
    }
    ssize_t r = send(s->fd, b, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r >= 0) return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    die("TCP send: %s", strerror(errno));
    return 0;
}

/* Sends one message (or, on a stream, a run of frames) to the server. A stream write waits while the server
 * is not reading, at most 5 s; a datagram that the kernel refuses is dropped. Returns the bytes sent. */
static int sess_write(sess_t *s, const uint8_t *b, int len)
{
    if (cfg.transport == T_UDP) {
        ssize_t r = send(s->fd, b, (size_t)len, MSG_DONTWAIT);
        if (r < 0 && errno != EAGAIN && errno != ECONNREFUSED && errno != ENOBUFS) die("send: %s", strerror(errno));
        return r < 0 ? 0 : (int)r;
    }
    int off = 0;
    double until = 0;
    while (off < len) {
        int w = stream_write_some(s, b + off, len - off);
        if (w > 0) { off += w; continue; }
        double t = now();
        if (until == 0) until = t + 5;
        else if (t > until) die("stream write stalled for 5 s (the server stopped reading)");
        struct pollfd pf = { .fd = s->fd, .events = POLLOUT };
        poll(&pf, 1, 10);
    }
    return len;
}

/* Length of the first complete frame in b[0, n) (ChannelData with its padding), 0 if incomplete. */
static int stream_frame_len(const uint8_t *b, int n)
{
    if (n < 4) return 0;
    int total;
    if ((b[0] & 0xC0) == 0x00) total = 20 + get16(b + 2);
    else if ((b[0] & 0xC0) == 0x40) total = 4 + ((get16(b + 2) + 3) & ~3);
    else die("unframeable bytes on the stream (first byte 0x%02x)", b[0]);
    return n >= total ? total : 0;
}

/*
 * The next message from the server into out (at most cap bytes): a datagram, or one frame of the stream (a
 * ChannelData frame without its padding). -1 when nothing is there now.
 */
static int sess_recv(sess_t *s, uint8_t *out, int cap)
{
    if (cfg.transport == T_UDP) return (int)recv(s->fd, out, (size_t)cap, MSG_DONTWAIT);
    for (;;) {
        int avail = s->rx_end - s->rx_start;
        int f = stream_frame_len(s->rx + s->rx_start, avail);
        if (f > 0) {
            const uint8_t *m = s->rx + s->rx_start;
            int len = (m[0] & 0xC0) == 0x40 ? 4 + get16(m + 2) : f;
            if (len > cap) die("frame of %d bytes too large", len);
            memcpy(out, m, (size_t)len);
            s->rx_start += f;
            return len;
        }
        if (s->rx_start > 0) { /* compact */
            memmove(s->rx, s->rx + s->rx_start, (size_t)avail);
            s->rx_end = avail;
            s->rx_start = 0;
        }
        if (s->rx_end == RX_CAP) die("frame larger than the receive buffer");
        int r;
        if (s->ssl) {
            r = SSL_read(s->ssl, s->rx + s->rx_end, RX_CAP - s->rx_end);
            if (r <= 0) {
                int e = SSL_get_error(s->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -1;
                die("the server closed the TLS connection (error %d)", e);
            }
        } else {
            r = (int)recv(s->fd, s->rx + s->rx_end, (size_t)(RX_CAP - s->rx_end), MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
            if (r <= 0) die("the server closed the TCP connection%s%s", r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
        }
        s->rx_end += r;
    }
}

static void sess_send(sess_t *s)
{
    s->sent_at = now();
    sess_write(s, s->req.b, s->req.len);
}

static void sess_request(sess_t *s, int state)
{
    s->state = state;
    s->retries = 0;
    switch (state) {
    case ST_ALLOC0:
    case ST_ALLOC1: {
        msg_init(&s->req, 0x0003);
        uint8_t transport[4] = { 17, 0, 0, 0 };
        msg_attr(&s->req, 0x0019, transport, 4);
        if (state == ST_ALLOC1) msg_auth(&s->req, s->nonce, s->nonce_len);
        break;
    }
    case ST_PERM:
        msg_init(&s->req, 0x0008);
        msg_xor_addr(&s->req, 0x0012, &peer_addr);
        msg_auth(&s->req, s->nonce, s->nonce_len);
        break;
    case ST_CHAN: {
        uint8_t ch[4] = { s->channel >> 8, s->channel & 0xFF, 0, 0 };
        msg_init(&s->req, 0x0009);
        msg_attr(&s->req, 0x000C, ch, 4);
        msg_xor_addr(&s->req, 0x0012, &peer_addr);
        msg_auth(&s->req, s->nonce, s->nonce_len);
        break;
    }
    default:
        return;
    }
    sess_send(s);
}

static void sess_next(sess_t *s, int after)
{
    int next = after == ST_ALLOC1 ? (cfg.want_perm ? ST_PERM : ST_CHAN) : after == ST_PERM ? ST_CHAN : ST_DONE;
    if (after >= s->final_state || next > s->final_state) next = ST_DONE;
    if (next == ST_DONE) s->state = ST_DONE;
    else sess_request(s, next);
}

static void sess_on_datagram(sess_t *s, const uint8_t *b, int len)
{
    resp_t r;
    if (s->state <= ST_IDLE || s->state >= ST_DONE) return;
    if (!parse_response(b, len, s->req.b + 8, &r)) return;
    int success = (r.type & 0x0110) == 0x0100, failure = (r.type & 0x0110) == 0x0110;
    if (failure && (r.error == 401 || r.error == 438) && r.nonce_len > 0 && s->retries < 4) {
        /* 401 on the first Allocate is the expected challenge; 438 asks for a fresh nonce. */
        memcpy(s->nonce, r.nonce, r.nonce_len);
        s->nonce_len = r.nonce_len;
        if (r.realm[0] && strcmp(r.realm, cfg.realm) != 0) die("server realm is %s, expected %s", r.realm, cfg.realm);
        int again = s->state == ST_ALLOC0 ? ST_ALLOC1 : s->state;
        int retries = s->retries + (s->state == ST_ALLOC0 ? 0 : 1);
        sess_request(s, again);
        s->retries = retries;
        return;
    }
    if (failure) {
        s->error = r.error;
        s->state = ST_FAIL;
        return;
    }
    if (!success) return;
    if (s->state == ST_ALLOC1) s->relayed = r.relayed;
    sess_next(s, s->state);
}

/*
 * Drives sessions [0, n) to their final state with at most `window` in flight. Sockets are opened as sessions
 * start. Returns the number that reached ST_DONE; `on_done(i)` is called after each (may be NULL).
 */
static int run_sessions(sess_t *ss, int n, int window, double deadline, void (*on_done)(int))
{
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll: %s", strerror(errno));
    int next = 0, inflight = 0, done = 0, failed = 0;
    int *active = calloc(window, sizeof(int));
    uint8_t buf[2048];
    while (done + failed < n) {
        if (now() > deadline) {
            fprintf(stderr, "turnload: set-up deadline: %d of %d sessions done, %d failed\n", done, n, failed);
            break;
        }
        while (inflight < window && next < n) {
            sess_t *s = &ss[next];
            sess_open(s, 0);
            s->channel = (uint16_t)(0x4000 + (next % 0x1000));
            struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)next };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
            if (cfg.raw) {
                /* rawrelay: no allocation; a datagram telling it where the peer is stands in for ChannelBind. */
                uint8_t m[16] = "RAWPEER";
                memcpy(m + 8, &peer_addr.sin_addr, 4);
                memcpy(m + 12, &peer_addr.sin_port, 2);
                memcpy(s->req.b, m, 14);
                s->req.len = 14;
                s->state = ST_ALLOC1;
                sess_send(s);
            } else {
                sess_request(s, ST_ALLOC0);
            }
            active[inflight++] = next++;
        }
        struct epoll_event evs[64];
        int ne = epoll_wait(ep, evs, 64, 5);
        for (int e = 0; e < ne; e++) {
            sess_t *s = &ss[evs[e].data.u32];
            for (int k = 0; k < 16; k++) {
                int len = sess_recv(s, buf, sizeof buf);
                if (len < 0) break;
                if (cfg.raw) {
                    if (len >= 5 && !memcmp(buf, "RAWOK", 5) && s->state == ST_ALLOC1) s->state = ST_DONE;
                } else {
                    sess_on_datagram(s, buf, len);
                }
            }
        }
        double t = now();
        for (int a = 0; a < inflight;) {
            sess_t *s = &ss[active[a]];
            if (s->state == ST_DONE || s->state == ST_FAIL) {
                if (s->state == ST_DONE) {
                    done++;
                    if (on_done) on_done(active[a]);
                } else {
                    failed++;
                    if (failed <= 3)
                        fprintf(stderr, "turnload: session %d failed, error %d\n", active[a], s->error);
                }
                epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
                active[a] = active[--inflight];
                continue;
            }
            if (t - s->sent_at > 0.5) {
                if (++s->retries > 6) {
                    s->state = ST_FAIL;
                    s->error = -1; /* timeout */
                    continue;
                }
                sess_send(s);
            }
            a++;
        }
    }
    free(active);
    close(ep);
    if (failed) fprintf(stderr, "turnload: %d of %d sessions failed\n", failed, n);
    return done;
}

static sess_t *setup_sessions(int n, int final_state)
{
    sess_t *ss = calloc(n, sizeof *ss);
    for (int i = 0; i < n; i++) ss[i].final_state = final_state;
    int ok = run_sessions(ss, n, cfg.window, now() + 20, NULL);
    if (ok < n) die("only %d of %d sessions set up", ok, n);
    return ss;
}

/* Refresh with LIFETIME 0 for every allocation, so a later test reusing a client port gets no 437. */
static void release_sessions(sess_t *ss, int n)
{
    if (cfg.raw) return;
    for (int i = 0; i < n; i++) {
        if (ss[i].state != ST_DONE) continue;
        if (ss[i].out_len > ss[i].out_off) /* a stream: the unfinished run first, or the framing breaks */
            sess_write(&ss[i], ss[i].out + ss[i].out_off, ss[i].out_len - ss[i].out_off);
        ss[i].out_len = 0;
        uint8_t zero[4] = { 0, 0, 0, 0 };
        msg_init(&ss[i].req, 0x0004);
        msg_attr(&ss[i].req, 0x000D, zero, 4);
        msg_auth(&ss[i].req, ss[i].nonce, ss[i].nonce_len);
        sess_write(&ss[i], ss[i].req.b, ss[i].req.len);
        if (i % 64 == 63) usleep(1000);
    }
    usleep(100000);
}

/* ---------- ChannelData sending ---------- */

typedef struct {
    sess_t *ss;
    int n;
    int next;
    uint8_t (*pkts)[1600];
    int pkt_len;
    uint8_t *runs;           /* streams: MAX_BATCH frames of each session back to back, stride pkt_len */
    int stalled;             /* streams: connections in a row that took nothing */
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
} sender_t;

static void sender_init(sender_t *sd, sess_t *ss, int n)
{
    sd->ss = ss;
    sd->n = n;
    sd->next = 0;
    /* On a stream each frame is padded to 4 bytes (RFC 8656 §12.5); calloc leaves the padding zero. */
    sd->pkt_len = 4 + (cfg.transport == T_UDP ? cfg.payload : (cfg.payload + 3) & ~3);
    sd->pkts = calloc(n, sizeof *sd->pkts);
    for (int i = 0; i < n; i++) {
        put16(sd->pkts[i], ss[i].channel);
        put16(sd->pkts[i] + 2, (uint16_t)cfg.payload);
        for (int k = 0; k < cfg.payload; k++) sd->pkts[i][4 + k] = (uint8_t)(k * 7 + i);
    }
    sd->runs = NULL;
    sd->stalled = 0;
    if (cfg.transport != T_UDP) {
        sd->runs = malloc((size_t)n * MAX_BATCH * sd->pkt_len);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < MAX_BATCH; k++)
                memcpy(sd->runs + ((size_t)i * MAX_BATCH + k) * sd->pkt_len, sd->pkts[i], (size_t)sd->pkt_len);
    }
    memset(sd->msgs, 0, sizeof sd->msgs);
}

/* Sends up to `count` ChannelData packets from the next session; returns how many the kernel took. */
static int sender_batch(sender_t *sd, int count)
{
    int i = sd->next;
    sd->next = (sd->next + 1) % sd->n;
    if (count > MAX_BATCH) count = MAX_BATCH;
    if (sd->runs) {
        /* A stream: the frames back to back, written without waiting. A connection the server is not reading now
         * keeps its unfinished run (TLS wants the same buffer again) and the next connection gets its turn. */
        sess_t *s = &sd->ss[i];
        if (s->out_len == 0) {
            s->out = sd->runs + (size_t)i * MAX_BATCH * sd->pkt_len;
            s->out_len = count * sd->pkt_len;
            s->out_off = 0;
        }
        s->out_off += stream_write_some(s, s->out + s->out_off, s->out_len - s->out_off);
        if (s->out_off < s->out_len) {
            if (++sd->stalled >= sd->n) { /* every connection is full: wait (1 ms at most) for room in any */
                struct pollfd pf[256];
                int np = sd->n < 256 ? sd->n : 256;
                for (int k = 0; k < np; k++) pf[k] = (struct pollfd){ .fd = sd->ss[k].fd, .events = POLLOUT };
                poll(pf, (nfds_t)np, 1);
                sd->stalled = 0;
            }
            return 0;
        }
        sd->stalled = 0;
        int frames = s->out_len / sd->pkt_len;
        s->out_len = 0;
        return frames;
    }
    for (int k = 0; k < count; k++) {
        sd->iov[k].iov_base = sd->pkts[i];
        sd->iov[k].iov_len = sd->pkt_len;
        sd->msgs[k].msg_hdr.msg_iov = &sd->iov[k];
        sd->msgs[k].msg_hdr.msg_iovlen = 1;
    }
    if (cfg.gso && count > 1) {
        /* One message, `count` segments of pkt_len: the kernel cuts it into the same datagrams on the way. */
        union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control;
        memset(&control, 0, sizeof control);
        struct msghdr mh = { .msg_iov = sd->iov, .msg_iovlen = count, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = (uint16_t)sd->pkt_len;
        memcpy(CMSG_DATA(cm), &segment, sizeof segment);
        ssize_t w = sendmsg(sd->ss[i].fd, &mh, MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) return 0;
            die("sendmsg (UDP_SEGMENT): %s", strerror(errno));
        }
        return count;
    }
    int r = sendmmsg(sd->ss[i].fd, sd->msgs, count, MSG_DONTWAIT);
    if (r < 0) {
        if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) return 0;
        die("sendmmsg: %s", strerror(errno));
    }
    return r;
}

static void drain_clients(sess_t *ss, int n)
{
    uint8_t buf[2048];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4096 && sess_recv(&ss[i], buf, sizeof buf) >= 0; k++) {}
}

/* ---------- commands ---------- */

static int cmd_ping(void)
{
    double end = now() + (cfg.seconds > 0 ? cfg.seconds : 15);
    uint8_t buf[2048];
    sess_t s;
    memset(&s, 0, sizeof s);
    s.fd = -1;
    for (int tries = 0; now() < end && tries < 1000; tries++) {
        if (s.fd < 0 && sess_open(&s, 1) < 0) { usleep(100000); continue; }
        msg_t m;
        if (cfg.raw) { memcpy(m.b, "RAWPING", 7); m.len = 7; }
        else msg_init(&m, 0x0001);
        sess_write(&s, m.b, m.len);
        struct pollfd pf = { .fd = s.fd, .events = POLLIN };
        if (poll(&pf, 1, 100) > 0 || (s.ssl && SSL_pending(s.ssl) > 0)) {
            int len = sess_recv(&s, buf, sizeof buf);
            if (cfg.raw ? (len >= 5 && !memcmp(buf, "RAWOK", 5)) : (len >= 20 && get16(buf) == 0x0101)) {
                if (s.ssl) printf("tls=%s %s\n", SSL_get_version(s.ssl), SSL_get_cipher(s.ssl));
                printf("ready=1\n");
                return 0;
            }
            if (len < 0 && cfg.transport == T_UDP) usleep(100000); /* ECONNREFUSED: nothing listening yet */
        }
    }
    printf("ready=0\n");
    return 1;
}

static int cmd_flood(void)
{
    int sink = udp_socket(cfg.rcvbuf);
    counter_t ctr;
    counter_init(&ctr, sink);
    socklen_t al = sizeof peer_addr;
    getsockname(sink, (struct sockaddr *)&peer_addr, &al);

    double t0 = now();
    sess_t *ss = setup_sessions(cfg.allocs, ST_CHAN);
    double setup = now() - t0;
    sender_t sd;
    sender_init(&sd, ss, cfg.allocs);

    /* The path must work before anything is timed: a few packets per session must reach the sink. */
    unsigned long long a0 = counters_total(&ctr, 1);
    for (int i = 0; i < cfg.allocs; i++) sender_batch(&sd, 2);
    unsigned long long a1 = a0;
    for (int k = 0; k < 100 && a1 - a0 < (unsigned long long)cfg.allocs * 2; k++) {
        usleep(10000);
        a1 = counters_total(&ctr, 1);
    }
    if (a1 - a0 < (unsigned long long)cfg.allocs * 2)
        die("relay path check: %llu of %d packets reached the sink", a1 - a0, cfg.allocs * 2);

    double start = now(), t_measure = start + cfg.warmup, t_end = t_measure + cfg.seconds;
    long sent = 0, sent_at_measure = 0;
    int measuring = 0;
    unsigned long long arr1 = 0;
    double cpu1 = 0, self1 = 0, tm1 = 0, batch_due = 0, core1 = 0, sirq1 = 0, core2, sirq2;
    int per_tick = cfg.rate > 0 ? (int)(cfg.rate / 2000) + 1 : MAX_BATCH; /* paced in ~0.5 ms steps */
    if (per_tick > MAX_BATCH) per_tick = MAX_BATCH;
    for (;;) {
        double t = now();
        if (!measuring && t >= t_measure) {
            measuring = 1;
            arr1 = counters_total(&ctr, 1);
            cpu1 = proc_cpu_seconds(cfg.pid);
            self1 = self_cpu_seconds();
            core_seconds(cfg.server_cpu, &core1, &sirq1);
            tm1 = now();
            sent_at_measure = sent;
        }
        if (t >= t_end || sent >= cfg.max_packets) break;
        if (cfg.rate > 0) {
            batch_due = (t - start) * cfg.rate;
            if (sent >= batch_due) {
                struct timespec ts = { 0, 50000 };
                nanosleep(&ts, NULL);
                continue;
            }
            long want = (long)batch_due - sent + 1;
            sent += sender_batch(&sd, want < per_tick ? (int)want : per_tick);
        } else {
            sent += sender_batch(&sd, MAX_BATCH);
        }
    }
    double tm2 = now();
    unsigned long long arr2 = counters_total(&ctr, 1);
    double cpu2 = proc_cpu_seconds(cfg.pid), self2 = self_cpu_seconds();
    core_seconds(cfg.server_cpu, &core2, &sirq2);
    double dt = tm2 - tm1;
    double relayed = (double)(arr2 - arr1), offered = (double)(sent - sent_at_measure);
    /* What is still on its way (queued at the server, in a connection's buffers) is let through before anything is
     * deleted: arrivals at the sink stop for 100 ms (at most 10 s). Then the exact count over the whole run, warm-up
     * included: every packet sent since the path check, against every arrival since it. The window's loss_pct above
     * reads packets in flight at the window's end as lost; lost_total does not. Over a stream a run written in
     * part when the loop ended is not in sent_total, so lost_total can be negative there. */
    unsigned long long last = arr2;
    double settle_end = now() + 10;
    for (int quiet = 0; quiet < 2 && now() < settle_end;) {
        usleep(50000);
        unsigned long long c = counters_total(&ctr, 1);
        quiet = c == last ? quiet + 1 : 0;
        last = c;
    }
    printf("setup_seconds=%.3f\n", setup);
    printf("window_seconds=%.3f\n", dt);
    printf("offered_pps=%.0f\n", offered / dt);
    printf("relayed_pps=%.0f\n", relayed / dt);
    printf("loss_pct=%.3f\n", offered > 0 && relayed < offered ? 100.0 * (1 - relayed / offered) : 0);
    printf("sent_total=%ld\n", sent);
    printf("arrived_total=%llu\n", last - a1);
    printf("lost_total=%lld\n", (long long)sent - (long long)(last - a1));
    if (cfg.pid > 0 && cpu1 >= 0 && cpu2 >= 0) {
        printf("server_cpu_pct=%.1f\n", 100.0 * (cpu2 - cpu1) / dt);
        printf("server_cpu_us_per_pkt=%.3f\n", relayed > 0 ? 1e6 * (cpu2 - cpu1) / relayed : 0);
    }
    printf("generator_cpu_pct=%.1f\n", 100.0 * (self2 - self1) / dt);
    if (core1 >= 0 && core2 >= 0) {
        printf("server_core_busy_pct=%.1f\n", 100.0 * (core2 - core1) / dt);
        printf("server_core_softirq_pct=%.1f\n", 100.0 * (sirq2 - sirq1) / dt);
    }
    release_sessions(ss, cfg.allocs);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_rtt(void)
{
    /* The echo peer reads everything and sends it back to where it came from (the relayed address). */
    int echo = udp_socket(1 << 20);
    socklen_t al = sizeof peer_addr;
    getsockname(echo, (struct sockaddr *)&peer_addr, &al);
    int n = cfg.allocs;
    sess_t *ss = setup_sessions(n, ST_CHAN);
    drain_clients(ss, n);
    double rate = cfg.rate > 0 ? cfg.rate : 20000;
    long cap = (long)(rate * (cfg.warmup + cfg.seconds)) + 16;
    if (cap > cfg.max_packets) cap = cfg.max_packets;
    double *rtts = malloc(sizeof(double) * (size_t)cap);
    long nrtt = 0, sent = 0, sent_measured = 0, got_measured = 0;
    uint8_t pkt[1600], buf[2048];
    int pkt_len = 4 + (cfg.transport == T_UDP ? cfg.payload : (cfg.payload + 3) & ~3); /* padded on streams */
    memset(pkt, 0, sizeof pkt);
    put16(pkt + 2, (uint16_t)cfg.payload);
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    struct sockaddr_in from[MAX_BATCH];
    static uint8_t ebuf[MAX_BATCH][2048];
    for (int k = 0; k < MAX_BATCH; k++) {
        iov[k].iov_base = ebuf[k];
        iov[k].iov_len = sizeof ebuf[k];
    }
    double start = now(), t_measure = start + cfg.warmup, t_stop = t_measure + cfg.seconds, t_end = t_stop + 0.2;
    double next_send = start, interval = 1.0 / rate;
    double cpu1 = -1, cpu2 = -1, tm1 = 0, tm2 = 0;
    for (long iter = 0;; iter++) {
        double t = now();
        if (cpu1 < 0 && t >= t_measure) { cpu1 = proc_cpu_seconds(cfg.pid); tm1 = t; }
        if (cpu2 < 0 && t >= t_stop) { cpu2 = proc_cpu_seconds(cfg.pid); tm2 = t; }
        if (t >= t_end) break;
        if (t < t_stop && t >= next_send && sent < cap) {
            sess_t *s = &ss[sent % n];
            put16(pkt, s->channel);
            memcpy(pkt + 4, &t, sizeof t);
            memcpy(pkt + 12, &sent, sizeof sent);
            if (sess_write(s, pkt, pkt_len) == pkt_len) {
                sent++;
                if (t >= t_measure) sent_measured++;
            }
            next_send += interval;
            if (t - next_send > 0.01) next_send = t; /* fell behind: do not burst */
        }
        /* echo peer */
        for (int k = 0; k < MAX_BATCH; k++) {
            msgs[k].msg_hdr = (struct msghdr){ .msg_name = &from[k], .msg_namelen = sizeof from[k],
                                               .msg_iov = &iov[k], .msg_iovlen = 1 };
        }
        int r = recvmmsg(echo, msgs, MAX_BATCH, MSG_DONTWAIT, NULL);
        if (r > 0) {
            for (int k = 0; k < r; k++) iov[k].iov_len = msgs[k].msg_len;
            sendmmsg(echo, msgs, r, MSG_DONTWAIT);
            for (int k = 0; k < r; k++) iov[k].iov_len = sizeof ebuf[k];
        }
        /* clients */
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 64; k++) {
                int len = sess_recv(&ss[i], buf, sizeof buf);
                if (len < 0) break;
                const uint8_t *p = NULL;
                if (len >= 4 + 16 && (buf[0] & 0xC0) == 0x40) p = buf + 4;
                else if (len >= 20 && get16(buf) == 0x0117) { /* Data indication: find DATA */
                    for (int off = 20; off + 4 <= len;) {
                        uint16_t at = get16(buf + off), l = get16(buf + off + 2);
                        if (at == 0x0013 && off + 4 + l <= len && l >= 16) { p = buf + off + 4; break; }
                        off += 4 + ((l + 3) & ~3);
                    }
                }
                if (!p) continue;
                double ts;
                memcpy(&ts, p, sizeof ts);
                double tr = now();
                if (ts >= t_measure && ts < t_stop && nrtt < cap) {
                    rtts[nrtt++] = tr - ts;
                    got_measured++;
                }
            }
        }
        if ((iter & 0xFFFF) == 0) check_deadline();
    }
    qsort(rtts, nrtt, sizeof *rtts, cmp_double);
    double dt = tm2 - tm1;
    printf("probe_pps=%.0f\n", sent_measured / cfg.seconds);
    printf("rtt_samples=%ld\n", nrtt);
    printf("rtt_loss_pct=%.3f\n", sent_measured ? 100.0 * (1 - (double)got_measured / sent_measured) : 100.0);
    if (nrtt > 0) {
        printf("rtt_p50_us=%.1f\n", 1e6 * rtts[(long)(nrtt * 0.50)]);
        printf("rtt_p90_us=%.1f\n", 1e6 * rtts[(long)(nrtt * 0.90)]);
        printf("rtt_p99_us=%.1f\n", 1e6 * rtts[(long)(nrtt * 0.99)]);
        printf("rtt_p999_us=%.1f\n", 1e6 * rtts[(long)(nrtt * 0.999)]);
        printf("rtt_max_us=%.1f\n", 1e6 * rtts[nrtt - 1]);
    }
    if (cfg.pid > 0 && cpu1 >= 0 && cpu2 >= 0 && dt > 0) printf("server_cpu_pct=%.1f\n", 100.0 * (cpu2 - cpu1) / dt);
    release_sessions(ss, n);
    return 0;
}

static int cmd_binding(void)
{
    int n = cfg.sockets;
    if (n > 64) n = 64;
    counter_t ctr[64];
    int fds[64];
    uint8_t buf[2048];
    for (int i = 0; i < n; i++) {
        fds[i] = udp_socket(cfg.rcvbuf);
        if (connect(fds[i], (struct sockaddr *)&cfg.server, sizeof cfg.server) < 0) die("connect: %s", strerror(errno));
        counter_init(&ctr[i], fds[i]);
    }
    msg_t req;
    msg_init(&req, 0x0001);
    /* Every socket must get a Binding success answer before the flood. */
    for (int i = 0; i < n; i++) {
        int ok = 0;
        for (int tries = 0; tries < 20 && !ok; tries++) {
            send(fds[i], req.b, req.len, 0);
            usleep(20000);
            int len;
            while ((len = (int)recv(fds[i], buf, sizeof buf, MSG_DONTWAIT)) >= 0)
                if (len >= 20 && get16(buf) == 0x0101 && !memcmp(buf + 8, req.b + 8, 12)) ok = 1;
        }
        if (!ok) die("no Binding success response");
    }
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov = { req.b, (size_t)req.len };
    memset(msgs, 0, sizeof msgs);
    for (int k = 0; k < MAX_BATCH; k++) { msgs[k].msg_hdr.msg_iov = &iov; msgs[k].msg_hdr.msg_iovlen = 1; }
    double start = now(), t_measure = start + cfg.warmup, t_end = t_measure + cfg.seconds;
    long sent = 0, sent1 = 0;
    int measuring = 0, next = 0;
    unsigned long long a1 = 0;
    double cpu1 = 0, tm1 = 0;
    for (;;) {
        double t = now();
        if (!measuring && t >= t_measure) {
            measuring = 1;
            a1 = counters_total(ctr, n);
            cpu1 = proc_cpu_seconds(cfg.pid);
            tm1 = now();
            sent1 = sent;
        }
        if (t >= t_end || sent >= cfg.max_packets) break;
        int r = sendmmsg(fds[next], msgs, MAX_BATCH, MSG_DONTWAIT);
        if (r > 0) sent += r;
        next = (next + 1) % n;
    }
    double tm2 = now();
    unsigned long long a2 = counters_total(ctr, n);
    double cpu2 = proc_cpu_seconds(cfg.pid), dt = tm2 - tm1;
    printf("offered_rps=%.0f\n", (sent - sent1) / dt);
    printf("binding_rps=%.0f\n", (a2 - a1) / dt);
    if (cfg.pid > 0) {
        printf("server_cpu_pct=%.1f\n", 100.0 * (cpu2 - cpu1) / dt);
        printf("server_cpu_us_per_binding=%.3f\n", a2 > a1 ? 1e6 * (cpu2 - cpu1) / (a2 - a1) : 0);
    }
    return 0;
}

static long rss_warm = -1;
static int warm_count = 200;
static double t_warm;
static void on_alloc_done(int i)
{
    static int done;
    (void)i;
    if (++done == warm_count) {
        rss_warm = proc_rss_kib(cfg.pid);
        t_warm = now();
    }
}

static int cmd_allocs(void)
{
    /* Only the address matters: permissions are not installed here. */
    peer_addr.sin_family = AF_INET;
    peer_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer_addr.sin_port = htons(9);
    int n = cfg.allocs;
    if (n <= warm_count) warm_count = n / 2;
    sess_t *ss = calloc(n, sizeof *ss);
    for (int i = 0; i < n; i++) ss[i].final_state = ST_ALLOC1;
    long rss0 = proc_rss_kib(cfg.pid);
    double cpu0 = proc_cpu_seconds(cfg.pid);
    double t0 = now();
    int ok = run_sessions(ss, n, cfg.window, t0 + (cfg.seconds > 0 ? cfg.seconds : 60), on_alloc_done);
    double t1 = now(), cpu1 = proc_cpu_seconds(cfg.pid);
    usleep(500000);
    long rss1 = proc_rss_kib(cfg.pid);
    printf("allocations=%d\n", ok);
    printf("allocs_per_s=%.0f\n", ok / (t1 - t0));
    printf("server_cpu_us_per_alloc=%.1f\n", ok > 0 ? 1e6 * (cpu1 - cpu0) / ok : 0);
    printf("rss_start_kib=%ld\n", rss0);
    printf("rss_end_kib=%ld\n", rss1);
    if (rss_warm > 0 && ok > warm_count)
        printf("rss_per_alloc_kib=%.2f\n", (double)(rss1 - rss_warm) / (ok - warm_count));
    (void)t_warm;
    return ok == n ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
        "usage: turnload ping|flood|rtt|binding|allocs --server 127.0.0.1:PORT [--raw] [--user U --pass P --realm R]\n"
        "       [--pid SERVER_PID] [--allocs N] [--payload BYTES] [--warmup S] [--seconds S] [--rate PPS]\n"
        "       [--max-packets N] [--window N] [--sockets N] [--no-permission] [--deadline S] [--server-cpu N]\n"
        "       [--gso]  (flood: send each batch as one UDP_SEGMENT message)\n"
        "       [--transport udp|tcp|tls]  (client side over UDP, or one TCP or TLS connection per allocation)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    cfg.cmd = argv[1];
    int have_server = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--server")) { parse_addr(v, &cfg.server); have_server = 1; }
        else if (!strcmp(a, "--raw")) cfg.raw = 1;
        else if (!strcmp(a, "--no-permission")) cfg.want_perm = 0;
        else if (ARG("--user")) cfg.user = v;
        else if (ARG("--pass")) cfg.pass = v;
        else if (ARG("--realm")) cfg.realm = v;
        else if (ARG("--pid")) cfg.pid = atoi(v);
        else if (ARG("--allocs")) cfg.allocs = atoi(v);
        else if (ARG("--payload")) cfg.payload = atoi(v);
        else if (ARG("--warmup")) cfg.warmup = atof(v);
        else if (ARG("--seconds")) cfg.seconds = atof(v);
        else if (ARG("--rate")) cfg.rate = atof(v);
        else if (ARG("--max-packets")) cfg.max_packets = atol(v);
        else if (ARG("--window")) cfg.window = atoi(v);
        else if (ARG("--sockets")) cfg.sockets = atoi(v);
        else if (ARG("--deadline")) cfg.deadline_total = atof(v);
        else if (ARG("--server-cpu")) cfg.server_cpu = atoi(v);
        else if (!strcmp(a, "--gso")) cfg.gso = 1;
        else if (ARG("--transport")) {
            if (!strcmp(v, "udp")) cfg.transport = T_UDP;
            else if (!strcmp(v, "tcp")) cfg.transport = T_TCP;
            else if (!strcmp(v, "tls")) cfg.transport = T_TLS;
            else usage();
        }
        else usage();
#undef ARG
    }
    if (!have_server) usage();
    if (cfg.allocs < 1 || cfg.allocs > 100000 || cfg.payload < 16 || cfg.payload > 1400 || cfg.window < 1
        || cfg.seconds > 600 || cfg.warmup > 60 || cfg.deadline_total > 900)
        die("argument out of range");
    if (cfg.transport != T_UDP && (cfg.raw || cfg.gso || !strcmp(cfg.cmd, "binding") || !strcmp(cfg.cmd, "allocs")))
        die("--transport tcp|tls works with ping, flood and rtt against a TURN server, without --gso");
    rng_state ^= (uint64_t)getpid() << 32 ^ (uint64_t)(now() * 1e9);
    t_start = now();
    derive_key();
    if (!strcmp(cfg.cmd, "ping")) return cmd_ping();
    if (!strcmp(cfg.cmd, "flood")) return cmd_flood();
    if (!strcmp(cfg.cmd, "rtt")) return cmd_rtt();
    if (!strcmp(cfg.cmd, "binding")) return cmd_binding();
    if (!strcmp(cfg.cmd, "allocs")) return cmd_allocs();
    usage();
    return 2;
}
