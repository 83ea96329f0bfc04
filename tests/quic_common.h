/*
 * quic_common.h - what the QUIC test server and client share.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Both programs are written against OpenSSL's public QUIC API only; the
 * datagram BIO under them is OpenSSL's, the preload shim's (when libssl or
 * the program asks for BIO_s_datagram/BIO_new_dgram) or the module's by
 * the header route (DGB_new_dgram).  Everything here is static inline, so
 * each program takes what it uses.
 */
#ifndef DGB_QUIC_COMMON_H
#define DGB_QUIC_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "dgrambatch.h"

/* The one application protocol both ends speak, in ALPN wire format. */
static const unsigned char qt_alpn[] = { 8, 'd', 'g', 'b', '-', 't', 'e', 's', 't' };

/* The name the certificate is issued to and the client checks. */
#define QT_HOST "localhost"

/* Bytes per SSL_read_ex/SSL_write_ex call and per digest update. */
#define QT_CHUNK (256 * 1024)

/* The reply line: "sha256 " + 64 hex digits + " " + a count + "\n". */
#define QT_REPLY_MAX 128

static inline void qt_vsay(const char *prog, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* An error message, then whatever OpenSSL has to say about it. */
static inline void qt_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qt_vsay(prog, fmt, ap);
	va_end(ap);
	ERR_print_errors_fp(stderr);
}

/* A decimal number in [min, max], or -1. */
static inline long long qt_number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

/* A SHA-256 context from the default library context's providers. */
static inline EVP_MD_CTX *qt_sha256_new(void)
{
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	EVP_MD_CTX *c = md != NULL ? EVP_MD_CTX_new() : NULL;

	if (c != NULL && !EVP_DigestInit_ex2(c, md, NULL)) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	EVP_MD_free(md);
	return c;
}

/* Finish the digest into 64 lower-case hex digits and a NUL. */
static inline int qt_sha256_hex(EVP_MD_CTX *c, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (!EVP_DigestFinal_ex(c, md, &len) || len != 32)
		return 0;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 1;
}

/* splitmix64: a fixed stream of bytes for a seed, cheap next to the crypto. */
static inline uint64_t qt_next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void qt_fill(unsigned char *buf, size_t len, uint64_t *state)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t r = qt_next_random(state);

		memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
	}
}

/* What the plugin counts, read from the provider's parameters. */
struct qt_counters {
	uint64_t tx_datagrams, rx_datagrams, tx_bytes, rx_bytes, tx_syscalls, rx_syscalls;
	uint64_t gso_sends, gso_segments, gso_fallbacks;
	uint64_t gro_receives, gro_segments, gro_carried, rx_kernel_drops, rx_truncated;
};

static inline int qt_find_dgrambatch(OSSL_PROVIDER *prov, void *arg)
{
	if (strcmp(OSSL_PROVIDER_get0_name(prov), DGB_PROVIDER_NAME) != 0)
		return 1;
	*(OSSL_PROVIDER **)arg = prov;
	return 0;
}

/* The counters of the dgrambatch provider active in the default context. */
static inline int qt_counters_get(struct qt_counters *c)
{
	OSSL_PROVIDER *prov = NULL;
	OSSL_PARAM p[15];

	(void)OSSL_PROVIDER_do_all(NULL, qt_find_dgrambatch, &prov);
	if (prov == NULL)
		return 0;
	memset(c, 0, sizeof(*c));
	p[0] = OSSL_PARAM_construct_uint64(DGB_PARAM_TX_DATAGRAMS, &c->tx_datagrams);
	p[1] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_DATAGRAMS, &c->rx_datagrams);
	p[2] = OSSL_PARAM_construct_uint64(DGB_PARAM_TX_BYTES, &c->tx_bytes);
	p[3] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_BYTES, &c->rx_bytes);
	p[4] = OSSL_PARAM_construct_uint64(DGB_PARAM_TX_SYSCALLS, &c->tx_syscalls);
	p[5] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_SYSCALLS, &c->rx_syscalls);
	p[6] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_SENDS, &c->gso_sends);
	p[7] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_SEGMENTS, &c->gso_segments);
	p[8] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_FALLBACKS, &c->gso_fallbacks);
	p[9] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_RECEIVES, &c->gro_receives);
	p[10] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_SEGMENTS, &c->gro_segments);
	p[11] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_CARRIED, &c->gro_carried);
	p[12] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_KERNEL_DROPS, &c->rx_kernel_drops);
	p[13] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_TRUNCATED, &c->rx_truncated);
	p[14] = OSSL_PARAM_construct_end();
	return OSSL_PROVIDER_get_params(prov, p) && OSSL_PARAM_modified(&p[0]) &&
	       OSSL_PARAM_modified(&p[1]);
}

/*
 * The lines the test reads: which datagram BIO carried the connection,
 * whether its socket handed over coalesced trains (gro: DGB_get_gro() on
 * it, which any route answers, the preload shim's too) and, where the
 * module is loaded as a provider, what it moved.
 */
static inline void qt_report(int is_dgrambatch, int gro, int want_counters)
{
	struct qt_counters c;

	printf("BIO %s\n", is_dgrambatch ? "dgrambatch" : "openssl");
	printf("GRO %s\n", gro ? "on" : "off");
	if (want_counters) {
		if (qt_counters_get(&c)) {
			printf("COUNTERS tx=%" PRIu64 " rx=%" PRIu64 "\n", c.tx_datagrams,
			       c.rx_datagrams);
			printf("COUNTERS-DETAIL tx_bytes=%" PRIu64 " rx_bytes=%" PRIu64
			       " tx_syscalls=%" PRIu64 " rx_syscalls=%" PRIu64 "\n",
			       c.tx_bytes, c.rx_bytes, c.tx_syscalls, c.rx_syscalls);
			printf("COUNTERS-GSO sends=%" PRIu64 " segments=%" PRIu64
			       " fallbacks=%" PRIu64 "\n",
			       c.gso_sends, c.gso_segments, c.gso_fallbacks);
			printf("COUNTERS-GRO receives=%" PRIu64 " segments=%" PRIu64
			       " carried=%" PRIu64 " kernel_drops=%" PRIu64 " truncated=%" PRIu64 "\n",
			       c.gro_receives, c.gro_segments, c.gro_carried, c.rx_kernel_drops,
			       c.rx_truncated);
		} else {
			printf("COUNTERS unavailable (no dgrambatch provider loaded)\n");
		}
	}
	fflush(stdout);
}

/* The error code and reason a connection was closed with, on stderr. */
static inline void qt_close_info(const char *prog, SSL *conn)
{
	SSL_CONN_CLOSE_INFO info;

	if (conn == NULL || !SSL_get_conn_close_info(conn, &info, sizeof(info)))
		return;
	fprintf(stderr, "%s: connection closed by %s (%s error %" PRIu64 "%s%s)\n", prog,
		(info.flags & SSL_CONN_CLOSE_FLAG_LOCAL) != 0 ? "us" : "the peer",
		(info.flags & SSL_CONN_CLOSE_FLAG_TRANSPORT) != 0 ? "transport" : "application",
		info.error_code, info.reason_len > 0 ? ": " : "",
		info.reason != NULL ? info.reason : "");
}

/* Seconds on the monotonic clock. */
static inline double qt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Non-blocking mode: wait until the network wants attention or QUIC's next
 * timer is due, as an event loop would (poll on the object's read poll
 * descriptor, the socket), then let QUIC handle what happened.
 */
static inline void qt_wait(SSL *s)
{
	BIO_POLL_DESCRIPTOR d;
	struct timeval tv;
	struct pollfd p = { .fd = -1 };
	int infinite = 1, timeout = -1;

	if (SSL_get_event_timeout(s, &tv, &infinite) && !infinite)
		/* Rounded up: a wait cut short would only spin. */
		timeout = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	if (SSL_get_rpoll_descriptor(s, &d) && d.type == BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD)
		p.fd = d.value.fd;
	p.events = (short)((SSL_net_read_desired(s) ? POLLIN : 0) |
			   (SSL_net_write_desired(s) ? POLLOUT : 0));
	if (p.fd >= 0 && (p.events != 0 || timeout >= 0))
		(void)poll(&p, 1, timeout);
	(void)SSL_handle_events(s);
}

/*
 * Explicit event handling (SSL_VALUE_EVENT_HANDLING_MODE_EXPLICIT): reads
 * and writes do no QUIC work of their own; only qt_wait's one
 * SSL_handle_events per wake-up does, and qt_flush after the program
 * queued something to send.  That is how a program that runs QUIC from
 * its own event loop works, and it reads the network only when the
 * socket says there is something to read.
 */
static inline int qt_explicit(SSL *s)
{
	uint64_t mode = 0;

	return !SSL_get_blocking_mode(s) && SSL_get_event_handling_mode(s, &mode) &&
	       mode == SSL_VALUE_EVENT_HANDLING_MODE_EXPLICIT;
}

/* In explicit mode, have QUIC send what was just written. */
static inline void qt_flush(SSL *s)
{
	if (qt_explicit(s))
		(void)SSL_handle_events(s);
}

/*
 * Non-blocking mode for a connection (after its handshake): partial writes
 * and, with explicit, explicit event handling.
 */
static inline int qt_nonblock(SSL *s, int explicit_events)
{
	return SSL_set_blocking_mode(s, 0) &&
	       (SSL_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE) & SSL_MODE_ENABLE_PARTIAL_WRITE) &&
	       (!explicit_events ||
		SSL_set_event_handling_mode(s, SSL_VALUE_EVENT_HANDLING_MODE_EXPLICIT));
}

/*
 * Whether a QUIC call that returned ret is to be made again: in
 * non-blocking mode, when it only wants the network, after qt_wait.
 */
static inline int qt_again(SSL *s, int ret)
{
	int e = SSL_get_error(s, ret);

	if (SSL_get_blocking_mode(s) || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE))
		return 0;
	ERR_clear_error();
	qt_wait(s);
	return 1;
}

/*
 * Both ends of the stream: all of buf written (1), or 0 after a message;
 * in non-blocking mode, waiting whenever QUIC wants the network.
 */
static inline int qt_write_all(const char *prog, SSL *s, const void *buf, size_t len)
{
	size_t off = 0, w;

	while (off < len) {
		if (SSL_write_ex(s, (const unsigned char *)buf + off, len - off, &w)) {
			off += w;
			qt_flush(s);
			continue;
		}
		if (qt_again(s, 0))
			continue;
		qt_fail(prog, "SSL_write_ex failed (SSL_get_error %d)", SSL_get_error(s, 0));
		qt_close_info(prog, s);
		return 0;
	}
	return 1;
}

/* Up to len bytes into buf: 1, or 0 at the end of the stream, or -1. */
static inline int qt_read_some(SSL *s, void *buf, size_t len, size_t *n)
{
	for (;;) {
		if (SSL_read_ex(s, buf, len, n))
			return 1;
		if (SSL_get_error(s, 0) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (!qt_again(s, 0))
			return -1;
	}
}

/* An address from --addr: IPv4 or IPv6. */
union qt_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

static inline socklen_t qt_addr_len(const union qt_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->v6) : sizeof(a->v4);
}

/*
 * Fills a from addr (IPv6 if it has a colon; 127.0.0.1 if NULL) and port:
 * 1, or 0 if addr is no address.
 */
static inline int qt_addr_set(const char *addr, int port, union qt_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (addr != NULL && strchr(addr, ':') != NULL) {
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, addr, &a->v6.sin6_addr) == 1;
	}
	a->v4.sin_family = AF_INET;
	a->v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->v4.sin_port = htons((uint16_t)port);
	return addr == NULL || inet_pton(AF_INET, addr, &a->v4.sin_addr) == 1;
}

/* Room for QUIC's bursts: larger socket buffers where the kernel allows. */
static inline void qt_socket_buffers(int fd)
{
	int size = 4 * 1024 * 1024;

	/* The FORCE variants pass the system maximum, for a privileged caller. */
#ifdef SO_RCVBUFFORCE
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
#endif
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
#ifdef SO_SNDBUFFORCE
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
#endif
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

#endif /* DGB_QUIC_COMMON_H */
