// SPDX-License-Identifier: GPL-2.0-only
/* ringfence CLI: global options and the command table; each command family has its own file. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
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
    "  remote isolate|release|status|actions DEVICE | remote devices\n"
    "                          drive other devices' agents through the MQTT broker\n"
    "\n"
    "RULE:\n"
    "  net CIDR [proto tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]\n"
    "  exe PATH                an executable (matched by device+inode, not by name)\n"
    "  cgroup PATH             a cgroup v2 and its descendants, e.g. /system.slice/edr.service\n"
    "\n"
    "Global options, before or after the command (environment variable in brackets):\n"
    "  --cgroup PATH     cgroup v2 to enforce on (default: the cgroup2 root) [RINGFENCE_CGROUP]\n"
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
    {"remote", rf_cmd_remote, RF_OPT_ARGS | RF_OPT_COMMENT | RF_OPT_FOR, rf_help_remote},
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

/* Global options with a value: where each one goes. */
struct global_opt {
	const char *name;
	size_t offset;	 /* of the const char * in struct rf_ctx */
	bool target;	 /* a target selector: one at most */
	const char *env; /* the environment variable that sets a selector, NULL: none */
};

static const struct global_opt global_opts[] = {
    {"--cgroup", offsetof(struct rf_ctx, cgroup), true, "RINGFENCE_CGROUP"},
    {"--unit", offsetof(struct rf_ctx, unit), true, "RINGFENCE_UNIT"},
    {"--container", offsetof(struct rf_ctx, container), true, "RINGFENCE_CONTAINER"},
    /* no RINGFENCE_PID: a pid kept in an environment outlives its process and can be reused
     * by an unrelated one, which a later isolate would then cut off */
    {"--pid", offsetof(struct rf_ctx, pid), true, NULL},
    {"--pin-dir", offsetof(struct rf_ctx, pin_dir), false, NULL},
    {"--state-dir", offsetof(struct rf_ctx, state_dir), false, NULL},
    {"--config", offsetof(struct rf_ctx, config), false, NULL},
    {"--btf", offsetof(struct rf_ctx, btf), false, NULL},
};

static const char **ctx_field(struct rf_ctx *ctx, const struct global_opt *g)
{
	return (const char **)((char *)ctx + g->offset);
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
	for (k = 0; k < sizeof(global_opts) / sizeof(global_opts[0]); k++) {
		const char *v = global_opts[k].env ? getenv(global_opts[k].env) : NULL;

		if (!v || !*v)
			continue; /* empty: unset */
		if (one_target(ctx, global_opts[k].env))
			return EXIT_USAGE;
		*ctx_field(ctx, &global_opts[k]) = v;
	}
	return 0;
}

/*
 * The value of option opt: "--opt=VALUE" or the next argument. A value that looks like an
 * option ('--comment --force') is almost always a forgotten value, so it is refused.
 */
static int option_value(int argc, char **argv, int *i, const char *opt, const char **value)
{
	size_t n = strlen(opt);

	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 0;
	}
	if (++*i >= argc)
		return rf_usage_error("option '%s' needs a value", opt);
	if (!strncmp(argv[*i], "--", 2))
		return rf_usage_error("option '%s' needs a value, got the option '%s'", opt,
				      argv[*i]);
	*value = argv[*i];
	return 0;
}

/* Does argument a name option opt ("--opt" or "--opt=...")? */
static bool is_opt(const char *a, const char *opt)
{
	size_t n = strlen(opt);

	return !strncmp(a, opt, n) && (a[n] == '\0' || a[n] == '=');
}

/* A global option at argv[*i]: 1 when consumed, 0 when it is not one, EXIT_USAGE + 1 on error. */
static int global_option(struct rf_ctx *ctx, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	size_t k;

	if (!strcmp(a, "--json")) {
		ctx->json = true;
		return 1;
	}
	if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
		ctx->verbose = true;
		return 1;
	}
	for (k = 0; k < sizeof(global_opts) / sizeof(global_opts[0]); k++) {
		if (!is_opt(a, global_opts[k].name))
			continue;
		if (global_opts[k].target && one_target(ctx, global_opts[k].name))
			return EXIT_USAGE + 1;
		if (option_value(argc, argv, i, global_opts[k].name,
				 ctx_field(ctx, &global_opts[k])))
			return EXIT_USAGE + 1;
		return 1;
	}
	return 0;
}

/* isolate's responder-safety options at argv[*i]: 1 consumed, 0 not one, EXIT_USAGE + 1 error. */
static int safety_option(struct rf_cmd_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--audit"))
		return o->audit = true, 1;
	if (is_opt(a, "--confirm-within"))
		return option_value(argc, argv, i, "--confirm-within", &o->confirm_within)
			   ? EXIT_USAGE + 1
			   : 1;
	if (is_opt(a, "--verify-timeout"))
		return option_value(argc, argv, i, "--verify-timeout", &o->verify_timeout)
			   ? EXIT_USAGE + 1
			   : 1;
	if (!is_opt(a, "--verify"))
		return 0;
	if (o->nverify == RF_CMD_VERIFY_MAX) {
		rf_usage_error("at most %d --verify endpoints", RF_CMD_VERIFY_MAX);
		return EXIT_USAGE + 1;
	}
	return option_value(argc, argv, i, "--verify", &o->verify[o->nverify++]) ? EXIT_USAGE + 1
										 : 1;
}

/* A command option at argv[*i], as cmd allows: 1 consumed, 0 not one, EXIT_USAGE + 1 error. */
static int command_option(const struct rf_cmd *cmd, struct rf_cmd_opts *o, int argc, char **argv,
			  int *i)
{
	const char *a = argv[*i];

	if ((cmd->options & RF_OPT_COMMENT) && is_opt(a, "--comment"))
		return option_value(argc, argv, i, "--comment", &o->comment) ? EXIT_USAGE + 1 : 1;
	if ((cmd->options & RF_OPT_FOR) && is_opt(a, "--for"))
		return option_value(argc, argv, i, "--for", &o->duration) ? EXIT_USAGE + 1 : 1;
	if ((cmd->options & RF_OPT_FORCE) && !strcmp(a, "--force"))
		return o->force = true, 1;
	if ((cmd->options & RF_OPT_FOLLOW) && !strcmp(a, "--follow"))
		return o->follow = true, 1;
	if ((cmd->options & RF_OPT_ALL) && !strcmp(a, "--all"))
		return o->all = true, 1;
	if (cmd->options & RF_OPT_SAFETY)
		return safety_option(o, argc, argv, i);
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

struct cmdline {
	const char *cmd;
	bool help, version;
	int nrest;
	char **rest; /* arguments after the command that are not global options */
};

/* Take the global options from anywhere on the line; the first other word is the command. */
static int parse_line(struct rf_ctx *ctx, int argc, char **argv, struct cmdline *cl)
{
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((r = global_option(ctx, argc, argv, &i)))
			if (r > 1)
				return EXIT_USAGE;
		if (r)
			continue;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			cl->help = true;
		else if (!strcmp(a, "-V") || !strcmp(a, "--version"))
			cl->version = true;
		else if (!cl->cmd && a[0] == '-')
			return rf_usage_error("unknown option '%s'", a);
		else if (!cl->cmd)
			cl->cmd = a;
		else
			cl->rest[cl->nrest++] = argv[i];
	}
	return 0;
}

static int run_command(struct rf_ctx *ctx, const struct cmdline *cl)
{
	const struct rf_cmd *cmd = find_cmd(cl->cmd);
	struct rf_cmd_opts o = {.argv = cl->rest};
	int i, r;

	if (!strcmp(cl->cmd, "help"))
		return print_help(cl->nrest ? cl->rest[0] : NULL);
	if (!cmd)
		return rf_usage_error("unknown command '%s'", cl->cmd);
	if (cl->help)
		return print_help(cmd->name);
	for (i = 0; i < cl->nrest; i++) {
		if ((r = command_option(cmd, &o, cl->nrest, cl->rest, &i)))
			if (r > 1)
				return EXIT_USAGE;
		if (r)
			continue;
		if (!(cmd->options & RF_OPT_ARGS))
			return rf_usage_error("unexpected argument '%s'", cl->rest[i]);
		o.argv[o.argc++] = cl->rest[i]; /* compacts in place: o.argc <= i */
	}
	if (o.comment && strlen(o.comment) > 1000)
		return rf_usage_error("%s", "comment longer than 1000 characters");
	/* a unit, container or pid that names no cgroup or several is a usage error, found before
	 * the command takes the lock or records anything; a --cgroup that is not usable is the
	 * command's to report */
	if ((cmd->options & RF_OPT_TARGET) && (r = rf_svc_select_target(ctx)) &&
	    (ctx->unit || ctx->container || ctx->pid))
		return r == -EINVAL ? EXIT_USAGE : EXIT_OPFAIL;
	return cmd->handler(ctx, &o);
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
	cl.rest = calloc((size_t)argc + 1, sizeof(*cl.rest));
	if (!cl.rest)
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
	free(cl.rest);
	return ret;
}
