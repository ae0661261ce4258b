// SPDX-License-Identifier: GPL-2.0-only
/* events [--follow]: blocked attempts from the ring buffer, or from the agent's log. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "rf_cmd.h"
#include "rf_events.h"
#include "rf_util.h"

const char rf_help_events[] =
    "Usage: ringfence events [--follow] [--json]\n"
    "Print blocked attempts queued by the kernel (and wait for more with --follow).\n"
    "--json prints one Elastic Common Schema object per line.\n";

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

struct ev_ctx {
	struct rf_ctx *ctx;
	struct rf_event_ctx ec;
	char hostname[256];
};

static int on_event(void *arg, void *data, size_t len)
{
	struct ev_ctx *ev = arg;
	const struct rf_event *e = rf_event_prepare(&ev->ec, data, len);

	if (!e)
		return 0;
	if (ev->ctx->json)
		rf_event_json(stdout, e, &ev->ec);
	else
		rf_event_text(stdout, e, &ev->ec);
	fflush(stdout);
	return 0;
}

/*
 * At the end of the log being followed: has it been rotated (the agent renamed it to
 * events.jsonl.1 and opened a new one, or logrotate moved it) or truncated in place? Then the
 * new file at path is the one to read, from its start (what was left in the old one was read).
 */
static bool log_replaced(FILE *f, const char *path)
{
	struct stat open_st, path_st;

	if (fstat(fileno(f), &open_st) || stat(path, &path_st))
		return false; /* not there (yet): keep waiting on the old one */
	return open_st.st_ino != path_st.st_ino || open_st.st_dev != path_st.st_dev ||
	       ftell(f) > path_st.st_size;
}

/* Wait (following) for the log to exist; NULL when exiting, or on an error (said). */
static FILE *open_log(const char *path, bool follow)
{
	FILE *f;

	while (!(f = fopen(path, "re"))) {
		int e = errno;

		if (e != ENOENT || !follow) {
			if (e != ENOENT)
				rf_err("cannot read %s: %s", path, strerror(e));
			errno = e;
			return NULL;
		}
		if (exiting)
			return NULL;
		usleep(200 * 1000);
	}
	return f;
}

/*
 * The kernel ring buffer has one consumer. While the agent runs it is that consumer, so read
 * what it wrote to <state>/events.jsonl (ECS JSON lines; the text view is the same lines).
 */
/*
 * Copy the complete lines of f from where it is (rf_event_log_line()); a last line without its
 * newline is the agent writing it: left for the next call when following, else torn. Returns
 * the damaged lines skipped.
 */
static unsigned long copy_log(FILE *f, bool json, bool follow)
{
	unsigned long bad = 0;
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;
	long at;

	while (!exiting && (at = ftell(f)) >= 0 && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n' && follow) {
			fseek(f, at, SEEK_SET);
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		bad += rf_event_log_line(stdout, line, json) != 0;
	}
	free(line);
	return bad;
}

static int events_from_agent_log(struct rf_ctx *ctx, bool follow)
{
	unsigned long bad = 0;
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/events.jsonl", ctx->state_dir);
	if (!ctx->json)
		rf_err("the agent is running and receives the events; showing its log %s (JSON "
		       "lines)",
		       path);
	f = open_log(path, follow);
	if (!f)
		return errno == ENOENT || exiting ? 0 : EXIT_OPFAIL;
	for (;;) {
		bad += copy_log(f, ctx->json, follow);
		if (!follow || exiting)
			break;
		fflush(stdout);
		clearerr(f);
		if (log_replaced(f, path)) {
			FILE *next = fopen(path, "re");

			if (next) {
				fclose(f);
				f = next;
				continue;
			}
		}
		usleep(200 * 1000);
	}
	fclose(f);
	if (bad)
		rf_warn("skipped %lu line(s) of %s that are not JSON objects (torn or damaged)",
			bad, path);
	return 0;
}

static int consume(struct ring_buffer *rb, bool follow)
{
	int ret;

	if (!follow)
		return ring_buffer__consume(rb);
	while (!exiting) {
		ret = ring_buffer__poll(rb, 200);
		if (ret == -EINTR)
			return 0;
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int events_from_kernel(struct rf_ctx *ctx, bool follow)
{
	struct ev_ctx ev = {.ctx = ctx};
	struct rf_maps m = RF_MAPS_INIT;
	struct ring_buffer *rb;
	int ret;

	if ((ret = rf_maps_open(ctx->pin_dir, &m))) {
		if (ret == -EPROTO)
			rf_err("the pins in %s are of an older ringfence ABI: run 'ringfence load' "
			       "to upgrade them in place",
			       ctx->pin_dir);
		else if (ret == -EMEDIUMTYPE)
			rf_err("a map in %s is not ringfence's: run 'ringfence load' (it moves it "
			       "aside)",
			       ctx->pin_dir);
		else
			rf_err("not loaded (no pinned maps in %s): run 'ringfence load' or "
			       "'ringfence isolate' first",
			       ctx->pin_dir);
		return EXIT_OPFAIL;
	}
	ev.ec.boot_to_unix_ns = rf_now_unix_ns() - rf_now_boot_ns();
	gethostname(ev.hostname, sizeof(ev.hostname) - 1);
	ev.ec.hostname = ev.hostname;
	ev.ec.target = ctx->selected ? ctx->cg_rel : NULL;
	rb = ring_buffer__new(m.events, on_event, &ev, NULL);
	if (!rb) {
		ret = -errno;
		rf_err("failed to open the event ring buffer: %s", strerror(-ret));
		rf_maps_close(&m);
		return EXIT_OPFAIL;
	}
	if (!ctx->json)
		rf_event_text_header(stdout);
	ret = consume(rb, follow);
	ring_buffer__free(rb);
	rf_maps_close(&m);
	if (ret < 0 && ret != -EINTR) {
		rf_err("reading events failed: %s", strerror(-ret));
		return EXIT_OPFAIL;
	}
	return 0;
}

int rf_cmd_events(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rf_agent_running(ctx->state_base))
		return events_from_agent_log(ctx, o->follow);
	return events_from_kernel(ctx, o->follow);
}
