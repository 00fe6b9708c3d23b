/*
 * rawrelay: the physical baseline of the load comparison. It does the least work a UDP relay can do: a
 * datagram in on socket A (the "listening" side) goes out on socket B to the peer, and a datagram from the peer
 * on B goes out on A to the client, with the 4-byte ChannelData header stripped or added. No TURN, no lookups.
 *
 * The client tells it the peer with one datagram "RAWPEER\0" + IPv4 + port (network order), answered "RAWOK";
 * "RAWPING" is answered "RAWOK". Only loopback peers are accepted.
 *
 * -b 1 (the default) uses recvmsg/sendmsg, one system call per datagram each way, like a plain server loop;
 * -b N > 1 uses recvmmsg/sendmmsg with batches of N; -g (with -b N > 1) also sends each run of equal-length
 * datagrams to the peer as one UDP_SEGMENT (GSO) message. -t SECONDS bounds its lifetime.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXB 64
#define BUFSZ 2048

static int sock_a, sock_b;
static struct sockaddr_in peer, client;
static int have_peer, have_client;
static unsigned long long to_peer, to_client;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int udp_bind(const char *ip, int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1) { perror("socket"); exit(1); }
    if ((ntohl(a.sin_addr.s_addr) >> 24) != 127) { fprintf(stderr, "rawrelay: loopback only\n"); exit(1); }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    return fd;
}

/* A control datagram on A; returns 1 if it was one. */
static int control(const uint8_t *b, int len, const struct sockaddr_in *from)
{
    if (len < 7 || b[0] != 'R') return 0;
    if (len >= 14 && !memcmp(b, "RAWPEER", 7)) {
        struct sockaddr_in p = { .sin_family = AF_INET };
        memcpy(&p.sin_addr, b + 8, 4);
        memcpy(&p.sin_port, b + 12, 2);
        if ((ntohl(p.sin_addr.s_addr) >> 24) != 127) return 1;
        peer = p;
        have_peer = 1;
        client = *from;
        have_client = 1;
    } else if (memcmp(b, "RAWPING", 7) != 0) {
        return 0;
    }
    sendto(sock_a, "RAWOK", 5, 0, (const struct sockaddr *)from, sizeof *from);
    return 1;
}

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    int port = 0, batch = 1, gso = 0;
    double lifetime = 900;
    for (int opt; (opt = getopt(argc, argv, "l:p:b:t:g")) != -1;) {
        if (opt == 'l') ip = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 'b') batch = atoi(optarg);
        else if (opt == 't') lifetime = atof(optarg);
        else if (opt == 'g') gso = 1;
        else { fprintf(stderr, "usage: rawrelay -l IP -p PORT [-b BATCH [-g]] [-t SECONDS]\n"); return 2; }
    }
    if (port <= 0 || batch < 1 || batch > MAXB || lifetime <= 0 || lifetime > 3600) {
        fprintf(stderr, "usage: rawrelay -l IP -p PORT [-b BATCH (1-%d)] [-t SECONDS (at most 3600)]\n", MAXB);
        return 2;
    }
    sock_a = udp_bind(ip, port);
    sock_b = udp_bind(ip, 0);
    int big = 4 << 20;
    setsockopt(sock_a, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(sock_b, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);

    static uint8_t bufs[MAXB][BUFSZ];
    uint8_t hdrs[MAXB][4];
    struct mmsghdr in[MAXB], out[MAXB];
    struct iovec iin[MAXB], iout[MAXB][2];
    struct sockaddr_in from[MAXB];
    struct iovec gio[MAXB];
    union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } gctl[MAXB];
    double end = now() + lifetime;

    for (unsigned long long loops = 0;; loops++) {
        int idle = 1;
        /* A -> B: client ChannelData to the peer, header stripped. */
        for (int k = 0; k < batch; k++) {
            iin[k] = (struct iovec){ bufs[k], BUFSZ };
            in[k].msg_hdr = (struct msghdr){ .msg_name = &from[k], .msg_namelen = sizeof from[k],
                                             .msg_iov = &iin[k], .msg_iovlen = 1 };
        }
        int r;
        if (batch == 1) {
            ssize_t n = recvmsg(sock_a, &in[0].msg_hdr, MSG_DONTWAIT);
            r = n < 0 ? -1 : 1;
            if (n >= 0) in[0].msg_len = (unsigned)n;
        } else {
            r = recvmmsg(sock_a, in, batch, MSG_DONTWAIT, NULL);
        }
        if (r > 0) {
            idle = 0;
            int m = 0;
            for (int k = 0; k < r; k++) {
                int len = (int)in[k].msg_len;
                if (control(bufs[k], len, &from[k])) continue;
                if (!have_peer || len < 4 || (bufs[k][0] & 0xC0) != 0x40) continue;
                client = from[k];
                iout[m][0] = (struct iovec){ bufs[k] + 4, (size_t)len - 4 };
                out[m].msg_hdr = (struct msghdr){ .msg_name = &peer, .msg_namelen = sizeof peer,
                                                  .msg_iov = iout[m], .msg_iovlen = 1 };
                m++;
            }
            if (m > 0 && gso && batch > 1) {
                /* Runs of equal length (the last may be shorter) become one segmented message each. */
                int g = 0;
                for (int k = 0; k < m; k++) gio[k] = iout[k][0];
                for (int k = 0; k < m;) {
                    size_t size = gio[k].iov_len;
                    int run = 1;
                    while (k + run < m && gio[k + run].iov_len <= size && size > 0 && run * size < 60000) {
                        run++;
                        if (gio[k + run - 1].iov_len < size) break;
                    }
                    out[g].msg_hdr = (struct msghdr){ .msg_name = &peer, .msg_namelen = sizeof peer,
                                                      .msg_iov = &gio[k], .msg_iovlen = (size_t)run };
                    if (run > 1) {
                        memset(&gctl[g], 0, sizeof gctl[g]);
                        out[g].msg_hdr.msg_control = gctl[g].buf;
                        out[g].msg_hdr.msg_controllen = sizeof gctl[g].buf;
                        struct cmsghdr *cm = CMSG_FIRSTHDR(&out[g].msg_hdr);
                        cm->cmsg_level = SOL_UDP;
                        cm->cmsg_type = UDP_SEGMENT;
                        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                        uint16_t seg = (uint16_t)size;
                        memcpy(CMSG_DATA(cm), &seg, sizeof seg);
                    }
                    k += run;
                    g++;
                }
                int s = sendmmsg(sock_b, out, g, 0);
                /* Count datagrams, not messages: every message sent carried its whole run. */
                for (int k = 0, msg = 0; msg < s && k < m; msg++) {
                    to_peer += out[msg].msg_hdr.msg_iovlen;
                    k += (int)out[msg].msg_hdr.msg_iovlen;
                }
            } else if (m > 0) {
                int s = batch == 1 ? (sendmsg(sock_b, &out[0].msg_hdr, 0) >= 0 ? 1 : 0) : sendmmsg(sock_b, out, m, 0);
                if (s > 0) to_peer += s;
            }
        }
        /* B -> A: peer data to the client, ChannelData header added. */
        for (int k = 0; k < batch; k++) {
            iin[k] = (struct iovec){ bufs[k], BUFSZ };
            in[k].msg_hdr = (struct msghdr){ .msg_name = &from[k], .msg_namelen = sizeof from[k],
                                             .msg_iov = &iin[k], .msg_iovlen = 1 };
        }
        if (batch == 1) {
            ssize_t n = recvmsg(sock_b, &in[0].msg_hdr, MSG_DONTWAIT);
            r = n < 0 ? -1 : 1;
            if (n >= 0) in[0].msg_len = (unsigned)n;
        } else {
            r = recvmmsg(sock_b, in, batch, MSG_DONTWAIT, NULL);
        }
        if (r > 0 && have_client) {
            idle = 0;
            for (int k = 0; k < r; k++) {
                int len = (int)in[k].msg_len;
                hdrs[k][0] = 0x40;
                hdrs[k][1] = 0x00;
                hdrs[k][2] = (uint8_t)(len >> 8);
                hdrs[k][3] = (uint8_t)len;
                iout[k][0] = (struct iovec){ hdrs[k], 4 };
                iout[k][1] = (struct iovec){ bufs[k], (size_t)len };
                out[k].msg_hdr = (struct msghdr){ .msg_name = &client, .msg_namelen = sizeof client,
                                                  .msg_iov = iout[k], .msg_iovlen = 2 };
            }
            int s = batch == 1 ? (sendmsg(sock_a, &out[0].msg_hdr, 0) >= 0 ? 1 : 0) : sendmmsg(sock_a, out, r, 0);
            if (s > 0) to_client += s;
        }
        if (idle) {
            struct pollfd p[2] = { { sock_a, POLLIN, 0 }, { sock_b, POLLIN, 0 } };
            poll(p, 2, 200);
        }
        if ((loops & 0x3FF) == 0 || idle) {
            if (now() > end) break;
        }
    }
    fprintf(stderr, "rawrelay: lifetime over; %llu to peer, %llu to client\n", to_peer, to_client);
    return 0;
}
