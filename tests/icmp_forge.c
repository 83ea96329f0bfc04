/*
 * icmp_forge.c - forged ICMP and ICMPv6 errors for tests/icmp.sh.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * usage: icmp_forge --to ADDR --victim ADDR:PORT --peer ADDR:PORT
 *                   --kind port|host|net|frag [--mtu N] [--count N]
 *                   [--interval-us N]
 *
 * Sends --count ICMP (IPv4) or ICMPv6 (IPv6) error messages to --to, each
 * quoting a UDP datagram the victim's socket (--victim) would have sent to
 * its peer (--peer): that quote is all the receiving kernel has to find the
 * socket, so it reports the error there as if the datagram had bounced.
 * --kind: port (port unreachable), host (host unreachable; ICMPv6 address
 * unreachable), net (network unreachable; ICMPv6 no route), frag
 * (fragmentation needed with next-hop MTU --mtu; ICMPv6 packet too big).
 * The raw socket needs CAP_NET_RAW; run it in the namespace whose route
 * reaches --to.  Prints "SENT <kind> <n>" on stdout.  Exits 0 when all
 * were sent, 1 on a send error, 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char prog[] = "icmp_forge";

struct endpoint {
	int family;
	struct in_addr a4;
	struct in6_addr a6;
	uint16_t port;
};

/* "ADDR:PORT", "[ADDR6]:PORT" or, for --to, "ADDR" (port 0). */
static int parse_endpoint(const char *s, int want_port, struct endpoint *e)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *start = s, *end;
	long port = 0;

	memset(e, 0, sizeof(*e));
	if (*s == '[') {
		start = s + 1;
		if ((end = strchr(start, ']')) == NULL)
			return 0;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = want_port ? strrchr(s, ':') : NULL;
		end = colon != NULL ? colon : s + strlen(s);
	}
	if ((size_t)(end - start) >= sizeof(host))
		return 0;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	if (want_port) {
		char *rest;

		if (colon == NULL)
			return 0;
		port = strtol(colon + 1, &rest, 10);
		if (*rest != '\0' || port < 1 || port > 65535)
			return 0;
	}
	e->port = (uint16_t)port;
	if (inet_pton(AF_INET, host, &e->a4) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &e->a6) == 1)
		e->family = AF_INET6;
	else
		return 0;
	return 1;
}

static uint16_t csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* The quoted datagram: the victim's UDP header, 8 bytes of payload. */
static size_t quote_udp(unsigned char *p, const struct endpoint *v, const struct endpoint *peer)
{
	put16(p, v->port);
	put16(p + 2, peer->port);
	put16(p + 4, 8 + 1200);
	put16(p + 6, 0);
	memset(p + 8, 0x40, 8);
	return 16;
}

/* ICMP: header, then the quoted IPv4 header and the start of its UDP datagram. */
static size_t build4(unsigned char *m, const char *kind, unsigned mtu, const struct endpoint *v,
		     const struct endpoint *peer)
{
	unsigned char *ip = m + 8;

	memset(m, 0, 8 + 20);
	m[0] = 3; /* destination unreachable */
	if (strcmp(kind, "port") == 0) {
		m[1] = 3;
	} else if (strcmp(kind, "host") == 0) {
		m[1] = 1;
	} else if (strcmp(kind, "net") == 0) {
		m[1] = 0;
	} else {
		m[1] = 4; /* fragmentation needed and DF set */
		put16(m + 6, (uint16_t)mtu);
	}
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 1200);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &v->a4, 4);
	memcpy(ip + 16, &peer->a4, 4);
	memcpy(ip + 10, &(uint16_t){ csum(ip, 20) }, 2);
	quote_udp(ip + 20, v, peer);
	memcpy(m + 2, &(uint16_t){ csum(m, 8 + 20 + 16) }, 2);
	return 8 + 20 + 16;
}

/* ICMPv6: the kernel computes the checksum of a raw ICMPv6 socket's sends. */
static size_t build6(unsigned char *m, const char *kind, unsigned mtu, const struct endpoint *v,
		     const struct endpoint *peer)
{
	unsigned char *ip = m + 8;

	memset(m, 0, 8 + 40);
	m[0] = 1; /* destination unreachable */
	if (strcmp(kind, "port") == 0) {
		m[1] = 4;
	} else if (strcmp(kind, "host") == 0) {
		m[1] = 3; /* address unreachable */
	} else if (strcmp(kind, "net") == 0) {
		m[1] = 0; /* no route */
	} else {
		m[0] = 2; /* packet too big */
		m[4] = (unsigned char)(mtu >> 24);
		m[5] = (unsigned char)(mtu >> 16);
		m[6] = (unsigned char)(mtu >> 8);
		m[7] = (unsigned char)mtu;
	}
	ip[0] = 0x60;
	put16(ip + 4, 8 + 1200);
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	memcpy(ip + 8, &v->a6, 16);
	memcpy(ip + 24, &peer->a6, 16);
	quote_udp(ip + 40, v, peer);
	return 8 + 40 + 16;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --to ADDR --victim ADDR:PORT --peer ADDR:PORT\n"
		"       --kind port|host|net|frag [--mtu N] [--count N] [--interval-us N]\n",
		prog);
}

int main(int argc, char **argv)
{
	struct endpoint to, victim, peer;
	const char *kind = NULL;
	long mtu = 68, count = 1, interval = 1000;
	int have_to = 0, have_victim = 0, have_peer = 0, fd;
	unsigned char msg[128];
	size_t len;
	long sent = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--to") == 0) {
			have_to = parse_endpoint(v, 0, &to);
		} else if (strcmp(a, "--victim") == 0) {
			have_victim = parse_endpoint(v, 1, &victim);
		} else if (strcmp(a, "--peer") == 0) {
			have_peer = parse_endpoint(v, 1, &peer);
		} else if (strcmp(a, "--kind") == 0) {
			kind = v;
		} else if (strcmp(a, "--mtu") == 0) {
			mtu = strtol(v, &end, 10);
			if (*end != '\0' || mtu < 0 || mtu > 0xffffffffL)
				goto bad;
		} else if (strcmp(a, "--count") == 0) {
			count = strtol(v, &end, 10);
			if (*end != '\0' || count < 1 || count > 10000000)
				goto bad;
		} else if (strcmp(a, "--interval-us") == 0) {
			interval = strtol(v, &end, 10);
			if (*end != '\0' || interval < 0 || interval > 10000000)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (!have_to || !have_victim || !have_peer || kind == NULL ||
	    (strcmp(kind, "port") != 0 && strcmp(kind, "host") != 0 && strcmp(kind, "net") != 0 &&
	     strcmp(kind, "frag") != 0) ||
	    to.family != victim.family || to.family != peer.family)
		goto bad;
	if (to.family == AF_INET && strcmp(kind, "frag") == 0 && mtu > 65535)
		goto bad;

	fd = socket(to.family, SOCK_RAW, to.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0) {
		fprintf(stderr, "%s: raw socket: %s\n", prog, strerror(errno));
		return 1;
	}
	len = to.family == AF_INET ? build4(msg, kind, (unsigned)mtu, &victim, &peer)
				   : build6(msg, kind, (unsigned)mtu, &victim, &peer);
	for (; sent < count; sent++) {
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_addr = to.a4 };
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = to.a6 };
		struct timespec ts = { interval / 1000000, (interval % 1000000) * 1000 };
		ssize_t r;

		if (to.family == AF_INET)
			r = sendto(fd, msg, len, 0, (struct sockaddr *)&s4, sizeof(s4));
		else
			r = sendto(fd, msg, len, 0, (struct sockaddr *)&s6, sizeof(s6));
		if (r != (ssize_t)len) {
			fprintf(stderr, "%s: sendto: %s\n", prog, r < 0 ? strerror(errno) : "short");
			break;
		}
		if (interval > 0)
			nanosleep(&ts, NULL);
	}
	close(fd);
	printf("SENT %s %ld\n", kind, sent);
	return sent == count ? 0 : 1;
bad:
	usage();
	return 2;
}
