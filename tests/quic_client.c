/*
 * quic_client.c - the QUIC client of tests/quic.sh.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Connects to the test server on 127.0.0.1:--port, verifying its
 * certificate against --ca for the name "localhost", sends --bytes of
 * deterministic pseudo-random data on the default stream, ends the stream
 * and reads the server's "sha256 <hex> <bytes>" line, which must match
 * what was sent.
 *
 * The datagram BIO: with --bio default, BIO_new_dgram() (the preload
 * shim's when it is preloaded); with --bio header, DGB_new_dgram() from
 * dgrambatch.h.  --connected connects the UDP socket first; without it the
 * socket is unconnected and every datagram carries its address.
 *
 * stdout carries the lines the test reads:
 *   OK sha256 <hex> <bytes>    the server received exactly what was sent
 *   BIO dgrambatch|openssl     which BIO the connection had
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
	int port;
	long long bytes;
	uint64_t seed;
	int header;
	int connected;
	int download;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --port N --ca FILE [--bytes N] [--seed N] [--bio default|header]\n"
		"       [--connected] [--download]\n",
		prog);
}

static int parse(int argc, char **argv, struct options *o)
{
	long long v;
	int i;

	memset(o, 0, sizeof(*o));
	o->bytes = 50LL * 1024 * 1024;
	o->seed = 1;
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
		if (val == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--ca") == 0) {
			o->ca = val;
		} else if (strcmp(a, "--port") == 0) {
			if ((o->port = (int)qt_number(val, 1, 65535)) < 0)
				goto bad;
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
		} else {
			goto bad;
		}
	}
	if (o->ca != NULL && o->port > 0)
		return 1;
bad:
	usage();
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static BIO *make_bio(const struct options *o, struct sockaddr_in *server)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	BIO *bio;

	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return NULL;
	}
	qt_socket_buffers(fd);
	if (o->connected && connect(fd, (struct sockaddr *)server, sizeof(*server)) != 0) {
		fprintf(stderr, "%s: connect 127.0.0.1:%d: %s\n", prog, o->port, strerror(errno));
		close(fd);
		return NULL;
	}
	bio = o->header ? DGB_new_dgram(NULL, fd, BIO_CLOSE) : BIO_new_dgram(fd, BIO_CLOSE);
	if (bio == NULL) {
		qt_fail(prog, "%s failed", o->header ? "DGB_new_dgram" : "BIO_new_dgram");
		close(fd);
	}
	return bio;
}

static SSL *make_ssl(SSL_CTX *ctx, BIO *bio, const struct sockaddr_in *server)
{
	SSL *ssl = SSL_new(ctx);
	BIO_ADDR *peer = BIO_ADDR_new();
	int ok;

	ok = ssl != NULL && peer != NULL &&
	     SSL_set_tlsext_host_name(ssl, QT_HOST) == 1 && SSL_set1_host(ssl, QT_HOST) == 1 &&
	     SSL_set_alpn_protos(ssl, qt_alpn, sizeof(qt_alpn)) == 0 &&
	     BIO_ADDR_rawmake(peer, AF_INET, &server->sin_addr, sizeof(server->sin_addr),
			      server->sin_port) == 1 &&
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

static int write_all(SSL *ssl, const unsigned char *buf, size_t len)
{
	size_t off = 0, w;

	while (off < len) {
		if (!SSL_write_ex(ssl, buf + off, len - off, &w)) {
			qt_fail(prog, "SSL_write_ex failed (SSL_get_error %d)", SSL_get_error(ssl, 0));
			qt_close_info(prog, ssl);
			return 0;
		}
		off += w;
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
		if (!write_all(ssl, buf, n))
			goto out;
		left -= n;
	}
	if (!SSL_stream_conclude(ssl, 0)) {
		qt_fail(prog, "SSL_stream_conclude failed");
		goto out;
	}
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
 * The download: ask the server (quic_server --download) for --bytes bytes
 * of the stream --seed makes, read them to the end of its stream, and check
 * them against the same stream made here.  hex gets their digest.
 */
static int download(SSL *ssl, const struct options *o, unsigned char *buf, char hex[65])
{
	EVP_MD_CTX *got = qt_sha256_new(), *want = qt_sha256_new();
	uint64_t state = o->seed, total = 0;
	char req[64], want_hex[65];
	size_t n;
	int len, ok = 0;

	if (got == NULL || want == NULL) {
		qt_fail(prog, "no SHA-256");
		goto out;
	}
	len = snprintf(req, sizeof(req), "send %lld %" PRIu64 "\n", o->bytes, o->seed);
	if (!write_all(ssl, (const unsigned char *)req, (size_t)len) ||
	    !SSL_stream_conclude(ssl, 0)) {
		qt_fail(prog, "cannot send the request");
		goto out;
	}
	for (;;) {
		if (SSL_read_ex(ssl, buf, QT_CHUNK, &n)) {
			if (!EVP_DigestUpdate(got, buf, n))
				goto out;
			total += n;
			continue;
		}
		if (SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN)
			break;
		qt_fail(prog, "SSL_read_ex failed after %" PRIu64 " bytes (SSL_get_error %d)", total,
			SSL_get_error(ssl, 0));
		qt_close_info(prog, ssl);
		goto out;
	}
	for (uint64_t left = (uint64_t)o->bytes; left > 0;) {
		size_t k = left < QT_CHUNK ? (size_t)left : QT_CHUNK;

		qt_fill(buf, k, &state);
		if (!EVP_DigestUpdate(want, buf, k))
			goto out;
		left -= k;
	}
	if (!qt_sha256_hex(got, hex) || !qt_sha256_hex(want, want_hex))
		goto out;
	if (total != (uint64_t)o->bytes || strcmp(hex, want_hex) != 0) {
		fprintf(stderr, "%s: MISMATCH: received sha256 %s %" PRIu64 ", expected %s %lld\n",
			prog, hex, total, want_hex, o->bytes);
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

	for (;;) {
		if (have == QT_REPLY_MAX - 1) {
			fprintf(stderr, "%s: the server's reply is too long\n", prog);
			return 0;
		}
		if (SSL_read_ex(ssl, reply + have, QT_REPLY_MAX - 1 - have, &n)) {
			have += n;
			continue;
		}
		if (SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN)
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

int main(int argc, char **argv)
{
	struct options o;
	struct sockaddr_in server;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *bio;
	unsigned char *buf = NULL;
	const unsigned char *alpn;
	unsigned int alpn_len;
	char hex[65], reply[QT_REPLY_MAX];
	int is_dgb = 0, rc = 1, r;
	double t0, t1;

	if (!parse(argc, argv, &o))
		return 2;
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server.sin_port = htons((uint16_t)o.port);

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
	if ((bio = make_bio(&o, &server)) == NULL)
		goto out;
	is_dgb = DGB_is_dgrambatch(bio);
	if ((ssl = make_ssl(ctx, bio, &server)) == NULL)
		goto out;

	t0 = now();
	if ((r = SSL_connect(ssl)) != 1) {
		long v = SSL_get_verify_result(ssl);

		qt_fail(prog, "SSL_connect failed (SSL_get_error %d, verify: %s)",
			SSL_get_error(ssl, r), X509_verify_cert_error_string(v));
		qt_close_info(prog, ssl);
		goto out;
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len != sizeof(qt_alpn) - 1 || memcmp(alpn, qt_alpn + 1, alpn_len) != 0) {
		fprintf(stderr, "%s: the server did not select ALPN dgb-test\n", prog);
		goto out;
	}
	if (o.download ? !download(ssl, &o, buf, hex)
		       : !send_data(ssl, &o, buf, hex) || !read_reply(ssl, reply) ||
				 !check_reply(reply, hex, o.bytes))
		goto out;
	while ((r = SSL_shutdown(ssl)) == 0)
		;
	if (r < 0) {
		qt_fail(prog, "SSL_shutdown failed (SSL_get_error %d)", SSL_get_error(ssl, r));
		qt_close_info(prog, ssl);
		goto out;
	}
	t1 = now();
	printf("OK sha256 %s %lld\n", hex, o.bytes);
	fprintf(stderr, "%s: %lld bytes in %.3f s (%.1f MB/s)\n", prog, o.bytes, t1 - t0,
		t1 > t0 ? (double)o.bytes / 1e6 / (t1 - t0) : 0.0);
	rc = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	free(buf);
	qt_report(is_dgb, o.header);
	return rc;
}
