/*
 * quic_client.c - the QUIC client of tests/quic.sh.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Connects to the test server on 127.0.0.1:--port (or --addr:--port,
 * IPv4 or IPv6), verifying its certificate against --ca for the name
 * "localhost", sends --bytes of deterministic pseudo-random data on the
 * default stream, ends the stream
 * and reads the server's "sha256 <hex> <bytes>" line, which must match
 * what was sent.
 *
 * The datagram BIO: with --bio default, BIO_new_dgram() (the preload
 * shim's when it is preloaded); with --bio header, DGB_new_dgram() from
 * dgrambatch.h.  --connected connects the UDP socket first; without it the
 * socket is unconnected and every datagram carries its address.
 * --nonblock runs the connection in QUIC's non-blocking mode, waiting in
 * poll(2) on the socket as an event loop would; --explicit (which implies
 * it) also takes QUIC's event handling into our hands after the handshake
 * (see qt_explicit()).
 *
 * --download asks the server for the bytes instead; --pings N then makes
 * N request/response rounds on the same stream, each response written by
 * the server in two parts (--ping-sizes FIRST,SECOND) and read only after
 * --settle-ms, so that both parts are queued when the read starts (see
 * pingpong()).  --hold puts a filter BIO over the datagram BIO that keeps
 * the last datagram of every receive for its next call: the control run
 * showing what a datagram left inside a BIO does to those rounds.
 *
 * stdout carries the lines the test reads:
 *   OK sha256 <hex> <bytes>    the server received exactly what was sent
 *                              (--download: we received what it sent)
 *   PING <i> <us> <carried>    per round: microseconds from the start of
 *                              the read to the response's last byte, and
 *                              the datagrams the module delivered from
 *                              trains an earlier call had begun (-1: no
 *                              counters)
 *   BIO dgrambatch|openssl     which BIO the connection had
 *   GRO on|off                 whether its socket handed over trains
 *   COUNTERS tx=<n> rx=<n>     --bio header: the module's counts
 * Anything else exits non-zero with OpenSSL's error stack on stderr.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "quic_common.h"

static const char prog[] = "quic_client";

struct options {
	const char *ca;
	/* --addr: the server's address (IPv4 or IPv6), 127.0.0.1 by default. */
	const char *addr;
	int port;
	long long bytes;
	uint64_t seed;
	int header;
	int connected;
	int download;
	int nonblock;
	int explicit_events;
	int hold;
	long long pings, ping_first, ping_second, settle_ms;
};

/* The largest response of a round: it and its expected copy share buf. */
#define PING_MAX (QT_CHUNK / 2)

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --port N --ca FILE [--bytes N] [--seed N] [--bio default|header]\n"
		"       [--connected] [--nonblock] [--explicit] [--hold] [--addr ADDR]\n"
		"       [--download [--pings N] [--ping-sizes FIRST,SECOND] [--settle-ms N]]\n",
		prog);
}

/* "FIRST,SECOND": two sizes of at least one byte, together at most PING_MAX. */
static int parse_sizes(const char *v, struct options *o)
{
	char first[32];
	const char *comma = strchr(v, ',');

	if (comma == NULL || (size_t)(comma - v) >= sizeof(first))
		return 0;
	memcpy(first, v, (size_t)(comma - v));
	first[comma - v] = '\0';
	o->ping_first = qt_number(first, 1, PING_MAX);
	o->ping_second = qt_number(comma + 1, 1, PING_MAX);
	return o->ping_first > 0 && o->ping_second > 0 &&
	       o->ping_first + o->ping_second <= PING_MAX;
}

static int parse(int argc, char **argv, struct options *o)
{
	long long v;
	int i;

	memset(o, 0, sizeof(*o));
	o->bytes = 50LL * 1024 * 1024;
	o->seed = 1;
	/* About 8 and 29 full packets: see pingpong(). */
	o->ping_first = 9000;
	o->ping_second = 33000;
	o->settle_ms = 3;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--download") == 0) {
			o->download = 1;
			continue;
		}
		if (strcmp(a, "--connected") == 0) {
			o->connected = 1;
			continue;
		}
		if (strcmp(a, "--nonblock") == 0) {
			o->nonblock = 1;
			continue;
		}
		if (strcmp(a, "--explicit") == 0) {
			o->nonblock = o->explicit_events = 1;
			continue;
		}
		if (strcmp(a, "--hold") == 0) {
			o->hold = 1;
			continue;
		}
		if (val == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--ca") == 0) {
			o->ca = val;
		} else if (strcmp(a, "--port") == 0) {
			if ((o->port = (int)qt_number(val, 1, 65535)) < 0)
				goto bad;
		} else if (strcmp(a, "--addr") == 0) {
			o->addr = val;
		} else if (strcmp(a, "--bytes") == 0) {
			if ((o->bytes = qt_number(val, 0, 1LL << 40)) < 0)
				goto bad;
		} else if (strcmp(a, "--seed") == 0) {
			if ((v = qt_number(val, 0, INT64_MAX)) < 0)
				goto bad;
			o->seed = (uint64_t)v;
		} else if (strcmp(a, "--bio") == 0) {
			if (strcmp(val, "header") == 0)
				o->header = 1;
			else if (strcmp(val, "default") != 0)
				goto bad;
		} else if (strcmp(a, "--pings") == 0) {
			if ((o->pings = qt_number(val, 0, 1000000)) < 0)
				goto bad;
		} else if (strcmp(a, "--ping-sizes") == 0) {
			if (!parse_sizes(val, o))
				goto bad;
		} else if (strcmp(a, "--settle-ms") == 0) {
			if ((o->settle_ms = qt_number(val, 0, 10000)) < 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (o->ca != NULL && o->port > 0 && (o->pings == 0 || o->download))
		return 1;
bad:
	usage();
	return 0;
}

/*
 * --hold: a filter BIO that keeps the last datagram of every receive of
 * two or more for its next call, which delivers it alone.  To QUIC, which
 * reads once per tick and then sleeps on the socket, this is a datagram
 * BIO that took datagrams off the socket and kept some inside: when the
 * socket is empty, nothing wakes it for them until a timer does.
 */
struct hold {
	int have;
	size_t len;
	BIO_ADDR *peer, *local;
	unsigned char data[65536];
};

static BIO_METHOD *hold_method;

static BIO_MSG *msg_at(BIO_MSG *m, size_t stride, size_t i)
{
	return (BIO_MSG *)((char *)m + i * stride);
}

static void addr_copy(BIO_ADDR *to, const BIO_ADDR *from)
{
	if (from == NULL || BIO_ADDR_family(from) == AF_UNSPEC || !BIO_ADDR_copy(to, from))
		BIO_ADDR_clear(to);
}

static int hold_recvmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t n, uint64_t flags,
			 size_t *done)
{
	struct hold *h = BIO_get_data(b);
	size_t got = 0;

	*done = 0;
	if (n == 0)
		return 1;
	if (h->have) {
		if (msg->data_len < h->len)
			return 0;
		memcpy(msg->data, h->data, h->len);
		msg->data_len = h->len;
		msg->flags = 0;
		if (msg->peer != NULL)
			addr_copy(msg->peer, h->peer);
		if (msg->local != NULL)
			addr_copy(msg->local, h->local);
		h->have = 0;
		*done = 1;
		return 1;
	}
	if (!BIO_recvmmsg(BIO_next(b), msg, stride, n, flags, &got))
		return 0;
	if (got >= 2) {
		BIO_MSG *last = msg_at(msg, stride, got - 1);

		if (last->data_len <= sizeof(h->data)) {
			memcpy(h->data, last->data, last->data_len);
			h->len = last->data_len;
			addr_copy(h->peer, last->peer);
			addr_copy(h->local, last->local);
			h->have = 1;
			got--;
		}
	}
	*done = got;
	return 1;
}

static int hold_sendmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t n, uint64_t flags,
			 size_t *done)
{
	return BIO_sendmmsg(BIO_next(b), msg, stride, n, flags, done);
}

static long hold_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return BIO_next(b) != NULL ? BIO_ctrl(BIO_next(b), cmd, num, ptr) : 0;
}

static int hold_create(BIO *b)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->peer = BIO_ADDR_new()) == NULL ||
	    (h->local = BIO_ADDR_new()) == NULL) {
		if (h != NULL)
			BIO_ADDR_free(h->peer);
		free(h);
		return 0;
	}
	BIO_set_data(b, h);
	BIO_set_init(b, 1);
	return 1;
}

static int hold_destroy(BIO *b)
{
	struct hold *h = BIO_get_data(b);

	if (h != NULL) {
		BIO_ADDR_free(h->peer);
		BIO_ADDR_free(h->local);
		free(h);
	}
	BIO_set_data(b, NULL);
	return 1;
}

/* The filter over dgram, which it then owns; NULL (dgram freed) on failure. */
static BIO *hold_push(BIO *dgram)
{
	BIO *b = NULL;

	if (hold_method == NULL &&
	    ((hold_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "hold")) == NULL ||
	     !BIO_meth_set_recvmmsg(hold_method, hold_recvmmsg) ||
	     !BIO_meth_set_sendmmsg(hold_method, hold_sendmmsg) ||
	     !BIO_meth_set_ctrl(hold_method, hold_ctrl) ||
	     !BIO_meth_set_create(hold_method, hold_create) ||
	     !BIO_meth_set_destroy(hold_method, hold_destroy))) {
		BIO_meth_free(hold_method);
		hold_method = NULL;
	}
	if (hold_method == NULL || (b = BIO_new(hold_method)) == NULL) {
		qt_fail(prog, "cannot make the --hold filter BIO");
		BIO_free(dgram);
		return NULL;
	}
	return BIO_push(b, dgram);
}

/*
 * The connection's BIO: the datagram BIO (also in *dgram), or with --hold
 * the filter over it.
 */
static BIO *make_bio(const struct options *o, const union qt_addr *server, BIO **dgram)
{
	int fd = socket(server->sa.sa_family, SOCK_DGRAM, 0);
	BIO *bio;

	*dgram = NULL;
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return NULL;
	}
	qt_socket_buffers(fd);
	if (o->connected && connect(fd, &server->sa, qt_addr_len(server)) != 0) {
		fprintf(stderr, "%s: connect %s:%d: %s\n", prog,
			o->addr != NULL ? o->addr : "127.0.0.1", o->port, strerror(errno));
		close(fd);
		return NULL;
	}
	bio = o->header ? DGB_new_dgram(NULL, fd, BIO_CLOSE) : BIO_new_dgram(fd, BIO_CLOSE);
	if (bio == NULL) {
		qt_fail(prog, "%s failed", o->header ? "DGB_new_dgram" : "BIO_new_dgram");
		close(fd);
		return NULL;
	}
	*dgram = bio;
	if (o->hold && (bio = hold_push(bio)) == NULL)
		*dgram = NULL;
	return bio;
}

static SSL *make_ssl(SSL_CTX *ctx, BIO *bio, const union qt_addr *server)
{
	int v6 = server->sa.sa_family == AF_INET6;
	SSL *ssl = SSL_new(ctx);
	BIO_ADDR *peer = BIO_ADDR_new();
	int ok;

	ok = ssl != NULL && peer != NULL &&
	     SSL_set_tlsext_host_name(ssl, QT_HOST) == 1 && SSL_set1_host(ssl, QT_HOST) == 1 &&
	     SSL_set_alpn_protos(ssl, qt_alpn, sizeof(qt_alpn)) == 0 &&
	     (v6 ? BIO_ADDR_rawmake(peer, AF_INET6, &server->v6.sin6_addr,
				    sizeof(server->v6.sin6_addr), server->v6.sin6_port)
		 : BIO_ADDR_rawmake(peer, AF_INET, &server->v4.sin_addr,
				    sizeof(server->v4.sin_addr), server->v4.sin_port)) == 1 &&
	     SSL_set1_initial_peer_addr(ssl, peer) == 1;
	BIO_ADDR_free(peer);
	if (!ok) {
		qt_fail(prog, "cannot set up the QUIC connection object");
		SSL_free(ssl);
		BIO_free(bio);
		return NULL;
	}
	SSL_set_bio(ssl, bio, bio);
	return ssl;
}

/* Exactly len bytes into buf: 1, or 0 with a message. */
static int read_exactly(SSL *ssl, unsigned char *buf, size_t len, const char *what)
{
	size_t have = 0, n;
	int r;

	while (have < len) {
		if ((r = qt_read_some(ssl, buf + have, len - have, &n)) > 0) {
			have += n;
			continue;
		}
		qt_fail(prog, "%s: %s after %zu of %zu bytes (SSL_get_error %d)", what,
			r == 0 ? "the stream ended" : "SSL_read_ex failed", have, len,
			SSL_get_error(ssl, 0));
		qt_close_info(prog, ssl);
		return 0;
	}
	return 1;
}

/* Send the data, hashing it as it goes; the stream ends after it. */
static int send_data(SSL *ssl, const struct options *o, unsigned char *buf, char hex[65])
{
	EVP_MD_CTX *md = qt_sha256_new();
	uint64_t state = o->seed, left = (uint64_t)o->bytes;
	int ok = 0;

	if (md == NULL) {
		qt_fail(prog, "no SHA-256");
		return 0;
	}
	while (left > 0) {
		size_t n = left < QT_CHUNK ? (size_t)left : QT_CHUNK;

		qt_fill(buf, n, &state);
		if (!EVP_DigestUpdate(md, buf, n)) {
			qt_fail(prog, "EVP_DigestUpdate failed");
			goto out;
		}
		if (!qt_write_all(prog, ssl, buf, n))
			goto out;
		left -= n;
	}
	if (!SSL_stream_conclude(ssl, 0)) {
		qt_fail(prog, "SSL_stream_conclude failed");
		goto out;
	}
	qt_flush(ssl);
	if (!qt_sha256_hex(md, hex)) {
		qt_fail(prog, "EVP_DigestFinal_ex failed");
		goto out;
	}
	ok = 1;
out:
	EVP_MD_CTX_free(md);
	return ok;
}

/*
 * The request/response rounds after a download (--pings).  Each asks for
 * a response the server writes in two parts, each write flushed at once:
 * with the defaults about 8 full datagrams, then about 29, which the
 * server's module sends as two trains.  The read starts only once both
 * are queued (--settle-ms), so its first receive of 32 takes the first
 * train and only part of the second: the rest of that train, the
 * response's end, is what the module keeps for a later call.  The module
 * leaves the train in the socket's queue meanwhile, so the socket stays
 * readable and QUIC reads the rest at once.  Had the module taken the
 * train off the socket and kept the rest itself, the socket would be
 * empty and QUIC would sleep on it until a timer woke it: the server's
 * probe timeout, which includes our 25 ms maximum ACK delay, or one of
 * ours.  The time from the read's start to the response's last byte
 * tells the two apart; the counters tell which rounds had datagrams kept.
 */
static int pingpong(SSL *ssl, const struct options *o, unsigned char *buf)
{
	size_t len = (size_t)(o->ping_first + o->ping_second);
	unsigned char *want = buf + PING_MAX;
	struct timespec settle = { o->settle_ms / 1000, (o->settle_ms % 1000) * 1000000L };

	for (long long i = 0; i < o->pings; i++) {
		struct qt_counters c0, c1;
		uint64_t state = o->seed + 1 + (uint64_t)i;
		char req[96];
		double t0, t1;
		int n, counted = o->header && qt_counters_get(&c0);

		n = snprintf(req, sizeof(req), "ping %lld %lld %" PRIu64 "\n", o->ping_first,
			     o->ping_second, state);
		if (!qt_write_all(prog, ssl, req, (size_t)n))
			return 0;
		nanosleep(&settle, NULL);
		t0 = qt_now();
		if (!read_exactly(ssl, buf, len, "ping"))
			return 0;
		t1 = qt_now();
		counted = counted && qt_counters_get(&c1);
		/* The same two fills as the server's, one per part. */
		qt_fill(want, (size_t)o->ping_first, &state);
		qt_fill(want + o->ping_first, (size_t)o->ping_second, &state);
		if (memcmp(buf, want, len) != 0) {
			fprintf(stderr, "%s: MISMATCH in the response of round %lld\n", prog, i);
			return 0;
		}
		printf("PING %lld %.0f %lld\n", i, (t1 - t0) * 1e6,
		       counted ? (long long)(c1.gro_carried - c0.gro_carried) : -1LL);
	}
	fflush(stdout);
	return 1;
}

/*
 * The download: ask the server (quic_server --download) for --bytes bytes
 * of the stream --seed makes, read them, and check them against the same
 * stream made here; hex gets their digest, *done the time they were all
 * in.  Then the rounds of --pings, and our end of the stream, after which
 * the server ends its own.
 */
static int download(SSL *ssl, const struct options *o, unsigned char *buf, char hex[65],
		    double *done)
{
	EVP_MD_CTX *got = qt_sha256_new(), *want = qt_sha256_new();
	uint64_t state = o->seed, total = 0;
	char req[64], want_hex[65];
	size_t n;
	int len, r, ok = 0;

	if (got == NULL || want == NULL) {
		qt_fail(prog, "no SHA-256");
		goto out;
	}
	len = snprintf(req, sizeof(req), "send %lld %" PRIu64 "\n", o->bytes, o->seed);
	if (!qt_write_all(prog, ssl, req, (size_t)len) ||
	    (o->pings == 0 && !SSL_stream_conclude(ssl, 0))) {
		qt_fail(prog, "cannot send the request");
		goto out;
	}
	qt_flush(ssl);
	while (total < (uint64_t)o->bytes) {
		uint64_t left = (uint64_t)o->bytes - total;

		if ((r = qt_read_some(ssl, buf, left < QT_CHUNK ? (size_t)left : QT_CHUNK, &n)) <= 0) {
			qt_fail(prog, "%s after %" PRIu64 " bytes (SSL_get_error %d)",
				r == 0 ? "the server's stream ended" : "SSL_read_ex failed", total,
				SSL_get_error(ssl, 0));
			qt_close_info(prog, ssl);
			goto out;
		}
		if (!EVP_DigestUpdate(got, buf, n))
			goto out;
		total += n;
	}
	*done = qt_now();
	for (uint64_t left = (uint64_t)o->bytes; left > 0;) {
		size_t k = left < QT_CHUNK ? (size_t)left : QT_CHUNK;

		qt_fill(buf, k, &state);
		if (!EVP_DigestUpdate(want, buf, k))
			goto out;
		left -= k;
	}
	if (!qt_sha256_hex(got, hex) || !qt_sha256_hex(want, want_hex))
		goto out;
	if (strcmp(hex, want_hex) != 0) {
		fprintf(stderr, "%s: MISMATCH: received sha256 %s %" PRIu64 ", expected %s %lld\n",
			prog, hex, total, want_hex, o->bytes);
		goto out;
	}
	if (o->pings > 0 && (!pingpong(ssl, o, buf) || !SSL_stream_conclude(ssl, 0)))
		goto out;
	qt_flush(ssl);
	/* Nothing more may come: the server ends its stream. */
	if ((r = qt_read_some(ssl, buf, QT_CHUNK, &n)) != 0) {
		if (r > 0)
			fprintf(stderr, "%s: %zu bytes more than asked for\n", prog, n);
		else
			qt_fail(prog, "SSL_read_ex failed at the end (SSL_get_error %d)",
				SSL_get_error(ssl, 0));
		goto out;
	}
	ok = 1;
out:
	EVP_MD_CTX_free(got);
	EVP_MD_CTX_free(want);
	return ok;
}

/* The server's line, up to the end of its stream. */
static int read_reply(SSL *ssl, char reply[QT_REPLY_MAX])
{
	size_t have = 0, n;
	int r;

	for (;;) {
		if (have == QT_REPLY_MAX - 1) {
			fprintf(stderr, "%s: the server's reply is too long\n", prog);
			return 0;
		}
		if ((r = qt_read_some(ssl, reply + have, QT_REPLY_MAX - 1 - have, &n)) > 0) {
			have += n;
			continue;
		}
		if (r == 0)
			break;
		qt_fail(prog, "SSL_read_ex failed (SSL_get_error %d)", SSL_get_error(ssl, 0));
		qt_close_info(prog, ssl);
		return 0;
	}
	reply[have] = '\0';
	return 1;
}

/* The reply must be exactly "sha256 <hex> <bytes>\n" with our values. */
static int check_reply(const char *reply, const char *hex, long long bytes)
{
	char want[QT_REPLY_MAX];

	snprintf(want, sizeof(want), "sha256 %s %lld\n", hex, bytes);
	if (strcmp(reply, want) == 0)
		return 1;
	fprintf(stderr, "%s: MISMATCH: sent sha256 %s %lld, the server says \"%.*s\"\n", prog,
		hex, bytes, (int)strcspn(reply, "\n"), reply);
	return 0;
}

static int handshake(SSL *ssl)
{
	int r;

	while ((r = SSL_connect(ssl)) != 1) {
		long v;

		if (qt_again(ssl, r))
			continue;
		v = SSL_get_verify_result(ssl);
		qt_fail(prog, "SSL_connect failed (SSL_get_error %d, verify: %s)",
			SSL_get_error(ssl, r), X509_verify_cert_error_string(v));
		qt_close_info(prog, ssl);
		return 0;
	}
	return 1;
}

static int shutdown_conn(SSL *ssl)
{
	int r;

	while ((r = SSL_shutdown(ssl)) != 1) {
		/* 0: still closing, which only non-blocking mode returns to wait in. */
		if (r == 0) {
			if (!SSL_get_blocking_mode(ssl))
				qt_wait(ssl);
			continue;
		}
		if (qt_again(ssl, r))
			continue;
		qt_fail(prog, "SSL_shutdown failed (SSL_get_error %d)", SSL_get_error(ssl, r));
		qt_close_info(prog, ssl);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct options o;
	union qt_addr server;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *bio, *dgram = NULL;
	unsigned char *buf = NULL;
	const unsigned char *alpn;
	unsigned int alpn_len;
	char hex[65], reply[QT_REPLY_MAX];
	int is_dgb = 0, gro = 0, rc = 1;
	/*
	 * The rate: from the handshake's start until the data is in, the
	 * server's digest of it (or, --download, its last byte); neither our
	 * check of a download, the rounds of --pings, nor the close, whose
	 * length is QUIC's (a closing period of tens to hundreds of ms).
	 */
	double t0, t1 = 0;

	if (!parse(argc, argv, &o))
		return 2;
	if (!qt_addr_set(o.addr, o.port, &server)) {
		fprintf(stderr, "%s: --addr %s: not an IPv4 or IPv6 address\n", prog, o.addr);
		return 2;
	}

	if ((buf = malloc(QT_CHUNK)) == NULL)
		goto out;
	if ((ctx = SSL_CTX_new(OSSL_QUIC_client_method())) == NULL) {
		qt_fail(prog, "SSL_CTX_new(OSSL_QUIC_client_method()) failed");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_file(ctx, o.ca) != 1) {
		qt_fail(prog, "cannot load the CA file %s", o.ca);
		goto out;
	}
	if ((bio = make_bio(&o, &server, &dgram)) == NULL)
		goto out;
	is_dgb = DGB_is_dgrambatch(dgram);
	if ((ssl = make_ssl(ctx, bio, &server)) == NULL)
		goto out;
	if (o.nonblock && !qt_nonblock(ssl, 0)) {
		qt_fail(prog, "cannot make the connection non-blocking");
		goto out;
	}

	t0 = qt_now();
	if (!handshake(ssl))
		goto out;
	if (o.explicit_events && !qt_nonblock(ssl, 1)) {
		qt_fail(prog, "cannot take QUIC's event handling over");
		goto out;
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len != sizeof(qt_alpn) - 1 || memcmp(alpn, qt_alpn + 1, alpn_len) != 0) {
		fprintf(stderr, "%s: the server did not select ALPN dgb-test\n", prog);
		goto out;
	}
	if (o.download) {
		if (!download(ssl, &o, buf, hex, &t1))
			goto out;
	} else {
		if (!send_data(ssl, &o, buf, hex) || !read_reply(ssl, reply))
			goto out;
		t1 = qt_now();
		if (!check_reply(reply, hex, o.bytes))
			goto out;
	}
	if (!shutdown_conn(ssl))
		goto out;
	printf("OK sha256 %s %lld\n", hex, o.bytes);
	fprintf(stderr, "%s: %lld bytes in %.3f s (%.1f MB/s)\n", prog, o.bytes, t1 - t0,
		t1 > t0 ? (double)o.bytes / 1e6 / (t1 - t0) : 0.0);
	rc = 0;
out:
	/* The datagram BIO lives as long as the connection (SSL_set_bio). */
	if (ssl != NULL && dgram != NULL)
		gro = DGB_get_gro(dgram) == 1;
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	BIO_meth_free(hold_method);
	free(buf);
	qt_report(is_dgb, gro, o.header);
	return rc;
}
