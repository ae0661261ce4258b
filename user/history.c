// SPDX-License-Identifier: GPL-2.0-only
/*
 * The action history, <state>/history: append-only. Each line is one record of an action; an
 * action that changes status (InProgress, then Succeeded) is written again with the same id,
 * and the last record of an id is its current state. Nothing is ever rewritten, so a crash
 * loses at most the line being written, and every allow command costs one append.
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

#define RF_HISTORY_FIELDS 9 /* the 9th, the warning, is absent in records of older versions */

static const char *const status_names[] = {"Pending", "InProgress", "Succeeded", "Failed"};

const char *rf_action_status_name(enum rf_action_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "Unknown";
}

void rf_action_encode(const struct rf_action *a, char *buf, size_t len)
{
	char t[80], r[300], c[2100], e[1100], w[1100];

	rf_escape_field(t, sizeof(t), a->type);
	rf_escape_field(r, sizeof(r), a->requestor);
	rf_escape_field(c, sizeof(c), a->comment);
	rf_escape_field(e, sizeof(e), a->error);
	rf_escape_field(w, sizeof(w), a->warning);
	snprintf(buf, len, "%llu\t%s\t%s\t%s\t%llu\t%llu\t%s\t%s%s%s", (unsigned long long)a->id, t,
		 rf_action_status_name(a->status), r, (unsigned long long)a->requested_unix_ns,
		 (unsigned long long)a->completed_unix_ns, c, e, w[0] ? "\t" : "", w);
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

int rf_action_decode(const char *line, struct rf_action *a)
{
	char buf[4096], *f[RF_HISTORY_FIELDS];
	int i, n;

	if (strlen(line) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, line);
	n = split_fields(buf, f, RF_HISTORY_FIELDS);
	if (n != 8 && n != RF_HISTORY_FIELDS)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	/* id and the two times: plain decimal digits, in range (a damaged line is skipped) */
	if (rf_parse_u64(f[0], ULLONG_MAX - 1, &a->id) || !a->id ||
	    rf_parse_u64(f[4], ULLONG_MAX, &a->requested_unix_ns) ||
	    rf_parse_u64(f[5], ULLONG_MAX, &a->completed_unix_ns))
		return -EINVAL;
	for (i = 1; i < n; i++)
		rf_unescape_field(f[i]);
	a->status = (enum rf_action_status)4;
	for (i = 0; i < 4; i++)
		if (!strcmp(f[2], status_names[i]))
			a->status = (enum rf_action_status)i;
	if ((unsigned)a->status >= 4)
		return -EINVAL;
	snprintf(a->type, sizeof(a->type), "%s", f[1]);
	snprintf(a->requestor, sizeof(a->requestor), "%s", f[3]);
	snprintf(a->comment, sizeof(a->comment), "%s", f[6]);
	snprintf(a->error, sizeof(a->error), "%s", f[7]);
	if (n == RF_HISTORY_FIELDS)
		snprintf(a->warning, sizeof(a->warning), "%s", f[8]);
	return 0;
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

/* Collapse the records of lines into actions, the last record of each id winning. */
static size_t collapse(char **lines, size_t nl, struct rf_action *out)
{
	size_t i, cnt = 0;

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

int rf_history_load(const char *state_dir, struct rf_action **acts, size_t *n)
{
	char path[PATH_MAX], *data, **lines = NULL;
	size_t nl = 0;
	struct rf_action *out;
	int err;

	*acts = NULL;
	*n = 0;
	rf_state_path(path, sizeof(path), state_dir, "history");
	err = rf_read_file(path, &data, NULL);
	if (err)
		return err == -ENOENT ? 0 : err;
	err = rf_split_lines(data, &lines, &nl);
	free(data);
	if (err)
		return err;
	out = calloc(nl ? nl : 1, sizeof(*out));
	if (!out) {
		rf_lines_free(lines, nl);
		return -ENOMEM;
	}
	*n = collapse(lines, nl, out);
	*acts = out;
	rf_lines_free(lines, nl);
	return 0;
}

/* Append one record, on a line of its own even after a torn write, and fsync it. */
static int history_append(const char *state_dir, const struct rf_action *a)
{
	char path[PATH_MAX], line[4200], last = '\n';
	struct stat st;
	size_t len;
	int fd, err = 0;

	rf_state_path(path, sizeof(path), state_dir, "history");
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &st) && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	line[0] = '\n';
	rf_action_encode(a, line + 1, sizeof(line) - 2);
	len = strlen(line);
	line[len++] = '\n';
	if (last == '\n') /* skip the leading newline unless a torn line needs ending */
		err = write(fd, line + 1, len - 1) == (ssize_t)(len - 1) ? 0 : -EIO;
	else
		err = write(fd, line, len) == (ssize_t)len ? 0 : -EIO;
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* Give a a fresh id (one past the highest in the history), requested time and requestor. */
static int action_new(const char *state_dir, struct rf_action *a)
{
	struct rf_action *acts;
	size_t n, i;
	int err;

	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	err = rf_history_load(state_dir, &acts, &n);
	if (err)
		return err;
	a->id = 1;
	for (i = 0; i < n; i++)
		if (acts[i].id >= a->id)
			a->id = acts[i].id + 1;
	free(acts);
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
