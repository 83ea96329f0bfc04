/*
 * quic_load.c - the QUIC load test's server and clients (tests/load.sh).
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * quic_load server --cert FILE --key FILE --count N [--bio header|default]
 *                  [--timeout SECONDS]
 *   One QUIC listener on one UDP socket bound to 127.0.0.1, in QUIC's
 *   non-blocking mode, run by one thread: poll(2) on the socket until it is
 *   readable or QUIC's next timer is due, one SSL_handle_events() on the
 *   listener (which runs every connection of its port: they share its
 *   engine), then a pass over the connections, which are in explicit event
 *   handling so that their reads and writes do no network work of their
 *   own.  It serves --count connections at once and exits when all have
 *   ended.  On each, the client's stream starts with its 8-byte seed; every
 *   byte after it must be the client stream of that seed (load_stream()),
 *   checked as it arrives; meanwhile the server sends the server stream of
 *   the same seed, until the client ends its stream; then it ends its own
 *   and closes the connection.
 *
 * quic_load client --port N --ca FILE --count N --seconds S [--seed N]
 *                  [--rate BYTES] [--bio header|default] [--timeout SECONDS]
 *   --count connections from one thread, each on its own UDP socket, all
 *   in non-blocking mode and serviced from one poll(2) over their sockets:
 *   each sends its seed and then its client stream for --seconds after its
 *   handshake, checks every byte of the server stream it receives, ends its
 *   stream, reads the server's to its end and closes.  --rate caps what
 *   each connection sends per second (each way: the server matches it).
 *
 * stdout carries the lines the test reads:
 *   PORT <n>                                   server, once listening
 *   UP <n> <seconds>                           all n connections up (server:
 *                                              their data arriving)
 *   RSS <when> <kB>                            server: VmRSS at "up" (all
 *                                              connections up), "warm" (one
 *                                              second later), "mid" (after
 *                                              half of --seconds), "end"
 *                                              (when the first stream
 *                                              ends), "max", "freed" (all
 *                                              connections freed); "t=<s>"
 *                                              every 5 seconds after "up"
 *   HEAP <when> <kB>                           server: the heap in use
 *                                              (mallinfo2) at the same times
 *                                              and at "listen"
 *   CONN <seed> up=<n> down=<n> secs=<s>       per connection: the bytes of
 *                                              the client stream (checked by
 *                                              the server) and of the server
 *                                              stream (checked by the client)
 *   ERRORS <n>                                 connections that failed
 *   CPU user=<s> sys=<s>                       the process's CPU time
 *   COUNTER <name> <n>                         every counter the module has
 *                                              (server; client with
 *                                              --bio header)
 *   BIO, GRO                                   as quic_server's
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quic_common.h"

static const char prog[] = "quic_load";

/* The most connections one process takes on. */
#define LOAD_MAX_CONNS 1024

/* Bytes per read or write call. */
#define LOAD_CHUNK (64 * 1024)

/* The most a connection's stream holds written and not yet acknowledged. */
#define LOAD_BACKLOG (256 * 1024)

/* The longest a poll(2) sleeps: the rate limit and the clock need a look. */
#define LOAD_TICK_MS 10

/* What the two directions of a seed's connection add to the seed. */
#define LOAD_CLIENT_STREAM 0
#define LOAD_SERVER_STREAM 0x5eed5eed5eed5eedULL

/*
 * The stream of a seed from byte off on: byte k is byte k % 8 of a
 * splitmix64 step of (seed, k / 8), so that any part can be made (or
 * checked) alone, whatever sizes the reads and writes come in.
 */
static void load_stream(uint64_t seed, uint64_t off, unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t word = (off + i) / 8, state = seed ^ (word * 0xd1342543de82ef95ULL);
		uint64_t r = qt_next_random(&state);
		unsigned char b[8];
		size_t from = (size_t)((off + i) % 8), k = 8 - from;

		memcpy(b, &r, 8);
		if (k > len - i)
			k = len - i;
		memcpy(buf + i, b + from, k);
		i += k;
	}
}

enum conn_state { C_CONNECTING, C_RUNNING, C_CONCLUDED, C_SHUTDOWN, C_DONE, C_FAILED };

struct conn {
	SSL *ssl;
	int fd;
	enum conn_state state;
	uint64_t seed;
	int have_seed;                 /* server: the seed's 8 bytes are in */
	unsigned char seed_buf[8];
	size_t seed_have;
	uint64_t sent, received;       /* stream bytes, the seed not counted */
	int peer_ended, we_ended;
	double started, ended;         /* data phase, monotonic seconds */
};

static struct {
	int server;
	const char *cert, *key, *ca;
	int port;
	long long count, seconds, rate, timeout;
	uint64_t seed;
	int header;
} opt;

static unsigned char rbuf[LOAD_CHUNK], wbuf[LOAD_CHUNK], vbuf[LOAD_CHUNK];

static void usage(void)
{
	fprintf(stderr,
		"usage: %s server --cert FILE --key FILE --count N [--bio header|default]\n"
		"                 [--timeout S] [--rate BYTES]\n"
		"       %s client --port N --ca FILE --count N --seconds S [--seed N]\n"
		"                 [--rate BYTES] [--bio header|default] [--timeout S]\n",
		prog, prog);
}

static int parse(int argc, char **argv)
{
	int i;

	if (argc < 2)
		goto bad;
	if (strcmp(argv[1], "server") == 0)
		opt.server = 1;
	else if (strcmp(argv[1], "client") != 0)
		goto bad;
	opt.count = 50;
	opt.seconds = 5;
	opt.timeout = 300;
	opt.seed = 1;
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long long n;

		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--cert") == 0) {
			opt.cert = v;
		} else if (strcmp(a, "--key") == 0) {
			opt.key = v;
		} else if (strcmp(a, "--ca") == 0) {
			opt.ca = v;
		} else if (strcmp(a, "--port") == 0) {
			if ((opt.port = (int)qt_number(v, 1, 65535)) < 0)
				goto bad;
		} else if (strcmp(a, "--count") == 0) {
			if ((opt.count = qt_number(v, 1, LOAD_MAX_CONNS)) < 0)
				goto bad;
		} else if (strcmp(a, "--seconds") == 0) {
			if ((opt.seconds = qt_number(v, 0, 86400)) < 0)
				goto bad;
		} else if (strcmp(a, "--rate") == 0) {
			if ((opt.rate = qt_number(v, 0, 1LL << 40)) < 0)
				goto bad;
		} else if (strcmp(a, "--timeout") == 0) {
			if ((opt.timeout = qt_number(v, 1, 86400)) < 0)
				goto bad;
		} else if (strcmp(a, "--seed") == 0) {
			if ((n = qt_number(v, 0, INT64_MAX / 2)) < 0)
				goto bad;
			opt.seed = (uint64_t)n;
		} else if (strcmp(a, "--bio") == 0) {
			if (strcmp(v, "header") == 0)
				opt.header = 1;
			else if (strcmp(v, "default") != 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (opt.server ? opt.cert != NULL && opt.key != NULL : opt.ca != NULL && opt.port > 0)
		return 1;
bad:
	usage();
	return 0;
}

static void conn_fail(struct conn *c, const char *what, int ret)
{
	int e = c->ssl != NULL ? SSL_get_error(c->ssl, ret) : 0;

	fprintf(stderr, "%s: connection %" PRIu64 ": %s (SSL_get_error %d) after %" PRIu64
		" bytes up, %" PRIu64 " down\n", prog, c->seed, what, e,
		opt.server ? c->received : c->sent, opt.server ? c->sent : c->received);
	ERR_print_errors_fp(stderr);
	qt_close_info(prog, c->ssl);
	c->state = C_FAILED;
}

/* Whether a failed call only wants the network (or the peer's credit). */
static int wants_net(struct conn *c, int ret)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 1;
	}
	return 0;
}

static int closed_by_peer_cleanly(SSL *ssl)
{
	SSL_CONN_CLOSE_INFO info;

	return SSL_get_conn_close_info(ssl, &info, sizeof(info)) &&
	       (info.flags & (SSL_CONN_CLOSE_FLAG_LOCAL | SSL_CONN_CLOSE_FLAG_TRANSPORT)) == 0 &&
	       info.error_code == 0;
}

/* What our stream of the connection is, and the peer's. */
static uint64_t our_seed(const struct conn *c)
{
	return c->seed + (opt.server ? LOAD_SERVER_STREAM : LOAD_CLIENT_STREAM);
}

static uint64_t peer_seed(const struct conn *c)
{
	return c->seed + (opt.server ? LOAD_CLIENT_STREAM : LOAD_SERVER_STREAM);
}

/* Read what there is, checking it; 1 if anything moved. */
static int pump_read(struct conn *c)
{
	int moved = 0;

	while (!c->peer_ended) {
		size_t n = 0, off = 0;
		int r = SSL_read_ex(c->ssl, rbuf, sizeof(rbuf), &n);

		if (!r) {
			if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN) {
				if (opt.server && !c->have_seed) {
					conn_fail(c, "the stream ended before its seed", r);
					return moved;
				}
				c->peer_ended = 1;
				ERR_clear_error();
				return 1;
			}
			if (!wants_net(c, r))
				conn_fail(c, "SSL_read_ex failed", r);
			return moved;
		}
		moved = 1;
		if (opt.server && !c->have_seed) {
			size_t k = 8 - c->seed_have < n ? 8 - c->seed_have : n;

			memcpy(c->seed_buf + c->seed_have, rbuf, k);
			c->seed_have += k;
			off = k;
			if (c->seed_have == 8) {
				int i;

				for (c->seed = 0, i = 0; i < 8; i++)
					c->seed = c->seed << 8 | c->seed_buf[i];
				c->have_seed = 1;
				c->started = qt_now();
			}
		}
		if (n > off) {
			load_stream(peer_seed(c), c->received, vbuf, n - off);
			if (memcmp(vbuf, rbuf + off, n - off) != 0) {
				size_t i = 0;

				while (vbuf[i] == rbuf[off + i])
					i++;
				fprintf(stderr, "%s: connection %" PRIu64 ": byte %" PRIu64
					" of the stream is wrong\n", prog, c->seed, c->received + i);
				c->state = C_FAILED;
				return moved;
			}
			c->received += n - off;
		}
	}
	return moved;
}

/* Write what the rate and QUIC's flow control allow; 1 if anything moved. */
static int pump_write(struct conn *c)
{
	uint64_t limit = UINT64_MAX, used = 0;
	int moved = 0;

	/* The rate's allowance is taken once: a loop that kept adding to it
	 * would never end. */
	if (opt.rate > 0)
		limit = (uint64_t)((qt_now() - c->started) * (double)opt.rate) + LOAD_CHUNK / 4;
	/*
	 * Back-pressure, as a server that keeps its memory must apply: QUIC
	 * takes writes into a stream buffer of up to 6 MB (OpenSSL 3.5) before
	 * it refuses them, so a writer faster than its peer is cut off here,
	 * at LOAD_BACKLOG bytes written and not yet acknowledged.
	 */
	if (SSL_get_stream_write_buf_used(c->ssl, &used) && used < LOAD_BACKLOG &&
	    c->sent + (LOAD_BACKLOG - used) < limit)
		limit = c->sent + (LOAD_BACKLOG - used);
	else if (used >= LOAD_BACKLOG)
		return 0;
	while (c->sent < limit) {
		size_t len = limit - c->sent < LOAD_CHUNK ? (size_t)(limit - c->sent) : LOAD_CHUNK;
		size_t w = 0;
		int r;

		load_stream(our_seed(c), c->sent, wbuf, len);
		r = SSL_write_ex(c->ssl, wbuf, len, &w);
		if (!r) {
			if (!wants_net(c, r))
				conn_fail(c, "SSL_write_ex failed", r);
			return moved;
		}
		c->sent += w;
		moved = 1;
		if (w < len)
			break;
	}
	return moved;
}

static int conclude(struct conn *c)
{
	if (!SSL_stream_conclude(c->ssl, 0)) {
		conn_fail(c, "SSL_stream_conclude failed", 0);
		return 0;
	}
	c->we_ended = 1;
	c->ended = qt_now();
	return 1;
}

/* Drive SSL_shutdown; the connection is done once it returns 1. */
static void pump_shutdown(struct conn *c)
{
	int r = SSL_shutdown(c->ssl);

	if (r == 1 || (r < 0 && closed_by_peer_cleanly(c->ssl))) {
		ERR_clear_error();
		c->state = C_DONE;
		return;
	}
	if (r < 0 && !wants_net(c, r))
		conn_fail(c, "SSL_shutdown failed", r);
}

static void report_conn(const struct conn *c)
{
	double secs = (c->ended > 0 ? c->ended : qt_now()) - c->started;

	printf("CONN %" PRIu64 " up=%" PRIu64 " down=%" PRIu64 " secs=%.3f\n", c->seed,
	       opt.server ? c->received : c->sent, opt.server ? c->sent : c->received, secs);
}

/* VmRSS of this process in kB, or -1. */
static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * The bytes malloc has handed out and not had back, in kB, or -1: unlike
 * the resident set, it falls when memory is freed, so it tells a leak
 * from the allocator's keeping freed memory.  The server is one thread,
 * so the main arena, which mallinfo2() describes, holds all of it.
 */
static long heap_kb(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 m = mallinfo2();

	return (long)((m.uordblks + m.hblkhd) / 1024);
#else
	return -1;
#endif
}

/* The resident set and the heap in use, as one line. */
static void report_mem(const char *when)
{
	printf("RSS %s %ld\n", when, rss_kb());
	printf("HEAP %s %ld\n", when, heap_kb());
}

static void report_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	printf("CPU user=%.2f sys=%.2f\n", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* Every uint64 counter the module offers, by its own name. */
static void report_counters(void)
{
	OSSL_PROVIDER *prov = NULL;
	const OSSL_PARAM *p;

	(void)OSSL_PROVIDER_do_all(NULL, qt_find_dgrambatch, &prov);
	if (prov == NULL || (p = OSSL_PROVIDER_gettable_params(prov)) == NULL) {
		printf("COUNTER unavailable\n");
		return;
	}
	for (; p->key != NULL; p++) {
		OSSL_PARAM q[2];
		uint64_t v = 0;

		if (p->data_type != OSSL_PARAM_UNSIGNED_INTEGER || p->data_size != sizeof(uint64_t))
			continue;
		q[0] = OSSL_PARAM_construct_uint64(p->key, &v);
		q[1] = OSSL_PARAM_construct_end();
		if (OSSL_PROVIDER_get_params(prov, q) && OSSL_PARAM_modified(&q[0]))
			printf("COUNTER %s %" PRIu64 "\n", p->key, v);
	}
}

/* The socket's readiness and QUIC's next timer, as a poll(2) timeout. */
static int event_timeout(SSL *s)
{
	struct timeval tv;
	int infinite = 1, ms = LOAD_TICK_MS;

	if (SSL_get_event_timeout(s, &tv, &infinite) && !infinite) {
		long t = tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;

		if (t < ms)
			ms = (int)t;
	}
	return ms;
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, qt_alpn, sizeof(qt_alpn), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* A UDP socket on 127.0.0.1 (port 0: any), with room for QUIC's bursts. */
static int udp_socket(int port, int *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	qt_socket_buffers(fd);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		fprintf(stderr, "%s: bind 127.0.0.1:%d: %s\n", prog, port, strerror(errno));
		close(fd);
		return -1;
	}
	if (bound != NULL)
		*bound = ntohs(sin.sin_port);
	return fd;
}

/* The datagram BIO for fd: the module's (--bio header) or OpenSSL's. */
static BIO *dgram_bio(int fd)
{
	return opt.header ? DGB_new_dgram(NULL, fd, BIO_NOCLOSE) : BIO_new_dgram(fd, BIO_NOCLOSE);
}

/* One server connection's turn after the listener's events were handled. */
static void serve(struct conn *c, int *first_end)
{
	if (c->state == C_RUNNING) {
		(void)pump_read(c);
		if (c->state == C_FAILED)
			return;
		if (c->have_seed && !c->peer_ended)
			(void)pump_write(c);
		if (c->state == C_FAILED)
			return;
		if (c->peer_ended) {
			if (!*first_end) {
				report_mem("end");
				*first_end = 1;
			}
			if (!conclude(c))
				return;
			c->state = C_SHUTDOWN;
		}
	}
	if (c->state == C_SHUTDOWN)
		pump_shutdown(c);
}

static int run_server(void)
{
	SSL_CTX *ctx = NULL;
	SSL *listener = NULL;
	struct conn *conns = NULL;
	BIO *bio;
	int fd = -1, port = 0, rc = 1, first_end = 0, is_dgb = 0, gro = 0;
	long long accepted = 0, seeded = 0, finished = 0, errors = 0, i;
	long rss_max = -1;
	double t0, up_at = 0, deadline, half = (double)(opt.seconds > 1 ? opt.seconds / 2 : 1);
	double next_rss = 1;

	if ((conns = calloc((size_t)opt.count, sizeof(*conns))) == NULL)
		goto out;
	if ((ctx = SSL_CTX_new(OSSL_QUIC_server_method())) == NULL) {
		qt_fail(prog, "SSL_CTX_new(OSSL_QUIC_server_method()) failed");
		goto out;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1) {
		qt_fail(prog, "cannot use certificate %s with key %s", opt.cert, opt.key);
		goto out;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	if ((fd = udp_socket(0, &port)) < 0)
		goto out;
	if ((listener = SSL_new_listener(ctx, 0)) == NULL || (bio = dgram_bio(fd)) == NULL) {
		qt_fail(prog, "SSL_new_listener or the datagram BIO failed");
		goto out;
	}
	SSL_set_bio(listener, bio, bio);
	is_dgb = DGB_is_dgrambatch(bio);
	if (!SSL_set_blocking_mode(listener, 0) || !SSL_listen(listener)) {
		qt_fail(prog, "cannot listen in non-blocking mode");
		goto out;
	}
	printf("PORT %d\n", port);
	report_mem("listen");
	fflush(stdout);
	t0 = qt_now();
	deadline = t0 + (double)opt.timeout;

	while (finished < opt.count) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		SSL *ssl;
		long kb;

		if (qt_now() > deadline) {
			fprintf(stderr, "%s: timed out after %lld s with %lld of %lld connections"
				" accepted, %lld ended\n", prog, opt.timeout, accepted, opt.count,
				finished);
			errors += opt.count - finished;
			break;
		}
		if (SSL_net_write_desired(listener))
			p.events |= POLLOUT;
		(void)poll(&p, 1, event_timeout(listener));
		(void)SSL_handle_events(listener);

		while (accepted < opt.count &&
		       (ssl = SSL_accept_connection(listener, SSL_ACCEPT_CONNECTION_NO_BLOCK)) != NULL) {
			struct conn *c = &conns[accepted++];

			c->ssl = ssl;
			c->fd = -1;
			c->state = C_RUNNING;
			if (!qt_nonblock(ssl, 1)) {
				conn_fail(c, "cannot make the connection non-blocking", 0);
				errors++;
				finished++;
			}
		}
		ERR_clear_error();
		for (i = 0; i < accepted; i++) {
			struct conn *c = &conns[i];
			int had_seed = c->have_seed;

			if (c->state == C_DONE || c->state == C_FAILED)
				continue;
			serve(c, &first_end);
			/*
			 * Up: handshake done and the client's data arriving (an
			 * accepted connection may still be in its handshake).
			 */
			if (!had_seed && c->have_seed && ++seeded == opt.count) {
				up_at = qt_now();
				printf("UP %lld %.3f\n", seeded, up_at - t0);
				report_mem("up");
				fflush(stdout);
			}
			if (c->state == C_DONE) {
				report_conn(c);
				finished++;
			} else if (c->state == C_FAILED) {
				errors++;
				finished++;
			}
		}
		/* Whatever the connections queued leaves now. */
		(void)SSL_handle_events(listener);
		kb = rss_kb();
		if (kb > rss_max)
			rss_max = kb;
		if (up_at > 0 && next_rss > 0 && qt_now() >= up_at + next_rss) {
			/* "warm" a second after all were up, "mid" half-way through
			 * --seconds, and a trace every 5 seconds. */
			double after = (double)((long)(next_rss / 5) + 1) * 5;

			char when[32];

			if (next_rss == 1)
				report_mem("warm");
			if (next_rss == half)
				report_mem("mid");
			snprintf(when, sizeof(when), "t=%.0f", next_rss);
			report_mem(when);
			if (half > next_rss && half < after)
				after = half;
			next_rss = first_end ? -1 : after;
		}
		fflush(stdout);
	}
	printf("RSS max %ld\n", rss_max);
	printf("ERRORS %lld\n", errors);
	rc = errors == 0 ? 0 : 1;
out:
	if (conns != NULL)
		for (i = 0; i < opt.count; i++)
			SSL_free(conns[i].ssl);
	/* Every connection freed, the listener still up: back to "listen". */
	if (listener != NULL)
		(void)SSL_handle_events(listener);
	report_mem("freed");
	if (listener != NULL && SSL_get_rbio(listener) != NULL)
		gro = DGB_get_gro(SSL_get_rbio(listener)) == 1;
	SSL_free(listener);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	free(conns);
	report_cpu();
	printf("BIO %s\nGRO %s\n", is_dgb ? "dgrambatch" : "openssl", gro ? "on" : "off");
	report_counters();
	fflush(stdout);
	return rc;
}

static int client_start(SSL_CTX *ctx, struct conn *c, uint64_t seed)
{
	struct sockaddr_in sin;
	BIO_ADDR *peer = NULL;
	BIO *bio;
	int ok = 0;

	c->seed = seed;
	c->state = C_FAILED;
	if ((c->fd = udp_socket(0, NULL)) < 0)
		return 0;
	if ((c->ssl = SSL_new(ctx)) == NULL || (bio = dgram_bio(c->fd)) == NULL) {
		qt_fail(prog, "SSL_new or the datagram BIO failed");
		return 0;
	}
	SSL_set_bio(c->ssl, bio, bio);
	memset(&sin, 0, sizeof(sin));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((peer = BIO_ADDR_new()) == NULL ||
	    !BIO_ADDR_rawmake(peer, AF_INET, &sin.sin_addr, sizeof(sin.sin_addr),
			      htons((uint16_t)opt.port)) ||
	    !SSL_set1_initial_peer_addr(c->ssl, peer) || !SSL_set_tlsext_host_name(c->ssl, QT_HOST) ||
	    !SSL_set1_host(c->ssl, QT_HOST) || SSL_set_alpn_protos(c->ssl, qt_alpn, sizeof(qt_alpn)) != 0 ||
	    !SSL_set_blocking_mode(c->ssl, 0)) {
		qt_fail(prog, "cannot set the connection up");
		goto out;
	}
	c->state = C_CONNECTING;
	ok = 1;
out:
	BIO_ADDR_free(peer);
	return ok;
}

/* One client connection's turn; the network work is its own (implicit). */
static void drive(struct conn *c, double now, long long *up)
{
	int r;

	if (c->state == C_CONNECTING) {
		if ((r = SSL_connect(c->ssl)) != 1) {
			if (!wants_net(c, r))
				conn_fail(c, "the handshake failed", r);
			return;
		}
		if (!qt_nonblock(c->ssl, 1)) {
			conn_fail(c, "cannot make the connection non-blocking", 0);
			return;
		}
		{
			unsigned char s[8];
			size_t w = 0;
			int i;

			for (i = 0; i < 8; i++)
				s[i] = (unsigned char)(c->seed >> (56 - 8 * i));
			if (!SSL_write_ex(c->ssl, s, 8, &w) || w != 8) {
				conn_fail(c, "cannot send the seed", 0);
				return;
			}
		}
		c->state = C_RUNNING;
		c->started = now;
		(*up)++;
	}
	if (c->state == C_RUNNING || c->state == C_CONCLUDED) {
		(void)pump_read(c);
		if (c->state == C_FAILED)
			return;
	}
	if (c->state == C_RUNNING) {
		if (now - c->started >= (double)opt.seconds) {
			if (!conclude(c))
				return;
			c->state = C_CONCLUDED;
		} else {
			(void)pump_write(c);
			if (c->state == C_FAILED)
				return;
		}
	}
	if (c->state == C_CONCLUDED && c->peer_ended)
		c->state = C_SHUTDOWN;
	if (c->state == C_SHUTDOWN)
		pump_shutdown(c);
}

static int run_client(void)
{
	SSL_CTX *ctx = NULL;
	struct conn *conns = NULL;
	struct pollfd *pfd = NULL;
	long long i, up = 0, finished = 0, errors = 0;
	int rc = 1, reported_up = 0;
	double t0, deadline;

	if ((conns = calloc((size_t)opt.count, sizeof(*conns))) == NULL ||
	    (pfd = calloc((size_t)opt.count, sizeof(*pfd))) == NULL)
		goto out;
	if ((ctx = SSL_CTX_new(OSSL_QUIC_client_method())) == NULL) {
		qt_fail(prog, "SSL_CTX_new(OSSL_QUIC_client_method()) failed");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1) {
		qt_fail(prog, "cannot load %s", opt.ca);
		goto out;
	}
	for (i = 0; i < opt.count; i++)
		conns[i].fd = -1;
	for (i = 0; i < opt.count; i++)
		if (!client_start(ctx, &conns[i], opt.seed + (uint64_t)i))
			goto out;
	t0 = qt_now();
	deadline = t0 + (double)opt.timeout;

	while (finished < opt.count) {
		double now = qt_now();
		int timeout = LOAD_TICK_MS;

		if (now > deadline) {
			fprintf(stderr, "%s: timed out after %lld s: %lld of %lld connections up, "
				"%lld ended\n", prog, opt.timeout, up, opt.count, finished);
			for (i = 0; i < opt.count; i++)
				if (conns[i].state != C_DONE && conns[i].state != C_FAILED)
					conn_fail(&conns[i], "timed out", 0);
			errors += opt.count - finished;
			break;
		}
		for (i = 0; i < opt.count; i++) {
			struct conn *c = &conns[i];
			int t;

			pfd[i].fd = -1;
			if (c->state == C_DONE || c->state == C_FAILED)
				continue;
			pfd[i].fd = c->fd;
			pfd[i].events = (short)(POLLIN | (SSL_net_write_desired(c->ssl) ? POLLOUT : 0));
			if ((t = event_timeout(c->ssl)) < timeout)
				timeout = t;
		}
		(void)poll(pfd, (nfds_t)opt.count, timeout);
		now = qt_now();
		for (i = 0; i < opt.count; i++) {
			struct conn *c = &conns[i];

			if (c->state == C_DONE || c->state == C_FAILED)
				continue;
			/* Explicit event handling after the handshake: we run QUIC. */
			if (c->state != C_CONNECTING)
				(void)SSL_handle_events(c->ssl);
			drive(c, now, &up);
			if (c->state != C_CONNECTING && c->state != C_FAILED)
				(void)SSL_handle_events(c->ssl);
			if (c->state == C_DONE) {
				report_conn(c);
				finished++;
			} else if (c->state == C_FAILED) {
				errors++;
				finished++;
			}
		}
		if (!reported_up && up == opt.count) {
			printf("UP %lld %.3f\n", up, qt_now() - t0);
			reported_up = 1;
		}
		fflush(stdout);
	}
	printf("ERRORS %lld\n", errors);
	rc = errors == 0 ? 0 : 1;
out:
	if (conns != NULL)
		for (i = 0; i < opt.count; i++) {
			SSL_free(conns[i].ssl);
			if (conns[i].fd >= 0)
				close(conns[i].fd);
		}
	SSL_CTX_free(ctx);
	free(conns);
	free(pfd);
	report_cpu();
	printf("BIO %s\n", opt.header ? "dgrambatch" : "openssl");
	if (opt.header)
		report_counters();
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	if (!parse(argc, argv))
		return 2;
	return opt.server ? run_server() : run_client();
}
