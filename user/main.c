// SPDX-License-Identifier: GPL-2.0-only
/* ringfence CLI: isolate a host (or a cgroup) from the network with eBPF. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_agent.h"
#include "rf_cli.h"
#include "rf_events.h"
#include "rf_loader.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_state.h"
#include "rf_util.h"


static const char usage_text[] =
	"Usage: ringfence [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Cut a Linux host off the network with eBPF, except loopback, its management channel and\n"
	"allowed processes and destinations. Enforcement lives in the kernel and outlasts this CLI.\n"
	"\n"
	"Commands:\n"
	"  isolate [--comment TEXT] [--for DURATION] [--force]\n"
	"                          isolate now (loads and attaches first if needed)\n"
	"  release [--comment TEXT]  end isolation (alias: unisolate)\n"
	"  status                  isolation state, hooks, rules and counters\n"
	"  allow add RULE | allow del RULE | allow list\n"
	"                          change or show what stays reachable while isolated\n"
	"  events [--follow]       blocked attempts reported by the kernel\n"
	"  history                 isolate/release/rule actions with their outcome\n"
	"  metrics                 counters in Prometheus text format\n"
	"  load                    attach the programs without isolating\n"
	"  agent                   long-running service: events, persistence, self-repair\n"
	"  unload [--force]        detach and unpin everything (refused while isolated)\n"
	"\n"
	"RULE:\n"
	"  net CIDR [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
	"  exe PATH                an executable (matched by device+inode, not by name)\n"
	"  cgroup PATH             a cgroup v2 and its descendants, e.g. /system.slice/edr.service\n"
	"\n"
	"Global options (environment variable in brackets):\n"
	"  --cgroup PATH     cgroup v2 to enforce on (default: the cgroup2 root) [RINGFENCE_CGROUP]\n"
	"  --pin-dir DIR     where maps and links are pinned (default /sys/fs/bpf/ringfence)\n"
	"                    [RINGFENCE_PIN_DIR]\n"
	"  --state-dir DIR   persisted rules, isolation record and history (default\n"
	"                    /var/lib/ringfence) [RINGFENCE_STATE_DIR]\n"
	"  --config FILE     configuration file (default /etc/ringfence/ringfence.conf)\n"
	"                    [RINGFENCE_CONFIG]\n"
	"  --btf FILE        BTF of the running kernel, for kernels without\n"
	"                    /sys/kernel/btf/vmlinux (default: config 'btf') [RINGFENCE_BTF]\n"
	"  --json            machine-readable output\n"
	"  -v, --verbose     show libbpf and verifier messages\n"
	"  -h, --help        this help; 'ringfence COMMAND --help' for a command\n"
	"  -V, --version     version, git revision, libbpf and ABI version\n"
	"\n"
	"Examples:\n"
	"  ringfence allow add net 203.0.113.10/32 proto tcp port 443 dir out   # EDR server\n"
	"  ringfence allow add net 198.51.100.7/32 proto tcp port 22 dir in     # jump host\n"
	"  ringfence isolate --comment 'INC-4711 reverse shell' --for 8h\n"
	"  ringfence status --json\n"
	"  ringfence release --comment 'INC-4711 cleaned'\n"
	"\n"
	"Exit status: 0 success, 1 operational failure, 2 usage error.\n";

struct cmd_help {
	const char *name;
	const char *text;
};

static const struct cmd_help cmd_helps[] = {
	{ "isolate",
	  "Usage: ringfence isolate [--comment TEXT] [--for DURATION] [--force]\n"
	  "Isolate the host: from now on only loopback, allowed destinations, allowed processes\n"
	  "and the built-in DHCP/ND rules pass; existing connections to other peers stop too.\n"
	  "  --comment TEXT   recorded in the action history and shown by status\n"
	  "  --for DURATION   release automatically after DURATION (90s, 15m, 2h, 1d); enforced by\n"
	  "                   the kernel, so it holds even if no ringfence process runs\n"
	  "  --force          isolate even though no destination or process is allowed (the host\n"
	  "                   can then only be released from its console)\n"
	  "Running it while already isolated changes nothing and exits 0.\n" },
	{ "release",
	  "Usage: ringfence release [--comment TEXT]   (alias: unisolate)\n"
	  "End isolation; full connectivity returns at once. Exits 0 if not isolated.\n" },
	{ "status",
	  "Usage: ringfence status [--json]\n"
	  "Isolation state, since when and why, the cgroup and hooks enforcing it, the rules and\n"
	  "the allow/deny counters. --json prints one object with at least \"isolated\".\n" },
	{ "allow",
	  "Usage: ringfence allow add RULE | allow del RULE | allow list\n"
	  "RULE:\n"
	  "  net CIDR [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
	  "      CIDR is IPv4 or IPv6 (192.0.2.0/24, 2001:db8::/32; no prefix = one host).\n"
	  "      dir out: the host may connect/send to the remote port; dir in: the remote may\n"
	  "      connect/send to the local port; default both. Replies of an allowed flow pass.\n"
	  "  exe PATH      processes running this executable (device+inode of the file)\n"
	  "  cgroup PATH   processes in this cgroup v2 or below it\n"
	  "Changes apply immediately (also while isolated) and persist in the state dir.\n"
	  "Examples:\n"
	  "  ringfence allow add net 203.0.113.10 proto tcp port 443 dir out\n"
	  "  ringfence allow add exe /opt/edr/bin/agent\n"
	  "  ringfence allow del net 203.0.113.10 proto tcp port 443 dir out\n" },
	{ "events",
	  "Usage: ringfence events [--follow] [--json]\n"
	  "Print blocked attempts queued by the kernel (and wait for more with --follow).\n"
	  "--json prints one Elastic Common Schema object per line.\n" },
	{ "history",
	  "Usage: ringfence history [--json]\n"
	  "Every isolate, release and rule change with requestor, comment, times and status.\n" },
	{ "metrics",
	  "Usage: ringfence metrics\n"
	  "Allow/deny counters per hook and event counters in Prometheus text format.\n" },
	{ "agent",
	  "Usage: ringfence agent\n"
	  "Run as the long-lived service (see the systemd unit): load or adopt the programs, apply\n"
	  "the config, isolate again after a reboot if the host was isolated, stream blocked\n"
	  "attempts as JSON lines to stdout and <state dir>/events.jsonl, re-attach detached hooks\n"
	  "and record isolation changes made by other agents or by the deadline. Stopping the\n"
	  "agent never ends isolation.\n" },
	{ "load", "Usage: ringfence load\nAttach and pin the programs without isolating.\n" },
	{ "unload",
	  "Usage: ringfence unload [--force]\n"
	  "Detach the programs and remove every pin. Refused while isolated unless --force.\n" },
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringfence: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ringfence --help'.\n");
	return EXIT_USAGE;
}

static void print_cmd_help(const char *name)
{
	size_t i;

	if (!strcmp(name, "unisolate"))
		name = "release";
	for (i = 0; i < sizeof(cmd_helps) / sizeof(cmd_helps[0]); i++) {
		if (!strcmp(cmd_helps[i].name, name)) {
			fputs(cmd_helps[i].text, stdout);
			return;
		}
	}
	fputs(usage_text, stdout);
}

/* Parse "--comment X", "--for D", "--force", "--follow", "--json" after a command. */
struct cmd_opts {
	const char *comment;
	const char *duration;
	bool force;
	bool follow;
	bool help;
};

/*
 * The value of the option at argv[*i]. A value that looks like an option ('--comment --force')
 * is almost always a forgotten value, so it is refused rather than swallowed.
 */
static int option_value(int argc, char **argv, int *i, const char **value)
{
	const char *opt = argv[*i];

	if (++*i >= argc)
		return usage_error("option '%s' needs a value", opt);
	if (!strncmp(argv[*i], "--", 2))
		return usage_error("option '%s' needs a value, got the option '%s'", opt, argv[*i]);
	*value = argv[*i];
	return 0;
}

static int parse_cmd_opts(struct rf_cli *cli, int argc, char **argv, const char *allowed,
			  struct cmd_opts *o)
{
	int i, ret;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			o->help = true;
		} else if (!strcmp(a, "--json")) {
			cli->json = true;
		} else if (!strcmp(a, "--comment") && strstr(allowed, "c")) {
			if ((ret = option_value(argc, argv, &i, &o->comment)))
				return ret;
		} else if (!strcmp(a, "--for") && strstr(allowed, "d")) {
			if ((ret = option_value(argc, argv, &i, &o->duration)))
				return ret;
		} else if (!strcmp(a, "--force") && strstr(allowed, "f")) {
			o->force = true;
		} else if (!strcmp(a, "--follow") && strstr(allowed, "F")) {
			o->follow = true;
		} else {
			return usage_error("unexpected argument '%s'", a);
		}
	}
	if (o->comment && strlen(o->comment) > 1000)
		return usage_error("%s", "comment longer than 1000 characters");
	return 0;
}

/* Count net entries that can carry management traffic (not the built-in DNS rules). */
static int count_way_back(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	(void)k;
	if (e->origin & RF_ENTRY_BUILTIN)
		return 0;
	(*(size_t *)arg)++;
	return 1; /* one is enough */
}

static int cmd_isolate(struct rf_cli *cli, int argc, char **argv)
{
	struct cmd_opts o;
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_isolation iso;
	struct rf_config cfg;
	struct rf_action a;
	__u64 secs = 0;
	int lock, ret, code = 0;
	size_t nnet, nexe, ncg;

	ret = parse_cmd_opts(cli, argc, argv, "cdf", &o);
	if (ret)
		return ret;
	if (o.help)
		return print_cmd_help("isolate"), 0;
	if (o.duration && rf_parse_duration(o.duration, &secs))
		return usage_error("invalid duration '%s': use e.g. 90s, 15m, 2h or 1d (at most 366d)",
				   o.duration);
	if ((ret = rf_cli_need_root()))
		return ret;
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_cli_action_defer(&a, "isolate", o.comment);
	if (rf_cli_ensure_loaded(cli, &m, true)) {
		code = rf_cli_action_finish(cli, &a, "load or configuration failed", EXIT_OPFAIL);
		goto out;
	}
	if ((ret = rf_config_get(&m, &cfg))) {
		fprintf(stderr, "ringfence: failed to read rf_config: %s\n", strerror(-ret));
		code = rf_cli_action_finish(cli, &a, "cannot read rf_config", EXIT_OPFAIL);
		goto out;
	}
	if (rf_cli_isolated_now(&cfg)) {
		if (cli->json)
			printf("{\"isolated\":true,\"changed\":false}\n");
		else
			printf("already isolated; nothing changed\n");
		code = rf_cli_action_finish(cli, &a, NULL, 0);
		goto out;
	}
	nnet = 0;
	rf_policy_for_each_net(&m, count_way_back, &nnet);
	nexe = rf_map_count(m.exe, sizeof(struct rf_exe_key), 1);
	ncg = rf_map_count(m.cgroup, sizeof(__u64), 1);
	if (!nnet && !nexe && !ncg && !o.force) {
		fprintf(stderr,
			"ringfence: refusing to isolate: no destination and no process is allowed, so "
			"nothing could reach this host to release it. Allow the management channel first "
			"(e.g. 'ringfence allow add net 203.0.113.10 proto tcp port 443 dir out' or "
			"'ringfence allow add exe /path/to/agent'), or pass --force.\n");
		code = rf_cli_action_finish(cli, &a, "no way back: nothing allowed", EXIT_OPFAIL);
		goto out;
	}
	cfg.abi_version = RF_ABI_VERSION;
	cfg.since_unix_ns = rf_now_unix_ns();
	cfg.deadline_ns = secs ? rf_now_boot_ns() + secs * 1000000000ULL : 0;
	cfg.isolated = RF_ISOLATED;
	if ((ret = rf_config_set(&m, &cfg))) {
		fprintf(stderr, "ringfence: failed to set the isolation flag: %s\n", strerror(-ret));
		code = rf_cli_action_finish(cli, &a, "cannot write rf_config", EXIT_OPFAIL);
		goto out;
	}
	memset(&iso, 0, sizeof(iso));
	iso.isolated = true;
	iso.since_unix_ns = cfg.since_unix_ns;
	iso.deadline_unix_ns = secs ? cfg.since_unix_ns + secs * 1000000000ULL : 0;
	snprintf(iso.comment, sizeof(iso.comment), "%s", o.comment ? o.comment : "");
	if ((ret = rf_isolation_save(cli->state_dir, &iso)))
		fprintf(stderr, "ringfence: warning: isolation is on but %s/isolation was not "
				"saved: %s (it will not be restored after a reboot)\n",
			cli->state_dir, strerror(-ret));
	code = rf_cli_action_finish(cli, &a, NULL, 0);
	if (cli->json) {
		printf("{\"isolated\":true,\"changed\":true,\"cgroup\":");
		rf_json_str(stdout, cli->cg_dir);
		printf(",\"deadline_seconds\":%llu,\"action_id\":%llu}\n", (unsigned long long)secs,
		       (unsigned long long)a.id);
	} else {
		printf("isolated %s", cli->cg_dir);
		if (secs)
			printf(" for %llus", (unsigned long long)secs);
		printf("\n");
	}
out:
	rf_maps_close(&m);
	rf_state_unlock(lock);
	return code;
}

static int cmd_release(struct rf_cli *cli, int argc, char **argv)
{
	struct cmd_opts o;
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_isolation iso;
	struct rf_config cfg;
	struct rf_action a;
	int lock, ret, code = 0;
	bool was;

	ret = parse_cmd_opts(cli, argc, argv, "c", &o);
	if (ret)
		return ret;
	if (o.help)
		return print_cmd_help("release"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_cli_action_start(cli, &a, "release", o.comment);
	ret = rf_maps_open(cli->pin_dir, &m);
	if (ret == -ENOENT) {
		printf(cli->json ? "{\"isolated\":false,\"changed\":false}\n"
				 : "not isolated (ringfence is not loaded)\n");
		code = rf_cli_action_finish(cli, &a, NULL, 0);
		goto out;
	}
	if (ret || (ret = rf_config_get(&m, &cfg))) {
		fprintf(stderr, "ringfence: failed to open pinned maps in %s: %s\n", cli->pin_dir,
			strerror(-ret));
		code = rf_cli_action_finish(cli, &a, "cannot open maps", EXIT_OPFAIL);
		goto out;
	}
	was = rf_cli_isolated_now(&cfg);
	cfg.isolated = 0;
	cfg.deadline_ns = 0;
	if ((ret = rf_config_set(&m, &cfg))) {
		fprintf(stderr, "ringfence: failed to clear the isolation flag: %s\n", strerror(-ret));
		code = rf_cli_action_finish(cli, &a, "cannot write rf_config", EXIT_OPFAIL);
		goto out;
	}
	rf_isolation_load(cli->state_dir, &iso);
	iso.isolated = false;
	iso.deadline_unix_ns = 0;
	rf_isolation_save(cli->state_dir, &iso);
	if (cli->json)
		printf("{\"isolated\":false,\"changed\":%s}\n", was ? "true" : "false");
	else
		printf(was ? "released\n" : "not isolated; nothing changed\n");
	code = rf_cli_action_finish(cli, &a, NULL, 0);
out:
	rf_maps_close(&m);
	rf_state_unlock(lock);
	return code;
}

static int rule_from_args(int argc, char **argv, struct rf_rule *r)
{
	char err[RF_ERR_MAX];

	if (rf_rule_parse(argc, argv, r, err, sizeof(err)))
		return usage_error("%s", err);
	return 0;
}

/* Add or remove `text` in the persisted rule list. */
static int persist_rule(struct rf_cli *cli, const char *text, bool add)
{
	char **lines = NULL, **nl;
	size_t n = 0, i, w = 0;
	int ret;

	ret = rf_rules_load(cli->state_dir, &lines, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (!strcmp(lines[i], text)) {
			if (add) {
				rf_lines_free(lines, n);
				return 0;
			}
			free(lines[i]);
			continue;
		}
		lines[w++] = lines[i];
	}
	n = w;
	if (add) {
		nl = realloc(lines, (n + 1) * sizeof(*lines));
		if (!nl || !(nl[n] = strdup(text))) {
			rf_lines_free(nl ? nl : lines, n);
			return -ENOMEM;
		}
		lines = nl;
		n++;
	}
	ret = rf_rules_save(cli->state_dir, lines, n);
	rf_lines_free(lines, n);
	return ret;
}

struct list_ctx {
	struct rf_cli *cli;
	int count;
};

static int list_net(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	struct list_ctx *lc = arg;
	char text[RF_RULE_TEXT_MAX];

	rf_format_net(k, e, text, sizeof(text));
	if (lc->cli->json) {
		printf("%s", lc->count ? "," : "");
		rf_json_str(stdout, text);
	} else {
		printf("%s%s\n", text,
		       e->origin & RF_ENTRY_BUILTIN ? "   (built-in)"
		       : e->origin & RF_ENTRY_CONFIG ? "   (config)"
						     : "");
	}
	lc->count++;
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

static void print_rule_line(struct rf_cli *cli, struct list_ctx *lc, const char *line)
{
	if (cli->json) {
		printf("%s", lc->count ? "," : "");
		rf_json_str(stdout, line);
	} else {
		printf("%s\n", line);
	}
	lc->count++;
}

/* Print the rules as a JSON array (json) or one per line. Net rules come from the map, process
 * rules from the persisted list (the maps hold only their identities). */
static void print_rules(struct rf_cli *cli, struct rf_maps *m)
{
	struct list_ctx lc = { cli, 0 };
	char **conf = NULL, **user = NULL;
	size_t nconf = 0, nuser = 0, i;

	if (cli->json)
		printf("[");
	rf_policy_for_each_net(m, list_net, &lc);
	/*
	 * The kernel keys exe and cgroup rules by inode and cgroup id, which do not lead back to a
	 * path: list them as the config file and 'allow add' wrote them.
	 */
	rf_state_lines_load(cli->state_dir, RF_CONFIG_APPLIED, &conf, &nconf);
	rf_rules_load(cli->state_dir, &user, &nuser);
	for (i = 0; i < nconf; i++)
		if (is_process_rule(conf[i]))
			print_rule_line(cli, &lc, conf[i]);
	for (i = 0; i < nuser; i++)
		if (is_process_rule(user[i]) && !process_rule_in(conf, nconf, user[i]))
			print_rule_line(cli, &lc, user[i]);
	rf_lines_free(conf, nconf);
	rf_lines_free(user, nuser);
	if (cli->json)
		printf("]");
}

static int cmd_allow(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	char err[RF_ERR_MAX] = "", text[RF_RULE_TEXT_MAX];
	struct rf_action a;
	struct rf_rule r;
	bool add;
	int lock, ret, code = 0;

	if (argc < 1)
		return usage_error("%s", "'allow' needs add, del or list");
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))
		return print_cmd_help("allow"), 0;
	if (!strcmp(argv[0], "list")) {
		struct cmd_opts o;

		if ((ret = parse_cmd_opts(cli, argc - 1, argv + 1, "", &o)))
			return ret;
		if (o.help)
			return print_cmd_help("allow"), 0;
		if ((ret = rf_cli_need_root()))
			return ret;
		if (rf_maps_open(cli->pin_dir, &m)) {
			printf(cli->json ? "[]\n" : "");
			if (!cli->json)
				fprintf(stderr, "ringfence is not loaded: no rules in the kernel\n");
			return 0;
		}
		print_rules(cli, &m);
		if (cli->json)
			printf("\n");
		rf_maps_close(&m);
		return 0;
	}
	if (strcmp(argv[0], "add") && strcmp(argv[0], "del"))
		return usage_error("unknown allow command '%s': expected add, del or list", argv[0]);
	add = argv[0][0] == 'a';
	/* trailing --json is a global option, accepted here too */
	if (argc > 1 && !strcmp(argv[argc - 1], "--json")) {
		cli->json = true;
		argc--;
	}
	if ((ret = rule_from_args(argc - 1, argv + 1, &r)))
		return ret;
	rf_rule_format(&r, text, sizeof(text));
	if ((ret = rf_cli_need_root()))
		return ret;
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_cli_action_start(cli, &a, add ? "allow-add" : "allow-del", text);
	if (rf_cli_ensure_loaded(cli, &m, false)) {
		code = rf_cli_action_finish(cli, &a, "load or configuration failed", EXIT_OPFAIL);
		goto out;
	}
	ret = rf_policy_change(&m, &r, add, cli->cg_dir, err, sizeof(err));
	if (ret == -EEXIST) {
		ret = 0;
		snprintf(err, sizeof(err), "already allowed");
	} else if (ret == -ENOENT && !add) {
		fprintf(stderr, "ringfence: no such rule: %s (see 'ringfence allow list')\n", text);
		code = rf_cli_action_finish(cli, &a, "no such rule", EXIT_OPFAIL);
		goto out;
	} else if (ret) {
		fprintf(stderr, "ringfence: %s\n", err[0] ? err : strerror(-ret));
		code = rf_cli_action_finish(cli, &a, err[0] ? err : "map update failed", EXIT_OPFAIL);
		goto out;
	} else {
		err[0] = '\0';
	}
	rf_cli_sync_flags(&m);
	if ((ret = persist_rule(cli, text, add)))
		fprintf(stderr, "ringfence: warning: rule applied but not saved in %s/rules: %s\n",
			cli->state_dir, strerror(-ret));
	if (cli->json) {
		printf("{\"rule\":");
		rf_json_str(stdout, text);
		printf(",\"action\":\"%s\",\"changed\":%s}\n", add ? "add" : "del",
		       err[0] ? "false" : "true");
	} else {
		printf("%s: %s%s%s\n", add ? "allowed" : "removed", text, err[0] ? " - " : "", err);
	}
	code = rf_cli_action_finish(cli, &a, NULL, 0);
out:
	rf_maps_close(&m);
	rf_state_unlock(lock);
	return code;
}

static void print_warnings(const struct rf_config *cfg, int *nwarn)
{
	const char *sep = *nwarn ? "," : "";

	if (cfg->isolated && cfg->isolated != RF_ISOLATED) {
		printf("%s\"rf_config.isolated holds %u: treated as isolated\"", sep, cfg->isolated);
		(*nwarn)++;
		sep = ",";
	}
	if (cfg->abi_version != RF_ABI_VERSION) {
		printf("%s\"rf_config.abi_version is %u, expected %u\"", sep, cfg->abi_version,
		       RF_ABI_VERSION);
		(*nwarn)++;
		sep = ",";
	}
	if (cfg->isolated && cfg->deadline_ns && rf_now_boot_ns() >= cfg->deadline_ns) {
		printf("%s\"deadline passed: isolation has expired\"", sep);
		(*nwarn)++;
	}
}

static int cmd_status(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_link_state ls[16];
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_isolation iso;
	struct rf_config cfg = {};
	struct cmd_opts o;
	char since[40] = "", deadline[40] = "", tcnames[512];
	bool loaded, isolated;
	size_t i;
	int ret, nwarn = 0;

	if ((ret = parse_cmd_opts(cli, argc, argv, "", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("status"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	loaded = rf_maps_open(cli->pin_dir, &m) == 0 && rf_config_get(&m, &cfg) == 0;
	isolated = loaded && rf_cli_isolated_now(&cfg);
	rf_links_state(cli->pin_dir, ls);
	rf_isolation_load(cli->state_dir, &iso);
	if (cfg.since_unix_ns)
		rf_format_time(cfg.since_unix_ns, since, sizeof(since));
	if (isolated && cfg.deadline_ns)
		rf_format_time(rf_now_unix_ns() + (cfg.deadline_ns - rf_now_boot_ns()), deadline,
			       sizeof(deadline));

	if (cli->json) {
		printf("{\"isolated\":%s,\"loaded\":%s,", isolated ? "true" : "false",
		       loaded ? "true" : "false");
		printf("\"since\":");
		if (isolated && since[0])
			printf("\"%s\"", since);
		else
			printf("null");
		printf(",\"deadline\":");
		if (deadline[0])
			printf("\"%s\"", deadline);
		else
			printf("null");
		printf(",\"comment\":");
		if (isolated)
			rf_json_str(stdout, iso.comment);
		else
			printf("null");
		printf(",\"abi_version\":%u,\"pin_dir\":", cfg.abi_version);
		rf_json_str(stdout, cli->pin_dir);
		printf(",\"hooks\":{");
		for (i = 0; i < rf_nr_hooks; i++)
			printf("%s\"%s\":%s", i ? "," : "", rf_hooks[i].label,
			       ls[i].attached ? "true" : "false");
		printf("},\"cgroup_id\":%llu,\"packet_guard\":[", (unsigned long long)ls[0].cgroup_id);
		if (rf_tc_list(tcnames, sizeof(tcnames))) {
			char *save = NULL, *t;
			int k = 0;

			for (t = strtok_r(tcnames, " ", &save); t; t = strtok_r(NULL, " ", &save))
				printf("%s\"%s\"", k++ ? "," : "", t);
		}
		printf("]");
		printf(",\"builtins\":{\"dhcp\":%s,\"nd\":%s}",
		       cfg.builtins & RF_BUILTIN_DHCP ? "true" : "false",
		       cfg.builtins & RF_BUILTIN_ND ? "true" : "false");
		printf(",\"rules\":");
		if (loaded)
			print_rules(cli, &m);
		else
			printf("[]");
		printf(",\"counters\":{");
		for (i = 0; loaded && i < RF_HOOK_MAX; i++)
			printf("%s\"%s\":{\"allowed\":%llu,\"denied\":%llu}", i ? "," : "",
			       rf_hook_name((unsigned)i),
			       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2)),
			       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2 + 1)));
		if (loaded)
			printf(",\"events_sent\":%llu,\"events_ratelimited\":%llu,\"events_lost\":%llu",
			       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_SENT),
			       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_RATELIMITED),
			       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_LOST));
		printf("},\"warnings\":[");
		if (loaded)
			print_warnings(&cfg, &nwarn);
		printf("]}\n");
	} else {
		printf("isolated:  %s", isolated ? "yes" : "no");
		if (isolated && since[0])
			printf(" (since %s)", since);
		printf("\n");
		if (isolated && deadline[0])
			printf("until:     %s (automatic release)\n", deadline);
		if (isolated && iso.comment[0])
			printf("comment:   %s\n", iso.comment);
		printf("loaded:    %s (pin dir %s)\n", loaded ? "yes" : "no", cli->pin_dir);
		printf("hooks:    ");
		for (i = 0; i < rf_nr_hooks; i++)
			printf(" %s%s", rf_hooks[i].label, ls[i].attached ? "" : "(DETACHED)");
		printf("\n");
		if (ls[0].cgroup_id)
			printf("cgroup id: %llu\n", (unsigned long long)ls[0].cgroup_id);
		if (rf_tc_list(tcnames, sizeof(tcnames)))
			printf("packet-socket guard (tc egress): %s\n", tcnames);
		if (loaded) {
			printf("built-ins: dhcp %s, nd %s\n",
			       cfg.builtins & RF_BUILTIN_DHCP ? "on" : "off",
			       cfg.builtins & RF_BUILTIN_ND ? "on" : "off");
			printf("rules:\n");
			print_rules(cli, &m);
			printf("counters (allowed/denied while isolated):\n");
			for (i = 0; i < RF_HOOK_MAX; i++)
				printf("  %-12s %llu/%llu\n", rf_hook_name((unsigned)i),
				       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2)),
				       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2 + 1)));
			if (cfg.isolated && cfg.isolated != RF_ISOLATED)
				printf("warning:   rf_config.isolated holds %u (treated as isolated)\n",
				       cfg.isolated);
		}
	}
	rf_maps_close(&m);
	return 0;
}

struct ev_ctx {
	struct rf_cli *cli;
	__u64 boot_to_unix;
	char hostname[256];
	long count;
};

static int on_event(void *arg, void *data, size_t len)
{
	struct ev_ctx *ec = arg;
	const struct rf_event *e = data;
	struct rf_event_ctx c = { ec->boot_to_unix, NULL, ec->hostname };
	char exe[PATH_MAX];

	if (len < sizeof(*e))
		return 0;
	c.exe_path = rf_event_exe_path(e, exe, sizeof(exe));
	if (ec->cli->json)
		rf_event_json(stdout, e, &c);
	else
		rf_event_text(stdout, e, &c);
	fflush(stdout);
	ec->count++;
	return 0;
}

/*
 * The kernel ring buffer has one consumer. While the agent runs it is that consumer, so read
 * what it wrote to <state>/events.jsonl (ECS JSON lines; the text view is the same lines).
 */
static int events_from_agent_log(struct rf_cli *cli, bool follow)
{
	char path[PATH_MAX], buf[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/events.jsonl", cli->state_dir);
	if (!cli->json)
		fprintf(stderr, "ringfence: the agent is running and receives the events; showing its "
				"log %s (JSON lines)\n",
			path);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !follow)
			return 0;
		fprintf(stderr, "ringfence: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_OPFAIL;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!exiting) {
		if (fgets(buf, sizeof(buf), f)) {
			fputs(buf, stdout);
			continue;
		}
		if (!follow)
			break;
		fflush(stdout);
		clearerr(f);
		usleep(200 * 1000);
	}
	fclose(f);
	return 0;
}

static int cmd_events(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct ring_buffer *rb;
	struct ev_ctx ec = { cli, 0, "", 0 };
	struct cmd_opts o;
	int ret;

	if ((ret = parse_cmd_opts(cli, argc, argv, "F", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("events"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	if (rf_agent_running(cli->state_dir))
		return events_from_agent_log(cli, o.follow);
	if ((ret = rf_maps_open(cli->pin_dir, &m))) {
		fprintf(stderr, "ringfence: not loaded (no pinned maps in %s): run 'ringfence load' "
				"or 'ringfence isolate' first\n",
			cli->pin_dir);
		return EXIT_OPFAIL;
	}
	ec.boot_to_unix = rf_now_unix_ns() - rf_now_boot_ns();
	gethostname(ec.hostname, sizeof(ec.hostname) - 1);
	rb = ring_buffer__new(m.events, on_event, &ec, NULL);
	if (!rb) {
		ret = -errno;
		fprintf(stderr, "ringfence: failed to open the event ring buffer: %s\n",
			strerror(-ret));
		rf_maps_close(&m);
		return EXIT_OPFAIL;
	}
	if (!cli->json)
		rf_event_text_header(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o.follow) {
		ret = ring_buffer__consume(rb);
	} else {
		while (!exiting) {
			ret = ring_buffer__poll(rb, 200);
			if (ret == -EINTR) {
				ret = 0;
				break;
			}
			if (ret < 0)
				break;
		}
	}
	ring_buffer__free(rb);
	rf_maps_close(&m);
	if (ret < 0 && ret != -EINTR) {
		fprintf(stderr, "ringfence: reading events failed: %s\n", strerror(-ret));
		return EXIT_OPFAIL;
	}
	return 0;
}

static int cmd_history(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_action *acts;
	struct cmd_opts o;
	size_t n, i;
	int ret;

	if ((ret = parse_cmd_opts(cli, argc, argv, "", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("history"), 0;
	ret = rf_history_load(cli->state_dir, &acts, &n);
	if (ret) {
		fprintf(stderr, "ringfence: failed to read %s/history: %s\n", cli->state_dir,
			strerror(-ret));
		return EXIT_OPFAIL;
	}
	if (cli->json) {
		printf("[");
		for (i = 0; i < n; i++) {
			printf("%s", i ? "," : "");
			rf_action_json(stdout, &acts[i]);
		}
		printf("]\n");
	} else {
		printf("%-5s %-12s %-10s %-24s %-20s %s\n", "ID", "TYPE", "STATUS", "REQUESTED",
		       "REQUESTOR", "COMMENT");
		for (i = 0; i < n; i++) {
			char t[40];

			rf_format_time(acts[i].requested_unix_ns, t, sizeof(t));
			printf("%-5llu %-12s %-10s %-24s %-20s %s%s%s\n",
			       (unsigned long long)acts[i].id, acts[i].type,
			       rf_action_status_name(acts[i].status), t, acts[i].requestor,
			       acts[i].comment, acts[i].error[0] ? " | error: " : "", acts[i].error);
		}
	}
	free(acts);
	return 0;
}

static int cmd_metrics(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_config cfg = {};
	struct cmd_opts o;
	int ret;
	size_t i;

	if ((ret = parse_cmd_opts(cli, argc, argv, "", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("metrics"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	ret = rf_maps_open(cli->pin_dir, &m);
	printf("# HELP ringfence_loaded Whether the ringfence programs are pinned.\n"
	       "# TYPE ringfence_loaded gauge\nringfence_loaded %d\n",
	       ret == 0);
	if (ret)
		return 0;
	rf_config_get(&m, &cfg);
	printf("# HELP ringfence_isolated Whether the host is isolated now.\n"
	       "# TYPE ringfence_isolated gauge\nringfence_isolated %d\n",
	       rf_cli_isolated_now(&cfg));
	printf("# HELP ringfence_verdicts_total Verdicts while isolated, by hook.\n"
	       "# TYPE ringfence_verdicts_total counter\n");
	for (i = 0; i < RF_HOOK_MAX; i++) {
		printf("ringfence_verdicts_total{hook=\"%s\",verdict=\"allow\"} %llu\n",
		       rf_hook_name((unsigned)i),
		       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2)));
		printf("ringfence_verdicts_total{hook=\"%s\",verdict=\"deny\"} %llu\n",
		       rf_hook_name((unsigned)i),
		       (unsigned long long)rf_stat_sum(&m, (__u32)(i * 2 + 1)));
	}
	printf("# HELP ringfence_events_total Blocked-attempt events by fate.\n"
	       "# TYPE ringfence_events_total counter\n"
	       "ringfence_events_total{fate=\"sent\"} %llu\n"
	       "ringfence_events_total{fate=\"ratelimited\"} %llu\n"
	       "ringfence_events_total{fate=\"lost\"} %llu\n",
	       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_SENT),
	       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_RATELIMITED),
	       (unsigned long long)rf_stat_sum(&m, RF_STAT_EVENTS_LOST));
	rf_maps_close(&m);
	return 0;
}

static int cmd_load(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_action a;
	struct cmd_opts o;
	int lock, ret, code;

	if ((ret = parse_cmd_opts(cli, argc, argv, "", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("load"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_cli_action_start(cli, &a, "load", NULL);
	if (rf_cli_ensure_loaded(cli, &m, true)) {
		code = rf_cli_action_finish(cli, &a, "load or configuration failed", EXIT_OPFAIL);
	} else {
		printf(cli->json ? "{\"loaded\":true}\n" : "loaded and attached to %s\n",
		       cli->cg_dir);
		code = rf_cli_action_finish(cli, &a, NULL, 0);
	}
	rf_maps_close(&m);
	rf_state_unlock(lock);
	return code;
}

static int cmd_unload(struct rf_cli *cli, int argc, char **argv)
{
	struct rf_maps m = { -1, -1, -1, -1, -1, -1 };
	struct rf_config cfg;
	struct rf_action a;
	struct cmd_opts o;
	int lock, ret, code = 0;

	if ((ret = parse_cmd_opts(cli, argc, argv, "f", &o)))
		return ret;
	if (o.help)
		return print_cmd_help("unload"), 0;
	if ((ret = rf_cli_need_root()))
		return ret;
	lock = rf_cli_lock(cli);
	if (lock < 0)
		return EXIT_OPFAIL;
	if (!rf_maps_open(cli->pin_dir, &m) && !rf_config_get(&m, &cfg) && rf_cli_isolated_now(&cfg) &&
	    !o.force) {
		fprintf(stderr, "ringfence: the host is isolated: unloading would end isolation. Run "
				"'ringfence release' first, or 'ringfence unload --force'.\n");
		rf_maps_close(&m);
		rf_state_unlock(lock);
		return EXIT_OPFAIL;
	}
	if (m.config >= 0 && !rf_config_get(&m, &cfg) && cfg.isolated) {
		/* a tc filter left in another namespace must not keep enforcing an orphaned flag */
		cfg.isolated = 0;
		rf_config_set(&m, &cfg);
	}
	rf_maps_close(&m);
	rf_cli_action_start(cli, &a, "unload", NULL);
	rf_tc_detach_all();
	ret = rf_unload(cli->pin_dir);
	if (ret) {
		fprintf(stderr, "ringfence: failed to remove pins in %s: %s\n", cli->pin_dir,
			strerror(-ret));
		code = rf_cli_action_finish(cli, &a, strerror(-ret), EXIT_OPFAIL);
	} else {
		struct rf_isolation iso = {};

		rf_isolation_save(cli->state_dir, &iso);
		printf(cli->json ? "{\"loaded\":false}\n" : "unloaded\n");
		code = rf_cli_action_finish(cli, &a, NULL, 0);
	}
	rf_state_unlock(lock);
	return code;
}

static void print_version(void)
{
	printf("ringfence %s (git %s), libbpf %u.%u, ABI %d\n", RF_VERSION, RF_GIT_REV,
	       libbpf_major_version(), libbpf_minor_version(), RF_ABI_VERSION);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'C' },
		{ "btf", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct rf_cli cli = {};
	const char *cmd;
	int opt;

	cli.cgroup = getenv("RINGFENCE_CGROUP");
	cli.pin_dir = getenv("RINGFENCE_PIN_DIR");
	cli.state_dir = getenv("RINGFENCE_STATE_DIR");
	cli.config = getenv("RINGFENCE_CONFIG");
	cli.btf = getenv("RINGFENCE_BTF");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+vhVj", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cli.cgroup = optarg;
			break;
		case 'p':
			cli.pin_dir = optarg;
			break;
		case 's':
			cli.state_dir = optarg;
			break;
		case 'C':
			cli.config = optarg;
			break;
		case 'b':
			cli.btf = optarg;
			break;
		case 'j':
			cli.json = true;
			break;
		case 'v':
			cli.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			print_version();
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!cli.pin_dir || !*cli.pin_dir)
		cli.pin_dir = RF_PIN_DIR_DEFAULT;
	if (!cli.state_dir || !*cli.state_dir)
		cli.state_dir = RF_STATE_DIR_DEFAULT;
	if (!cli.config || !*cli.config)
		cli.config = RF_CONFIG_DEFAULT;
	if (cli.cgroup && !*cli.cgroup)
		cli.cgroup = NULL;
	if (cli.btf && !*cli.btf)
		cli.btf = NULL;
	if (optind >= argc)
		return usage_error("%s", "missing command");
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;

	if (!strcmp(cmd, "isolate"))
		return cmd_isolate(&cli, argc, argv);
	if (!strcmp(cmd, "release") || !strcmp(cmd, "unisolate"))
		return cmd_release(&cli, argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(&cli, argc, argv);
	if (!strcmp(cmd, "allow"))
		return cmd_allow(&cli, argc, argv);
	if (!strcmp(cmd, "events"))
		return cmd_events(&cli, argc, argv);
	if (!strcmp(cmd, "history"))
		return cmd_history(&cli, argc, argv);
	if (!strcmp(cmd, "metrics"))
		return cmd_metrics(&cli, argc, argv);
	if (!strcmp(cmd, "load"))
		return cmd_load(&cli, argc, argv);
	if (!strcmp(cmd, "unload"))
		return cmd_unload(&cli, argc, argv);
	if (!strcmp(cmd, "agent")) {
		struct cmd_opts o;
		int ret = parse_cmd_opts(&cli, argc, argv, "", &o);

		if (ret)
			return ret;
		if (o.help)
			return print_cmd_help("agent"), 0;
		return rf_agent_run(&cli, 1000);
	}
	if (!strcmp(cmd, "help")) {
		if (argc > 0)
			print_cmd_help(argv[0]);
		else
			fputs(usage_text, stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
