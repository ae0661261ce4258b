// SPDX-License-Identifier: GPL-2.0-only
/* ringfence-console: start the broker mirror and the HTTP server, then time out actions that
 * devices do not complete, until SIGTERM/SIGINT. Exit 0 on a signal, 1 on an operational
 * failure, 2 on a usage error. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "console.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* Pending/InProgress past --action-timeout become TimeOut, published as the retained document
 * (several consoles may do it at once: the same document). */
static void expire_actions(struct rfc_ctx *c)
{
	json_t *out = json_array(), *item;
	struct timespec now;
	size_t i;

	if (!out || !rfc_broker_connected(c->broker)) {
		json_decref(out);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&c->fleet->lock);
	rfc_actions_expire(c->fleet, c->opts->action_timeout, &now, out);
	pthread_mutex_unlock(&c->fleet->lock);
	json_array_foreach(out, i, item)
	{
		const char *dev = json_string_value(json_object_get(item, "device"));
		json_t *doc = json_object_get(item, "doc");

		fprintf(stderr, "ringfence-console: action %s on %s timed out\n",
			json_string_value(json_object_get(doc, "id")), dev);
		if (rfc_broker_update_action(c->broker, dev, doc))
			fprintf(stderr, "ringfence-console: could not publish the TimeOut of %s\n",
				json_string_value(json_object_get(doc, "id")));
	}
	json_decref(out);
}

int main(int argc, char **argv)
{
	static struct rfc_tokens tokens;
	struct rfc_fleet fleet;
	struct rfc_opts opts;
	struct rfc_ctx c = {.opts = &opts, .tokens = &tokens, .fleet = &fleet};
	struct sigaction sa = {.sa_handler = on_signal};
	struct rfc_http *http;

	if (rfc_parse_args(&opts, argc, argv))
		return 2;
	if (rfc_tokens_load(&tokens, opts.tokens))
		return 1;
	tokens.per_minute = opts.rate_minute;
	tokens.per_hour = opts.rate_hour;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rfc_fleet_init(&fleet);
	c.broker = rfc_broker_start(&opts, &fleet);
	if (!c.broker)
		return 1;
	http = rfc_http_start(&c);
	if (!http) {
		rfc_broker_stop(c.broker);
		return 1;
	}
	fprintf(stderr,
		"ringfence-console: serving %s://%s:%u/ for %zu token(s), broker %s://%s:%u\n",
		*opts.tls_cert ? "https" : "http", opts.listen_host, opts.listen_port, tokens.n,
		opts.broker_tls ? "mqtts" : "mqtt", opts.broker_host, opts.broker_port);
	while (!exiting) {
		sleep(1);
		expire_actions(&c);
	}
	rfc_http_stop(http);
	rfc_broker_stop(c.broker);
	rfc_fleet_free(&fleet);
	return 0;
}
