// SPDX-License-Identifier: GPL-2.0-only
/* ringfence CLI: global options and the command table; each command family has its own file. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "rf_cmd.h"
#include "rf_util.h"

static const char usage_text[] =
    "Usage: ringfence [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Cut a Linux host off the network with eBPF, except loopback, its management channel and\n"
    "allowed processes and destinations. Enforcement lives in the kernel and outlasts this CLI.\n"
    "\n"
    "Commands:\n"
    "  isolate [--comment TEXT] [--for DURATION] [--force]\n"
    "          [--audit] [--confirm-within DURATION] [--verify HOST:PORT]...\n"
    "          [--verify-timeout DURATION]\n"
    "                          isolate now (loads and attaches first if needed); --audit\n"
    "                          only reports what isolation would block\n"
    "  confirm                 keep an isolation started with --confirm-within\n"
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
    "  oci-hook [STATE-FILE]   OCI createRuntime hook: isolate a restarted container again\n"
    "                          before its first process runs\n"
    "  remote isolate|release|status|actions DEVICE | remote devices\n"
    "                          drive other devices' agents through the MQTT broker\n"
    "\n"
    "RULE:\n"
    "  net CIDR [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
    "  exe PATH                an executable (matched by device+inode, not by name)\n"
    "  cgroup PATH             a cgroup v2 and its descendants, e.g. /system.slice/edr.service\n"
    "\n"
    "Global options, before or after the command (environment variable in brackets):\n"
    "  --cgroup PATH     cgroup v2 to enforce on (default: the cgroup2 root), below the cgroup2\n"
    "                    mount or relative to it; known by its id, so X, X/. and a symlink to X\n"
    "                    are one target [RINGFENCE_CGROUP]\n"
    "  --unit NAME       the cgroup of systemd unit NAME (.service assumed), found anywhere\n"
    "                    in the cgroup2 tree [RINGFENCE_UNIT]\n"
    "  --container ID    the cgroup of a Docker, Podman, containerd or CRI-O container: its\n"
    "                    id or a unique prefix of at least 4 hex digits [RINGFENCE_CONTAINER]\n"
    "  --pid PID         the cgroup of process PID\n"
    "                    (one target at most; one that matches nothing or several: exit 2)\n"
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
    "  ringfence --container 3f2a9c1d isolate --comment 'INC-4712 cryptominer'\n"
    "  ringfence release --comment 'INC-4711 cleaned'\n"
    "\n"
    "Exit status: 0 success, 1 operational failure, 2 usage error.\n";

static const struct rf_cmd cmds[] = {
    {"isolate", rf_cmd_isolate,
     RF_OPT_COMMENT | RF_OPT_FOR | RF_OPT_FORCE | RF_OPT_SAFETY | RF_OPT_TARGET, rf_help_isolate},
    {"confirm", rf_cmd_confirm, RF_OPT_COMMENT | RF_OPT_TARGET, rf_help_confirm},
    {"release", rf_cmd_release, RF_OPT_COMMENT | RF_OPT_TARGET, rf_help_release},
    {"unisolate", rf_cmd_release, RF_OPT_COMMENT | RF_OPT_TARGET, rf_help_release},
    {"status", rf_cmd_status, RF_OPT_TARGET | RF_OPT_ALL, rf_help_status},
    {"allow", rf_cmd_allow, RF_OPT_ARGS | RF_OPT_TARGET, rf_help_allow},
    {"events", rf_cmd_events, RF_OPT_FOLLOW | RF_OPT_TARGET, rf_help_events},
    {"history", rf_cmd_history, RF_OPT_TARGET | RF_OPT_ALL, rf_help_history},
    {"metrics", rf_cmd_metrics, RF_OPT_TARGET | RF_OPT_ALL, rf_help_metrics},
    {"load", rf_cmd_load, RF_OPT_TARGET, rf_help_load},
    {"unload", rf_cmd_unload, RF_OPT_FORCE | RF_OPT_TARGET, rf_help_unload},
    {"agent", rf_cmd_agent, RF_OPT_TARGET, rf_help_agent},
    {"oci-hook", rf_cmd_oci_hook, RF_OPT_ARGS, rf_help_oci_hook},
    {"remote", rf_cmd_remote, RF_OPT_ARGS | RF_OPT_OWN | RF_OPT_COMMENT | RF_OPT_FOR,
     rf_help_remote},
};

static const struct rf_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static int print_help(const char *name)
{
	const struct rf_cmd *c = name ? find_cmd(name) : NULL;

	fputs(c ? c->help : usage_text, stdout);
	return 0;
}

/*
 * Every option, global or a command's, in one table from which getopt_long's is made (so
 * global options may stand anywhere, and "--" ends the options). A global option sets a field
 * of the context; a command option one of struct rf_cmd_opts, and only a command whose table
 * entry has `needs` accepts it.
 */
enum opt_place { IN_CTX, IN_CMD };

struct opt {
	const char *name; /* "--cgroup"; getopt_long gets it without the dashes */
	bool value;	  /* takes a value (a const char * field), else sets a bool field */
	enum opt_place place;
	size_t offset;	    /* of the field in struct rf_ctx or struct rf_cmd_opts */
	unsigned int needs; /* command option: the RF_OPT_* a command must accept */
	bool target;	    /* a target selector: one at most */
	const char *env;    /* the environment variable that sets a selector, NULL: none */
};

#define CTX(f)		  IN_CTX, offsetof(struct rf_ctx, f)
#define CMD(f)		  IN_CMD, offsetof(struct rf_cmd_opts, f)
#define OPT_VERIFY_APPEND SIZE_MAX /* --verify: appended to rf_cmd_opts.verify */

static const struct opt opts[] = {
    {"--cgroup", true, CTX(cgroup), 0, true, "RINGFENCE_CGROUP"},
    {"--unit", true, CTX(unit), 0, true, "RINGFENCE_UNIT"},
    {"--container", true, CTX(container), 0, true, "RINGFENCE_CONTAINER"},
    /* no RINGFENCE_PID: a pid kept in an environment outlives its process and can be reused
     * by an unrelated one, which a later isolate would then cut off */
    {"--pid", true, CTX(pid), 0, true, NULL},
    {"--pin-dir", true, CTX(pin_dir), 0, false, NULL},
    {"--state-dir", true, CTX(state_dir), 0, false, NULL},
    {"--config", true, CTX(config), 0, false, NULL},
    {"--btf", true, CTX(btf), 0, false, NULL},
    {"--json", false, CTX(json), 0, false, NULL},
    {"--verbose", false, CTX(verbose), 0, false, NULL},
    {"--comment", true, CMD(comment), RF_OPT_COMMENT, false, NULL},
    {"--for", true, CMD(duration), RF_OPT_FOR, false, NULL},
    {"--force", false, CMD(force), RF_OPT_FORCE, false, NULL},
    {"--follow", false, CMD(follow), RF_OPT_FOLLOW, false, NULL},
    {"--all", false, CMD(all), RF_OPT_ALL, false, NULL},
    {"--audit", false, CMD(audit), RF_OPT_SAFETY, false, NULL},
    {"--confirm-within", true, CMD(confirm_within), RF_OPT_SAFETY, false, NULL},
    {"--verify-timeout", true, CMD(verify_timeout), RF_OPT_SAFETY, false, NULL},
    {"--verify", true, IN_CMD, OPT_VERIFY_APPEND, RF_OPT_SAFETY, false, NULL},
};

#define NOPTS	  (sizeof(opts) / sizeof(opts[0]))
#define OPT_FIRST 256 /* getopt_long's value of opts[i] is OPT_FIRST + i */

/* What the command line asks besides the global options. */
struct cmdline {
	const char *cmd;
	bool help, version;
	unsigned int needs; /* RF_OPT_* of the command options given */
	struct rf_cmd_opts o;
};

/* The field opt sets. */
static void *opt_field(const struct opt *opt, struct rf_ctx *ctx, struct rf_cmd_opts *o)
{
	return (char *)(opt->place == IN_CTX ? (void *)ctx : (void *)o) + opt->offset;
}

/* Take the selector that opt (an option or a variable) sets: one at most. */
static int one_target(struct rf_ctx *ctx, const char *opt)
{
	if (ctx->target_opt)
		return rf_usage_error("one target at a time: %s and %s both given", ctx->target_opt,
				      opt);
	ctx->target_opt = opt;
	return 0;
}

/* Without a selector on the command line, the RINGFENCE_<SELECTOR> variables (one at most). */
static int target_from_env(struct rf_ctx *ctx)
{
	size_t k;

	if (ctx->target_opt)
		return 0; /* the command line wins */
	for (k = 0; k < NOPTS; k++) {
		const char *v = opts[k].env ? getenv(opts[k].env) : NULL;

		if (!v || !*v)
			continue; /* empty: unset */
		if (one_target(ctx, opts[k].env))
			return EXIT_USAGE;
		*(const char **)opt_field(&opts[k], ctx, NULL) = v;
	}
	return 0;
}

/*
 * Apply opts[k] with value (NULL when it takes none). A value that looks like an option
 * ('--comment --force') is almost always a forgotten value, so it is refused. 0 or EXIT_USAGE.
 */
static int take_option(struct rf_ctx *ctx, struct cmdline *cl, size_t k, const char *value)
{
	const struct opt *opt = &opts[k];
	struct rf_cmd_opts *o = &cl->o;

	if (value && !strncmp(value, "--", 2))
		return rf_usage_error("option '%s' needs a value, got the option '%s'",
				      opts[k].name, value);
	if (opt->target && one_target(ctx, opts[k].name))
		return EXIT_USAGE;
	if (opt->target && !*value) /* never "no target", which would be the home target */
		return rf_usage_error("option '%s' needs a value, got an empty one", opts[k].name);
	cl->needs |= opt->needs;
	if (opt->offset == OPT_VERIFY_APPEND) {
		if (o->nverify == RF_CMD_VERIFY_MAX)
			return rf_usage_error("at most %d --verify endpoints", RF_CMD_VERIFY_MAX);
		o->verify[o->nverify++] = value;
	} else if (opt->value) {
		*(const char **)opt_field(opt, ctx, o) = value;
	} else {
		*(bool *)opt_field(opt, ctx, o) = true;
	}
	return 0;
}

/* getopt_long's table, made from opts. */
static void long_options(struct option *lo)
{
	size_t k;

	for (k = 0; k < NOPTS; k++)
		lo[k] = (struct option){opts[k].name + 2,
					opts[k].value ? required_argument : no_argument, NULL,
					(int)(OPT_FIRST + k)};
	lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[k++] = (struct option){"version", no_argument, NULL, 'V'};
	lo[k] = (struct option){NULL, 0, NULL, 0};
}

/* A word that is no option: the command, then its arguments (into cl->o.argv, which has room
 * for every word of the line). */
static void take_word(struct cmdline *cl, char *word)
{
	if (!cl->cmd)
		cl->cmd = word;
	else
		cl->o.argv[cl->o.argc++] = word;
}

/* Does the command (NULL: none yet) parse options of its own ('remote --wait 30s')? */
static bool owns_options(const char *name)
{
	const struct rf_cmd *c = name ? find_cmd(name) : NULL;

	return c && (c->options & RF_OPT_OWN);
}

/* Does the line ask for help (-h or --help before any "--")? Then nothing else is parsed
 * ("isolate --help --verify" shows isolate's help). */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

/* Options from anywhere on the line (whatever POSIXLY_CORRECT says: getopt_long hands the other
 * words back in order), "--" ending them; the first other word is the command. 0 or
 * EXIT_USAGE. */
static int parse_line(struct rf_ctx *ctx, int argc, char **argv, struct cmdline *cl)
{
	struct option lo[NOPTS + 3];
	int c;

	long_options(lo);
	opterr = 0; /* our messages, with the hint */
	cl->help = wants_help(argc, argv);
	while ((c = getopt_long(argc, argv, "-:hvV", lo, NULL)) != -1) {
		const char *a = argv[optind - 1];

		if (c == 1)
			take_word(cl, optarg);
		else if (cl->help)
			continue; /* only the command matters, whatever else the line holds */
		else if (c == 'h')
			cl->help = true;
		else if (c == 'V')
			cl->version = true;
		else if (c == 'v')
			ctx->verbose = true;
		else if (c == ':')
			return rf_usage_error("option '%s' needs a value", a);
		else if (c == '?' && optopt >= OPT_FIRST)
			return rf_usage_error("option '%s' takes no value",
					      opts[optopt - OPT_FIRST].name);
		else if (c == '?' && optopt)
			return rf_usage_error("unknown option '-%c'", optopt);
		else if (c == '?' && owns_options(cl->cmd))
			take_word(cl, argv[optind - 1]); /* remote's --wait, --broker, ... */
		else if (c == '?')
			return rf_usage_error("unknown option '%s'", a);
		else if (take_option(ctx, cl, (size_t)(c - OPT_FIRST), optarg))
			return EXIT_USAGE;
	}
	while (optind < argc) /* after "--" */
		take_word(cl, argv[optind++]);
	return 0;
}

static void ctx_defaults(struct rf_ctx *ctx)
{
	if (!ctx->pin_dir || !*ctx->pin_dir)
		ctx->pin_dir = RF_PIN_DIR_DEFAULT;
	if (!ctx->state_dir || !*ctx->state_dir)
		ctx->state_dir = RF_STATE_DIR_DEFAULT;
	ctx->pin_base = ctx->pin_dir;
	ctx->state_base = ctx->state_dir;
	if (ctx->home && !*ctx->home)
		ctx->home = NULL;
	if (!ctx->config || !*ctx->config)
		ctx->config = RF_CONFIG_DEFAULT;
	if (ctx->cgroup && !*ctx->cgroup)
		ctx->cgroup = NULL;
	if (ctx->btf && !*ctx->btf)
		ctx->btf = NULL;
}

static void print_version(void)
{
	printf("ringfence %s (git %s), libbpf %u.%u, ABI %d, mqtt %s\n", RF_VERSION, RF_GIT_REV,
	       libbpf_major_version(), libbpf_minor_version(), RF_ABI_VERSION,
	       RF_MQTT ? "yes" : "no");
}

static int run_command(struct rf_ctx *ctx, struct cmdline *cl)
{
	const struct rf_cmd *cmd = find_cmd(cl->cmd);
	size_t k;
	int r;

	if (!strcmp(cl->cmd, "help"))
		return print_help(cl->o.argc ? cl->o.argv[0] : NULL);
	if (!cmd)
		return rf_usage_error("unknown command '%s'", cl->cmd);
	if (cl->help)
		return print_help(cmd->name);
	for (k = 0; k < NOPTS; k++)
		if (opts[k].needs & cl->needs & ~cmd->options)
			return rf_usage_error("'%s' takes no option %s", cmd->name, opts[k].name);
	if (cl->o.argc && !(cmd->options & RF_OPT_ARGS))
		return rf_usage_error("unexpected argument '%s'", cl->o.argv[0]);
	if (cl->o.comment && strlen(cl->o.comment) > 1000)
		return rf_usage_error("%s", "comment longer than 1000 characters");
	/* every command acts on the target it was given, or on none: a selector that names no
	 * cgroup (or several) is a usage error, found before the command takes a lock or records
	 * anything, never a fallback to the home target */
	if ((cmd->options & RF_OPT_TARGET) && (r = rf_svc_select_target(ctx)))
		return r == -EINVAL ? EXIT_USAGE : EXIT_OPFAIL;
	return cmd->handler(ctx, &cl->o);
}

int main(int argc, char **argv)
{
	struct rf_ctx ctx = {};
	struct cmdline cl = {};
	int ret;

	ctx.pin_dir = getenv("RINGFENCE_PIN_DIR");
	ctx.state_dir = getenv("RINGFENCE_STATE_DIR");
	ctx.config = getenv("RINGFENCE_CONFIG");
	ctx.btf = getenv("RINGFENCE_BTF");
	ctx.home = getenv("RINGFENCE_HOME_CGROUP");
	cl.o.argv = calloc((size_t)argc + 1, sizeof(*cl.o.argv));
	if (!cl.o.argv)
		return EXIT_OPFAIL;
	ret = parse_line(&ctx, argc, argv, &cl);
	if (!ret)
		ret = target_from_env(&ctx);
	ctx_defaults(&ctx);
	if (!ret && cl.version)
		print_version();
	else if (!ret && !cl.cmd && cl.help)
		print_help(NULL);
	else if (!ret && !cl.cmd)
		ret = rf_usage_error("%s", "missing command");
	else if (!ret)
		ret = run_command(&ctx, &cl);
	free(cl.o.argv);
	return ret;
}
