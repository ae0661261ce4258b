// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringfence agent: the long-running service. Loads (or adopts) the programs, re-applies the
 * persisted state (a host isolated before a reboot is isolated again), streams blocked-attempt
 * events to stdout and <state>/events.jsonl, re-attaches detached links and records isolation
 * changes it did not make (another agent writing rf_config, or the deadline passing).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "rf_agent.h"
#include "rf_cli.h"
#include "rf_events.h"
#include "rf_state.h"
#include "rf_util.h"

#define RF_EVENTS_LOG_MAX (16 * 1024 * 1024) /* rotate events.jsonl to events.jsonl.1 */

static volatile sig_atomic_t agent_exiting;

static void on_term(int sig)
{
	(void)sig;
	agent_exiting = 1;
}

struct agent {
	struct rf_cli *cli;
	struct rf_maps m;
	struct ring_buffer *rb;
	FILE *log;
	char log_path[PATH_MAX];
	__u64 boot_to_unix;
	char hostname[256];
	int last_isolated; /* -1 unknown */
};

static void logmsg(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "ringfence agent: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
}

/* Append a completed action to the history; the caller holds the state lock. */
static void record_locked(struct agent *ag, const char *type, const char *requestor,
			  const char *comment, const char *error)
{
	struct rf_action a;

	memset(&a, 0, sizeof(a));
	snprintf(a.type, sizeof(a.type), "%s", type);
	snprintf(a.requestor, sizeof(a.requestor), "%s", requestor);
	snprintf(a.comment, sizeof(a.comment), "%s", comment ? comment : "");
	rf_action_record(ag->cli->state_dir, &a, error);
	logmsg("%s: %s", type, comment ? comment : "");
}

static void record(struct agent *ag, const char *type, const char *requestor, const char *comment,
		   const char *error)
{
	int lock = rf_cli_lock(ag->cli);

	record_locked(ag, type, requestor, comment, error);
	rf_state_unlock(lock);
}

static void open_log(struct agent *ag)
{
	struct stat st;

	if (ag->log)
		fclose(ag->log);
	snprintf(ag->log_path, sizeof(ag->log_path), "%s/events.jsonl", ag->cli->state_dir);
	if (!stat(ag->log_path, &st) && st.st_size > RF_EVENTS_LOG_MAX) {
		char old[PATH_MAX + 4];

		snprintf(old, sizeof(old), "%s.1", ag->log_path);
		rename(ag->log_path, old);
	}
	ag->log = fopen(ag->log_path, "ae");
}

static int on_event(void *arg, void *data, size_t len)
{
	struct agent *ag = arg;
	const struct rf_event *e = data;
	struct rf_event_ctx c = { ag->boot_to_unix, NULL, ag->hostname };
	char exe[PATH_MAX];

	if (len < sizeof(*e))
		return 0;
	c.exe_path = rf_event_exe_path(e, exe, sizeof(exe));
	rf_event_json(stdout, e, &c);
	if (ag->log) {
		rf_event_json(ag->log, e, &c);
		fflush(ag->log); /* readers ('ringfence events') follow the file */
		if (ftell(ag->log) > RF_EVENTS_LOG_MAX)
			open_log(ag);
	}
	return 0;
}

static void detach_maps(struct agent *ag)
{
	ring_buffer__free(ag->rb);
	ag->rb = NULL;
	rf_maps_close(&ag->m);
}

/* (Re)load, attach, open maps and the ring buffer. */
static int attach(struct agent *ag)
{
	struct rf_cli *cli = ag->cli;
	int lock, ret;

	detach_maps(ag);
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return lock;
	ret = rf_cli_ensure_loaded(cli, &ag->m, false);
	if (!ret && rf_cli_apply_config(cli, &ag->m))
		logmsg("%s%s", "configuration not applied; running with the persisted rules", "");
	rf_state_unlock(lock);
	if (ret)
		return ret;
	ag->rb = ring_buffer__new(ag->m.events, on_event, ag, NULL);
	if (!ag->rb)
		return -errno;
	return 0;
}

/* After a reboot the maps are new: isolate again if the persisted state says so. */
static void restore_isolation(struct agent *ag)
{
	struct rf_isolation iso;
	struct rf_config cfg;
	__u64 now = rf_now_unix_ns();

	if (rf_isolation_load(ag->cli->state_dir, &iso) || !iso.isolated)
		return;
	if (rf_config_get(&ag->m, &cfg) || rf_cli_isolated_now(&cfg))
		return;
	if (cfg.isolated && cfg.deadline_ns)
		return; /* the kernel deadline passed while we watched: check_flag() records it */
	if (iso.deadline_unix_ns && now >= iso.deadline_unix_ns) {
		iso.isolated = false;
		rf_isolation_save(ag->cli->state_dir, &iso);
		record(ag, "auto-release", "agent", "deadline passed while the agent was not running",
		       NULL);
		return;
	}
	cfg.isolated = RF_ISOLATED;
	cfg.since_unix_ns = iso.since_unix_ns;
	cfg.deadline_ns = iso.deadline_unix_ns ? rf_now_boot_ns() + (iso.deadline_unix_ns - now) : 0;
	if (rf_config_set(&ag->m, &cfg)) {
		record(ag, "restore-isolation", "agent", iso.comment, "cannot write rf_config");
		return;
	}
	record(ag, "restore-isolation", "agent", iso.comment, NULL);
}

/* Record isolation changes that did not come through the CLI (which updates the state file). */
static void check_flag(struct agent *ag)
{
	struct rf_isolation iso;
	struct rf_config cfg;
	int now, lock;

	if (rf_config_get(&ag->m, &cfg))
		return;
	now = rf_cli_isolated_now(&cfg);
	if (now == ag->last_isolated)
		return;
	/*
	 * A CLI that holds the state lock sets the flag first and writes the state file after it:
	 * look again on the next tick rather than mistake its change for an external one.
	 */
	lock = rf_state_trylock(ag->cli->state_dir);
	if (lock < 0)
		return;
	ag->last_isolated = now;
	rf_isolation_load(ag->cli->state_dir, &iso);
	if (iso.isolated == (now != 0))
		goto out; /* made through the CLI: already recorded */
	if (!now && cfg.isolated && cfg.deadline_ns) {
		iso.isolated = false;
		rf_isolation_save(ag->cli->state_dir, &iso);
		record_locked(ag, "auto-release", "kernel", "isolation deadline reached", NULL);
		goto out;
	}
	iso.isolated = now != 0;
	if (now) {
		iso.since_unix_ns = cfg.since_unix_ns ? cfg.since_unix_ns : rf_now_unix_ns();
		iso.deadline_unix_ns = 0;
		snprintf(iso.comment, sizeof(iso.comment), "set through the pinned rf_config map");
	}
	rf_isolation_save(ag->cli->state_dir, &iso);
	record_locked(ag, now ? "external-isolate" : "external-release", "external",
		      "rf_config changed outside the ringfence CLI", NULL);
out:
	rf_state_unlock(lock);
}

/* Re-attach if someone detached a link or removed the pins. */
static void check_links(struct agent *ag)
{
	struct rf_link_state st[16];
	size_t i, missing = 0;
	char which[256] = "";

	rf_links_state(ag->cli->pin_dir, st);
	for (i = 0; i < rf_nr_hooks; i++) {
		if (st[i].attached)
			continue;
		missing++;
		if (strlen(which) + strlen(rf_hooks[i].label) + 2 < sizeof(which)) {
			strcat(which, which[0] ? " " : "");
			strcat(which, rf_hooks[i].label);
		}
	}
	if (!missing)
		return;
	if (attach(ag)) {
		record(ag, "reattach", "agent", which, "re-attaching failed");
		return;
	}
	record(ag, "reattach", "agent", which, NULL);
	restore_isolation(ag);
}

int rf_agent_run(struct rf_cli *cli, int interval_ms)
{
	struct agent ag = { .cli = cli, .m = { -1, -1, -1, -1, -1, -1 }, .last_isolated = -1 };
	int ret, ticks = 0, agent_lock;

	if ((ret = rf_cli_need_root()))
		return ret;
	if (interval_ms <= 0)
		interval_ms = 1000;
	signal(SIGINT, on_term);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	agent_lock = rf_agent_lock(cli->state_dir);
	if (agent_lock == -EBUSY) {
		fprintf(stderr, "ringfence agent: another agent is running for %s (see %s/agent.lock)\n",
			cli->state_dir, cli->state_dir);
		return EXIT_OPFAIL;
	}
	if (agent_lock < 0) {
		fprintf(stderr, "ringfence agent: cannot use state dir %s: %s\n", cli->state_dir,
			strerror(-agent_lock));
		return EXIT_OPFAIL;
	}
	ret = attach(&ag);
	if (ret) {
		fprintf(stderr, "ringfence agent: cannot load: %s\n", strerror(-ret));
		rf_state_unlock(agent_lock);
		return EXIT_OPFAIL;
	}
	open_log(&ag);
	ag.boot_to_unix = rf_now_unix_ns() - rf_now_boot_ns();
	gethostname(ag.hostname, sizeof(ag.hostname) - 1);
	restore_isolation(&ag);
	check_flag(&ag);
	record(&ag, "agent-start", "agent", cli->cg_dir, NULL);

	while (!agent_exiting) {
		ret = ring_buffer__poll(ag.rb, 100);
		if (ret < 0 && ret != -EINTR) {
			logmsg("%s%s", "ring buffer poll failed; re-attaching", "");
			attach(&ag);
		}
		ticks += 100;
		if (ticks >= interval_ms) {
			ticks = 0;
			check_links(&ag);
			check_flag(&ag);
			if (cli->packet_guard) /* interfaces that appeared since */
				rf_tc_attach_all(cli->pin_dir, NULL, 0);
			if (ag.log)
				fflush(ag.log);
		}
	}
	/* leaving isolation exactly as it is: only an explicit release ends it */
	detach_maps(&ag);
	if (ag.log)
		fclose(ag.log);
	rf_state_unlock(agent_lock);
	return 0;
}
