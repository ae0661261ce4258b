// SPDX-License-Identifier: GPL-2.0-only
/* Plumbing shared by the CLI commands and the agent. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rf_cli.h"
#include "rf_config.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_state.h"
#include "rf_util.h"

int rf_cli_need_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "ringfence: this command needs root (CAP_BPF, CAP_NET_ADMIN and "
				"CAP_SYS_ADMIN to load and attach eBPF): run it with sudo\n");
		return EXIT_OPFAIL;
	}
	return 0;
}

/* Resolve the target cgroup; prints the problem and returns EXIT_OPFAIL on failure. */
int rf_cli_resolve_cgroup(struct rf_cli *cli)
{
	char mnt[PATH_MAX];
	int err;

	if (cli->cg_id)
		return 0;
	if (rf_cgroup2_mount(mnt, sizeof(mnt))) {
		fprintf(stderr, "ringfence: no cgroup2 filesystem is mounted: mount one with "
				"'mount -t cgroup2 none /sys/fs/cgroup' (or /sys/fs/cgroup/unified on "
				"hybrid hosts)\n");
		return EXIT_OPFAIL;
	}
	err = rf_cgroup_resolve(cli->cgroup ? cli->cgroup : mnt, cli->cg_dir, sizeof(cli->cg_dir),
				&cli->cg_id);
	if (err) {
		fprintf(stderr, "ringfence: cgroup %s is not usable: %s (cgroup2 is mounted at %s: give "
				"a directory below it, e.g. --cgroup %s/test, or a path relative to it)\n",
			cli->cgroup ? cli->cgroup : mnt,
			err == -ENOTDIR ? "not a cgroup2 directory" : strerror(-err), mnt, mnt);
		return EXIT_OPFAIL;
	}
	return 0;
}

int rf_cli_lock(struct rf_cli *cli)
{
	int fd = rf_state_lock(cli->state_dir);

	if (fd == -EBUSY)
		fprintf(stderr, "ringfence: another ringfence command holds %s/lock; try again when "
				"it has finished\n",
			cli->state_dir);
	else if (fd < 0)
		fprintf(stderr, "ringfence: failed to lock state dir %s: %s (set --state-dir)\n",
			cli->state_dir, strerror(-fd));
	return fd;
}

/* Load/attach if needed and open the maps. Prints the problem on failure. */
int rf_cli_ensure_loaded(struct rf_cli *cli, struct rf_maps *m, bool with_config)
{
	char err[RF_ERR_MAX] = "";
	int ret;

	ret = rf_cli_resolve_cgroup(cli);
	if (ret)
		return -EINVAL;
	if (!cli->btf) {
		struct rf_conf conf;

		/* only for the btf setting: a broken config is reported when it is applied */
		if (!rf_conf_load(cli->config, &conf, err, sizeof(err)) && conf.btf[0])
			cli->btf = strdup(conf.btf);
		rf_conf_free(&conf);
		err[0] = '\0';
	}
	ret = rf_load(cli->pin_dir, cli->cg_dir, cli->cg_id, cli->btf, cli->verbose, err,
		      sizeof(err));
	if (ret) {
		fprintf(stderr, "ringfence: %s\n", err[0] ? err : strerror(-ret));
		return ret;
	}
	ret = rf_maps_open(cli->pin_dir, m);
	if (ret) {
		fprintf(stderr, "ringfence: failed to open pinned maps in %s: %s\n", cli->pin_dir,
			strerror(-ret));
		return ret;
	}
	ret = rf_cli_apply_persisted(cli, m);
	if (!ret && with_config)
		ret = rf_cli_apply_config(cli, m);
	return ret;
}

int rf_cli_apply_persisted(struct rf_cli *cli, struct rf_maps *m)
{
	char **lines = NULL, err[RF_ERR_MAX];
	size_t n = 0, i;
	int ret;

	ret = rf_rules_load(cli->state_dir, &lines, &n);
	if (ret) {
		fprintf(stderr, "ringfence: failed to read %s/rules: %s\n", cli->state_dir,
			strerror(-ret));
		return ret;
	}
	for (i = 0; i < n; i++) {
		struct rf_rule r;

		if (rf_rule_parse_line(lines[i], &r, err, sizeof(err))) {
			fprintf(stderr, "ringfence: warning: %s/rules line %zu ignored: %s\n",
				cli->state_dir, i + 1, err);
			continue;
		}
		ret = rf_policy_change(m, &r, true, cli->cg_dir, err, sizeof(err));
		if (ret && ret != -EEXIST)
			fprintf(stderr, "ringfence: warning: persisted rule '%s' not applied: %s\n",
				lines[i], err);
	}
	rf_lines_free(lines, n);
	rf_cli_sync_flags(m);
	return 0;
}

void rf_cli_sync_flags(struct rf_maps *m)
{
	struct rf_config cfg;
	__u32 want;

	if (rf_config_get(m, &cfg))
		return;
	want = rf_map_count(m->exe, sizeof(struct rf_exe_key), 1) ? RF_CFG_EXE_RULES : 0;
	if ((cfg.flags & RF_CFG_EXE_RULES) == want)
		return;
	cfg.flags = (cfg.flags & ~RF_CFG_EXE_RULES) | want;
	rf_config_set(m, &cfg);
}

bool rf_cli_isolated_now(const struct rf_config *cfg)
{
	if (!cfg->isolated)
		return false;
	return !cfg->deadline_ns || rf_now_boot_ns() < cfg->deadline_ns;
}

static void action_init(struct rf_action *a, const char *type, const char *comment)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->type, sizeof(a->type), "%s", type);
	snprintf(a->comment, sizeof(a->comment), "%s", comment ? comment : "");
}

static void history_warning(struct rf_cli *cli, int ret)
{
	if (ret)
		fprintf(stderr, "ringfence: warning: failed to record action in %s/history: %s\n",
			cli->state_dir, strerror(-ret));
}

void rf_cli_action_start(struct rf_cli *cli, struct rf_action *a, const char *type,
			 const char *comment)
{
	action_init(a, type, comment);
	history_warning(cli, rf_action_begin(cli->state_dir, a));
}

void rf_cli_action_defer(struct rf_action *a, const char *type, const char *comment)
{
	action_init(a, type, comment);
	a->status = RF_ACT_PENDING;
	a->requested_unix_ns = rf_now_unix_ns();
}

int rf_cli_action_finish(struct rf_cli *cli, struct rf_action *a, const char *error, int code)
{
	if (a->status == RF_ACT_PENDING)
		history_warning(cli, rf_action_record(cli->state_dir, a, error));
	else if (a->id)
		rf_action_end(cli->state_dir, a, error);
	return code;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Membership in a list sorted with cmp_str. */
static bool line_in(char *const *sorted, size_t n, const char *s)
{
	return n && bsearch(&s, sorted, n, sizeof(*sorted), cmp_str) != NULL;
}

/* Id of the map behind fd: a new id means the maps were created anew and must be refilled. */
static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * Make the maps match the config file: add what it allows first, then remove what an earlier
 * config allowed and this one does not (never a moment with less than both allow), then set the
 * built-in switches. A config with any error changes nothing.
 */
int rf_cli_apply_config(struct rf_cli *cli, struct rf_maps *m)
{
	char err[RF_ERR_MAX] = "", path[PATH_MAX], **want = NULL, **had = NULL, **user = NULL;
	char header[64];
	bool same_map = false, unchanged = false;
	const char *resolv = getenv("RINGFENCE_RESOLV_CONF");
	size_t nwant = 0, nhad = 0, nuser = 0, i;
	struct rf_config cfg;
	struct rf_conf conf;
	int ret;

	ret = rf_conf_load(cli->config, &conf, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ringfence: %s\nringfence: the configuration was not applied; fix "
				"the file and run the command again\n",
			err);
		return ret;
	}
	ret = rf_conf_rule_lines(&conf, resolv && *resolv ? resolv : "/etc/resolv.conf", &want,
				 &nwant);
	if (ret)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", cli->state_dir, RF_CONFIG_APPLIED);
	snprintf(header, sizeof(header), "# map-id %u", map_id(m->net));
	/* the first line names the map the rules went into; a new map holds none of them */
	rf_state_lines_load(cli->state_dir, RF_CONFIG_APPLIED, &had, &nhad);
	if (nhad && had[0][0] == '#') {
		same_map = !strcmp(had[0], header);
		free(had[0]);
		memmove(had, had + 1, --nhad * sizeof(*had));
	}
	if (same_map && nhad == nwant) {
		for (i = 0; i < nwant && !strcmp(want[i], had[i]); i++)
			;
		unchanged = i == nwant;
	}
	/* add first ... */
	for (i = 0; i < nwant && !unchanged; i++) {
		struct rf_rule r;

		if (rf_rule_parse_line(want[i], &r, err, sizeof(err))) {
			fprintf(stderr, "ringfence: internal error on config rule '%s': %s\n", want[i],
				err);
			continue;
		}
		r.entry.origin = i < conf.nrules ? RF_ENTRY_CONFIG : RF_ENTRY_BUILTIN;
		ret = rf_policy_change(m, &r, true, cli->cg_dir, err, sizeof(err));
		if (ret && ret != -EEXIST)
			fprintf(stderr, "ringfence: warning: %s: '%s' not applied: %s\n", cli->config,
				want[i], err);
	}
	ret = 0;
	/* ... then remove what only the previous config allowed (and allow add did not) */
	if (!unchanged) {
		char **sorted_want = malloc((nwant ? nwant : 1) * sizeof(*sorted_want));

		if (!sorted_want) {
			ret = -ENOMEM;
			goto out;
		}
		if (nwant) {
			memcpy(sorted_want, want, nwant * sizeof(*want));
			qsort(sorted_want, nwant, sizeof(*sorted_want), cmp_str);
		}
		rf_rules_load(cli->state_dir, &user, &nuser);
		if (nuser)
			qsort(user, nuser, sizeof(*user), cmp_str);
		for (i = 0; i < nhad; i++) {
			struct rf_rule r;

			if (line_in(sorted_want, nwant, had[i]) || line_in(user, nuser, had[i]))
				continue;
			if (!rf_rule_parse_line(had[i], &r, err, sizeof(err)))
				rf_policy_change(m, &r, false, cli->cg_dir, err, sizeof(err));
		}
		free(sorted_want);
	}
	if (!unchanged) {
		size_t len = strlen(header) + 2, off = 0;
		char *buf;

		for (i = 0; i < nwant; i++)
			len += strlen(want[i]) + 1;
		buf = malloc(len + 1);
		if (buf) {
			off += (size_t)sprintf(buf, "%s\n", header);
			for (i = 0; i < nwant; i++)
				off += (size_t)sprintf(buf + off, "%s\n", want[i]);
			rf_write_file_atomic(path, buf, off);
			free(buf);
		}
	}
	if (!rf_config_get(m, &cfg)) {
		cfg.builtins = (conf.dhcp ? RF_BUILTIN_DHCP : 0) | (conf.nd ? RF_BUILTIN_ND : 0);
		rf_config_set(m, &cfg);
	}
	rf_cli_sync_flags(m);
	rf_cli_packet_guard(cli, conf.packet_guard);
out:
	rf_lines_free(want, nwant);
	rf_lines_free(had, nhad);
	rf_lines_free(user, nuser);
	rf_conf_free(&conf);
	return ret;
}

void rf_cli_packet_guard(struct rf_cli *cli, int mode)
{
	const char *env = getenv("RINGFENCE_PACKET_GUARD");
	char mnt[PATH_MAX], names[512];
	int ret;

	if (env && *env && rf_conf_guard_word(env) != -2)
		mode = rf_conf_guard_word(env);
	if (mode == RF_GUARD_AUTO)
		mode = !rf_cgroup2_mount(mnt, sizeof(mnt)) && !strcmp(mnt, cli->cg_dir) ? RF_GUARD_ON
											 : RF_GUARD_OFF;
	cli->packet_guard = mode == RF_GUARD_ON;
	if (!cli->packet_guard)
		return;
	ret = rf_tc_attach_all(cli->pin_dir, names, sizeof(names));
	if (ret < 0)
		fprintf(stderr, "ringfence: warning: packet-socket guard not attached everywhere: %s "
				"(AF_PACKET sockets may bypass isolation on those interfaces)\n",
			strerror(-ret));
	else if (ret > 0 && cli->verbose)
		fprintf(stderr, "ringfence: packet-socket guard attached to %s\n", names);
}
