// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-place upgrade (issue 15): a host isolated by the previous release (ABI 1 pins, built from
 * git history as $RINGFENCE_PREV_BIN by `make kernel-test`) stays isolated while this version
 * takes over. A prober in the isolated cgroup tries denied connections every few milliseconds
 * and an allowed one keeps working through the whole upgrade; afterwards the pins are ABI 2, the
 * exe rule still allows its executable, ABI 1's pins are gone and the history has the upgrade.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/wait.h>
#include <net/if.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "rf_loader.h"
#include "rf_tc.h"

#define PORT_ALLOWED 8601
#define PORT_OTHER   8602
#define RF_TC_LEGACY 0x5246 /* the previous release's tc filter handle */

TestSuite(upgrade, .init = rfp_setup, .fini = rfp_teardown, .timeout = 120);

/* What the prober saw: denied attempts must all fail with EPERM, allowed ones must connect. */
struct probe_stats {
	unsigned long tries;   /* denied attempts (each of the three kinds counts) */
	unsigned long leaks;   /* denied attempts that did not fail with EPERM */
	int leak_err;	       /* the first leak's result (0 = it connected / was sent) */
	unsigned long allowed; /* allowed connects tried */
	unsigned long refused; /* allowed connects that failed */
};

/* One denied attempt: 0 when the kernel said EPERM, else the result (0 is success: a leak). */
static int denied_attempt(int family, enum rft_proto proto)
{
	const char *addr = family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret;

	fd = rft_connect(family, proto, addr, PORT_OTHER, 200);
	if (proto != RFT_UDP || fd < 0) {
		if (fd >= 0)
			close(fd);
		return fd == -EPERM ? 0 : (fd < 0 ? fd : 1);
	}
	rft_sockaddr(&ss, &len, family, addr, PORT_OTHER);
	ret = sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) < 0 ? -errno : 1;
	close(fd);
	return ret == -EPERM ? 0 : ret;
}

/* The prober, in the test cgroup and device netns, until the parent writes to ctl. */
static void prober(int ctl)
{
	struct probe_stats st = {};
	struct pollfd p = {.fd = ctl, .events = POLLIN};

	rft_ready(ctl, 0);
	while (poll(&p, 1, 0) == 0) {
		static const struct {
			int family;
			enum rft_proto proto;
		} kinds[] = {{AF_INET, RFT_TCP}, {AF_INET6, RFT_TCP}, {AF_INET, RFT_UDP}};
		size_t i;

		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			int r = denied_attempt(kinds[i].family, kinds[i].proto);

			st.tries++;
			if (r && !st.leaks++)
				st.leak_err = r > 0 ? 0 : -r;
		}
		if (st.tries % 15 == 0) {
			int fd = rft_connect(AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_ALLOWED, 1000);

			st.allowed++;
			if (fd < 0)
				st.refused++;
			else
				close(fd);
		}
		usleep(3000);
	}
	/* read the request first: unread data at close would reset the parent's end */
	if (read(ctl, &p, 1) != 1 || write(ctl, &st, sizeof(st)) != (ssize_t)sizeof(st))
		_exit(1);
	_exit(0);
}

/* The prober running in the test cgroup and device netns. */
struct probing {
	pid_t pid;
	int ctl;
};

static void probing_start(struct probing *p)
{
	p->pid = rft_fork_in(rft.dev_ns, rft.cg, &p->ctl);
	if (p->pid == 0)
		prober(p->ctl);
	cr_assert_gt(p->pid, 0, "prober: %s", strerror(-p->pid));
	cr_assert_eq(rft_ready_wait(p->ctl), 0);
	rft_msleep(200);
}

/* Stop the prober: during `what` every denied attempt got EPERM and every allowed one worked. */
static void probing_stop(struct probing *p, const char *what)
{
	struct probe_stats st = {};

	rft_msleep(300);
	cr_assert_eq(write(p->ctl, "q", 1), 1);
	cr_assert_eq(read(p->ctl, &st, sizeof(st)), (ssize_t)sizeof(st), "the prober died");
	rft_child_close(&p->pid, &p->ctl);
	cr_log_info("prober during %s: %lu denied attempts, %lu allowed connects", what, st.tries,
		    st.allowed);
	cr_expect_gt(st.tries, 60, "the prober made only %lu attempts", st.tries);
	cr_expect_eq(st.leaks, 0,
		     "%lu of %lu denied attempts were not refused with EPERM during %s (first: "
		     "errno %d)",
		     st.leaks, st.tries, what, st.leak_err);
	cr_expect_gt(st.allowed, 3);
	cr_expect_eq(st.refused, 0, "%lu of %lu allowed connects failed during %s", st.refused,
		     st.allowed, what);
}

/*
 * The link and neighbours ready before isolating: the prober's allowed connects must not wait
 * for a fresh namespace's IPv6 (and ND under the old release is not what is tested).
 */
static void link_ready(void)
{
	int i;

	for (i = 0; i < 10 && rft_client(rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6,
					 PORT_ALLOWED, 500)
				      .outcome != RFT_OK;
	     i++)
		;
	cr_assert_lt(i, 10, "IPv6 between the namespaces does not work");
	cr_assert_eq(
	    rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_ALLOWED, 1000)
		.outcome,
	    RFT_OK);
}

/* The previous release's CLI with the test's paths (it has no targets: the top-level pins). */
static int prev_cli(char *const env[], char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1], *saved = getenv("RINGFENCE_BIN"), *prev;
	va_list ap;
	int ret;

	prev = getenv("RINGFENCE_PREV_BIN");
	cr_assert(prev && *prev && access(prev, X_OK) == 0,
		  "RINGFENCE_PREV_BIN (the previous release's CLI, ABI 1) is not set or not "
		  "executable: run 'make kernel-test', which builds it from git history into "
		  ".output/prev/ringfence, or set it to that file");
	saved = saved ? strdup(saved) : NULL;
	va_start(ap, err);
	rft_cli_args(args, va_arg(ap, const char *), &ap);
	va_end(ap);
	setenv("RINGFENCE_BIN", prev, 1);
	ret = rft_cli_argv(env, args, out, err);
	if (saved)
		setenv("RINGFENCE_BIN", saved, 1);
	free(saved);
	return ret;
}

static const char *pin(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, name);
	return path;
}

static void pinned(const char *name, bool want)
{
	cr_expect_eq(access(pin(name), F_OK) == 0, want, "%s: expected %s", pin(name),
		     want ? "pinned" : "gone");
}

static enum rft_outcome exe_client(const char *exe, int family)
{
	return rfp_exe_client(exe, rft.cg, family, RFT_TCP,
			      family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, PORT_OTHER, NULL);
}

/*
 * The previous release needed bpf_get_current_task_btf() in cgroup programs (Linux 5.11): on an
 * older kernel it never loaded, so no host there carries its pins to upgrade.
 */
static void prev_release_ran_here(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return;
	if (major < 5 || (major == 5 && minor < 11))
		cr_skip_test(
		    "not applicable: the previous release (ABI 1) never loaded on Linux %s "
		    "(it needed 5.11), so no host here has its pins to upgrade",
		    u.release);
}

Test(upgrade, abi1_isolation_holds_through_the_upgrade)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	static char *guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};
	unsigned int old_tc;
	struct rft_server srv;
	struct rft_conn held, cut;
	struct rfp_exe_conn ec[2];
	struct probing probe;
	struct rft_port_stats o4, o6, b4, b6;
	char edr[PATH_MAX], bad_btf[PATH_MAX], *out = NULL, *err = NULL;
	json_t *doc;
	FILE *f;

	int i;

	prev_release_ran_here();

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	cr_assert_eq(rfp_copy_self("rf-edr-agent", edr, sizeof(edr)), 0);

	link_ready();

	/* a connection of a process no rule allows, opened before isolating: cut from then on */
	cr_assert_eq(rft_conn_open(&cut, rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6,
				   PORT_OTHER, 2000),
		     0);

	/* the previous release isolates the host, as a user would run it */
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "net", "192.0.2.0/24", "proto",
			      "tcp", "port", "8601", NULL),
		     0, "old allow net: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "net", "2001:db8::/64", "proto",
			      "tcp", "port", "8601", NULL),
		     0, "old allow net6: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "exe", edr, NULL), 0,
		     "old allow exe: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(guard_on, &out, &err, "isolate", "--comment", "incident 15", NULL), 0,
		     "old isolate: %s", err);
	free(out), free(err);
	pinned("rf_allow_exe", true);
	pinned("rf_stats", true);
	pinned("rf_allow_exe_v2", false);
	old_tc = rf_pinned_prog_id(pin("rf_prog_tc_egress"));
	cr_assert(old_tc && rft_dev_tc_filter(RF_TC_LEGACY, -1) == old_tc,
		  "the old packet guard is not on the veth");
	cr_assert_eq(exe_client(edr, AF_INET), RFT_OK, "ABI 1: the exe rule must allow");
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "ABI 1");
	/* the EDR agent's channel, allowed only by its exe rule (socket marked by ABI 1) */
	for (i = 0; i < 2; i++) {
		rfp_exe_conn_open(&ec[i], edr, i ? AF_INET6 : AF_INET, PORT_OTHER);
		cr_assert_eq(rfp_exe_conn_echo(&ec[i]), RFT_PAYLOAD_LEN, "ABI 1: exe connection");
	}
	b4 = rft_server_stats(&srv, PORT_OTHER, AF_INET);
	b6 = rft_server_stats(&srv, PORT_OTHER, AF_INET6);

	cr_assert_eq(rft_conn_open(&held, rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4,
				   PORT_ALLOWED, 2000),
		     0, "the allowed connection must open under ABI 1");
	probing_start(&probe);

	/* this version: status first (it must not call the host unisolated), then isolate */
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "status over ABI 1 pins: %s", out);
	free(out);
	/* a failed upgrade (a BTF file that is not one) leaves the old programs enforcing */
	snprintf(bad_btf, sizeof(bad_btf), "%s/not-a-btf", rft.state_dir);
	f = fopen(bad_btf, "w");
	cr_assert(f && fputs("not BTF\n", f) >= 0 && fclose(f) == 0);
	cr_assert_eq(rft_cli(&out, &err, "--btf", bad_btf, "isolate", NULL), 1,
		     "a broken upgrade must fail: %s", out);
	cr_expect(err && strstr(err, "upgrade from ABI 1 not done") &&
		      strstr(err, "still attached and enforce"),
		  "the error must say where the upgrade stands: %s", err);
	free(out), free(err);
	pinned("rf_allow_exe", true);
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "after a failed upgrade: %s", out);
	doc = rft_json_load(out);
	cr_expect(rft_json_int_at(doc, "abi_version", -1) == 1 &&
		      rft_json_bool_at(doc, "hooks.connect4") == 1,
		  "after a failed upgrade: %s", out);
	json_decref(doc);
	free(out);

	cr_assert_eq(rft_cli(&out, &err, "isolate", NULL), 0, "isolate over ABI 1 pins: %s\n%s",
		     out, err);
	free(out), free(err);
	probing_stop(&probe, "the upgrade");
	rft_conn_send(&cut, 4);
	cr_expect_eq(rft_conn_recv(&cut, 500), 0, "a connection cut under ABI 1 moved bytes");
	rft_conn_close(&cut);
	o4 = rft_server_stats(&srv, PORT_OTHER, AF_INET);
	o6 = rft_server_stats(&srv, PORT_OTHER, AF_INET6);
	cr_expect(
	    o4.conns == b4.conns && o4.dgrams == b4.dgrams && o6.conns == b6.conns &&
		o6.dgrams == b6.dgrams && o6.tcp_bytes == b6.tcp_bytes,
	    "the peer received denied traffic during the upgrade (v4 %llu+%llu, v6 "
	    "%llu+%llu+%llu bytes)",
	    (unsigned long long)(o4.conns - b4.conns), (unsigned long long)(o4.dgrams - b4.dgrams),
	    (unsigned long long)(o6.conns - b6.conns), (unsigned long long)(o6.dgrams - b6.dgrams),
	    (unsigned long long)(o6.tcp_bytes - b6.tcp_bytes));
	cr_expect_eq(rft_conn_send(&held, RFT_PAYLOAD_LEN), RFT_PAYLOAD_LEN);
	cr_expect_eq(rft_conn_recv(&held, 1000), RFT_PAYLOAD_LEN,
		     "the allowed connection opened before the upgrade must still work");
	rft_conn_close(&held);
	for (i = 0; i < 2; i++) {
		cr_expect_eq(rfp_exe_conn_echo(&ec[i]), RFT_PAYLOAD_LEN,
			     "IPv%d: the exe-allowed connection opened under ABI 1 must still work",
			     i ? 6 : 4);
		rfp_exe_conn_close(&ec[i]);
	}

	/* ABI 2 now, still isolated, rules kept, ABI 1's pins gone, the upgrade recorded */
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "%s", out);
	doc = rft_json_load(out);
	cr_expect_eq(rft_json_int_at(doc, "abi_version", -1), 2, "not ABI 2: %s", out);
	cr_expect_eq(rft_json_bool_at(doc, "hooks.setsockopt"), 1, "new hook not attached: %s",
		     out);
	json_decref(doc);
	free(out);
	pinned("rf_allow_exe", false);
	pinned("rf_stats", false);
	pinned("rf_allow_exe_v2", true);
	pinned("rf_stats_v2", true);
	pinned("rf_link_setsockopt", true);
	cr_expect_neq(rf_pinned_prog_id(pin("rf_prog_tc_egress")), old_tc,
		      "tc program not re-pinned");
	cr_expect_eq(rft_dev_tc_filter(RF_TC_LEGACY, -1),
		     rf_pinned_prog_id(pin("rf_prog_tc_egress")),
		     "the old packet-guard filter must run the new program");
	cr_expect_eq(exe_client(edr, AF_INET), RFT_OK, "ABI 2: the exe rule must still allow");
	cr_expect_eq(exe_client(edr, AF_INET6), RFT_OK, "ABI 2: the exe rule must still allow");
	cr_expect_eq(
	    rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 1000)
		.outcome,
	    RFT_EPERM, "another executable must still be denied");
	cr_assert_eq(rft_cli(&out, NULL, "history", NULL), 0);
	{
		static const char *const done[] = {"upgrade", "Succeeded", "ABI 1 -> 2", NULL};
		static const char *const failed[] = {"upgrade", "Failed", "ABI 1 -> 2", NULL};
		char line[512];

		cr_expect(rfp_find_line(out, done, line, sizeof(line)) != NULL,
			  "no successful upgrade in the history: %s", out);
		cr_expect(rfp_find_line(out, failed, line, sizeof(line)) != NULL,
			  "the failed attempt is not in the history: %s", out);
	}
	free(out);

	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(
	    rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 1000)
		.outcome,
	    RFT_OK, "released");
	rft_server_stop(&srv);
}

/* Pins of a newer ABI are refused and left exactly as they are. */
Test(upgrade, future_abi_is_refused_untouched)
{
	char *out = NULL, *err = NULL;

	rft_cli_ok(0, "load", NULL);
	cr_assert_eq(
	    rft_exec(NULL,
		     (char *[]){"bpftool", "map", "update", "pinned", (char *)pin("rf_config"),
				"key",	   "0",	  "0",	    "0",      "0",
				"value",   "3",	  "0",	    "0",      "0",
				"0",	   "0",	  "0",	    "0",      "0",
				"0",	   "0",	  "0",	    "0",      "0",
				"0",	   "0",	  "3",	    "0",      "0",
				"0",	   "1",	  "0",	    "0",      "0",
				"0",	   "0",	  "0",	    "0",      "0",
				"0",	   "0",	  "0",	    NULL},
		     NULL, NULL),
	    0);
	/* something to do for load: a missing link */
	unlink(pin("rf_link_connect4"));
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 1, "%s", err);
	cr_expect(err && strstr(err, "ABI 3") && strstr(err, "nothing was changed"), "%s", err);
	free(out), free(err);
	pinned("rf_link_connect4", false);
}

/*
 * A pinned map with state (here rf_allow_cgroup) of another layout is not ringfence's: the load
 * moves it aside (rf_allow_cgroup_foreign_<time>), goes on with its own and exits 1 (degraded).
 */
Test(upgrade, incompatible_stateful_map_is_moved_aside)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(mkdir(rft.pin_dir, 0700), 0);
	cr_assert_eq(rft_exec(NULL,
			      (char *[]){"bpftool", "map", "create", (char *)pin("rf_allow_cgroup"),
					 "type", "hash", "key", "8", "value", "16", "entries", "16",
					 "name", "rf_allow_cgroup", NULL},
			      NULL, NULL),
		     0);
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 1, "%s", err);
	cr_expect(err && strstr(err, "rf_allow_cgroup -> ") && strstr(err, "not ringfence's"), "%s",
		  err);
	free(out), free(err);
	pinned("rf_allow_cgroup", true);
	pinned("rf_link_connect4", true);
	pinned("rf_config", true);
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 0, "a second load has nothing to fix: %s",
		     err);
	free(out), free(err);
}

/*
 * Pin an sk_storage map named like ringfence's with a value of `size` bytes at path. Such a map
 * needs BTF for its key and value, which bpftool's "map create" cannot give it.
 */
static void pin_sk_storage(const char *path, const char *name, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct btf *btf = btf__new_empty();
	int key, byte, val, fd;

	cr_assert_not_null(btf);
	key = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	byte = btf__add_int(btf, "char", 1, 0);
	val = btf__add_array(btf, key, byte, size);
	cr_assert(key > 0 && byte > 0 && val > 0);
	cr_assert_eq(btf__load_into_kernel(btf), 0, "cannot load BTF: %s", strerror(errno));
	o.btf_fd = btf__fd(btf);
	o.btf_key_type_id = key;
	o.btf_value_type_id = val;
	fd = bpf_map_create(BPF_MAP_TYPE_SK_STORAGE, name, 4, size, 0, &o);
	cr_assert_geq(fd, 0, "cannot create %s: %s", name, strerror(errno));
	cr_assert_eq(bpf_obj_pin(fd, path), 0, "cannot pin %s: %s", path, strerror(errno));
	close(fd);
	btf__free(btf);
}

/*
 * The verdict cache of an earlier build (rf_sk_verdict with 40-byte entries, before they held the
 * packet's flow key) holds nothing worth keeping: the load replaces it and succeeds.
 */
Test(upgrade, an_earlier_verdict_cache_layout_is_replaced)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char *out = NULL, *err = NULL;
	int fd;

	cr_assert_eq(mkdir(rft.pin_dir, 0700), 0);
	pin_sk_storage(pin("rf_sk_verdict"), "rf_sk_verdict", 120);
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 0, "%s", err);
	free(out), free(err);
	pinned("rf_link_egress", true);
	fd = bpf_obj_get(pin("rf_sk_verdict"));
	cr_assert_geq(fd, 0, "rf_sk_verdict is not pinned");
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	cr_expect_neq(info.value_size, 120, "the earlier layout is still pinned");
	close(fd);
	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 0, "a second load has nothing to fix: %s",
		     err);
	free(out), free(err);
}

/* The programs each pinned link runs, and the pinned tc program. */
struct prog_ids {
	__u32 link[RF_HOOK_MAX];
	__u32 tc;
};

static void prog_ids(struct prog_ids *p)
{
	struct rf_link_state st[RF_HOOK_MAX];
	int i;

	rf_links_state(rft.pin_dir, st);
	for (i = 0; i < RF_HOOK_MAX; i++)
		p->link[i] = st[i].attached ? st[i].prog_id : 0;
	p->tc = rf_pinned_prog_id(pin("rf_prog_tc_egress"));
}

/* How many attached links run another program in b than in a (-1: a link came or went). */
static int links_changed(const struct prog_ids *a, const struct prog_ids *b)
{
	int i, n = 0;

	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (!a->link[i] != !b->link[i])
			return -1;
		n += a->link[i] != b->link[i];
	}
	return n;
}

static int attached_links(const struct prog_ids *a)
{
	int i, n = 0;

	for (i = 0; i < RF_HOOK_MAX; i++)
		n += a->link[i] != 0;
	return n;
}

/* Pretend the links run the programs of another build of the same ABI. */
static void pin_build(__u64 built, __u64 hash)
{
	struct rf_build b = {.built = built, .hash = hash};
	__u32 key = 0;
	int fd = bpf_obj_get(pin("rf_build"));

	cr_assert_geq(fd, 0, "rf_build is not pinned");
	cr_assert_eq(bpf_map_update_elem(fd, &key, &b, 0), 0);
	close(fd);
}

/* status --json: is programs_build the same as this_build? */
static bool status_says_this_build(void)
{
	char *out = NULL, a[80] = "", b[80] = "";
	bool same;

	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_assert(rfp_json_str(out, "programs_build", a, sizeof(a)) &&
		      rfp_json_str(out, "this_build", b, sizeof(b)),
		  "%s", out);
	same = !strcmp(a, b);
	free(out);
	return same;
}

/*
 * A later build of the same ABI (a package upgrade of a fix in the programs) puts its programs
 * into the pinned links in place, with no moment unenforced; the same build or a later one's
 * programs are adopted as they are, and a build from before rf_build counts as earlier.
 */
Test(upgrade, a_later_build_puts_its_programs_in_place)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	static char *guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};
	struct rf_build ours, now;
	struct prog_ids first, again, after;
	struct probing probe;
	struct rft_server srv;
	struct stat cg;
	char *out = NULL, *err = NULL;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	cr_assert_eq(stat(rft.cg, &cg), 0);
	link_ready();
	rft_cli_ok(0, "allow", "add", "net", "192.0.2.0/24", "proto", "tcp", "port", "8601", NULL);
	rft_cli_ok(0, "allow", "add", "net", "2001:db8::/64", "proto", "tcp", "port", "8601", NULL);
	cr_assert_eq(rfp_cli_env(guard_on, NULL, &err, "isolate", NULL), 0, "%s", err);
	free(err);
	prog_ids(&first);
	cr_assert_gt(attached_links(&first), 5);
	cr_assert_eq(rf_pinned_build(rft.pin_dir, &ours), 0, "rf_build not written by a load");
	cr_assert_neq(ours.built, 0);
	cr_expect(status_says_this_build());

	/* the same build: adopted, nothing swapped */
	cr_assert_eq(rfp_cli_env(guard_on, NULL, &err, "load", NULL), 0, "%s", err);
	free(err);
	prog_ids(&again);
	cr_expect_eq(links_changed(&first, &again), 0, "the same build swapped programs");
	cr_expect_eq(again.tc, first.tc, "the same build re-pinned the tc program");

	/* a later build's programs are kept */
	pin_build(ours.built + 3600, ours.hash ^ 1);
	cr_expect(!status_says_this_build());
	cr_assert_eq(rfp_cli_env(guard_on, NULL, &err, "load", NULL), 0, "%s", err);
	free(err);
	prog_ids(&again);
	cr_expect_eq(links_changed(&first, &again), 0, "a later build's programs were replaced");
	cr_expect_eq(again.tc, first.tc);
	cr_expect_eq(rf_pinned_build(rft.pin_dir, &now), 0);
	cr_expect_eq(now.built, ours.built + 3600, "a later build's record was overwritten");

	/* an earlier build's: replaced in every link while a prober tries denied traffic */
	pin_build(ours.built - 3600, ours.hash ^ 1);
	probing_start(&probe);
	cr_assert_eq(rfp_cli_env(guard_on, &out, &err, "load", NULL), 0, "%s", err);
	free(out), free(err);
	probing_stop(&probe, "the swap of an earlier build's programs");
	prog_ids(&after);
	cr_expect_eq(links_changed(&first, &after), attached_links(&first),
		     "not every link got this build's programs");
	cr_expect_neq(after.tc, first.tc, "the tc program was not re-pinned");
	cr_expect_eq(rft_dev_tc_filter(rf_tc_handle(cg.st_ino), -1), after.tc,
		     "the packet guard on the veth must run the new tc program");
	cr_expect_eq(rf_pinned_build(rft.pin_dir, &now), 0);
	cr_expect(now.built == ours.built && now.hash == ours.hash, "rf_build not this build's");
	cr_expect(status_says_this_build());
	cr_assert_eq(rft_cli(&out, NULL, "history", NULL), 0);
	{
		static const char *const done[] = {"upgrade", "Succeeded", "programs of build",
						   NULL};
		char line[512];

		cr_expect(rfp_find_line(out, done, line, sizeof(line)) != NULL,
			  "the swap is not in the history: %s", out);
	}
	free(out);
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "the new programs");

	/* links of a build from before rf_build (no pin): replaced too, and the pin is back */
	cr_assert_eq(unlink(pin("rf_build")), 0);
	cr_assert_eq(rfp_cli_env(guard_on, NULL, &err, "load", NULL), 0, "%s", err);
	free(err);
	prog_ids(&again);
	cr_expect_eq(links_changed(&after, &again), attached_links(&after),
		     "a build without rf_build was not replaced");
	cr_expect_eq(rf_pinned_build(rft.pin_dir, &now), 0, "rf_build not pinned again");
	cr_expect_eq(now.hash, ours.hash);
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/* The line of out that starts with prefix, or NULL. */
static const char *line_starting(const char *out, const char *prefix)
{
	const char *p = out;

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix)))
			return p;
	return NULL;
}

/* metrics' ringfence_isolated gauge of the test's target: 1, 0, or -1 when missing. */
static int metrics_isolated(void)
{
	char *out = NULL;
	const char *l;
	int v = -1;

	cr_assert_eq(rft_cli(&out, NULL, "metrics", NULL), 0);
	l = line_starting(out, "ringfence_isolated{");
	if (l && strchr(l, '}'))
		v = atoi(strchr(l, '}') + 1);
	free(out);
	return v;
}

/*
 * Pins the previous release left isolated and nothing upgraded yet: release, unload and metrics
 * read its rf_config (the same layout in both ABIs) instead of taking the missing ABI 2 maps for
 * "not loaded" (which printed "not isolated" and exited 0 with the host still isolated).
 */
Test(upgrade, release_and_metrics_over_abi1_pins)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	struct rft_server srv;
	char *out = NULL, *err = NULL;
	size_t i;

	prev_release_ran_here();
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	link_ready();
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "net", "192.0.2.0/24", "proto",
			      "tcp", "port", "8601", NULL),
		     0, "old allow net: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "net", "2001:db8::/64", "proto",
			      "tcp", "port", "8601", NULL),
		     0, "old allow net6: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(NULL, &out, &err, "isolate", NULL), 0, "old isolate: %s", err);
	free(out), free(err);
	pinned("rf_allow_exe_v2", false);
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "isolated by ABI 1");

	cr_expect_eq(metrics_isolated(), 1, "metrics over ABI 1 pins must say isolated");
	cr_assert_eq(rft_cli(&out, &err, "allow", "list", NULL), 0);
	cr_expect(err && strstr(err, "older ringfence ABI"), "allow list over ABI 1: %s", err);
	free(out), free(err);
	cr_assert_eq(rft_cli(&out, &err, "unload", NULL), 1, "unload of an isolated ABI 1 host");
	cr_expect(err && strstr(err, "isolated"), "%s", err);
	free(out), free(err);
	pinned("rf_config", true);
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "after a refused unload");

	cr_assert_eq(rft_cli(&out, &err, "release", NULL), 0, "release over ABI 1: %s", err);
	cr_expect(out && strstr(out, "released") && !strstr(out, "not isolated"), "%s", out);
	free(out), free(err);
	for (i = 0; i < RFP_NFLOWS; i++)
		if (rfp_flows[i].proto == RFT_TCP)
			rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_OTHER, false,
					"released over ABI 1 pins");
	cr_expect_eq(rft_status_isolated(), 0);
	cr_expect_eq(metrics_isolated(), 0);
	pinned("rf_allow_exe_v2", false); /* a release does not upgrade */
	rft_server_stop(&srv);
}

/* Is an entry of rf_allow_exe_v2 on inode ino (any device, any generation)? */
/* Is an identity of inode ino in the exe maps: rf_allow_exe_v3 (ringfence's own rules, with
 * their users) or rf_allow_exe_v2 (any user: other agents' entries, ABI 1's carried copies)? */
static bool exe_map_has_ino(__u64 ino)
{
	static const char *const maps[] = {"rf_allow_exe_v2", "rf_allow_exe_v3"};
	bool found = false;
	size_t i;

	for (i = 0; i < 2 && !found; i++) {
		struct rf_exe_key key, *prev = NULL;
		int fd = bpf_obj_get(pin(maps[i]));

		cr_assert_geq(fd, 0, "%s is not pinned", maps[i]);
		while (!found && !bpf_map_get_next_key(fd, prev, &key)) {
			found = key.ino == ino;
			prev = &key;
		}
		close(fd);
	}
	return found;
}

/*
 * Issue 21 item 9 (U3b): an exe rule carried over from ABI 1 as "any generation" must not outlive
 * its file. The allowed binary is replaced while ABI 1 runs (its old inode freed, for another
 * file to get); the upgrade looks the rule's path up again, allows the new file by its full
 * identity and drops the carried copy of the old inode.
 */
Test(upgrade, abi1_exe_rule_of_a_replaced_binary_is_looked_up_again)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	char edr[PATH_MAX], other[PATH_MAX], fresh[PATH_MAX], attacker[PATH_MAX];
	char *out = NULL, *err = NULL;
	struct rft_server srv;
	struct stat before, after, st;
	bool reused;

	prev_release_ran_here();
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	cr_assert_eq(rfp_copy_self("rf-edr-agent", edr, sizeof(edr)), 0);
	cr_assert_eq(rfp_copy_self("rf-other", other, sizeof(other)), 0);
	cr_assert_eq(stat(edr, &before), 0);
	cr_assert_eq(prev_cli(NULL, &out, &err, "allow", "add", "exe", edr, NULL), 0,
		     "old allow exe: %s", err);
	free(out), free(err);
	cr_assert_eq(prev_cli(NULL, &out, &err, "isolate", NULL), 0, "old isolate: %s", err);
	free(out), free(err);
	cr_assert_eq(exe_client(edr, AF_INET), RFT_OK, "ABI 1: the exe rule must allow");

	/* a package upgrade of the allowed binary while ABI 1 runs: a new file renamed over it */
	cr_assert_eq(rfp_copy_self("rf-edr-agent.new", fresh, sizeof(fresh)), 0);
	cr_assert_eq(rename(fresh, edr), 0);
	cr_assert_eq(stat(edr, &after), 0);
	cr_assert_neq(after.st_ino, before.st_ino);
	/* the attacker's file, which may get the freed inode (ext4 hands it out again at once) */
	cr_assert_eq(rfp_copy_self("rf-attacker", attacker, sizeof(attacker)), 0);
	cr_assert_eq(stat(attacker, &st), 0);
	reused = st.st_ino == before.st_ino;
	cr_log_info("the attacker's file %s the freed inode", reused ? "got" : "did not get");

	cr_assert_eq(rft_cli(&out, &err, "load", NULL), 0, "upgrade: %s", err);
	free(out), free(err);
	pinned("rf_allow_exe", false);
	cr_expect(!exe_map_has_ino(before.st_ino),
		  "the replaced file's inode %llu is still allowed (any generation) after the "
		  "upgrade",
		  (unsigned long long)before.st_ino);
	cr_expect(exe_map_has_ino(after.st_ino),
		  "the rule's file is not allowed after the upgrade");
	cr_expect_eq(exe_client(edr, AF_INET), RFT_OK, "ABI 2: the rule's file (IPv4)");
	cr_expect_eq(exe_client(edr, AF_INET6), RFT_OK, "ABI 2: the rule's file (IPv6)");
	cr_expect_eq(exe_client(other, AF_INET), RFT_EPERM, "another executable (IPv4)");
	cr_expect_eq(exe_client(other, AF_INET6), RFT_EPERM, "another executable (IPv6)");
	cr_expect_eq(exe_client(attacker, AF_INET), RFT_EPERM,
		     "a file on the freed inode (reused: %d) is allowed", reused);
	cr_assert_eq(rft_cli(&out, NULL, "history", NULL), 0);
	cr_expect(strstr(out, "exe-carry-drop") != NULL, "the drop is not in the history: %s", out);
	free(out);
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}
