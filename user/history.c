// SPDX-License-Identifier: GPL-2.0-only
/*
 * The action history, <state>/history: append-only, one JSON object per line (jansson; strings
 * byte-exact as in every state file). An action that changes status (InProgress, then
 * Succeeded) is written again with the same id, and the last record of an id is its current
 * state. Nothing is ever rewritten, so a crash loses at most the line being written, and a
 * write that fails half-way is cut off again. The next id is kept in <state>/history.seq, so
 * an action never reads the history; past RF_HISTORY_ROTATE_BYTES the file becomes history.1
 * (the one before is dropped). Lines of the previous release (tab-separated) are still read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rf_json.h"
#include "rf_state.h"
#include "rf_util.h"

#define RF_HISTORY_FIELDS 9 /* previous release: the 9th, the warning, was optional */

static const char *const status_names[] = {"Pending", "InProgress", "Succeeded", "Failed"};

const char *rf_action_status_name(enum rf_action_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "Unknown";
}

static int status_of(const char *name)
{
	int i;

	for (i = 0; name && i < 4; i++)
		if (!strcmp(name, status_names[i]))
			return i;
	return -1;
}

json_t *rf_action_to_json(const struct rf_action *a)
{
	json_t *o = json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)a->id, "status",
			      rf_action_status_name(a->status), "requested",
			      (json_int_t)a->requested_unix_ns, "completed",
			      (json_int_t)a->completed_unix_ns);

	if (o &&
	    (rf_state_str_set(o, "type", a->type) ||
	     rf_state_str_set(o, "requestor", a->requestor) ||
	     rf_state_str_set(o, "comment", a->comment) || rf_state_str_set(o, "error", a->error) ||
	     rf_state_str_set(o, "warning", a->warning))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int rf_action_encode(const struct rf_action *a, char *buf, size_t len)
{
	_cleanup_(json_decrefp) json_t *o = rf_action_to_json(a);
	_cleanup_free_ char *text =
	    o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;

	if (!text)
		return -ENOMEM;
	if (strlen(text) >= len || strlen(text) >= RF_HISTORY_LINE_MAX)
		return -E2BIG;
	strcpy(buf, text);
	return 0;
}

/* Split line (copied into buf) on tabs; returns the field count, or -1 past max. */
static int split_fields(char *buf, char **f, int max)
{
	char *p;
	int n = 0;

	f[n++] = buf;
	for (p = buf; *p; p++) {
		if (*p != '\t')
			continue;
		if (n == max)
			return -1;
		*p = '\0';
		f[n++] = p + 1;
	}
	return n;
}

static bool id_valid(__u64 id)
{
	return id >= 1 && id <= RF_HISTORY_ID_MAX;
}

/* A record of the previous release: tab-separated, \t \n \\ escaped. */
static int decode_tabs(const char *line, struct rf_action *a)
{
	char buf[RF_HISTORY_LINE_MAX], *f[RF_HISTORY_FIELDS];
	int i, n, st;

	strcpy(buf, line);
	n = split_fields(buf, f, RF_HISTORY_FIELDS);
	if (n != 8 && n != RF_HISTORY_FIELDS)
		return -EINVAL;
	/* id and the two times: plain decimal digits, in range (a damaged line is skipped) */
	if (rf_parse_u64(f[0], RF_HISTORY_ID_MAX, &a->id) || !id_valid(a->id) ||
	    rf_parse_u64(f[4], ULLONG_MAX, &a->requested_unix_ns) ||
	    rf_parse_u64(f[5], ULLONG_MAX, &a->completed_unix_ns) || (st = status_of(f[2])) < 0)
		return -EINVAL;
	a->status = (enum rf_action_status)st;
	for (i = 1; i < n; i++)
		rf_unescape_field(f[i]);
	snprintf(a->type, sizeof(a->type), "%s", f[1]);
	snprintf(a->requestor, sizeof(a->requestor), "%s", f[3]);
	snprintf(a->comment, sizeof(a->comment), "%s", f[6]);
	snprintf(a->error, sizeof(a->error), "%s", f[7]);
	if (n == RF_HISTORY_FIELDS)
		snprintf(a->warning, sizeof(a->warning), "%s", f[8]);
	return 0;
}

int rf_action_from_json(const json_t *o, struct rf_action *a)
{
	json_t *id = json_object_get(o, "id");
	int st = status_of(json_string_value(json_object_get(o, "status")));

	memset(a, 0, sizeof(*a));
	if (!json_is_integer(id) || st < 0 || json_integer_value(id) < 0)
		return -EINVAL;
	a->id = (__u64)json_integer_value(id);
	a->status = (enum rf_action_status)st;
	a->requested_unix_ns = (__u64)json_integer_value(json_object_get(o, "requested"));
	a->completed_unix_ns = (__u64)json_integer_value(json_object_get(o, "completed"));
	if (rf_state_str_get(o, "type", a->type, sizeof(a->type)) ||
	    rf_state_str_get(o, "requestor", a->requestor, sizeof(a->requestor)) ||
	    rf_state_str_get(o, "comment", a->comment, sizeof(a->comment)) ||
	    rf_state_str_get(o, "error", a->error, sizeof(a->error)) ||
	    rf_state_str_get(o, "warning", a->warning, sizeof(a->warning)))
		return -EINVAL;
	return 0;
}

static int decode_json(const char *line, struct rf_action *a)
{
	_cleanup_(json_decrefp) json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	int err = rf_action_from_json(o, a);

	return !err && id_valid(a->id) ? 0 : -EINVAL;
}

int rf_action_decode(const char *line, struct rf_action *a)
{
	if (strlen(line) >= RF_HISTORY_LINE_MAX)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	return line[0] == '{' ? decode_json(line, a) : decode_tabs(line, a);
}

/* Index of the action with id in acts[0..n), or n. Ids are appended in increasing order, so
 * search from the end; an id written out of order is still found. */
static size_t find_id(const struct rf_action *acts, size_t n, __u64 id)
{
	size_t i;

	for (i = n; i > 0; i--)
		if (acts[i - 1].id == id)
			return i - 1;
	return n;
}

/* Collapse the records of lines into actions (out has room for cnt + nl), the last record of
 * each id winning; returns the new count. */
static size_t collapse(char **lines, size_t nl, struct rf_action *out, size_t cnt)
{
	size_t i;

	for (i = 0; i < nl; i++) {
		struct rf_action a;
		size_t at;

		if (rf_action_decode(lines[i], &a))
			continue; /* a damaged line is skipped, never fatal */
		at = cnt && a.id <= out[cnt - 1].id ? find_id(out, cnt, a.id) : cnt;
		out[at] = a;
		if (at == cnt)
			cnt++;
	}
	return cnt;
}

/* The lines of <state>/name into *lines (none when it is missing). */
static int history_lines(const char *state_dir, const char *name, char ***lines, size_t *nl)
{
	_cleanup_free_ char *data = NULL;
	int err = rf_state_read(state_dir, name, &data, NULL);

	*lines = NULL;
	*nl = 0;
	if (err)
		return err == -ENOENT ? 0 : err;
	return rf_split_lines(data, lines, nl);
}

int rf_history_load(const char *state_dir, struct rf_action **acts, size_t *n)
{
	static const char *const files[] = {"history.1", "history"};
	char **lines[2] = {NULL, NULL};
	size_t nl[2] = {0, 0}, i;
	_cleanup_free_ struct rf_action *out = NULL;
	int err = 0;

	*acts = NULL;
	*n = 0;
	for (i = 0; i < 2 && !err; i++)
		err = history_lines(state_dir, files[i], &lines[i], &nl[i]);
	if (!err && !(out = calloc(nl[0] + nl[1] + 1, sizeof(*out))))
		err = -ENOMEM;
	for (i = 0; i < 2 && !err; i++)
		*n = collapse(lines[i], nl[i], out, *n);
	for (i = 0; i < 2; i++)
		rf_lines_free(lines[i], nl[i]);
	if (err) {
		*n = 0;
		return err;
	}
	*acts = TAKE_PTR(out);
	return 0;
}

/* Past RF_HISTORY_ROTATE_BYTES, history becomes history.1 (the callers hold the state lock). */
static void maybe_rotate(const char *state_dir)
{
	_cleanup_close_ int fd = rf_state_open_file(state_dir, "history", O_RDONLY);
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || st.st_size < RF_HISTORY_ROTATE_BYTES)
		return;
	rf_state_path(from, sizeof(from), state_dir, "history");
	rf_state_path(to, sizeof(to), state_dir, "history.1");
	if (rename(from, to))
		rf_warn("cannot rotate %s: %s", from, strerror(errno));
}

/* Write line at the end of fd, on a line of its own even after a torn write; a write that
 * fails half-way is cut off again, so no torn line is left behind. */
static int append_line(int fd, const char *rec)
{
	char line[RF_HISTORY_LINE_MAX + 2], last = '\n';
	struct stat st;
	size_t len;
	ssize_t w;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	len = (size_t)snprintf(line, sizeof(line), "%s%s\n", last == '\n' ? "" : "\n", rec);
	w = write(fd, line, len);
	if (w == (ssize_t)len)
		return fsync(fd) ? -errno : 0;
	if (ftruncate(fd, st.st_size)) {
		/* nothing more to do: the reader skips the torn line */
	}
	return w < 0 ? -errno : -ENOSPC;
}

/* Append one record, and fsync it. */
static int history_append(const char *state_dir, const struct rf_action *a)
{
	char rec[RF_HISTORY_LINE_MAX];
	_cleanup_close_ int fd = -1;
	int err = rf_action_encode(a, rec, sizeof(rec));

	if (err)
		return err;
	maybe_rotate(state_dir);
	fd = rf_state_open_file(state_dir, "history", O_RDWR | O_APPEND | O_CREAT);
	return fd < 0 ? fd : append_line(fd, rec);
}

/* The highest valid id in the history files, for a missing or damaged history.seq. */
static __u64 highest_id(const char *state_dir)
{
	_cleanup_free_ struct rf_action *acts = NULL;
	size_t n, i;
	__u64 hi = 0;

	if (rf_history_load(state_dir, &acts, &n))
		return 0;
	for (i = 0; i < n; i++)
		if (acts[i].id > hi)
			hi = acts[i].id;
	return hi;
}

/* Take the next id from <state>/history.seq and store the one after it. */
static int next_id(const char *state_dir, __u64 *id)
{
	_cleanup_free_ char *data = NULL;
	char text[64];
	unsigned long long v = 0;
	int err = rf_state_read(state_dir, "history.seq", &data, NULL);

	if (!err && (sscanf(data, "%llu", &v) != 1 || !id_valid(v)))
		v = 0;
	if (!v)
		v = highest_id(state_dir) + 1;
	if (!id_valid(v))
		return -EOVERFLOW;
	*id = v;
	snprintf(text, sizeof(text), "%llu\n", v + 1);
	return rf_state_write(state_dir, "history.seq", text, strlen(text));
}

/* Give a a fresh id, requested time and requestor. */
static int action_new(const char *state_dir, struct rf_action *a)
{
	int err = next_id(state_dir, &a->id);

	if (err)
		return err;
	if (!a->requested_unix_ns)
		a->requested_unix_ns = rf_now_unix_ns();
	if (!a->requestor[0])
		rf_requestor(a->requestor, sizeof(a->requestor));
	return 0;
}

static void action_close(struct rf_action *a, const char *error)
{
	a->status = error ? RF_ACT_FAILED : RF_ACT_SUCCEEDED;
	snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
	if (!a->completed_unix_ns) /* else when it happened (a lapse: the kernel's deadline) */
		a->completed_unix_ns = rf_now_unix_ns();
}

int rf_action_begin(const char *state_dir, struct rf_action *a)
{
	int err = action_new(state_dir, a);

	if (err)
		return err;
	a->status = RF_ACT_IN_PROGRESS;
	return history_append(state_dir, a);
}

int rf_action_end(const char *state_dir, struct rf_action *a, const char *error)
{
	action_close(a, error);
	return history_append(state_dir, a);
}

int rf_action_record(const char *state_dir, struct rf_action *a, const char *error)
{
	int err = action_new(state_dir, a);

	if (err)
		return err;
	action_close(a, error);
	return history_append(state_dir, a);
}

json_t *rf_action_doc(const struct rf_action *a, const char *target)
{
	char req[40], done[40];
	json_t *doc;

	rf_format_time(a->requested_unix_ns, req, sizeof(req));
	rf_format_time(a->completed_unix_ns, done, sizeof(done));
	doc = json_pack("{s:o*,s:o,s:o,s:s,s:o,s:o,s:s,s:o,s:o,s:o}", "target",
			target ? rf_jstr(target) : NULL, "id", rf_ju64(a->id), "type",
			rf_jstr(a->type), "status", rf_action_status_name(a->status), "requestor",
			rf_jstr(a->requestor), "comment", rf_jstr(a->comment), "requested", req,
			"completed", a->completed_unix_ns ? json_string(done) : json_null(),
			"error", rf_jstr_or_null(a->error), "warning", rf_jstr_or_null(a->warning));
	return doc;
}

int rf_action_json(FILE *f, const struct rf_action *a, const char *target)
{
	return rf_json_write(f, rf_action_doc(a, target), false);
}

void rf_requestor(char *buf, size_t len)
{
	const char *env = getenv("RINGFENCE_REQUESTOR"), *sudo = getenv("SUDO_USER");
	struct passwd *pw;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (sudo && *sudo) {
		snprintf(buf, len, "user:%s", sudo);
		return;
	}
	pw = getpwuid(getuid());
	if (pw)
		snprintf(buf, len, "user:%s", pw->pw_name);
	else
		snprintf(buf, len, "user:%u", (unsigned)getuid());
}
