/*
 * wire.c - an impaired wire between two interfaces, in user space, for
 * tests/netem.sh where the kernel has no sch_netem.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * usage: wire --a IFACE --b IFACE [--delay MS] [--jitter MS] [--loss PCT]
 *             [--duplicate PCT] [--reorder PCT] [--limit N] [--seed N]
 *
 * Bridges two interfaces of one network namespace (the middle of
 * client - veth - [A wire B] - veth - server) at layer 2: every frame that
 * arrives on one is sent out of the other, so the ends see one link and
 * keep their addresses and 4-tuples.  IPv4 and IPv6 UDP frames are
 * impaired the way netem impairs packets:
 *   --loss PCT       dropped with probability PCT
 *   --duplicate PCT  sent twice with probability PCT, each copy delayed on
 *                    its own
 *   --delay MS, --jitter MS
 *                    held for MS milliseconds, plus or minus up to JITTER,
 *                    uniformly; frames leave in the order of their times,
 *                    so jitter reorders
 *   --reorder PCT    with --delay, sent at once with probability PCT,
 *                    overtaking the frames still held (netem's reorder)
 *   --limit N        at most N frames held (netem's default, 1000); a frame
 *                    beyond is dropped and counted
 * Every other frame (ARP, neighbour discovery, ICMP) crosses at once and
 * unchanged, so the link itself stays up.  The wire carries frames, as a
 * cable does: the ends must have no segmentation offload (ethtool -K DEV
 * tso off tx-udp-segmentation off), so that a UDP GSO send reaches the
 * wire segmented, and no GRO on the wire's own interfaces.  A UDP frame
 * whose checksum a veth end left to offload gets it filled in here, as a
 * NIC would on the way out.
 *
 * Prints "READY" once both interfaces are open.  On SIGTERM or SIGINT it
 * sends nothing more and prints one line,
 *   WIRE frames N udp N checksummed N lost N duplicated N reordered N
 *        held N overflow N txerr N oversize N kernel_drops N
 * where reordered counts UDP frames that left after a later one from the
 * same side, txerr the frames send() refused, oversize the frames too
 * large for any link (an end with segmentation offload on), and
 * kernel_drops the frames the kernel could not queue to the wire's
 * sockets (PACKET_STATISTICS; a loss the wire did not choose).
 * Exits 0, 1 on a socket error, 2 on bad arguments.  Needs CAP_NET_RAW.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static const char prog[] = "wire";

/* A frame held until its time; sides[side] is where it came in. */
struct held {
	uint64_t due;   /* CLOCK_MONOTONIC, ns */
	uint64_t order; /* ties leave in arrival order */
	uint64_t seq;   /* its place among the UDP frames from its side */
	int side;
	size_t len;
	unsigned char *frame;
};

struct side {
	const char *name;
	int fd;
	uint64_t next_seq; /* the next UDP frame's seq */
	uint64_t sent_seq; /* highest seq sent on (from this side), plus one */
};

/* The impairment: milliseconds, percentages, and the most frames held. */
static struct {
	double delay, jitter, loss, dup, reorder;
	size_t limit;
} opt;

static struct {
	unsigned long long frames, udp, checksummed, lost, duplicated, reordered, held, overflow,
		txerr, oversize;
} st;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: reproducible with --seed, good enough for coin flips. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

/* Uniform in [0, 1). */
static double uniform(void)
{
	return (double)(rng() >> 11) / (double)(1ull << 53);
}

/* True with probability pct percent (pct in [0, 100]). */
static int chance(double pct)
{
	return pct > 0 && uniform() * 100.0 < pct;
}

/* The min-heap of held frames, by (due, order). */
static struct held *heap;
static size_t nheld, heap_cap;

static int earlier(const struct held *a, const struct held *b)
{
	return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void heap_push(struct held h)
{
	size_t i = nheld++;

	heap[i] = h;
	while (i > 0 && earlier(&heap[i], &heap[(i - 1) / 2])) {
		struct held t = heap[i];

		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct held heap_pop(void)
{
	struct held top = heap[0];
	size_t i = 0;

	heap[0] = heap[--nheld];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < nheld && earlier(&heap[l], &heap[m]))
			m = l;
		if (r < nheld && earlier(&heap[r], &heap[m]))
			m = r;
		if (m == i)
			break;
		struct held t = heap[i];

		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
	return top;
}

/*
 * Is this Ethernet frame an IPv4 or IPv6 datagram carrying UDP, or a
 * fragment of one?  IPv6's extension headers are followed to the UDP
 * header; *plain is set when the UDP header follows the IP header at once
 * in an unfragmented packet, the one case whose checksum the wire fills.
 */
static int is_udp(const unsigned char *f, size_t len, int *plain)
{
	uint16_t type;
	size_t off = ETH_HLEN + 40;
	unsigned int nh;

	*plain = 0;
	if (len < ETH_HLEN + 1)
		return 0;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_IP) {
		*plain = 1;
		return len >= ETH_HLEN + 20 && f[ETH_HLEN + 9] == IPPROTO_UDP;
	}
	if (type != ETH_P_IPV6 || len < off)
		return 0;
	nh = f[ETH_HLEN + 6];
	*plain = nh == IPPROTO_UDP;
	while (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_FRAGMENT) {
		if (len < off + 8)
			return 0;
		size_t hlen = nh == IPPROTO_FRAGMENT ? 8 : ((size_t)f[off + 1] + 1) * 8;

		nh = f[off];
		off += hlen;
	}
	return nh == IPPROTO_UDP;
}

static uint32_t sum16(uint32_t sum, const unsigned char *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len == 1)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

/*
 * Fills in the UDP checksum of a frame is_udp() accepted, over the UDP
 * length its header states (a short frame may carry Ethernet padding).
 * False where the frame cannot carry what it says: it is sent as it is.
 */
static int fill_udp_checksum(unsigned char *f, size_t len)
{
	const unsigned char *ip = f + ETH_HLEN;
	unsigned char *udp;
	size_t ulen;
	uint32_t sum = IPPROTO_UDP;

	if (f[12] == 0x08) {
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

		if (ihl < 20 || len < ETH_HLEN + ihl + 8 || (ip[6] & 0x3f) != 0 || ip[7] != 0)
			return 0; /* a fragment carries no whole datagram */
		udp = f + ETH_HLEN + ihl;
		sum = sum16(sum, ip + 12, 8);
	} else {
		if (len < ETH_HLEN + 40 + 8)
			return 0;
		udp = f + ETH_HLEN + 40;
		sum = sum16(sum, ip + 8, 32);
	}
	ulen = (size_t)(udp[4] << 8 | udp[5]);
	if (ulen < 8 || ulen > len - (size_t)(udp - f))
		return 0;
	sum += (uint32_t)ulen;
	udp[6] = udp[7] = 0;
	sum = sum16(sum, udp, ulen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	if (sum == 0)
		sum = 0xffff;
	udp[6] = (unsigned char)(sum >> 8);
	udp[7] = (unsigned char)sum;
	return 1;
}

static int open_side(struct side *s)
{
	struct sockaddr_ll ll;
	struct packet_mreq mr;
	int one = 1, buf = 4 << 20;
	unsigned int ifindex = if_nametoindex(s->name);

	if (ifindex == 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, s->name, strerror(errno));
		return 0;
	}
	/* Protocol 0: nothing is received until bind() names the interface. */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fprintf(stderr, "%s: AF_PACKET socket: %s\n", prog, strerror(errno));
		return 0;
	}
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = (int)ifindex;
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = (int)ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (bind(s->fd, (struct sockaddr *)&ll, sizeof(ll)) != 0 ||
	    setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, s->name, strerror(errno));
		return 0;
	}
	/* Whether the checksum is left to offload comes with each frame. */
	if (setsockopt(s->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) != 0) {
		fprintf(stderr, "%s: PACKET_AUXDATA: %s\n", prog, strerror(errno));
		return 0;
	}
	/* Best effort: what the wire sends is not read back (also checked). */
	(void)setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return 1;
}

static void transmit(struct side *sides, const struct held *h)
{
	struct side *in = &sides[h->side], *out = &sides[!h->side];

	if (h->seq != UINT64_MAX) {
		if (h->seq + 1 < in->sent_seq)
			st.reordered++;
		else
			in->sent_seq = h->seq + 1;
	}
	if (send(out->fd, h->frame, h->len, 0) < 0)
		st.txerr++;
}

/* Holds a copy of the frame until now + delay (+- jitter), or sends it at once. */
static void hold(struct side *sides, int side, const unsigned char *f, size_t len, uint64_t seq,
		 uint64_t now)
{
	static uint64_t order;
	struct held h = { .due = now, .order = order++, .seq = seq, .side = side, .len = len };
	double ms = opt.delay;

	if (opt.delay > 0 && !chance(opt.reorder)) {
		if (opt.jitter > 0)
			ms += (uniform() * 2.0 - 1.0) * opt.jitter;
		if (ms > 0)
			h.due = now + (uint64_t)(ms * 1e6);
	}
	/* At once (netem's reorder) even while others are held: never queued. */
	if (h.due == now) {
		h.frame = (unsigned char *)f;
		transmit(sides, &h);
		return;
	}
	if (nheld >= opt.limit) {
		st.overflow++;
		return;
	}
	if (nheld == heap_cap) {
		size_t cap = heap_cap ? 2 * heap_cap : 256;
		struct held *n = realloc(heap, cap * sizeof(*n));

		if (n == NULL) {
			st.overflow++;
			return;
		}
		heap = n;
		heap_cap = cap;
	}
	if ((h.frame = malloc(len)) == NULL) {
		st.overflow++;
		return;
	}
	memcpy(h.frame, f, len);
	st.held++;
	heap_push(h);
}

static int parse_num(const char *opt, const char *arg, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= 0 && v <= max)) {
		fprintf(stderr, "%s: %s %s: want a number from 0 to %g\n", prog, opt, arg, max);
		return 0;
	}
	*out = v;
	return 1;
}

static unsigned long long kernel_drops(const struct side *s)
{
	struct tpacket_stats ps;
	socklen_t len = sizeof(ps);

	if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &ps, &len) != 0)
		return 0;
	return ps.tp_drops;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536];
	struct side sides[2] = { { .fd = -1 }, { .fd = -1 } };
	double limit = 1000, seed = 0;
	unsigned long long drops = 0;
	struct sigaction sa;
	sigset_t block, waitmask;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
		int ok = a != NULL;

		if (ok && strcmp(o, "--a") == 0)
			sides[0].name = a;
		else if (ok && strcmp(o, "--b") == 0)
			sides[1].name = a;
		else if (ok && strcmp(o, "--delay") == 0)
			ok = parse_num(o, a, 10000, &opt.delay);
		else if (ok && strcmp(o, "--jitter") == 0)
			ok = parse_num(o, a, 10000, &opt.jitter);
		else if (ok && strcmp(o, "--loss") == 0)
			ok = parse_num(o, a, 100, &opt.loss);
		else if (ok && strcmp(o, "--duplicate") == 0)
			ok = parse_num(o, a, 100, &opt.dup);
		else if (ok && strcmp(o, "--reorder") == 0)
			ok = parse_num(o, a, 100, &opt.reorder);
		else if (ok && strcmp(o, "--limit") == 0)
			ok = parse_num(o, a, 1000000, &limit) && limit >= 1;
		else if (ok && strcmp(o, "--seed") == 0)
			ok = parse_num(o, a, (double)UINT32_MAX, &seed);
		else
			ok = 0;
		if (!ok) {
			fprintf(stderr, "usage: %s --a IFACE --b IFACE [--delay MS] [--jitter MS] "
					"[--loss PCT] [--duplicate PCT] [--reorder PCT] [--limit N] "
					"[--seed N]\n", prog);
			return 2;
		}
		i++;
	}
	if (sides[0].name == NULL || sides[1].name == NULL) {
		fprintf(stderr, "%s: --a and --b are needed\n", prog);
		return 2;
	}
	if (seed > 0)
		rng_state ^= (uint64_t)seed * 0x100000001b3u;
	opt.limit = (size_t)limit;
	if (!open_side(&sides[0]) || !open_side(&sides[1]))
		return 1;
	/*
	 * SIGTERM and SIGINT are blocked except inside ppoll(), so one that
	 * comes between the check of stop and the wait ends the wait instead
	 * of being lost while the link is idle.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	printf("READY\n");
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd[2] = { { sides[0].fd, POLLIN, 0 }, { sides[1].fd, POLLIN, 0 } };
		struct timespec ts, *tp = NULL;
		uint64_t now = now_ns();
		sigset_t pending;

		/*
		 * A ppoll() that finds a frame ready returns without delivering
		 * what its mask let through, so on a busy link a signal would
		 * stay pending: look for one each turn.
		 */
		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1))
			break;

		while (nheld > 0 && heap[0].due <= now) {
			struct held h = heap_pop();

			transmit(sides, &h);
			free(h.frame);
		}
		if (nheld > 0) {
			uint64_t wait = heap[0].due - now;

			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tp = &ts;
		}
		if (ppoll(pfd, 2, tp, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: ppoll: %s\n", prog, strerror(errno));
			return 1;
		}
		for (int s = 0; s < 2; s++) {
			/* A bounded turn each, so neither side starves the other or the held frames. */
			for (int n = 0; n < 64 && (pfd[s].revents & POLLIN); n++) {
				struct sockaddr_ll from;
				union {
					char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
					struct cmsghdr align;
				} ctl;
				struct iovec iov = { buf, sizeof(buf) };
				struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
						     .msg_iov = &iov, .msg_iovlen = 1,
						     .msg_control = ctl.b,
						     .msg_controllen = sizeof(ctl.b) };
				ssize_t len = recvmsg(sides[s].fd, &mh, MSG_TRUNC);
				int copies = 1, unready = 0, plain;

				if (len < 0) {
					if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
						break;
					fprintf(stderr, "%s: %s: %s\n", prog, sides[s].name, strerror(errno));
					return 1;
				}
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				if ((size_t)len > sizeof(buf)) {
					/* Larger than any frame: an offload left on at an end. */
					st.oversize++;
					continue;
				}
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
				     c = CMSG_NXTHDR(&mh, c)) {
					struct tpacket_auxdata aux;

					if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
					    c->cmsg_len >= CMSG_LEN(sizeof(aux))) {
						memcpy(&aux, CMSG_DATA(c), sizeof(aux));
						unready = (aux.tp_status & TP_STATUS_CSUMNOTREADY) != 0;
					}
				}
				st.frames++;
				now = now_ns();
				if (!is_udp(buf, (size_t)len, &plain)) {
					struct held h = { .seq = UINT64_MAX, .side = s, .len = (size_t)len,
							  .frame = buf };

					transmit(sides, &h);
					continue;
				}
				st.udp++;
				if (unready && plain && fill_udp_checksum(buf, (size_t)len))
					st.checksummed++;
				if (chance(opt.loss)) {
					st.lost++;
					sides[s].next_seq++;
					continue;
				}
				if (chance(opt.dup)) {
					st.duplicated++;
					copies = 2;
				}
				for (int c = 0; c < copies; c++)
					hold(sides, s, buf, (size_t)len, sides[s].next_seq, now);
				sides[s].next_seq++;
			}
		}
	}
	drops = kernel_drops(&sides[0]) + kernel_drops(&sides[1]);
	printf("WIRE frames %llu udp %llu checksummed %llu lost %llu duplicated %llu reordered %llu "
	       "held %llu overflow %llu txerr %llu oversize %llu kernel_drops %llu\n", st.frames,
	       st.udp, st.checksummed, st.lost,
	       st.duplicated, st.reordered, st.held, st.overflow, st.txerr, st.oversize, drops);
	return 0;
}
