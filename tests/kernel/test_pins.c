// SPDX-License-Identifier: GPL-2.0-only
/*
 * Faults of the pins themselves (issue 20): a map that is not ringfence's pinned under one of its
 * names must not stop isolation (it is moved aside, isolation goes ahead, the command exits 1 and
 * the history says so), nor be written in place of the map the programs enforce.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "ringfence.h"

#define PORT_WAY_BACK 8701
#define PORT_OTHER    8702

TestSuite(pins, .init = rfp_setup, .fini = rfp_teardown, .timeout = 120);

static const char *pin(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, name);
	return path;
}

/* Pin a map of the given type and sizes at <pin dir>/name (replacing what is there). */
static void pin_foreign(const char *name, enum bpf_map_type type, __u32 key, __u32 value,
			__u32 entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, o,
		    .map_flags = type == BPF_MAP_TYPE_LPM_TRIE ? BPF_F_NO_PREALLOC : 0);
	int fd = bpf_map_create(type, name, key, value, entries, &o);

	cr_assert_geq(fd, 0, "cannot create a map like %s: %s", name, strerror(errno));
	unlink(pin(name));
	cr_assert_eq(bpf_obj_pin(fd, pin(name)), 0, "pin %s: %s", pin(name), strerror(errno));
	close(fd);
}

/* How many <pin dir>/name_foreign_* there are. */
static size_t moved_aside(const char *name)
{
	char pat[PATH_MAX + 32];
	glob_t g;
	size_t n;

	snprintf(pat, sizeof(pat), "%s_foreign_*", pin(name));
	if (glob(pat, 0, NULL, &g))
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

static void allow_way_back(void)
{
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8701", "dir",
		   "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port", "8701", "dir",
		   "out", NULL);
}

/* isolate over the foreign pin: exit 1 with a loud warning, and isolated all the same. */
static void isolate_degraded(const struct rft_server *srv, const char *name)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(rft_cli(&out, &err, "isolate", "--comment", name, NULL), 1,
		     "isolate over a foreign %s must exit 1 (degraded): %s%s", name, out, err);
	cr_expect(err && strstr(err, "not ringfence's") && strstr(err, pin(name)),
		  "the warning must name the foreign pin: %s", err);
	free(out), free(err);
	cr_expect_eq(moved_aside(name), 1, "%s was not moved aside", name);
	rfp_expect_tcp_ports(srv, PORT_WAY_BACK, PORT_OTHER, name);
	cr_expect_eq(rft_status_isolated(), 1, "status after isolating over a foreign %s", name);
	cr_assert_eq(rft_cli(&out, NULL, "history", "--json", NULL), 0);
	cr_expect(strstr(out, "\"type\":\"foreign-pin\"") && strstr(out, "foreign pin moved aside"),
		  "the history must have the foreign pin: %s", out);
	free(out);
}

/*
 * Nothing attached, a foreign map pinned as each of the maps with state: isolate goes ahead on
 * fresh maps (the persisted rules applied), moves the foreign pin aside and exits 1; the agent
 * starts over it too.
 */
Test(pins, foreign_pin_moved_aside_and_isolated_anyway)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	static const struct {
		const char *name;
		enum bpf_map_type type;
		__u32 key, value;
	} cases[] = {
	    {"rf_config", BPF_MAP_TYPE_ARRAY, 4, 256},
	    {"rf_allow_net", BPF_MAP_TYPE_HASH, 8, 8},
	    {"rf_allow_exe_v2", BPF_MAP_TYPE_HASH, 16, 8},
	};
	struct rft_server srv;
	size_t i;
	pid_t agent;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_way_back();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rft_cli_ok(0, "unload", "--force", NULL);
		cr_assert_eq(mkdir(rft.pin_dir, 0700) == 0 || errno == EEXIST, 1);
		pin_foreign(cases[i].name, cases[i].type, cases[i].key, cases[i].value, 4);
		isolate_degraded(&srv, cases[i].name);
		rft_cli_ok(0, "release", NULL);
	}

	/* the agent starts over a foreign pin (it used to exit: "cannot load") */
	rft_cli_ok(0, "unload", NULL);
	cr_assert_eq(mkdir(rft.pin_dir, 0700) == 0 || errno == EEXIST, 1); /* _foreign_ pins */
	pin_foreign("rf_config", BPF_MAP_TYPE_HASH, 4, 4, 4);
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "the agent did not start over a foreign rf_config: %d", agent);
	cr_expect_eq(moved_aside("rf_config"), 2);
	cr_expect_eq(access(pin("rf_link_connect4"), F_OK), 0, "the agent did not load");
	rfp_kill(agent);
	rft_server_stop(&srv);
}

/*
 * Loaded and attached, and a map of the very same layout pinned as rf_config: writing it would
 * change nothing the programs enforce. isolate takes the name back for the map the programs use
 * (so the host really is isolated), moves the other aside and exits 1.
 */
Test(pins, same_layout_map_pinned_over_rf_config_is_not_written)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	struct rft_server srv;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_way_back();
	rft_cli_ok(0, "load", NULL);
	pin_foreign("rf_config", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct rf_config), 1);
	isolate_degraded(&srv, "rf_config");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/* ---- the bpffs that holds the pins unmounted -------------------------------------------- */

static char bpffs_dir[PATH_MAX];

static void private_bpffs_fini(void)
{
	if (bpffs_dir[0] && umount2(bpffs_dir, MNT_DETACH) == 0)
		rmdir(bpffs_dir);
	rfp_teardown();
}

/* A private bpffs on <state dir>/bpffs, holding the test's pin dir (never /sys/fs/bpf). */
static void private_bpffs(void)
{
	snprintf(bpffs_dir, sizeof(bpffs_dir), "%s/bpffs", rft.state_dir);
	cr_assert_eq(mkdir(bpffs_dir, 0700), 0, "%s: %s", bpffs_dir, strerror(errno));
	cr_assert_eq(mount("bpf", bpffs_dir, "bpf", 0, "mode=0700"), 0, "mount bpffs: %s",
		     strerror(errno));
	cr_assert_lt((size_t)snprintf(rft.pin_dir, sizeof(rft.pin_dir), "%s/pins", bpffs_dir),
		     sizeof(rft.pin_dir));
}

static bool pinned_again(int timeout_ms)
{
	long t0 = rft_now_ms();

	while (rft_now_ms() - t0 < timeout_ms) {
		if (!access(pin("rf_config"), F_OK) && !access(pin("rf_link_connect4"), F_OK) &&
		    !access(pin("rf_link_egress"), F_OK) && !access(pin("rf_allow_net"), F_OK))
			return true;
		rft_msleep(50);
	}
	return false;
}

/*
 * Unmounting the bpffs that holds the pins drops the pinned links' last reference: without a
 * holder, isolation ends within milliseconds (THREAT-MODEL). The agent holds every link, so
 * isolation holds; when a bpffs is there again it pins everything again and records it.
 */
Test(pins, bpffs_unmounted_under_the_agent_isolation_holds, .fini = private_bpffs_fini)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	struct rft_server srv;
	char *out = NULL;
	pid_t agent;

	private_bpffs();
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_way_back();
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "agent did not start: %d", agent);
	rft_cli_ok(0, "isolate", NULL);
	rfp_expect_tcp_ports(&srv, PORT_WAY_BACK, PORT_OTHER, "isolated");

	cr_assert_eq(umount2(bpffs_dir, 0), 0, "umount %s: %s", bpffs_dir, strerror(errno));
	rft_msleep(500); /* the links of a dropped pin detach within ~11 ms */
	rfp_expect_tcp_ports(&srv, PORT_WAY_BACK, PORT_OTHER, "bpffs unmounted, agent running");
	cr_expect(rfp_history_wait(rft_scaled_ms(3000),
				   (const char *const[]){"\"type\":\"pins-lost\"", NULL}),
		  "the agent did not record that the pins are gone");
	rfp_expect_tcp_ports(&srv, PORT_WAY_BACK, PORT_OTHER, "pins lost for a while");

	cr_assert_eq(mount("bpf", bpffs_dir, "bpf", 0, "mode=0700"), 0, "remount: %s",
		     strerror(errno));
	cr_assert(pinned_again(rft_scaled_ms(5000)), "the agent did not pin again");
	cr_expect_eq(rft_status_isolated(), 1, "status after the agent pinned again");
	cr_assert_eq(rft_cli(&out, NULL, "history", "--json", NULL), 0);
	cr_expect(strstr(out, "\"type\":\"repin\"") != NULL,
		  "the history must have the pins made again: %s", out);
	free(out);
	rfp_expect_tcp_ports(&srv, PORT_WAY_BACK, PORT_OTHER, "pinned again");
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
	rft_cli_ok(0, "unload", NULL);
	rft_server_stop(&srv);
}

/* ---- many targets: the agent's open file limit ------------------------------------------- */

#define NTARGETS 5

/* Remove every pin below dir (the home's and every target's): what a reboot leaves. */
static void remove_pins_below(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode)) {
			remove_pins_below(p);
			rmdir(p);
		} else {
			unlink(p);
		}
	}
	closedir(d);
}

/* From a process in cg: EPERM to PORT_OTHER within timeout_ms (the target was isolated again). */
static bool denied_within(const char *cg, int timeout_ms)
{
	long t0 = rft_now_ms();

	do {
		if (rft_client(rft.dev_ns, cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 500)
			.outcome == RFT_EPERM)
			return true;
		rft_msleep(200);
	} while (rft_now_ms() - t0 < timeout_ms);
	return false;
}

/*
 * An agent started with a low soft limit on open files (a shell's 1024, or 64 here) restores
 * every isolated target after a reboot: it raises the soft limit to the hard one at start
 * (before, the targets past the limit failed with EMFILE and stayed open).
 */
Test(pins, agent_raises_its_open_file_limit_for_many_targets)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	char cg[NTARGETS][PATH_MAX], rel[32];
	struct rft_server srv;
	struct rlimit saved, low;
	pid_t agent;
	int i;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	for (i = 0; i < NTARGETS; i++) {
		snprintf(rel, sizeof(rel), "t%d", i);
		cr_assert_eq(rfp_cgroup_child(rel, cg[i], PATH_MAX), 0);
		cr_assert_eq(rft_cli_target(NULL, NULL, "--cgroup", cg[i], "allow", "add", "net",
					    RFT_PEER_IP4, "proto", "tcp", "port", "8701", NULL),
			     0);
		cr_assert_eq(rft_cli_target(NULL, NULL, "--cgroup", cg[i], "isolate", NULL), 0);
	}
	cr_assert(denied_within(cg[NTARGETS - 1], 0), "not isolated");
	remove_pins_below(rft.pin_dir);
	for (i = 0; i < NTARGETS; i++)
		cr_assert_eq(rft_cgroup_wait_detached(cg[i], 3000), 0);

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = 64;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	agent = rfp_agent_start(); /* inherits the low soft limit */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	cr_assert_gt(agent, 0, "agent did not start: %d", agent);
	for (i = 0; i < NTARGETS; i++) {
		/* loads of six targets on a busy 2-core machine: seconds each at worst */
		cr_expect(denied_within(cg[i], rft_scaled_ms(10000)),
			  "target %d of %d not isolated again by the agent", i + 1, NTARGETS);
		cr_expect_eq(rft_client(rft.dev_ns, cg[i], AF_INET, RFT_TCP, RFT_PEER_IP4,
					PORT_WAY_BACK, 1000)
				 .outcome,
			     RFT_OK, "target %d: its way back", i + 1);
	}
	rfp_kill(agent);
	for (i = 0; i < NTARGETS; i++)
		rft_cli_target(NULL, NULL, "--cgroup", cg[i], "release", NULL);
	rft_server_stop(&srv);
}

/*
 * A target whose cgroup goes away (a container removed) is dropped by the agent: its pins, and
 * its tc filters on this namespace's interfaces, which would otherwise run on every packet for
 * ever.
 */
Test(pins, agent_detaches_the_tc_filters_of_a_gone_target)
{
	static char *guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};
	char cg[PATH_MAX], *err = NULL;
	struct stat st;
	__u32 handle;
	pid_t agent;
	long t0;

	cr_assert_eq(rfp_cgroup_child("gone", cg, sizeof(cg)), 0);
	cr_assert_eq(stat(cg, &st), 0);
	handle = 0x80000000u | ((__u32)st.st_ino & 0x7fffffffu); /* rf_tc_handle() */
	cr_assert_eq(
	    rft_cli_target_env(guard_on, NULL, &err, "--cgroup", cg, "isolate", "--force", NULL), 0,
	    "%s", err);
	free(err);
	cr_assert_neq(rft_dev_tc_filter(handle, -1), 0, "no tc filter of the target on the veth");
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "agent did not start: %d", agent);

	cr_assert_eq(rft_cgroup_remove(cg), 0);
	t0 = rft_now_ms();
	while (rft_dev_tc_filter(handle, -1) && rft_now_ms() - t0 < rft_scaled_ms(5000))
		rft_msleep(100);
	cr_expect_eq(rft_dev_tc_filter(handle, -1), 0,
		     "the tc filter of the removed target is still on the veth");
	rfp_kill(agent);
}

/* ---- rules that do not fit ------------------------------------------------------------------ */

/*
 * A persisted exe rule that the kernel map does not take when it is applied again (here the
 * map is full: another agent filled it) is not listed as in force by 'allow list', and the
 * history says it was not applied (before, only a warning on stderr said so).
 */
Test(pins, a_persisted_rule_that_did_not_fit_is_not_listed_as_in_force)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	char edr[PATH_MAX], *out = NULL;
	struct rf_exe_users v = {};
	__u32 i;
	int fd;

	cr_assert_eq(rfp_copy_self("rf-edr", edr, sizeof(edr)), 0);
	rft_cli_ok(0, "allow", "add", "exe", edr, NULL);
	out = rfp_cli_out("allow", "list", NULL);
	cr_expect(strstr(out, edr) && !strstr(out, "NOT in force"), "%s", out);
	free(out);
	rft_cli_ok(0, "unload", NULL);

	/* the map as ringfence makes it, pinned full before the rules are applied again */
	cr_assert_eq(mkdir(rft.pin_dir, 0700) == 0 || errno == EEXIST, 1);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "rf_allow_exe_v3", sizeof(struct rf_exe_key),
			    sizeof(v), RF_MAX_PROC_RULES, &o);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	for (i = 0; i < RF_MAX_PROC_RULES; i++) {
		struct rf_exe_key k = {.dev = 0xfffff, .ino = i + 1, .gen = 7};

		cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0, "entry %u: %s", i,
			     strerror(errno));
	}
	cr_assert_eq(bpf_obj_pin(fd, pin("rf_allow_exe_v3")), 0);
	close(fd);
	rft_cli_ok(0, "load", NULL);

	out = rfp_cli_out("allow", "list", NULL);
	cr_expect(strstr(out, edr) && strstr(out, "NOT in force"),
		  "a rule not in the map is listed as in force: %s", out);
	free(out);
	out = rfp_cli_out("--json", "allow", "list", NULL);
	cr_expect(!strstr(out, edr), "JSON lists a rule that is not in force: %s", out);
	free(out);
	out = rfp_cli_out("history", "--json", NULL);
	cr_expect(strstr(out, "\"type\":\"rules-not-applied\"") && strstr(out, "rf-edr"),
		  "the history does not say the rule was not applied: %s", out);
	free(out);
}

/*
 * A ring buffer of the same size pinned over rf_events while the programs run: the pin is taken
 * back for the ring buffer the programs write (not a fresh one nobody writes), so blocked
 * attempts still reach 'events'.
 */
Test(pins, same_layout_ring_buffer_over_rf_events_is_taken_back)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	struct rft_server srv;
	char *out = NULL, *err = NULL;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_way_back();
	rft_cli_ok(0, "isolate", NULL);
	pin_foreign("rf_events", BPF_MAP_TYPE_RINGBUF, 0, 0, RF_EVENTS_RINGBUF_SIZE);
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 1, "%s%s", out, err);
	free(out), free(err);
	cr_expect_eq(moved_aside("rf_events"), 1);
	cr_expect_eq(
	    rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 1000)
		.outcome,
	    RFT_EPERM);
	cr_assert_eq(rft_cli(&out, NULL, "--json", "events", NULL), 0);
	cr_expect(strstr(out, "\"port\":8702") != NULL,
		  "the blocked attempt did not reach the pinned rf_events: %s", out);
	free(out);
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/*
 * Isolated, then a map of the same layout (saying "not isolated") pinned over rf_config: status
 * and release work on the map the programs use, so status says isolated and release really
 * releases (before: "not isolated; nothing changed", exit 0, the host still isolated).
 */
Test(pins, release_over_a_same_layout_rf_config_pin_releases_the_enforced_map)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	struct rft_server srv;
	char *out = NULL, *err = NULL;
	size_t i;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_way_back();
	rft_cli_ok(0, "isolate", NULL);
	pin_foreign("rf_config", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct rf_config), 1);
	cr_assert_eq(rft_cli(&out, &err, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "status read the foreign map: %s", out);
	cr_expect(err && strstr(err, "not the map the attached programs use"), "%s", err);
	free(out), free(err);
	rfp_expect_tcp_ports(&srv, PORT_WAY_BACK, PORT_OTHER, "isolated, foreign rf_config pin");

	cr_assert_eq(rft_cli(&out, &err, "release", NULL), 0, "%s", err);
	cr_expect(out && strstr(out, "released") && !strstr(out, "not isolated"), "%s", out);
	free(out), free(err);
	for (i = 0; i < RFP_NFLOWS; i++)
		if (rfp_flows[i].proto == RFT_TCP)
			rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_OTHER, false,
					"released over a foreign rf_config pin");
	rft_server_stop(&srv);
}
