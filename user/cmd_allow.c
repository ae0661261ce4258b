// SPDX-License-Identifier: GPL-2.0-only
/* allow add | del | list, and the rule listing that status shares. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <bpf/bpf.h>
#include "rf_cmd.h"
#include "rf_events.h"
#include "rf_hosts.h"
#include "rf_json.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_util.h"

const char rf_help_allow[] =
    "Usage: ringfence allow add RULE | allow del RULE | allow list\n"
    "RULE:\n"
    "  net CIDR [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
    "      CIDR is IPv4 or IPv6 (192.0.2.0/24, 2001:db8::/32; no prefix = one host).\n"
    "      dir out: the host may connect/send to the remote port; dir in: the remote may\n"
    "      connect/send to the local port (and a UDP service may answer); default both.\n"
    "      Replies of an allowed flow pass.\n"
    "  host NAME [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
    "      the addresses DNS answers for NAME while isolated (answers the host receives\n"
    "      from its resolvers, and ringfence's own lookups), each until its TTL runs out\n"
    "      (60 s to 1 day; open connections stay). NAME: mgmt.example.com, or\n"
    "      *.example.com for any name below example.com (not example.com itself).\n"
    "  exe PATH [user NAME|UID|any]\n"
    "                processes running this executable (device+inode of the file) as the\n"
    "                user named, by default the file's owner (root for packaged binaries);\n"
    "                'user any': every user, who could then run it with LD_PRELOAD\n"
    "  cgroup PATH   processes in this cgroup v2 or below it\n"
    "Changes apply immediately (also while isolated) and persist in the state dir.\n"
    "Examples:\n"
    "  ringfence allow add net 203.0.113.10 proto tcp port 443 dir out\n"
    "  ringfence allow add host mgmt.example.com proto tcp port 443 dir out\n"
    "  ringfence allow add exe /opt/edr/bin/agent\n"
    "  ringfence allow del net 203.0.113.10 proto tcp port 443 dir out\n";

/* Is `text` among the persisted rules? */
static bool persisted(struct rf_ctx *ctx, const char *text)
{
	char **lines = NULL;
	size_t n = 0, i;
	bool found = false;

	if (rf_rules_load(ctx->state_dir, &lines, &n))
		return false;
	for (i = 0; i < n && !found; i++)
		found = !strcmp(lines[i], text);
	rf_lines_free(lines, n);
	return found;
}

/* Calls fn(line, note) for each rule; note says where a kernel entry came from. */
typedef void (*rule_fn)(const char *line, const char *note, void *arg);

struct list_ctx {
	rule_fn fn;
	void *arg;
};

static int list_net(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	struct list_ctx *lc = arg;
	char text[RF_RULE_TEXT_MAX];

	rf_format_net(k, e, text, sizeof(text));
	lc->fn(text,
	       e->origin & RF_ENTRY_BUILTIN  ? "   (built-in)"
	       : e->origin & RF_ENTRY_CONFIG ? "   (config)"
					     : "",
	       lc->arg);
	return 0;
}

static bool is_process_rule(const char *line)
{
	return !strncmp(line, "exe ", 4) || !strncmp(line, "cgroup ", 7);
}

/* Is a process rule among the first n lines? (There are few of them; net lines are skipped.) */
static bool process_rule_in(char *const *lines, size_t n, const char *line)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (is_process_rule(lines[i]) && !strcmp(lines[i], line))
			return true;
	return false;
}

/*
 * Is the process rule of this line in the kernel map (the file's identity, or the cgroup's id)?
 * A persisted rule that did not fit (a full map) or whose path is gone is not in force.
 */
static bool process_rule_in_force(const struct rf_maps *m, const char *line)
{
	struct rf_exe_users users; /* rf_allow_exe_v3's value: ringfence's own exe rules */
	struct rf_allow_val v;	   /* rf_allow_exe_v2's and rf_allow_cgroup's */
	struct rf_exe_key k;
	struct rf_rule r;
	char err[RF_ERR_MAX], dir[PATH_MAX];
	__u64 id;

	if (rf_rule_parse_line(line, &r, err, sizeof(err)))
		return false; /* a quoted path or a user clause is the parser's to read, never ours
			       */
	if (r.kind == RF_RULE_EXE) {
		if (rf_exe_key_for(r.path, &k, err, sizeof(err)))
			return false;
		if (!bpf_map_lookup_elem(m->exe3, &k, &users) ||
		    !bpf_map_lookup_elem(m->exe, &k, &v))
			return true;
		k.gen = RF_EXE_GEN_ANY;
		return !bpf_map_lookup_elem(m->exe3, &k, &users) ||
		       !bpf_map_lookup_elem(m->exe, &k, &v);
	}
	return r.kind == RF_RULE_CGROUP && !rf_cgroup_resolve(r.path, dir, sizeof(dir), &id) &&
	       !bpf_map_lookup_elem(m->cgroup, &id, &v);
}

/* The note of a process rule that is not in the kernel map: listed so in text, left out of
 * JSON (the list is what the kernel allows). */
static const char not_in_force[] = "   (NOT in force: not in the kernel map; see history)";

static const char *process_note(const struct rf_maps *m, const char *line)
{
	return process_rule_in_force(m, line) ? "" : not_in_force;
}

/* What the listing does with a host rule and its learned addresses (l[0 .. n-1]). */
typedef void (*host_fn)(const struct rf_host_ruleinfo *ri, const struct rf_host_learnt *l, size_t n,
			void *arg);

struct host_list {
	host_fn fn;
	void *arg;
	const struct rf_host_learnt *l; /* every learned entry, sorted by rule id */
	size_t n;
	char **seen; /* the texts listed, to find persisted rules that are not in the map */
	size_t nseen, cap;
};

/* Remember a listed text (out of memory: it may be listed again, never left out). */
static void mark_seen(struct host_list *hl, const char *text)
{
	if (hl->nseen == hl->cap) {
		size_t cap = hl->cap ? hl->cap * 2 : 16;
		char **more = realloc(hl->seen, cap * sizeof(*more));

		if (!more)
			return;
		hl->seen = more;
		hl->cap = cap;
	}
	if ((hl->seen[hl->nseen] = strdup(text)))
		hl->nseen++;
}

static int list_host(const struct rf_host_ruleinfo *ri, void *arg)
{
	struct host_list *hl = arg;
	size_t i = 0, j;

	while (i < hl->n && hl->l[i].rule_id < ri->rule.id)
		i++;
	for (j = i; j < hl->n && hl->l[j].rule_id == ri->rule.id; j++)
		;
	hl->fn(ri, hl->l + i, j - i, hl->arg);
	mark_seen(hl, ri->text);
	return 0;
}

/* Is host rule line among the ones listed from the map? */
static bool host_seen(const struct host_list *hl, const char *line)
{
	for (size_t i = 0; i < hl->nseen; i++)
		if (!strcmp(hl->seen[i], line))
			return true;
	return false;
}

/*
 * The host rules of rf_host_name with their learned addresses (fn), then the host rules the
 * config file or 'allow add' saved that the map does not hold (a full map, pins of a build
 * without host rules): nf with the "NOT in force" note.
 */
static void hosts_each(struct rf_ctx *ctx, struct rf_maps *m, host_fn fn, rule_fn nf, void *arg)
{
	struct host_list hl = {fn, arg, NULL, 0, NULL, 0, 0};
	struct rf_host_learnt *l = NULL;
	char **lines[2] = {NULL, NULL};
	size_t n[2] = {0, 0};

	if (rf_host_learnt_load(m, &l, &hl.n))
		rf_warn("%s", "cannot read the learned addresses (rf_host_addr)");
	hl.l = l;
	rf_host_for_each_rule(m, list_host, &hl);
	free(l);
	if (!rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, &lines[0], &n[0]) &&
	    !rf_rules_load(ctx->state_dir, &lines[1], &n[1]))
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < n[k]; i++)
				if (!strncmp(lines[k][i], "host ", 5) &&
				    !host_seen(&hl, lines[k][i])) {
					nf(lines[k][i], not_in_force, arg);
					mark_seen(&hl, lines[k][i]); /* once, if in both files */
				}
	rf_lines_free(lines[0], n[0]);
	rf_lines_free(lines[1], n[1]);
	rf_lines_free(hl.seen, hl.nseen);
}

static void rules_each(struct rf_ctx *ctx, struct rf_maps *m, rule_fn fn, void *arg)
{
	struct list_ctx lc = {fn, arg};
	char **conf = NULL, **user = NULL;
	size_t nconf = 0, nuser = 0, i;

	rf_policy_for_each_net(m, list_net, &lc);
	/*
	 * The kernel keys exe and cgroup rules by inode and cgroup id, which do not lead back to a
	 * path: list them as the config file and 'allow add' wrote them.
	 */
	if (rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, &conf, &nconf) ||
	    rf_rules_load(ctx->state_dir, &user, &nuser))
		rf_warn("cannot read the process rules in %s", ctx->state_dir);
	for (i = 0; i < nconf; i++)
		if (is_process_rule(conf[i]))
			fn(conf[i], process_note(m, conf[i]), arg);
	for (i = 0; i < nuser; i++)
		if (is_process_rule(user[i]) && !process_rule_in(conf, nconf, user[i]))
			fn(user[i], process_note(m, user[i]), arg);
	rf_lines_free(conf, nconf);
	rf_lines_free(user, nuser);
}

/* The wall clock time of a CLOCK_BOOTTIME instant, and seconds from now (negative: past). */
static __u64 boot_to_unix(__u64 boot_ns, long long *in_s)
{
	__u64 now_boot = rf_now_boot_ns(), now_unix = rf_now_unix_ns();

	*in_s = boot_ns >= now_boot ? (long long)((boot_ns - now_boot) / 1000000000ULL)
				    : -(long long)((now_boot - boot_ns) / 1000000000ULL);
	return boot_ns >= now_boot ? now_unix + (boot_ns - now_boot)
				   : now_unix - (now_boot - boot_ns);
}

static const char *host_origin(const struct rf_host_ruleinfo *ri)
{
	return ri->rule.net.origin & RF_ENTRY_CONFIG ? "config" : "user";
}

static void host_text(const struct rf_host_ruleinfo *ri, const struct rf_host_learnt *l, size_t n,
		      void *arg)
{
	char addr[INET6_ADDRSTRLEN], when[40];
	long long in;
	size_t i;

	(void)arg;
	printf("%s%s\n", ri->text, ri->rule.net.origin & RF_ENTRY_CONFIG ? "   (config)" : "");
	if (!n)
		printf("    (no address learned)\n");
	for (i = 0; i < n; i++) {
		rf_event_addr(l[i].addr, addr, sizeof(addr));
		rf_format_time(boot_to_unix(l[i].expires_ns, &in), when, sizeof(when));
		if (in >= 0)
			printf("    %s until %s (%llds)\n", addr, when, in);
		else
			printf("    %s expired %s (%llds ago)\n", addr, when, -in);
	}
}

/* {"rule": TEXT, "origin": "user"|"config", "addresses": [{"address", "expires",
 * "expires_in_s", "expired"}]} */
static json_t *host_doc(const struct rf_host_ruleinfo *ri, const struct rf_host_learnt *l, size_t n)
{
	json_t *addrs = json_array(), *doc;
	char addr[INET6_ADDRSTRLEN], when[40];
	long long in;
	size_t i;

	for (i = 0; addrs && i < n; i++) {
		rf_event_addr(l[i].addr, addr, sizeof(addr));
		rf_format_time(boot_to_unix(l[i].expires_ns, &in), when, sizeof(when));
		if (rf_jappend(addrs,
			       json_pack("{s:s,s:s,s:I,s:b}", "address", addr, "expires", when,
					 "expires_in_s", (json_int_t)in, "expired", in < 0))) {
			json_decref(addrs);
			addrs = NULL;
		}
	}
	doc = json_pack("{s:o,s:s,s:o}", "rule", rf_jstr(ri->text), "origin", host_origin(ri),
			"addresses", addrs);
	return doc;
}

static void host_json(const struct rf_host_ruleinfo *ri, const struct rf_host_learnt *l, size_t n,
		      void *arg)
{
	json_t **arr = arg;

	if (*arr && rf_jappend(*arr, host_doc(ri, l, n))) {
		json_decref(*arr);
		*arr = NULL;
	}
}

static void rule_text(const char *line, const char *note, void *arg)
{
	char safe[RF_RULE_TEXT_MAX + 64];

	(void)arg;
	printf("%s%s\n", rf_safe(line, safe, sizeof(safe)), note);
}

static void rule_json(const char *line, const char *note, void *arg)
{
	json_t **arr = arg;

	if (note == not_in_force) {
		rf_warn("rule '%s' is not in force (not in the kernel map)", line);
		return;
	}
	if (*arr && rf_jappend(*arr, rf_jstr(line))) {
		json_decref(*arr);
		*arr = NULL;
	}
}

json_t *rf_rules_json(struct rf_ctx *ctx, struct rf_maps *m)
{
	json_t *arr = json_array();

	if (arr)
		rules_each(ctx, m, rule_json, &arr);
	if (arr)
		hosts_each(ctx, m, host_json, rule_json, &arr);
	return arr;
}

int rf_print_rules(struct rf_ctx *ctx, struct rf_maps *m)
{
	if (ctx->json)
		return rf_json_write(stdout, rf_rules_json(ctx, m), false);
	rules_each(ctx, m, rule_text, NULL);
	hosts_each(ctx, m, host_text, rule_text, NULL);
	return 0;
}

static int allow_list(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct rf_maps m = RF_MAPS_INIT;
	int err;

	if (o->argc > 1)
		return rf_usage_error("unexpected argument '%s'", o->argv[1]);
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	if ((err = rf_maps_open(ctx->pin_dir, &m))) {
		if (ctx->json)
			return rf_json_write(stdout, json_array(), true) ? EXIT_OPFAIL : 0;
		if (err == -EPROTO)
			rf_err("the pins in %s are of an older ringfence ABI: run 'ringfence load' "
			       "to upgrade them in place, then list the rules",
			       ctx->pin_dir);
		else
			rf_err("not loaded: no rules in the kernel");
		return 0;
	}
	err = ctx->json ? rf_json_write(stdout, rf_rules_json(ctx, &m), true)
			: rf_print_rules(ctx, &m);
	rf_maps_close(&m);
	if (err)
		rf_err("failed to print the rules: %s", strerror(-err));
	return err ? EXIT_OPFAIL : 0;
}

static void print_changed(struct rf_ctx *ctx, const char *text, bool add, const char *note)
{
	char safe[RF_RULE_TEXT_MAX + 64];

	if (ctx->json) {
		rf_json_write(stdout,
			      json_pack("{s:o,s:s,s:b}", "rule", rf_jstr(text), "action",
					add ? "add" : "del", "changed", !note[0]),
			      true);
	} else {
		printf("%s: %s%s%s\n", add ? "allowed" : "removed",
		       rf_safe(text, safe, sizeof(safe)), note[0] ? " - " : "", note);
	}
}

struct change {
	struct rf_rule r;
	char text[RF_RULE_TEXT_MAX];
	bool add;
};

/* While isolated or auditing, look a new host rule's name up now (and the others again). */
static void refresh_if_on(struct rf_maps *m)
{
	struct rf_config cfg;
	__u32 ttl;

	if (!rf_config_get(m, &cfg) && rf_svc_mode(&cfg) != RF_SVC_OFF)
		rf_hosts_refresh(m, &ttl);
}

/* Apply one rule change to the maps, then persist it; under the state lock. */
static int change_locked(struct rf_ctx *ctx, const void *arg)
{
	const struct change *ch = arg;
	const struct rf_rule *r = &ch->r;
	const char *text = ch->text;
	bool add = ch->add;
	char err[RF_ERR_MAX] = "";
	struct rf_maps m = RF_MAPS_INIT;
	const char *fail = NULL;
	struct rf_action a;
	bool gone = false;
	json_t *intent;
	int ret;

	rf_svc_action_start(ctx, &a, add ? "allow-add" : "allow-del", text);
	ret = rf_svc_ensure_loaded(ctx, &m, false);
	if (ret) {
		fail = "load or configuration failed";
		goto out;
	}
	intent = json_object();
	rf_state_str_set(intent, "rule", text);
	rf_svc_intent(ctx, a.type, &a, intent);
	ret = rf_policy_change(&m, r, add, ctx->cg_dir, err, sizeof(err));
	if (ret && ret != -EEXIST && !add &&
	    (r->kind == RF_RULE_EXE || r->kind == RF_RULE_CGROUP) && persisted(ctx, text)) {
		/* its file or cgroup is gone, so its path names nothing: the rule is still
		 * removed (an exe identity remembered for it is dropped by rf_svc_refresh_exe()) */
		ret = 0;
		snprintf(err, sizeof(err), "%s", "");
		gone = true;
	}
	if (ret == -EEXIST) {
		ret = 0;
		snprintf(err, sizeof(err), "already allowed");
	} else if (ret == -ENOENT && !add) {
		rf_err("no such rule: %s (see 'ringfence allow list')", text);
		fail = "no such rule";
		goto out;
	} else if (ret) {
		rf_err("%s", err[0] ? err : strerror(-ret));
		fail = err[0] ? err : "map update failed";
		goto out;
	} else {
		err[0] = '\0';
	}
	if ((ret = rf_svc_sync_flags(&m))) {
		fail = "cannot update rf_config";
		goto out;
	}
	rf_crash_point("applied");
	if ((ret = rf_rules_change(ctx->state_dir, text, add)))
		rf_warn("rule applied but not saved in %s/rules: %s", ctx->state_dir,
			rf_state_problem(ret));
	if (r->kind == RF_RULE_HOST && add)
		refresh_if_on(&m);
	if (r->kind == RF_RULE_EXE) {
		int moved;

		if ((ret = rf_svc_refresh_exe(ctx, &m, &moved)))
			rf_warn("exe rule identities not recorded: %s", strerror(-ret));
	}
	print_changed(ctx, text, add, err);
	if (gone && !ctx->json)
		printf("(its %s is gone: removed from the saved rules)\n",
		       r->kind == RF_RULE_EXE ? "file" : "cgroup");
	ret = 0;
out:
	rf_svc_action_finish(ctx, &a, fail, 0);
	rf_svc_intent_done(ctx);
	rf_maps_close(&m);
	return ret;
}

int rf_cmd_allow(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	static struct change ch;
	char err[RF_ERR_MAX];

	if (o->argc < 1)
		return rf_usage_error("%s", "'allow' needs add, del or list");
	if (!strcmp(o->argv[0], "list"))
		return allow_list(ctx, o);
	if (strcmp(o->argv[0], "add") && strcmp(o->argv[0], "del"))
		return rf_usage_error("unknown allow command '%s': expected add, del or list",
				      o->argv[0]);
	ch.add = o->argv[0][0] == 'a';
	if (rf_rule_parse(o->argc - 1, o->argv + 1, &ch.r, err, sizeof(err)))
		return rf_usage_error("%s", err);
	if (ch.add && rf_rule_check_new(&ch.r, err, sizeof(err)))
		return rf_usage_error("%s", err);
	rf_rule_format(&ch.r, ch.text, sizeof(ch.text));
	return rf_cmd_locked(ctx, change_locked, &ch);
}
