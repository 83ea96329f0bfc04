/*
 * quic_server.c - the QUIC server of tests/quic.sh.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A listener on a UDP socket bound to 127.0.0.1 (or --addr, IPv4 or
 * IPv6) accepts --count connections one after the other.  On each it
 * reads the client's default stream to its end, hashing it with SHA-256,
 * answers "sha256 <hex> <bytes>\n" and concludes the stream; with --echo it sends
 * back whatever arrives instead, until the client ends the stream or
 * closes the connection; with --download it answers the client's
 * requests, one a line, until the client ends its stream: for
 * "send <bytes> <seed>\n" the bytes of the stream the seed makes, so that
 * the server is the sender; for "ping <first> <second> <seed>\n" that
 * stream's first bytes, then (a second write, flushed on its own) the
 * second ones (quic_client --pings).
 *
 * The datagram BIO: with --bio default, SSL_set_fd(), which has libssl
 * call BIO_s_datagram() (the preload shim's when it is preloaded); with
 * --bio header, DGB_new_dgram() from dgrambatch.h, which is the module's
 * BIO when the dgrambatch provider is loaded or loadable.  --nonblock
 * runs the listener and the connections in QUIC's non-blocking mode,
 * waiting in poll(2) on the socket as an event loop would; --explicit
 * (which implies it) also takes the connections' event handling into our
 * hands (see qt_explicit()).
 *
 * stdout carries the lines the test reads:
 *   PORT <n>                   once listening
 *   SERVED sha256 <hex> <n>    per connection (ECHOED <n> with --echo;
 *                              with --download, per "send" request)
 *   PINGS <n>                  with --download, the "ping" requests answered
 *                              on a connection, where there were any
 *   BIO dgrambatch|openssl     at exit: which BIO the listener had
 *   GRO on|off                 at exit: whether its socket handed over trains
 *   COUNTERS tx=<n> rx=<n>     at exit, --bio header: the module's counts
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quic_common.h"

static const char prog[] = "quic_server";

struct options {
	const char *cert, *key;
	/* --addr: the address to bind (IPv4 or IPv6), 127.0.0.1 by default. */
	const char *addr;
	int port;
	long long count;
	int echo;
	int download;
	int header;
	int nonblock;
	int explicit_events;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --cert FILE --key FILE [--port N] [--count N] [--echo | --download]\n"
		"       [--bio default|header] [--nonblock] [--explicit] [--addr ADDR]\n",
		prog);
}

static int parse(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--echo") == 0) {
			o->echo = 1;
			continue;
		}
		if (strcmp(a, "--download") == 0) {
			o->download = 1;
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
		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--cert") == 0) {
			o->cert = v;
		} else if (strcmp(a, "--key") == 0) {
			o->key = v;
		} else if (strcmp(a, "--port") == 0) {
			if ((o->port = (int)qt_number(v, 0, 65535)) < 0)
				goto bad;
		} else if (strcmp(a, "--addr") == 0) {
			o->addr = v;
		} else if (strcmp(a, "--count") == 0) {
			if ((o->count = qt_number(v, 1, 1000000)) < 0)
				goto bad;
		} else if (strcmp(a, "--bio") == 0) {
			if (strcmp(v, "header") == 0)
				o->header = 1;
			else if (strcmp(v, "default") != 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (o->cert != NULL && o->key != NULL)
		return 1;
bad:
	usage();
	return 0;
}

/* The server picks the client's protocol only if it is ours. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, qt_alpn, sizeof(qt_alpn), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const struct options *o)
{
	SSL_CTX *ctx = SSL_CTX_new(OSSL_QUIC_server_method());

	if (ctx == NULL) {
		qt_fail(prog, "SSL_CTX_new(OSSL_QUIC_server_method()) failed");
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		qt_fail(prog, "cannot use certificate %s with key %s", o->cert, o->key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	return ctx;
}

/*
 * A UDP socket bound to addr:port (127.0.0.1 without addr); *bound is the
 * port it got.
 */
static int bind_loopback(const char *addr, int port, int *bound)
{
	union qt_addr a;
	socklen_t len;
	int fd;

	if (!qt_addr_set(addr, port, &a)) {
		fprintf(stderr, "%s: not an IPv4 or IPv6 address: %s\n", prog, addr);
		return -1;
	}
	len = qt_addr_len(&a);
	if ((fd = socket(a.sa.sa_family, SOCK_DGRAM, 0)) < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	qt_socket_buffers(fd);
	if (bind(fd, &a.sa, len) != 0 || getsockname(fd, &a.sa, &len) != 0) {
		fprintf(stderr, "%s: bind %s:%d: %s\n", prog, addr != NULL ? addr : "127.0.0.1",
			port, strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(a.sa.sa_family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
	return fd;
}

/*
 * Whether the connection ended because the client closed it without an
 * error: how s_client -quic hangs up when its input ends.
 */
static int closed_by_peer_cleanly(SSL *conn)
{
	SSL_CONN_CLOSE_INFO info;

	return SSL_get_conn_close_info(conn, &info, sizeof(info)) &&
	       (info.flags & (SSL_CONN_CLOSE_FLAG_LOCAL | SSL_CONN_CLOSE_FLAG_TRANSPORT)) == 0 &&
	       info.error_code == 0;
}

/* End our side: the stream, then the connection (waiting for the acks). */
static int finish_conn(SSL *conn)
{
	int r;

	if (!SSL_stream_conclude(conn, 0)) {
		qt_fail(prog, "SSL_stream_conclude failed");
		return 0;
	}
	qt_flush(conn);
	while ((r = SSL_shutdown(conn)) != 1) {
		/* 0: still closing, which only non-blocking mode returns to wait in. */
		if (r == 0) {
			if (!SSL_get_blocking_mode(conn))
				qt_wait(conn);
			continue;
		}
		if (qt_again(conn, r))
			continue;
		if (closed_by_peer_cleanly(conn))
			break;
		qt_fail(prog, "SSL_shutdown failed (SSL_get_error %d)", SSL_get_error(conn, r));
		qt_close_info(prog, conn);
		return 0;
	}
	ERR_clear_error();
	return 1;
}

/* Read the stream to its end, hashing it; answer with the digest and count. */
static int serve_digest(SSL *conn, unsigned char *buf)
{
	EVP_MD_CTX *md = qt_sha256_new();
	char hex[65], reply[QT_REPLY_MAX];
	uint64_t total = 0;
	size_t n;
	int len, r, ok = 0;

	if (md == NULL) {
		qt_fail(prog, "no SHA-256");
		return 0;
	}
	while ((r = qt_read_some(conn, buf, QT_CHUNK, &n)) > 0) {
		if (!EVP_DigestUpdate(md, buf, n)) {
			qt_fail(prog, "EVP_DigestUpdate failed");
			goto out;
		}
		total += n;
	}
	if (r < 0) {
		qt_fail(prog, "SSL_read_ex failed after %" PRIu64 " bytes (SSL_get_error %d)",
			total, SSL_get_error(conn, 0));
		qt_close_info(prog, conn);
		goto out;
	}
	if (!qt_sha256_hex(md, hex)) {
		qt_fail(prog, "EVP_DigestFinal_ex failed");
		goto out;
	}
	len = snprintf(reply, sizeof(reply), "sha256 %s %" PRIu64 "\n", hex, total);
	if (!qt_write_all(prog, conn, reply, (size_t)len) || !finish_conn(conn))
		goto out;
	printf("SERVED sha256 %s %" PRIu64 "\n", hex, total);
	fflush(stdout);
	ok = 1;
out:
	EVP_MD_CTX_free(md);
	return ok;
}

/* A line of the client's, without its newline, and what follows it. */
struct lines {
	char buf[128];
	size_t have;
};

/* The next request line into line: 1, or 0 at the end of the stream, or -1. */
static int next_line(SSL *conn, struct lines *l, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(l->buf, '\n', l->have);
		size_t n;
		int r;

		if (nl != NULL) {
			size_t len = (size_t)(nl - l->buf);

			if (len >= size)
				len = size - 1;
			memcpy(line, l->buf, len);
			line[len] = '\0';
			l->have -= (size_t)(nl + 1 - l->buf);
			memmove(l->buf, nl + 1, l->have);
			return 1;
		}
		if (l->have == sizeof(l->buf)) {
			fprintf(stderr, "%s: a request line is too long\n", prog);
			return -1;
		}
		if ((r = qt_read_some(conn, l->buf + l->have, sizeof(l->buf) - l->have, &n)) <= 0) {
			if (r == 0 && l->have > 0) {
				fprintf(stderr, "%s: the stream ended inside a request\n", prog);
				return -1;
			}
			if (r < 0) {
				qt_fail(prog, "SSL_read_ex failed (SSL_get_error %d)",
					SSL_get_error(conn, 0));
				qt_close_info(prog, conn);
			}
			return r;
		}
		l->have += n;
	}
}

/* "send": bytes of the stream state makes, hashed, in writes of QT_CHUNK. */
static int serve_send(SSL *conn, unsigned char *buf, unsigned long long bytes, uint64_t state)
{
	EVP_MD_CTX *md = qt_sha256_new();
	char hex[65];
	uint64_t total = 0;
	int ok = 0;

	if (md == NULL) {
		qt_fail(prog, "no SHA-256");
		return 0;
	}
	while (total < bytes) {
		size_t k = bytes - total < QT_CHUNK ? (size_t)(bytes - total) : QT_CHUNK;

		qt_fill(buf, k, &state);
		if (!EVP_DigestUpdate(md, buf, k) || !qt_write_all(prog, conn, buf, k))
			goto out;
		total += k;
	}
	if (!qt_sha256_hex(md, hex))
		goto out;
	printf("SERVED sha256 %s %" PRIu64 "\n", hex, total);
	fflush(stdout);
	ok = 1;
out:
	EVP_MD_CTX_free(md);
	return ok;
}

/*
 * "ping": the response in two writes, each flushed as it is made (QUIC
 * sends at every write), so that its datagrams leave as two bursts.
 */
static int serve_ping(SSL *conn, unsigned char *buf, unsigned long long first,
		      unsigned long long second, uint64_t state)
{
	if (first == 0 || second == 0 || first > QT_CHUNK || second > QT_CHUNK) {
		fprintf(stderr, "%s: a ping's parts must be 1 to %d bytes\n", prog, QT_CHUNK);
		return 0;
	}
	qt_fill(buf, (size_t)first, &state);
	if (!qt_write_all(prog, conn, buf, (size_t)first))
		return 0;
	qt_fill(buf, (size_t)second, &state);
	return qt_write_all(prog, conn, buf, (size_t)second);
}

/*
 * The download: answer the client's requests (see the top of the file)
 * until it ends its stream, then end ours.
 */
static int serve_download(SSL *conn, unsigned char *buf)
{
	struct lines l = { .have = 0 };
	char req[sizeof(l.buf)];
	unsigned long long bytes, second;
	uint64_t state, pings = 0;
	int r;

	while ((r = next_line(conn, &l, req, sizeof(req))) > 0) {
		if (sscanf(req, "send %llu %" SCNu64, &bytes, &state) == 2) {
			if (!serve_send(conn, buf, bytes, state))
				return 0;
		} else if (sscanf(req, "ping %llu %llu %" SCNu64, &bytes, &second, &state) == 3) {
			if (!serve_ping(conn, buf, bytes, second, state))
				return 0;
			pings++;
		} else {
			qt_fail(prog,
				"a download request must be \"send <bytes> <seed>\" or "
				"\"ping <first> <second> <seed>\", not \"%s\"",
				req);
			return 0;
		}
	}
	if (r < 0 || !finish_conn(conn))
		return 0;
	if (pings > 0) {
		printf("PINGS %" PRIu64 "\n", pings);
		fflush(stdout);
	}
	return 1;
}

/* Send back what arrives until the client ends the stream or hangs up. */
static int serve_echo(SSL *conn, unsigned char *buf)
{
	uint64_t total = 0;
	size_t n;

	for (;;) {
		if (SSL_read_ex(conn, buf, QT_CHUNK, &n)) {
			if (!qt_write_all(prog, conn, buf, n))
				return 0;
			total += n;
			continue;
		}
		if (SSL_get_error(conn, 0) == SSL_ERROR_ZERO_RETURN) {
			if (!finish_conn(conn))
				return 0;
			break;
		}
		if (qt_again(conn, 0))
			continue;
		if (closed_by_peer_cleanly(conn)) {
			ERR_clear_error();
			break;
		}
		qt_fail(prog, "SSL_read_ex failed after %" PRIu64 " bytes (SSL_get_error %d)",
			total, SSL_get_error(conn, 0));
		qt_close_info(prog, conn);
		return 0;
	}
	printf("ECHOED %" PRIu64 "\n", total);
	fflush(stdout);
	return 1;
}

/* The next connection; in non-blocking mode it is made non-blocking too. */
static SSL *accept_conn(SSL *listener, int nonblock, int explicit_events)
{
	SSL *conn;

	while ((conn = SSL_accept_connection(listener, nonblock ? SSL_ACCEPT_CONNECTION_NO_BLOCK
								  : 0)) == NULL) {
		if (!nonblock || ERR_peek_error() != 0) {
			qt_fail(prog, "SSL_accept_connection failed");
			return NULL;
		}
		qt_wait(listener);
	}
	if (nonblock && !qt_nonblock(conn, explicit_events)) {
		qt_fail(prog, "cannot make the connection non-blocking");
		SSL_free(conn);
		return NULL;
	}
	return conn;
}

int main(int argc, char **argv)
{
	struct options o;
	SSL_CTX *ctx = NULL;
	SSL *listener = NULL, *conn;
	BIO *bio;
	unsigned char *buf = NULL;
	int fd = -1, port = 0, is_dgb = 0, gro = 0, rc = 1;
	long long served;

	if (!parse(argc, argv, &o))
		return 2;
	if ((buf = malloc(QT_CHUNK)) == NULL || (ctx = make_ctx(&o)) == NULL)
		goto out;
	if ((fd = bind_loopback(o.addr, o.port, &port)) < 0)
		goto out;
	if ((listener = SSL_new_listener(ctx, 0)) == NULL) {
		qt_fail(prog, "SSL_new_listener failed");
		goto out;
	}
	if (o.header) {
		if ((bio = DGB_new_dgram(NULL, fd, BIO_NOCLOSE)) == NULL) {
			qt_fail(prog, "DGB_new_dgram failed");
			goto out;
		}
		SSL_set_bio(listener, bio, bio);
	} else if (!SSL_set_fd(listener, fd)) {
		qt_fail(prog, "SSL_set_fd failed");
		goto out;
	}
	is_dgb = DGB_is_dgrambatch(SSL_get_rbio(listener));
	if (o.nonblock && !SSL_set_blocking_mode(listener, 0)) {
		qt_fail(prog, "cannot make the listener non-blocking");
		goto out;
	}
	if (!SSL_listen(listener)) {
		qt_fail(prog, "SSL_listen failed");
		goto out;
	}
	printf("PORT %d\n", port);
	fflush(stdout);

	for (served = 0; served < o.count; served++) {
		int ok;

		if ((conn = accept_conn(listener, o.nonblock, o.explicit_events)) == NULL)
			goto out;
		ok = o.echo ? serve_echo(conn, buf)
		     : o.download ? serve_download(conn, buf) : serve_digest(conn, buf);
		SSL_free(conn);
		if (!ok)
			goto out;
	}
	rc = 0;
out:
	if (listener != NULL && SSL_get_rbio(listener) != NULL)
		gro = DGB_get_gro(SSL_get_rbio(listener)) == 1;
	SSL_free(listener);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	free(buf);
	qt_report(is_dgb, gro, o.header);
	return rc;
}
