// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "rf_state.h"
#include "rf_util.h"

static void state_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int state_lock_wait(const char *state_dir, int timeout_ms)
{
	char path[PATH_MAX];
	int fd, waited = 0, err;

	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	state_path(path, sizeof(path), state_dir, "lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		struct timespec ts = { 0, 50 * 1000000L };

		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			close(fd);
			return err;
		}
		nanosleep(&ts, NULL);
		waited += 50;
	}
	return fd;
}

int rf_state_lock(const char *state_dir)
{
	return state_lock_wait(state_dir, RF_LOCK_TIMEOUT_MS);
}

int rf_state_trylock(const char *state_dir)
{
	return state_lock_wait(state_dir, 0);
}

int rf_agent_lock(const char *state_dir)
{
	char path[PATH_MAX], pid[32];
	int fd, err;

	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	state_path(path, sizeof(path), state_dir, "agent.lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return err;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || write(fd, pid, strlen(pid)) < 0) {
		/* the pid is informative only */
	}
	return fd;
}

bool rf_agent_running(const char *state_dir)
{
	char path[PATH_MAX];
	bool running;
	int fd;

	state_path(path, sizeof(path), state_dir, "agent.lock");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	running = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return running;
}

void rf_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

void rf_lines_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static int split_lines(char *data, char ***out, size_t *n)
{
	char **lines = NULL, *save = NULL, *l;
	size_t cnt = 0;

	for (l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char **nl;

		if (!*l)
			continue;
		nl = lines;
		if ((cnt & (cnt - 1)) == 0) { /* grow at powers of two */
			nl = realloc(lines, (cnt ? cnt * 2 : 1) * sizeof(*lines));
			if (!nl) {
				rf_lines_free(lines, cnt);
				return -ENOMEM;
			}
			lines = nl;
		}
		if (!(nl[cnt] = strdup(l))) {
			rf_lines_free(lines, cnt);
			return -ENOMEM;
		}
		cnt++;
	}
	*out = lines;
	*n = cnt;
	return 0;
}

int rf_rules_load(const char *state_dir, char ***lines, size_t *n)
{
	return rf_state_lines_load(state_dir, "rules", lines, n);
}

int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n)
{
	char path[PATH_MAX], *data;
	int err;

	*lines = NULL;
	*n = 0;
	state_path(path, sizeof(path), state_dir, name);
	err = rf_read_file(path, &data, NULL);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = split_lines(data, lines, n);
	free(data);
	return err;
}

int rf_rules_save(const char *state_dir, char *const *lines, size_t n)
{
	char path[PATH_MAX], *buf;
	size_t i, len = 0, off = 0;
	int err;

	for (i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(buf + off, "%s\n", lines[i]);
	err = rf_mkdir_p(state_dir, 0700);
	if (!err) {
		state_path(path, sizeof(path), state_dir, "rules");
		err = rf_write_file_atomic(path, buf, off);
	}
	free(buf);
	return err;
}

/* Escape \, tab and newline so a field stays on one line and in one column. */
static size_t esc(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 2 < len; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\\' ? '\\' : *s == '\t' ? 't' : 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return o;
}

static void unesc(char *s)
{
	char *r = s, *w = s;

	for (; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso)
{
	char path[PATH_MAX], buf[4096], c[2100];
	int err;

	esc(c, sizeof(c), iso->comment);
	snprintf(buf, sizeof(buf), "isolated=%d\nsince=%llu\ndeadline=%llu\ncomment=%s\n",
		 iso->isolated ? 1 : 0, (unsigned long long)iso->since_unix_ns,
		 (unsigned long long)iso->deadline_unix_ns, c);
	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	state_path(path, sizeof(path), state_dir, "isolation");
	return rf_write_file_atomic(path, buf, strlen(buf));
}

int rf_isolation_load(const char *state_dir, struct rf_isolation *iso)
{
	char path[PATH_MAX], *data, *save = NULL, *l;
	int err;

	memset(iso, 0, sizeof(*iso));
	state_path(path, sizeof(path), state_dir, "isolation");
	err = rf_read_file(path, &data, NULL);
	if (err)
		return err == -ENOENT ? 0 : err;
	for (l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "isolated=", 9))
			iso->isolated = atoi(l + 9) != 0;
		else if (!strncmp(l, "since=", 6))
			iso->since_unix_ns = strtoull(l + 6, NULL, 10);
		else if (!strncmp(l, "deadline=", 9))
			iso->deadline_unix_ns = strtoull(l + 9, NULL, 10);
		else if (!strncmp(l, "comment=", 8)) {
			unesc(l + 8);
			snprintf(iso->comment, sizeof(iso->comment), "%s", l + 8);
		}
	}
	free(data);
	return 0;
}

static const char *const status_names[] = { "Pending", "InProgress", "Succeeded", "Failed" };

const char *rf_action_status_name(enum rf_action_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "Unknown";
}

void rf_action_encode(const struct rf_action *a, char *buf, size_t len)
{
	char t[80], r[300], c[2100], e[1100];

	esc(t, sizeof(t), a->type);
	esc(r, sizeof(r), a->requestor);
	esc(c, sizeof(c), a->comment);
	esc(e, sizeof(e), a->error);
	snprintf(buf, len, "%llu\t%s\t%s\t%s\t%llu\t%llu\t%s\t%s", (unsigned long long)a->id, t,
		 rf_action_status_name(a->status), r, (unsigned long long)a->requested_unix_ns,
		 (unsigned long long)a->completed_unix_ns, c, e);
}

int rf_action_decode(const char *line, struct rf_action *a)
{
	char buf[4096], *f[8], *p;
	int i, n = 0;

	if (strlen(line) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, line);
	f[n++] = buf;
	for (p = buf; *p && n < 8; p++) {
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	if (n != 8 || strchr(f[7], '\t'))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	for (i = 0; i < 6; i++) /* id and the two times: plain decimal digits only */
		if (i == 0 || i >= 4)
			for (p = f[i]; *p || p == f[i]; p++)
				if (*p < '0' || *p > '9')
					return -EINVAL;
	errno = 0;
	a->id = strtoull(f[0], &p, 10);
	if (errno || !a->id || a->id == ULLONG_MAX)
		return -EINVAL;
	for (i = 1; i < 8; i++)
		unesc(f[i]);
	snprintf(a->type, sizeof(a->type), "%s", f[1]);
	a->status = (enum rf_action_status)4;
	for (i = 0; i < 4; i++)
		if (!strcmp(f[2], status_names[i]))
			a->status = (enum rf_action_status)i;
	if ((unsigned)a->status >= 4)
		return -EINVAL;
	snprintf(a->requestor, sizeof(a->requestor), "%s", f[3]);
	a->requested_unix_ns = strtoull(f[4], NULL, 10);
	a->completed_unix_ns = strtoull(f[5], NULL, 10);
	snprintf(a->comment, sizeof(a->comment), "%s", f[6]);
	snprintf(a->error, sizeof(a->error), "%s", f[7]);
	return 0;
}

int rf_history_load(const char *state_dir, struct rf_action **acts, size_t *n)
{
	char path[PATH_MAX], *data, **lines = NULL;
	size_t nl = 0, i, cnt = 0;
	struct rf_action *out;
	int err;

	*acts = NULL;
	*n = 0;
	state_path(path, sizeof(path), state_dir, "history");
	err = rf_read_file(path, &data, NULL);
	if (err)
		return err == -ENOENT ? 0 : err;
	err = split_lines(data, &lines, &nl);
	free(data);
	if (err)
		return err;
	out = calloc(nl ? nl : 1, sizeof(*out));
	if (!out) {
		rf_lines_free(lines, nl);
		return -ENOMEM;
	}
	for (i = 0; i < nl; i++)
		if (!rf_action_decode(lines[i], &out[cnt]))
			cnt++;
	rf_lines_free(lines, nl);
	*acts = out;
	*n = cnt;
	return 0;
}

/* Rewrite the history with a replaced or appended; atomic (temp + rename). */
static int history_put(const char *state_dir, const struct rf_action *a)
{
	struct rf_action *acts;
	char path[PATH_MAX], line[4096], *buf;
	size_t n, i, off = 0;
	int err, replaced = 0;

	err = rf_history_load(state_dir, &acts, &n);
	if (err)
		return err;
	buf = malloc((n + 1) * sizeof(line));
	if (!buf) {
		free(acts);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct rf_action *x = acts[i].id == a->id ? a : &acts[i];

		replaced |= acts[i].id == a->id;
		rf_action_encode(x, line, sizeof(line));
		off += (size_t)sprintf(buf + off, "%s\n", line);
	}
	if (!replaced) {
		rf_action_encode(a, line, sizeof(line));
		off += (size_t)sprintf(buf + off, "%s\n", line);
	}
	state_path(path, sizeof(path), state_dir, "history");
	err = rf_write_file_atomic(path, buf, off);
	free(buf);
	free(acts);
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
	return history_put(state_dir, a);
}

int rf_action_end(const char *state_dir, struct rf_action *a, const char *error)
{
	action_close(a, error);
	return history_put(state_dir, a);
}

int rf_action_record(const char *state_dir, struct rf_action *a, const char *error)
{
	int err = action_new(state_dir, a);

	if (err)
		return err;
	action_close(a, error);
	return history_put(state_dir, a);
}

void rf_action_json(FILE *f, const struct rf_action *a)
{
	char req[40], done[40];

	rf_format_time(a->requested_unix_ns, req, sizeof(req));
	rf_format_time(a->completed_unix_ns, done, sizeof(done));
	fprintf(f, "{\"id\":%llu,\"type\":", (unsigned long long)a->id);
	rf_json_str(f, a->type);
	fprintf(f, ",\"status\":\"%s\",\"requestor\":", rf_action_status_name(a->status));
	rf_json_str(f, a->requestor);
	fprintf(f, ",\"comment\":");
	rf_json_str(f, a->comment);
	fprintf(f, ",\"requested\":\"%s\",\"completed\":", req);
	if (a->completed_unix_ns)
		fprintf(f, "\"%s\"", done);
	else
		fputs("null", f);
	fputs(",\"error\":", f);
	if (a->error[0])
		rf_json_str(f, a->error);
	else
		fputs("null", f);
	fputc('}', f);
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
