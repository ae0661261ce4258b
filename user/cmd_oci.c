// SPDX-License-Identifier: GPL-2.0-only
/*
 * oci-hook: an OCI runtime hook (createRuntime) that isolates a restarted container again before
 * its first process runs, instead of at the agent's next scan.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "rf_cmd.h"
#include "rf_json.h"
#include "rf_target.h"
#include "rf_util.h"

const char rf_help_oci_hook[] =
    "Usage: ringfence oci-hook [STATE-FILE]\n"
    "OCI runtime hook for the createRuntime stage (runc, crun; Docker, Podman, containerd,\n"
    "CRI-O): reads the container's state (JSON, from stdin or STATE-FILE) and, when that\n"
    "container's cgroup is a target recorded as isolated or audited (a restart: the runtime\n"
    "made a new cgroup at the same path), loads the programs on the new cgroup and isolates it\n"
    "again before the runtime starts the container's process. Exits 0 when done or when the\n"
    "container is no isolated target; 1 when it is one and could not be isolated (the runtime\n"
    "then does not start it); 2 when the state cannot be read. See docs/ringfence.8 for the\n"
    "hooks.d and containerd/Docker configuration.\n";

#define RF_OCI_STATE_MAX (1 << 20) /* bytes of state read at most */

/* What the hook needs from the OCI state. */
struct oci_state {
	char id[RF_TARGET_ID_LEN + 1]; /* lower-case; "" when it is no 64-hex container id */
	char raw_id[256];
	long long pid; /* the container's init process, 0 when not given */
};

/* Parse the OCI state document; -EINVAL (printed) when it is not one. */
static int parse_state(const char *text, size_t len, struct oci_state *st)
{
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_t *id, *pid;
	int ret = -EINVAL;

	memset(st, 0, sizeof(*st));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rf_err("the OCI state is no JSON (line %d: %s): a runtime passes the container's "
		       "state on stdin",
		       jerr.line, jerr.text);
		return -EINVAL;
	}
	id = json_object_get(root, "id");
	pid = json_object_get(root, "pid");
	if (!json_is_string(id) || !json_string_length(id) ||
	    json_string_length(id) >= sizeof(st->raw_id)) {
		rf_err("the OCI state has no container \"id\" string");
	} else if (pid && !json_is_null(pid) &&
		   (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		    json_integer_value(pid) > INT_MAX)) {
		rf_err("the OCI state's \"pid\" is no process id");
	} else {
		snprintf(st->raw_id, sizeof(st->raw_id), "%s", json_string_value(id));
		if (rf_target_container_id(st->raw_id, st->id, sizeof(st->id)) ||
		    strlen(st->id) != RF_TARGET_ID_LEN)
			st->id[0] = '\0';
		st->pid = json_is_integer(pid) ? json_integer_value(pid) : 0;
		ret = 0;
	}
	return ret;
}

/* Read the state from path (NULL or "-": stdin). */
static int read_state(const char *path, struct oci_state *st)
{
	/* a file of our own is closed at the end; stdin (fd 0) is not ours to close */
	_cleanup_close_ int file =
	    path && strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	int fd = path && strcmp(path, "-") ? file : 0;
	_cleanup_free_ char *buf = malloc(RF_OCI_STATE_MAX);
	size_t n = 0;
	ssize_t r = 0;
	int ret;

	if (fd < 0 || !buf) {
		ret = fd < 0 ? -errno : -ENOMEM;
		rf_err("cannot read the OCI state %s: %s", path, strerror(-ret));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	while (n < RF_OCI_STATE_MAX && (r = read(fd, buf + n, RF_OCI_STATE_MAX - n)) > 0)
		n += (size_t)r;
	ret = r < 0 ? -errno : n == RF_OCI_STATE_MAX ? -EFBIG : 0;
	if (ret)
		rf_err("cannot read the OCI state: %s", strerror(-ret));
	else
		ret = parse_state(buf, n, st);
	return ret ? -EINVAL : 0;
}

/*
 * The container's cgroup, below the cgroup2 mount, into rel: the cgroup of its init process cut
 * at the outermost directory named for its id (rf_target_container_cgroup()), or the init
 * process's own cgroup when none is. -ENOENT without a pid.
 */
static int container_cgroup(const struct oci_state *st, char *rel, size_t len)
{
	char pid[24], own[PATH_MAX];
	int ret;

	if (!st->pid)
		return -ENOENT;
	snprintf(pid, sizeof(pid), "%lld", st->pid);
	if ((ret = rf_target_pid_cgroup(NULL, pid, own, sizeof(own))))
		return ret;
	if (!st->id[0] || rf_target_container_cgroup(own, st->id, rel, len))
		snprintf(rel, len, "%s", own);
	return 0;
}

/*
 * The recorded target of this container into name: by its cgroup path, else (no process given)
 * by its id. 1 found, 0 none; -EXDEV when an isolated target of its id was recorded at another
 * path than the one it runs in, -ENOTUNIQ when several are (fail closed: it is not started
 * unisolated); another -errno when the records cannot be read.
 */
static int find_target(const struct rf_ctx *ctx, const struct oci_state *st, char *name, size_t len)
{
	char rel[PATH_MAX];
	int n = 0, ret = container_cgroup(st, rel, sizeof(rel));

	if (ret && ret != -ENOENT)
		rf_warn("cannot tell the cgroup of process %lld: %s", st->pid, strerror(-ret));
	if (!ret)
		n = rf_svc_find_record(ctx, rel, NULL, name, len);
	if (n || !st->id[0])
		return n;
	n = rf_svc_find_record(ctx, NULL, st->id, name, len);
	if (n > 0 && !ret)
		return -EXDEV;
	return n > 1 ? -ENOTUNIQ : n;
}

/* What the hook did, for a runtime's log: {"container": ID, "cgroup": DIR, "isolated": true}. */
static void print_done(const struct rf_ctx *ctx, const struct oci_state *st, const char *dir,
		       const char *safe_id)
{
	json_t *o;

	if (!ctx->json) {
		printf("container %s: isolated again (%s)\n", safe_id, dir);
		return;
	}
	/* the id comes from the runtime's state: rf_jstr() and the one writer, so no byte of it
	 * reaches the log raw */
	o = json_pack("{s:o, s:o, s:b}", "container", rf_jstr(st->raw_id), "cgroup", rf_jstr(dir),
		      "isolated", 1);
	rf_json_write(stdout, o, true);
}

/*
 * Load the programs on the target's new cgroup and isolate it again, under its lock. Then the
 * pins of the cgroup it had (gone: cgroup ids are not reused) are removed, so a crash-looping
 * container does not pile up instances that enforce on nothing.
 */
static int isolate_again(const struct rf_ctx *base, const char *name, struct rf_ctx *t)
{
	struct rf_maps m = RF_MAPS_INIT;
	char old[PATH_MAX] = "";
	__u64 old_id = 0;
	int lock, ret;

	/* the pins it had: read before the lock, which records the new ones */
	if (rf_svc_record_pins(base, name, old, sizeof(old), &old_id))
		old[0] = '\0';
	lock = rf_svc_lock(t);
	if (lock < 0)
		return lock;
	ret = rf_svc_ensure_loaded(t, &m, true);
	if (!ret)
		ret =
		    rf_svc_restore_isolation(t, &m, &(struct rf_restore){.requestor = "oci-hook"});
	rf_maps_close(&m);
	if (ret >= 0 && old[0] && old_id && old_id != t->cg_id && strcmp(old, t->pin_dir) &&
	    !rf_unload(old))
		rmdir(old);
	rf_state_unlock(lock);
	return ret < 0 ? ret : 0;
}

int rf_cmd_oci_hook(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	char name[NAME_MAX + 1], safe[256];
	struct oci_state st;
	_cleanup_free_ struct rf_ctx *t = NULL;
	int n, ret;

	if (o->argc > 1)
		return rf_usage_error("oci-hook takes one state file at most");
	if (read_state(o->argc ? o->argv[0] : NULL, &st))
		return EXIT_USAGE;
	rf_safe_str(st.raw_id, strlen(st.raw_id), safe, sizeof(safe));
	n = find_target(ctx, &st, name, sizeof(name));
	if (n == -EXDEV || n == -ENOTUNIQ)
		rf_err("container %s was isolated, but %s: isolate it again by --cgroup or --pid "
		       "once it runs, or release its old target (see 'ringfence status --all')",
		       safe,
		       n == -EXDEV ? "at another cgroup path than the one it now runs in"
				   : "several isolated targets carry its id");
	else if (n < 0)
		rf_err("cannot read the target records in %s/targets: %s", ctx->state_base,
		       strerror(-n));
	if (n < 0)
		return EXIT_OPFAIL; /* it may be an isolated one: do not let it start */
	if (n == 0)
		return 0; /* not an isolated container: nothing to do */
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return EXIT_OPFAIL;
	ret = rf_svc_target_ctx(ctx, name, t);
	if (ret)
		rf_err("container %s was isolated, but its cgroup %s is not usable: %s", safe,
		       t->cg_rel, strerror(-ret));
	else if ((ret = isolate_again(ctx, name, t)))
		rf_err("container %s was isolated, but isolating its new cgroup %s failed: %s",
		       safe, t->cg_dir, strerror(-ret));
	else
		print_done(ctx, &st, t->cg_dir, safe);
	return ret ? EXIT_OPFAIL : 0;
}
