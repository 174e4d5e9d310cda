/*
 * faultserver - a small HTTP/1.1 server on 127.0.0.1 that misbehaves on
 * purpose, for the download tests (what nginx will not do).
 *
 *   faultserver --root DIR --port-file FILE --log FILE [--lifetime SECONDS]
 *
 * It binds a free loopback port, writes the number to FILE, and serves
 * GET /<mode>/<file> from DIR, one connection at a time, always closing the
 * connection after the response. <mode> is "plain" or options joined by '+',
 * applied per distinct path (the n-th request for a path is its hit n):
 *   fail503=N   hits 1..N get 503
 *   retry429=S  hit 1 gets 429 with Retry-After: S
 *   cut=B       the first hit served sends the headers of the whole answer, B body
 *               bytes, then closes
 *   trickle=R   the body goes out at about R bytes per second
 *   long        no Content-Length; the file, then filler until the client hangs up
 *   redirect=X  302 to file://DIR/<file> (X=file), ftp://127.0.0.1/<file> (X=ftp),
 *               /plain/<file> (X=plain) or this same path (X=loop)
 *   norange     Range headers are ignored (always 200 with the whole file)
 *   range416    every Range request gets 416
 *   sigplain    the other options spare paths ending in ".minisig"
 * Each request is logged as "hit=N GET <path> range=<Range or -> status=S sent=BYTES".
 * It exits after --lifetime seconds (default 300) so a forgotten server dies.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS 256
#define LONG_FILLER_MAX (256L * 1024 * 1024)

struct mode {
	int fail503, retry429, cut, trickle, is_long, norange, range416, sigplain;
	char redirect[16];
};

static const char *root;
static FILE *logf;
static int port;
static struct {
	char *path;
	int hits;
} seen[MAX_PATHS];

static int hit(const char *path)
{
	for (int i = 0; i < MAX_PATHS; i++) {
		if (!seen[i].path) {
			seen[i].path = strdup(path);
			return seen[i].path ? ++seen[i].hits : 1;
		}
		if (!strcmp(seen[i].path, path))
			return ++seen[i].hits;
	}
	return 1;
}

static int parse_mode(char *text, struct mode *m)
{
	memset(m, 0, sizeof *m);
	for (char *opt = strtok(text, "+"); opt; opt = strtok(NULL, "+")) {
		if (!strcmp(opt, "plain"))
			continue;
		else if (!strncmp(opt, "fail503=", 8))
			m->fail503 = atoi(opt + 8);
		else if (!strncmp(opt, "retry429=", 9))
			m->retry429 = atoi(opt + 9);
		else if (!strncmp(opt, "cut=", 4))
			m->cut = atoi(opt + 4);
		else if (!strncmp(opt, "trickle=", 8))
			m->trickle = atoi(opt + 8);
		else if (!strcmp(opt, "long"))
			m->is_long = 1;
		else if (!strcmp(opt, "norange"))
			m->norange = 1;
		else if (!strcmp(opt, "range416"))
			m->range416 = 1;
		else if (!strcmp(opt, "sigplain"))
			m->sigplain = 1;
		else if (!strncmp(opt, "redirect=", 9))
			snprintf(m->redirect, sizeof m->redirect, "%s", opt + 9);
		else
			return -1;
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Sends len bytes of fp from its current position, paced when rate > 0; returns bytes sent. */
static long send_body(int fd, FILE *fp, long len, int rate)
{
	char buf[65536];
	long sent = 0;
	size_t chunk = rate > 0 ? (size_t)(rate / 10 > 0 ? rate / 10 : 1) : sizeof buf;

	if (chunk > sizeof buf)
		chunk = sizeof buf;
	while (sent < len) {
		size_t want = (size_t)(len - sent) < chunk ? (size_t)(len - sent) : chunk;
		size_t n = fread(buf, 1, want, fp);

		if (n == 0 || send_all(fd, buf, n) != 0)
			break;
		sent += (long)n;
		if (rate > 0)
			sleep_ms(100);
	}
	return sent;
}

static void answer_short(int fd, int status, const char *reason, const char *extra)
{
	char head[2048];
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d %s\r\nContent-Length: 6\r\nConnection: close\r\n%s\r\n"
	                 "error\n",
	                 status, reason, extra);

	send_all(fd, head, (size_t)n);
}

static void serve(int fd)
{
	char req[8192], path[4096], range[128] = "-", modetext[256], extra[4200];
	size_t got = 0;
	struct mode m;
	long sent = 0;
	int status = 0, n;
	FILE *fp = NULL;

	req[0] = '\0';
	while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);

		if (r <= 0)
			return;
		got += (size_t)r;
		req[got] = '\0';
	}
	if (sscanf(req, "GET %4095s HTTP/1.", path) != 1) {
		answer_short(fd, 400, "Bad Request", "");
		fprintf(logf, "hit=0 ? ? range=- status=400 sent=0\n");
		return;
	}
	for (char *line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n"))
		if (!strncasecmp(line + 2, "Range:", 6))
			sscanf(line + 8, " %127[^\r\n]", range);

	int h = hit(path);
	char *slash = strchr(path + 1, '/');
	const char *file = slash ? slash + 1 : "";
	if (!slash || !*file || strchr(file, '/') || !strcmp(file, "..") ||
	    (size_t)(slash - path - 1) >= sizeof modetext) {
		status = 404;
		answer_short(fd, 404, "Not Found", "");
		goto log;
	}
	memcpy(modetext, path + 1, (size_t)(slash - path - 1));
	modetext[slash - path - 1] = '\0';
	if (parse_mode(modetext, &m) != 0) {
		status = 400;
		answer_short(fd, 400, "Bad Request", "");
		goto log;
	}
	size_t flen = strlen(file);
	if (m.sigplain && flen > 8 && !strcmp(file + flen - 8, ".minisig"))
		memset(&m, 0, sizeof m);
	if (h <= m.fail503) {
		status = 503;
		answer_short(fd, 503, "Service Unavailable", "");
		goto log;
	}
	if (h == 1 && m.retry429) {
		status = 429;
		snprintf(extra, sizeof extra, "Retry-After: %d\r\n", m.retry429);
		answer_short(fd, 429, "Too Many Requests", extra);
		goto log;
	}
	if (m.redirect[0]) {
		status = 302;
		if (!strcmp(m.redirect, "file"))
			snprintf(extra, sizeof extra, "Location: file://%s/%s\r\n", root, file);
		else if (!strcmp(m.redirect, "ftp"))
			snprintf(extra, sizeof extra, "Location: ftp://127.0.0.1:%d/%s\r\n", port,
			         file);
		else if (!strcmp(m.redirect, "plain"))
			snprintf(extra, sizeof extra, "Location: /plain/%s\r\n", file);
		else
			snprintf(extra, sizeof extra, "Location: %s\r\n", path);
		answer_short(fd, 302, "Found", extra);
		goto log;
	}

	char full[4400];
	struct stat st;
	snprintf(full, sizeof full, "%s/%s", root, file);
	fp = fopen(full, "rb");
	if (!fp || fstat(fileno(fp), &st) != 0) {
		status = 404;
		answer_short(fd, 404, "Not Found", "");
		goto log;
	}
	long size = (long)st.st_size, from = 0;
	if (!m.norange && strcmp(range, "-") && sscanf(range, "bytes=%ld-", &from) == 1) {
		if (from >= size || m.range416) {
			status = 416;
			snprintf(extra, sizeof extra, "Content-Range: bytes */%ld\r\n", size);
			answer_short(fd, 416, "Range Not Satisfiable", extra);
			goto log;
		}
		status = 206;
		n = snprintf(extra, sizeof extra,
		             "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\n"
		             "Content-Range: bytes %ld-%ld/%ld\r\nConnection: close\r\n\r\n",
		             size - from, from, size - 1, size);
	} else if (m.is_long) {
		status = 200;
		n = snprintf(extra, sizeof extra, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	} else {
		from = 0;
		status = 200;
		n = snprintf(extra, sizeof extra,
		             "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nAccept-Ranges: bytes\r\n"
		             "Connection: close\r\n\r\n",
		             size);
	}
	if (send_all(fd, extra, (size_t)n) != 0)
		goto log;
	fseek(fp, from, SEEK_SET);
	long body = size - from;
	/* The cut hits the first request that gets this far. */
	if (h == m.fail503 + (m.retry429 ? 1 : 0) + 1 && m.cut > 0 && m.cut < body)
		body = m.cut;
	sent = send_body(fd, fp, body, m.trickle);
	if (m.is_long && sent == size - from) {
		/* The filler goes on until the client hangs up (or a generous cap). */
		static char filler[65536];
		memset(filler, 'x', sizeof filler);
		while (sent < LONG_FILLER_MAX && send_all(fd, filler, sizeof filler) == 0)
			sent += (long)sizeof filler;
	}
log:
	if (fp)
		fclose(fp);
	fprintf(logf, "hit=%d GET %s range=%s status=%d sent=%ld\n", h, path, range, status, sent);
	fflush(logf);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_path = NULL;
	long lifetime = 300;
	struct sockaddr_in addr;
	socklen_t alen = sizeof addr;
	int lfd, one = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--root"))
			root = argv[i + 1];
		else if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
		else if (!strcmp(argv[i], "--lifetime"))
			lifetime = atol(argv[i + 1]);
	}
	if (!root || !port_file || !log_path) {
		fprintf(stderr, "usage: faultserver --root DIR --port-file FILE --log FILE "
		                "[--lifetime SECONDS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	logf = fopen(log_path, "a");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!logf || lfd < 0)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
		perror("faultserver");
		return 1;
	}
	port = ntohs(addr.sin_port);

	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%d\n", port) < 0 || fclose(pf) != 0 || rename(tmp, port_file) != 0)
		return 1;

	time_t end = time(NULL) + lifetime;
	while (time(NULL) < end) {
		struct pollfd p = {lfd, POLLIN, 0};
		struct timeval tv = {5, 0};

		if (poll(&p, 1, 1000) <= 0)
			continue;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		serve(fd);
		close(fd);
	}
	return 0;
}
