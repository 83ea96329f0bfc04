/*
 * test_probe.c - the capability probes agree with what the kernel does.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/udp.h>
#include <sys/syscall.h>

#include "testutil.h"
#include "probe/probe.h"

static void setup(void)
{
	tu_caps_disable(NULL);
}

START_TEST(test_usable_within_built)
{
	unsigned int built = dgb_caps_built(), usable = dgb_caps();

	ck_assert_uint_eq(usable & ~built, 0);
#ifdef HAVE_SENDMMSG
	ck_assert(built & DGB_CAP_SENDMMSG);
#else
	ck_assert(!(built & DGB_CAP_SENDMMSG));
#endif
#ifdef HAVE_RECVMMSG
	ck_assert(built & DGB_CAP_RECVMMSG);
#else
	ck_assert(!(built & DGB_CAP_RECVMMSG));
#endif
	/* The answer is cached: asking again gives the same bits. */
	ck_assert_uint_eq(dgb_caps(), usable);
}
END_TEST

START_TEST(test_names)
{
	unsigned int seen = 0;

	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		const char *name = dgb_cap_name(1u << i);

		ck_assert_ptr_nonnull(name);
		for (unsigned int j = 0; j < i; j++)
			ck_assert_str_ne(name, dgb_cap_name(1u << j));
		seen |= 1u << i;
	}
	ck_assert_ptr_null(dgb_cap_name(1u << DGB_CAP_COUNT));
	ck_assert_ptr_null(dgb_cap_name(0));
	ck_assert_uint_eq(seen, (1u << DGB_CAP_COUNT) - 1);
}
END_TEST

START_TEST(test_env_disables)
{
	unsigned int all = dgb_caps();

	tu_caps_disable("sendmmsg, udp_gro,no-such-cap");
	ck_assert_uint_eq(dgb_caps(), all & ~(DGB_CAP_SENDMMSG | DGB_CAP_UDP_GRO));
	tu_caps_disable("all");
	ck_assert_uint_eq(dgb_caps(), 0);
	tu_caps_disable("");
	ck_assert_uint_eq(dgb_caps(), all);
}
END_TEST

START_TEST(test_revoke)
{
	unsigned int all = dgb_caps();

	dgb_caps_revoke(DGB_CAP_RECVMMSG);
	ck_assert_uint_eq(dgb_caps(), all & ~DGB_CAP_RECVMMSG);
	dgb_caps_reset();
	ck_assert_uint_eq(dgb_caps(), all);
}
END_TEST

/* Where the probe says sendmmsg/recvmmsg work, a real batch goes through. */
START_TEST(test_mmsg_matches_kernel)
{
#if defined(HAVE_SENDMMSG) && defined(HAVE_RECVMMSG)
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	char buf[2][8] = { "one", "two" }, in[2][8];
	struct iovec iov[2] = { { buf[0], 4 }, { buf[1], 4 } };
	struct iovec riov[2] = { { in[0], 8 }, { in[1], 8 } };
	struct mmsghdr m[2], r[2];
	int sent, got;

	memset(m, 0, sizeof(m));
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 2; i++) {
		m[i].msg_hdr.msg_name = &b;
		m[i].msg_hdr.msg_namelen = tu_addr_len(&b);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		r[i].msg_hdr.msg_iov = &riov[i];
		r[i].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(fa, m, 2, 0);
	if (dgb_caps() & DGB_CAP_SENDMMSG) {
		ck_assert_int_eq(sent, 2);
		got = recvmmsg(fb, r, 2, MSG_WAITFORONE, NULL);
		if (dgb_caps() & DGB_CAP_RECVMMSG) {
			ck_assert_int_ge(got, 1);
			ck_assert_str_eq(in[0], "one");
		} else {
			ck_assert_int_eq(got, -1);
		}
	} else {
		ck_assert_int_eq(sent, -1);
		ck_assert_int_eq(errno, ENOSYS);
	}
	close(fa);
	close(fb);
#endif
}
END_TEST

/* IP_PKTINFO, where usable, reports the address a datagram arrived on. */
START_TEST(test_pktinfo_matches_kernel)
{
#if HAVE_DECL_IP_PKTINFO
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	int on = 1, found = 0;
	char data[4] = "pkt", in[4];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { in, sizeof(in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };

	if (!(dgb_caps() & DGB_CAP_IP_PKTINFO)) {
		ck_assert_int_ne(setsockopt(fb, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)), 0);
		goto out;
	}
	ck_assert_int_eq(setsockopt(fb, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)), 0);
	ck_assert_int_eq(sendto(fa, data, sizeof(data), 0, &b.sa, tu_addr_len(&b)), 4);
	ck_assert_int_eq(recvmsg(fb, &mh, 0), 4);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			ck_assert_uint_eq(ntohl(pi.ipi_addr.s_addr), INADDR_LOOPBACK);
			found = 1;
		}
	}
	ck_assert_msg(found, "no IP_PKTINFO control message");
out:
	close(fa);
	close(fb);
#endif
}
END_TEST

START_TEST(test_ipv6_pktinfo_matches_kernel)
{
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET6, &a), fb = tu_udp_loopback(AF_INET6, &b);
	int on = 1, found = 0;
	char data[4] = "pk6", in[4];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { in, sizeof(in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };

	ck_assert(dgb_caps() & DGB_CAP_IPV6_RECVPKTINFO);
	ck_assert_int_eq(setsockopt(fb, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)), 0);
	ck_assert_int_eq(sendto(fa, data, sizeof(data), 0, &b.sa, tu_addr_len(&b)), 4);
	ck_assert_int_eq(recvmsg(fb, &mh, 0), 4);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			ck_assert(IN6_IS_ADDR_LOOPBACK(&pi.ipi6_addr));
			found = 1;
		}
	}
	ck_assert_msg(found, "no IPV6_PKTINFO control message");
	close(fa);
	close(fb);
#endif
}
END_TEST

/*
 * UDP_SEGMENT, where usable, makes one send of two segments arrive as two
 * datagrams; UDP_GRO, where usable, is accepted by setsockopt.
 */
START_TEST(test_gso_gro_match_kernel)
{
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	int seg = 100, on = 1;
	char data[200], in[200];

	memset(data, 'g', sizeof(data));
	if (dgb_caps() & DGB_CAP_UDP_SEGMENT) {
		ck_assert_int_eq(setsockopt(fa, SOL_UDP, 103, &seg, sizeof(seg)), 0);
		ck_assert_int_eq(sendto(fa, data, sizeof(data), 0, &b.sa, tu_addr_len(&b)), 200);
		ck_assert_int_eq(recv(fb, in, sizeof(in), 0), 100);
		ck_assert_int_eq(recv(fb, in, sizeof(in), 0), 100);
	} else {
		ck_assert_int_ne(setsockopt(fa, SOL_UDP, 103, &seg, sizeof(seg)), 0);
	}
	if (dgb_caps() & DGB_CAP_UDP_GRO)
		ck_assert_int_eq(setsockopt(fb, SOL_UDP, 104, &on, sizeof(on)), 0);
	else
		ck_assert_int_ne(setsockopt(fb, SOL_UDP, 104, &on, sizeof(on)), 0);
	close(fa);
	close(fb);
}
END_TEST

#define SYSCALL_CAPS (DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG)
#define OPTION_CAPS \
	(DGB_CAP_IP_PKTINFO | DGB_CAP_IPV6_RECVPKTINFO | DGB_CAP_UDP_SEGMENT | DGB_CAP_UDP_GRO)

/*
 * At the fd limit no throw-away socket can be opened: the system calls are
 * still found (they are probed without a socket), the socket options are
 * not known, and not cached as absent: once sockets can be opened again,
 * every capability the kernel has is usable.
 */
START_TEST(test_probe_at_fd_limit)
{
	unsigned int all = dgb_caps(), caps;
	struct rlimit saved;

	dgb_caps_reset();
	tu_fd_limit_reach(&saved);
	caps = dgb_caps();
	tu_fd_limit_restore(&saved);
	ck_assert_uint_eq(caps & SYSCALL_CAPS, all & SYSCALL_CAPS);
	ck_assert_uint_eq(caps & OPTION_CAPS, 0);
	ck_assert_uint_eq(dgb_caps(), all);
}
END_TEST

/* Where the kernel has the option (cap in caps), fd has it off. */
static void option_off(unsigned int caps, unsigned int cap, int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (!(caps & cap))
		return;
	ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
	ck_assert_msg(v == 0, "%s is %d on the socket learnt from", dgb_cap_name(cap), v);
}

/*
 * At the fd limit, the socket options are learnt from the caller's own
 * sockets, with getsockopt only: the sockets keep their settings.
 */
START_TEST(test_learn_fd_at_fd_limit)
{
	union tu_addr a, a6;
	int fa = tu_udp_loopback(AF_INET, &a);
	int f6 = tu_ipv6_available(NULL) ? tu_udp_loopback(AF_INET6, &a6) : -1;
	unsigned int all = dgb_caps(), caps;
	/* An IPv4 socket teaches nothing of IPv6. */
	unsigned int want = f6 >= 0 ? all : all & ~DGB_CAP_IPV6_RECVPKTINFO;
	struct rlimit saved;

	dgb_caps_reset();
	tu_fd_limit_reach(&saved);
	dgb_caps_learn_fd(fa);
	if (f6 >= 0)
		dgb_caps_learn_fd(f6);
	caps = dgb_caps();
	tu_fd_limit_restore(&saved);
	ck_assert_uint_eq(caps, want);
	option_off(all, DGB_CAP_UDP_SEGMENT, fa, SOL_UDP, 103);
	option_off(all, DGB_CAP_UDP_GRO, fa, SOL_UDP, 104);
#if HAVE_DECL_IP_PKTINFO
	option_off(all, DGB_CAP_IP_PKTINFO, fa, IPPROTO_IP, IP_PKTINFO);
#endif
#if HAVE_DECL_IPV6_RECVPKTINFO
	if (f6 >= 0)
		option_off(all, DGB_CAP_IPV6_RECVPKTINFO, f6, IPPROTO_IPV6, IPV6_RECVPKTINFO);
#endif
	close(fa);
	if (f6 >= 0)
		close(f6);
}
END_TEST

/*
 * What DGRAMBATCH_CAPS_DISABLE switches off stays off when the answers are
 * learnt from a caller's socket.
 */
START_TEST(test_learn_fd_keeps_disabled)
{
	union tu_addr a;
	int fa = tu_udp_loopback(AF_INET, &a);

	tu_caps_disable("udp_segment,ip_pktinfo");
	dgb_caps_learn_fd(fa);
	ck_assert_uint_eq(dgb_caps() & (DGB_CAP_UDP_SEGMENT | DGB_CAP_IP_PKTINFO), 0);
	close(fa);
}
END_TEST

/*
 * The data path asks whether it may use the system calls, and that opens
 * no socket: the socket options stay unprobed.
 */
START_TEST(test_syscalls_probed_alone)
{
	dgb_caps_reset();
	(void)dgb_cap_usable(DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG);
	ck_assert_uint_eq(dgb_caps_known() & SYSCALL_CAPS, SYSCALL_CAPS);
	ck_assert_uint_eq(dgb_caps_known() & OPTION_CAPS, 0);
}
END_TEST

#if defined(__x86_64__)
/*
 * A family the system refuses is an answer, and cached: on a host without
 * IPv6 the probes are not made again on every call.  Check runs each test
 * in its own process, so the filter dies with it.
 */
START_TEST(test_refused_family_is_an_answer)
{
	unsigned int all = dgb_caps();

	static const int sock[] = { __NR_socket };

	dgb_caps_reset();
	/* socket(AF_INET6, ...) answers EAFNOSUPPORT, as on a host booted without IPv6. */
	ck_assert_msg(tu_forbid_syscalls(sock, 1, AF_INET6, EAFNOSUPPORT), "seccomp filter: %s",
		      strerror(errno));
	ck_assert_uint_eq(dgb_caps(), all & ~DGB_CAP_IPV6_RECVPKTINFO);
	ck_assert_uint_eq(dgb_caps_known(), SYSCALL_CAPS | OPTION_CAPS);
}
END_TEST
#endif

Suite *suite_probe(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("caps");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_usable_within_built);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_env_disables);
	tcase_add_test(tc, test_revoke);
#if defined(HAVE_SENDMMSG) && defined(HAVE_RECVMMSG)
	tcase_add_test(tc, test_mmsg_matches_kernel);
#else
	fprintf(stderr, "SKIP test_mmsg_matches_kernel: the C library has no sendmmsg/recvmmsg\n");
#endif
#if HAVE_DECL_IP_PKTINFO
	tcase_add_test(tc, test_pktinfo_matches_kernel);
#else
	fprintf(stderr, "SKIP test_pktinfo_matches_kernel: no IP_PKTINFO in the headers\n");
#endif
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
	TU_ADD_IPV6_TEST(tc, test_ipv6_pktinfo_matches_kernel);
#else
	fprintf(stderr, "SKIP test_ipv6_pktinfo_matches_kernel: no IPV6_RECVPKTINFO in the headers\n");
#endif
	tcase_add_test(tc, test_gso_gro_match_kernel);
	tcase_add_test(tc, test_probe_at_fd_limit);
	tcase_add_test(tc, test_learn_fd_at_fd_limit);
	tcase_add_test(tc, test_syscalls_probed_alone);
	tcase_add_test(tc, test_learn_fd_keeps_disabled);
#if defined(__x86_64__)
	tcase_add_test(tc, test_refused_family_is_an_answer);
#else
	fprintf(stderr, "SKIP test_refused_family_is_an_answer: the seccomp filter is written for x86_64\n");
#endif
	suite_add_tcase(s, tc);
	return s;
}
