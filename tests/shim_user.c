/*
 * shim_user.c - a program that knows nothing of dgrambatch: it moves
 * datagrams over 127.0.0.1 with OpenSSL's BIO_new_dgram() (the receiver)
 * and BIO_new(BIO_s_datagram()) (the sender), the two calls the preload
 * shim answers, and checks each one arrived once, in order, intact.
 * tests/run.sh runs it through `dgrambatch run`.
 *
 *   shim_user [COUNT [fork]]   exit 0 when all COUNT (default 20) arrived;
 *                              with "fork", a child is forked afterwards
 *                              and exits at once (what does it count?)
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bio.h>

static int udp_socket(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		perror("shim_user: socket");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 20;
	struct sockaddr_in ra, sa;
	struct timeval limit = { 5, 0 };
	int rfd = udp_socket(&ra), sfd = udp_socket(&sa);
	BIO *rx = BIO_new_dgram(rfd, BIO_CLOSE);
	BIO *tx = BIO_new(BIO_s_datagram());
	BIO_ADDR *peer = BIO_ADDR_new();
	char out[64], in[128];

	if (count < 1 || rx == NULL || tx == NULL || peer == NULL ||
	    !BIO_ADDR_rawmake(peer, AF_INET, &ra.sin_addr, sizeof(ra.sin_addr), ra.sin_port)) {
		fprintf(stderr, "shim_user: set-up failed\n");
		return 1;
	}
	BIO_set_fd(tx, sfd, BIO_CLOSE);
	/* SET_RECV_TIMEOUT succeeds with 0 in OpenSSL 3.5 and the module, 1 in 3.0. */
	if (BIO_dgram_set_peer(tx, peer) <= 0 ||
	    BIO_ctrl(rx, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &limit) < 0) {
		fprintf(stderr, "shim_user: cannot set the peer or the time limit\n");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		int n = snprintf(out, sizeof(out), "datagram %ld of %ld", i, count);

		if (BIO_write(tx, out, n) != n) {
			fprintf(stderr, "shim_user: BIO_write %ld failed\n", i);
			return 1;
		}
		if (BIO_read(rx, in, sizeof(in)) != n || memcmp(in, out, (size_t)n) != 0) {
			fprintf(stderr, "shim_user: datagram %ld lost or altered\n", i);
			return 1;
		}
	}
	printf("shim_user: %ld datagrams arrived intact\n", count);
	fflush(stdout);
	if (argc > 2 && strcmp(argv[2], "fork") == 0) {
		int status;
		pid_t child = fork();

		if (child == 0)
			exit(0);
		if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
			fprintf(stderr, "shim_user: the child failed\n");
			return 1;
		}
	}
	BIO_ADDR_free(peer);
	BIO_free(tx);
	BIO_free(rx);
	return 0;
}
