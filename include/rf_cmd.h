/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command-line layer. main.c parses the global options (anywhere on the line) and the
 * options a command accepts, as its table entry declares, then calls the handler with what is
 * left. Handlers return exit codes: 0, EXIT_OPFAIL, EXIT_USAGE. Adding a command: a handler and
 * its help text in the family's cmd_*.c file, one row in main.c's table.
 */
#ifndef RF_CMD_H
#define RF_CMD_H

#include <stdbool.h>
#include <jansson.h>
#include "rf_service.h"

/* Options a command may accept (struct rf_cmd.options). */
enum rf_cmd_opt {
	RF_OPT_COMMENT = 1 << 0, /* --comment TEXT */
	RF_OPT_FOR = 1 << 1,	 /* --for DURATION */
	RF_OPT_FORCE = 1 << 2,	 /* --force */
	RF_OPT_FOLLOW = 1 << 3,	 /* --follow */
	RF_OPT_ARGS = 1 << 4,	 /* positional arguments (allow add RULE...) */
	RF_OPT_SAFETY =
	    1 << 5,	     /* --audit, --confirm-within D, --verify H:P..., --verify-timeout D */
	RF_OPT_ALL = 1 << 6, /* --all */
	RF_OPT_TARGET = 1 << 7, /* works on the target: --unit/--container/--pid resolved first */
	RF_OPT_OWN = 1 << 8,	/* parses its own options: ones no table knows go to its argv */
};

#define RF_CMD_VERIFY_MAX 16

struct rf_cmd_opts {
	const char *comment;
	const char *duration;
	bool force;
	bool follow;
	bool audit;
	bool all;
	const char *confirm_within;
	const char *verify_timeout;
	const char *verify[RF_CMD_VERIFY_MAX];
	int nverify;
	int argc; /* positional arguments, in order */
	char **argv;
};

struct rf_cmd {
	const char *name;
	int (*handler)(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
	unsigned int options; /* RF_OPT_* */
	const char *help;
};

/* "ringfence: <message>" and a hint on stderr; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int rf_usage_error(const char *fmt, ...);

/*
 * The frame of every command that changes state: root is checked, the state lock taken, fn
 * run under it and the lock released. Returns fn's result as an exit code (rf_exit_code()).
 */
int rf_cmd_locked(struct rf_ctx *ctx, int (*fn)(struct rf_ctx *ctx, const void *arg),
		  const void *arg);

/* Exit code of a service-layer result: 0 stays 0, any -errno is EXIT_OPFAIL. */
static inline int rf_exit_code(int ret)
{
	return ret ? EXIT_OPFAIL : 0;
}

/* Handlers and help texts, one file per command family. */
int rf_cmd_isolate(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
int rf_cmd_release(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
int rf_cmd_confirm(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_isolate[], rf_help_release[], rf_help_confirm[];

int rf_cmd_allow(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_allow[];
/* The rules as a JSON array (jansson; NULL when out of memory), for allow list and status. */
json_t *rf_rules_json(struct rf_ctx *ctx, struct rf_maps *m);
/* The rules on stdout: rf_rules_json() on one line (ctx->json) or one per line, made safe for
 * a terminal. 0 or -errno. */
int rf_print_rules(struct rf_ctx *ctx, struct rf_maps *m);

int rf_cmd_status(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
/* The status --json document of ctx's target as a string (malloc'd; NULL when out of memory),
 * for the agent's remote control (user/mqtt.c). */
char *rf_status_json_doc(struct rf_ctx *ctx);
int rf_cmd_metrics(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_status[], rf_help_metrics[];

int rf_cmd_events(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_events[];

int rf_cmd_load(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
int rf_cmd_unload(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
int rf_cmd_history(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
int rf_cmd_agent(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_load[], rf_help_unload[], rf_help_history[], rf_help_agent[];

int rf_cmd_oci_hook(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_oci_hook[];
int rf_cmd_remote(struct rf_ctx *ctx, const struct rf_cmd_opts *o);
extern const char rf_help_remote[];

#endif /* RF_CMD_H */
