// SPDX-License-Identifier: GPL-2.0-only
/*
 * Remote control, the device's side: a persistent MQTT session (clean session off, QoS 1) with
 * the broker of the config's mqtt-* settings, reconnecting with backoff. Each action document on
 * PREFIX/DEVICE/actions runs as the CLI command it stands for (this very binary, with the
 * agent's global options and the requestor in RINGFENCE_REQUESTOR, so the history record is
 * the command's own), once per id, also across restarts (<state>/remote-actions); its status
 * goes to PREFIX/DEVICE/actions/ID, retained. The device's status document and blocked-attempt
 * events are published too. The broker connection is allowed while isolated by process and
 * destination (rf_mgmt.h), written before every connect and refreshed while connected.
 */
#if RF_MQTT
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include "rf_cmd.h"
#include "rf_json.h"
#include "rf_mgmt.h"
#include "rf_mqtt.h"
#include "rf_policy.h"
#include "rf_service.h"
#include "rf_util.h"

#define RF_MQTT_BACKOFF_MIN_MS 1000
#define RF_MQTT_BACKOFF_MAX_MS 60000
#define RF_MQTT_KEEPALIVE_S    30
#define RF_MQTT_STATUS_MS      2000   /* the status document is compared this often */
#define RF_MQTT_MGMT_MS	       5000   /* the management channel is re-written this often */
#define RF_MQTT_ACTION_MS      120000 /* an action's command is killed after this */
#define RF_MQTT_SEEN_MAX       1000   /* action ids remembered */
#define RF_MQTT_EVENTS_PER_S   20     /* events published per second at most */
#define RF_MQTT_MAX_ADDRS      16
#define RF_MQTT_SEEN_FILE      "remote-actions"
#define RF_MQTT_BASE_MAX       (2 * RF_MQTT_NAME_MAX + 2)
#define RF_MQTT_INVALID_ID     "_invalid" /* where refusals of documents without an id go */

struct seen {
	char id[RF_MQTT_ID_MAX + 1];
	char status[16];
	char error[256];
};

struct rf_mqtt_agent {
	struct rf_ctx *ctx;
	struct rf_mqtt_conf conf;
	struct rf_mqtt_url url;
	char device[RF_MQTT_NAME_MAX + 1];
	char base[RF_MQTT_BASE_MAX]; /* PREFIX/DEVICE */
	char t_actions[RF_MQTT_BASE_MAX + 16];
	char t_status[RF_MQTT_BASE_MAX + 16];
	char t_events[RF_MQTT_BASE_MAX + 16];
	struct mosquitto *mosq;
	bool connected, started, attempt;
	__u64 retry_at_ms, backoff_ms, next_status_ms, next_mgmt_ms;
	char *last_status; /* the status document as last published, without counters */
	struct rf_exe_key exe;
	__u32 tgid;
	struct rf_addr_key addrs[RF_MQTT_MAX_ADDRS];
	size_t naddrs;
	__u64 ev_second;
	unsigned int ev_count;
	unsigned long long ev_dropped;
	struct seen *seen;
	size_t nseen;
};

/* ---- processed action ids ------------------------------------------------------------------ */

static struct seen *seen_find(struct rf_mqtt_agent *ma, const char *id)
{
	size_t i;

	for (i = 0; i < ma->nseen; i++)
		if (!strcmp(ma->seen[i].id, id))
			return &ma->seen[i];
	return NULL;
}

/*
 * <state>/remote-actions: {"format":"ringfence-remote-actions","version":1,"actions":[{"id",
 * "status","error"},...]}, the newest last, replaced atomically through the state dir's checks
 * (rf_state_json_write(): O_NOFOLLOW, unpredictable temp name, fsync, rename, fsync of the dir).
 */
#define RF_MQTT_SEEN_FORMAT "ringfence-remote-actions"

static int seen_save(struct rf_mqtt_agent *ma)
{
	json_t *arr = json_array();
	_cleanup_(json_decrefp) json_t *doc = NULL;
	size_t i;
	int ret = arr ? 0 : -ENOMEM;

	for (i = 0; !ret && i < ma->nseen; i++)
		ret = rf_jappend(arr,
				 json_pack("{s:o,s:s,s:o}", "id", rf_state_json_str(ma->seen[i].id),
					   "status", ma->seen[i].status, "error",
					   rf_state_json_str(ma->seen[i].error)));
	doc =
	    json_pack("{s:s,s:i,s:o}", "format", RF_MQTT_SEEN_FORMAT, "version", 1, "actions", arr);
	if (!ret)
		ret = doc ? rf_state_json_write(ma->ctx->state_base, RF_MQTT_SEEN_FILE, doc)
			  : -ENOMEM;
	return ret;
}

/* One remembered action, unless the entry is malformed. */
static void seen_add(struct rf_mqtt_agent *ma, const char *id, const char *status,
		     const char *error)
{
	struct seen *s = &ma->seen[ma->nseen];

	if (!*id || strlen(id) > RF_MQTT_ID_MAX)
		return;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->status, sizeof(s->status), "%s", status);
	snprintf(s->error, sizeof(s->error), "%s", error);
	ma->nseen++;
}

/* The previous release's file: "ID\tSTATUS\tERROR" lines (rf_escape_field()). */
static void seen_load_lines(struct rf_mqtt_agent *ma, char *data)
{
	char *line, *save = NULL, *st, *er;

	for (line = strtok_r(data, "\n", &save); line && ma->nseen < RF_MQTT_SEEN_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!(st = strchr(line, '\t')))
			continue;
		*st++ = '\0';
		if ((er = strchr(st, '\t')))
			*er++ = '\0';
		if (er)
			rf_unescape_field(er);
		seen_add(ma, line, st, er ? er : "");
	}
}

static void seen_load(struct rf_mqtt_agent *ma)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(json_decrefp) json_t *doc = NULL;
	char id[RF_MQTT_ID_MAX + 2], err[256];
	json_t *a;
	size_t i;
	int ret = rf_state_read(ma->ctx->state_base, RF_MQTT_SEEN_FILE, &data, NULL);

	if (ret == -ENOENT)
		return;
	if (ret) {
		rf_warn("mqtt: cannot read %s/%s: %s", ma->ctx->state_base, RF_MQTT_SEEN_FILE,
			rf_state_problem(ret));
		return;
	}
	if (!rf_state_is_json(data)) {
		seen_load_lines(ma, data);
		return;
	}
	doc = rf_state_doc_parse(data, RF_MQTT_SEEN_FORMAT, &ret);
	if (!doc)
		rf_warn("mqtt: %s/%s is damaged: the action ids it held may run again",
			ma->ctx->state_base, RF_MQTT_SEEN_FILE);
	json_array_foreach(json_object_get(doc, "actions"), i, a)
	{
		if (ma->nseen == RF_MQTT_SEEN_MAX)
			break;
		if (!rf_state_str_get(a, "id", id, sizeof(id)) &&
		    !rf_state_str_get(a, "error", err, sizeof(err)))
			seen_add(ma, id, json_string_value(json_object_get(a, "status")) ?: "",
				 err);
	}
}

/* Remember id with its status (the oldest is forgotten past RF_MQTT_SEEN_MAX) and persist. */
static void seen_set(struct rf_mqtt_agent *ma, const char *id, const char *status,
		     const char *error)
{
	struct seen *s = seen_find(ma, id);
	int ret;

	if (!s) {
		if (ma->nseen == RF_MQTT_SEEN_MAX) {
			memmove(ma->seen, ma->seen + 1, (ma->nseen - 1) * sizeof(*ma->seen));
			ma->nseen--;
		}
		s = &ma->seen[ma->nseen++];
		snprintf(s->id, sizeof(s->id), "%s", id);
	}
	snprintf(s->status, sizeof(s->status), "%s", status);
	snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
	ret = seen_save(ma);
	if (ret)
		rf_warn("mqtt: cannot save %s/%s: %s (a repeated action id could run again after a "
			"restart)",
			ma->ctx->state_base, RF_MQTT_SEEN_FILE, strerror(-ret));
}

/* ---- publishing ---------------------------------------------------------------------------- */

static void publish(struct rf_mqtt_agent *ma, const char *topic, const char *payload, bool retain)
{
	int rc;

	if (!ma->connected || !payload)
		return;
	rc = mosquitto_publish(ma->mosq, NULL, topic, (int)strlen(payload), payload, 1, retain);
	if (rc != MOSQ_ERR_SUCCESS)
		rf_err("mqtt: cannot publish to %s: %s", topic, mosquitto_strerror(rc));
}

static void publish_action(struct rf_mqtt_agent *ma, const struct rf_remote_action *a,
			   const char *status, const char *error, __u64 created)
{
	char topic[sizeof(ma->t_actions) + RF_MQTT_ID_MAX + 2];
	_cleanup_free_ char *doc =
	    rf_remote_status_doc(a, ma->device, status, error, created, rf_now_unix_ns());

	snprintf(topic, sizeof(topic), "%s/%s", ma->t_actions,
		 a->id[0] ? a->id : RF_MQTT_INVALID_ID);
	publish(ma, topic, doc, true);
}

/* The status document with "online" and "device" added; *key: the same without counters. */
static char *status_doc(struct rf_mqtt_agent *ma, bool online, char **key)
{
	_cleanup_free_ char *text = rf_status_json_doc(ma->ctx);
	_cleanup_(json_decrefp) json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	char *out;

	*key = NULL;
	if (!o)
		o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "device", json_string(ma->device));
	json_object_set_new(o, "online", json_boolean(online));
	json_object_set_new(o, "version", json_string(RF_VERSION));
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_object_del(o, "counters");
	*key = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	return out;
}

/* Publish the status document if it changed (or always, with force). */
static void publish_status(struct rf_mqtt_agent *ma, bool force)
{
	_cleanup_free_ char *key = NULL, *doc = NULL;

	if (!ma->connected)
		return;
	doc = status_doc(ma, true, &key);
	if (doc && key && (force || !ma->last_status || strcmp(key, ma->last_status))) {
		publish(ma, ma->t_status, doc, true);
		free(ma->last_status);
		ma->last_status = TAKE_PTR(key);
	}
}

void rf_mqtt_agent_event(struct rf_mqtt_agent *ma, const char *json, size_t len)
{
	__u64 sec = rf_now_mono_ms() / 1000;

	if (!ma || !ma->connected)
		return;
	if (sec != ma->ev_second) {
		if (ma->ev_dropped)
			rf_warn("mqtt: %llu events not published (more than %d per second)",
				ma->ev_dropped, RF_MQTT_EVENTS_PER_S);
		ma->ev_second = sec;
		ma->ev_count = 0;
		ma->ev_dropped = 0;
	}
	if (ma->ev_count++ >= RF_MQTT_EVENTS_PER_S) {
		ma->ev_dropped++;
		return;
	}
	while (len && (json[len - 1] == '\n'))
		len--;
	mosquitto_publish(ma->mosq, NULL, ma->t_events, (int)len, json, 0, false);
}

/* ---- the management channel ---------------------------------------------------------------- */

/* The broker's addresses, IPv6 or IPv4-mapped; 0 or -errno. */
static int resolve_broker(struct rf_mqtt_agent *ma)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	size_t n = 0;
	int rc = getaddrinfo(ma->url.host, NULL, &hints, &res);

	if (rc) {
		rf_err("mqtt: cannot resolve %s: %s", ma->url.host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai && n < RF_MQTT_MAX_ADDRS; ai = ai->ai_next) {
		struct rf_addr_key *k = &ma->addrs[n];

		memset(k, 0, sizeof(*k));
		if (ai->ai_family == AF_INET) {
			k->addr[10] = k->addr[11] = 0xff;
			memcpy(k->addr + 12, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			memcpy(k->addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		n++;
	}
	freeaddrinfo(res);
	ma->naddrs = n;
	return n ? 0 : -EHOSTUNREACH;
}

static void mgmt_one(struct rf_ctx *t, bool ok, void *arg)
{
	struct rf_mqtt_agent *ma = arg;
	int fd = ma->connected ? mosquitto_socket(ma->mosq) : -1;
	int ret;

	(void)ok;
	if (!t->pin_dir || !t->pin_dir[0])
		return;
	ret =
	    rf_mgmt_set(t->pin_dir, ma->tgid, &ma->exe, ma->addrs, ma->naddrs, (__u16)ma->url.port);
	if (!ret && fd >= 0)
		ret = rf_mgmt_mark_socket(t->pin_dir, fd, ma->tgid);
	if (ret && ret != -ENOENT)
		rf_warn("mqtt: cannot allow the broker connection in %s: %s", t->pin_dir,
			strerror(-ret));
}

/* Allow our broker connection in every target's maps (the home target's included). */
static void mgmt_refresh(struct rf_mqtt_agent *ma)
{
	if (ma->naddrs)
		rf_svc_for_each_target(ma->ctx, mgmt_one, ma);
}

static void mgmt_clear_one(struct rf_ctx *t, bool ok, void *arg)
{
	(void)ok;
	if (t->pin_dir && t->pin_dir[0])
		rf_mgmt_clear(t->pin_dir, *(__u32 *)arg);
}

/* ---- carrying out an action ---------------------------------------------------------------- */

struct argv_buf {
	char *v[48];
	int n;
	char store[8][1200];
	int ns;
};

static void arg(struct argv_buf *b, const char *a)
{
	if (b->n < (int)(sizeof(b->v) / sizeof(b->v[0])) - 1)
		b->v[b->n++] = (char *)a;
	b->v[b->n] = NULL;
}

/* "--opt=value" kept in b (a value may start with "--"). */
static void arg_opt(struct argv_buf *b, const char *opt, const char *value)
{
	if (!value || !value[0] || b->ns == (int)(sizeof(b->store) / sizeof(b->store[0])))
		return;
	snprintf(b->store[b->ns], sizeof(b->store[0]), "%s=%s", opt, value);
	arg(b, b->store[b->ns++]);
}

/* The target: the action's, else the agent's own selector. */
static void target_args(struct argv_buf *b, const struct rf_ctx *ctx,
			const struct rf_remote_action *a)
{
	if (a->target_kind[0]) {
		char opt[32];

		snprintf(opt, sizeof(opt), "--%s", a->target_kind);
		arg_opt(b, opt, a->target);
	} else if (ctx->unit) {
		arg_opt(b, "--unit", ctx->unit);
	} else if (ctx->container) {
		arg_opt(b, "--container", ctx->container);
	} else if (ctx->cgroup) {
		arg_opt(b, "--cgroup", ctx->cgroup);
	}
}

/* The command line of the CLI command the action stands for; rule words split in place. */
static void action_argv(struct argv_buf *b, const struct rf_ctx *ctx, struct rf_remote_action *a)
{
	char *w, *save = NULL;

	arg(b, "ringfence");
	arg_opt(b, "--pin-dir", ctx->pin_base);
	arg_opt(b, "--state-dir", ctx->state_base);
	arg_opt(b, "--config", ctx->config);
	arg_opt(b, "--btf", ctx->btf);
	target_args(b, ctx, a);
	switch (a->type) {
	case RF_REMOTE_ISOLATE:
	case RF_REMOTE_AUDIT:
		arg(b, "isolate");
		/* the broker connection itself is the way back (rf_mgmt) */
		arg(b, a->type == RF_REMOTE_AUDIT ? "--audit" : "--force");
		arg_opt(b, "--comment", a->comment);
		arg_opt(b, "--for", a->for_);
		if (a->type == RF_REMOTE_ISOLATE)
			arg_opt(b, "--confirm-within", a->confirm_within);
		break;
	case RF_REMOTE_UNISOLATE:
	case RF_REMOTE_CONFIRM:
		arg(b, a->type == RF_REMOTE_CONFIRM ? "confirm" : "release");
		arg_opt(b, "--comment", a->comment);
		break;
	default:
		arg(b, "allow");
		arg(b, a->type == RF_REMOTE_ALLOW_ADD ? "add" : "del");
		for (w = strtok_r(a->rule, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			arg(b, w);
	}
}

/* Read the child's stderr until it exits (or the limit passes: killed); its exit status. */
static int collect(pid_t pid, int fd, char *err, size_t errlen)
{
	__u64 deadline = rf_now_mono_ms() + RF_MQTT_ACTION_MS;
	size_t used = 0;
	int status = 0;

	err[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		__u64 now = rf_now_mono_ms();
		ssize_t n;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			snprintf(err, errlen, "the command did not finish within %ds",
				 RF_MQTT_ACTION_MS / 1000);
			break;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		n = read(fd, err + used, errlen - 1 - used);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		if (n > 0)
			used += (size_t)n;
		if (used == errlen - 1) /* keep the end: the last message matters */
			used = 0;
		err[used] = '\0';
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last line of the command's stderr, without "ringfence: ", as the error. */
static void last_line(char *text)
{
	size_t n = strlen(text);
	char *p;

	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	p = strrchr(text, '\n');
	p = p ? p + 1 : text;
	if (!strncmp(p, "ringfence: ", 11))
		p += 11;
	memmove(text, p, strlen(p) + 1);
}

/* Run the action's CLI command; 0 on success, else -1 with the reason in err. */
static int run_action(struct rf_mqtt_agent *ma, struct rf_remote_action *a, char *err,
		      size_t errlen)
{
	char requestor[400];
	struct argv_buf b = {.n = 0};
	int pipefd[2], code;
	pid_t pid;

	action_argv(&b, ma->ctx, a);
	snprintf(requestor, sizeof(requestor), "%s via mqtt (identity %s)",
		 a->requestor[0] ? a->requestor : "unknown", a->identity[0] ? a->identity : "none");
	if (pipe2(pipefd, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot run the command: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(pipefd[1], 2);
		setenv("RINGFENCE_REQUESTOR", requestor, 1);
		execv("/proc/self/exe", b.v);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		snprintf(err, errlen, "cannot run the command: %s", strerror(errno));
		return -1;
	}
	code = collect(pid, pipefd[0], err, errlen);
	if (code == 0)
		return 0;
	last_line(err);
	if (!err[0])
		snprintf(err, errlen, "the command failed (exit %d)", code);
	return -1;
}

/* A document that cannot be carried out: Failed, nothing changes. */
static void refuse(struct rf_mqtt_agent *ma, struct rf_remote_action *a, const char *why)
{
	__u64 now = rf_now_unix_ns();

	rf_err("mqtt: action %s refused: %s", a->id[0] ? a->id : "(no id)", why);
	if (a->id[0] && !seen_find(ma, a->id))
		seen_set(ma, a->id, "Failed", why);
	publish_action(ma, a, "Failed", why, now);
}

static void handle_action(struct rf_mqtt_agent *ma, const char *doc, size_t len)
{
	struct rf_remote_action *a = calloc(1, sizeof(*a));
	char err[1024];
	struct seen *s;
	__u64 created = rf_now_unix_ns();

	if (!a)
		return;
	if (rf_remote_parse(doc, len, a, err, sizeof(err))) {
		if (!a->id[0] || !seen_find(ma, a->id))
			refuse(ma, a, err);
	} else if ((s = seen_find(ma, a->id))) {
		rf_err("mqtt: action %s seen before (%s): not run again", a->id, s->status);
		publish_action(ma, a, s->status, s->error[0] ? s->error : NULL, created);
	} else if (a->not_after_unix_ns && created > a->not_after_unix_ns) {
		rf_err("mqtt: action %s arrived after its notAfter: not run", a->id);
		seen_set(ma, a->id, "TimeOut", "notAfter passed before the device saw the action");
		publish_action(ma, a, "TimeOut", "notAfter passed before the device saw the action",
			       created);
	} else {
		publish_action(ma, a, "Pending", NULL, created);
		seen_set(ma, a->id, "InProgress",
			 "interrupted: see 'ringfence history' on the device");
		publish_action(ma, a, "InProgress", NULL, created);
		rf_err("mqtt: action %s: %s by %s", a->id, rf_remote_type_name(a->type),
		       a->requestor[0] ? a->requestor : "unknown");
		if (!run_action(ma, a, err, sizeof(err)))
			err[0] = '\0'; /* what a successful command printed is no error */
		/* a target the action loaded allows the broker before anyone hears of it */
		mgmt_refresh(ma);
		seen_set(ma, a->id, err[0] ? "Failed" : "Succeeded", err);
		publish_action(ma, a, err[0] ? "Failed" : "Succeeded", err[0] ? err : NULL,
			       created);
		rf_err("mqtt: action %s %s%s", a->id, err[0] ? "failed: " : "succeeded", err);
		publish_status(ma, false);
	}
	free(a);
}

/* ---- the session --------------------------------------------------------------------------- */

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct rf_mqtt_agent *ma = arg;

	(void)m;
	if (msg->topic && !strcmp(msg->topic, ma->t_actions))
		handle_action(ma, msg->payload ? msg->payload : "", (size_t)msg->payloadlen);
}

static void schedule_retry(struct rf_mqtt_agent *ma)
{
	ma->backoff_ms = ma->backoff_ms ? ma->backoff_ms * 2 : RF_MQTT_BACKOFF_MIN_MS;
	if (ma->backoff_ms > RF_MQTT_BACKOFF_MAX_MS)
		ma->backoff_ms = RF_MQTT_BACKOFF_MAX_MS;
	ma->retry_at_ms = rf_now_mono_ms() + ma->backoff_ms;
	ma->attempt = false;
}

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct rf_mqtt_agent *ma = arg;

	if (rc) {
		rf_err("mqtt: the broker refused the connection: %s; retrying",
		       mosquitto_connack_string(rc));
		schedule_retry(ma);
		return;
	}
	rf_err("mqtt: connected to %s as device %s", ma->conf.broker, ma->device);
	ma->connected = true;
	ma->backoff_ms = 0;
	mgmt_refresh(ma); /* marks this connection's socket */
	ma->next_mgmt_ms = rf_now_mono_ms() + RF_MQTT_MGMT_MS;
	mosquitto_subscribe(m, NULL, ma->t_actions, 1);
	publish_status(ma, true);
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	struct rf_mqtt_agent *ma = arg;

	(void)m;
	if (ma->connected || ma->attempt)
		rf_err("mqtt: disconnected from %s (%s); reconnecting with backoff",
		       ma->conf.broker, rc ? mosquitto_strerror(rc) : "closed");
	ma->connected = false;
	schedule_retry(ma);
}

/* Resolve, allow, dial (non-blocking: the loop completes it). */
static void dial(struct rf_mqtt_agent *ma)
{
	int rc;

	ma->attempt = true;
	if (resolve_broker(ma)) {
		schedule_retry(ma);
		return;
	}
	mgmt_refresh(ma);
	rc = ma->started ? mosquitto_reconnect_async(ma->mosq)
			 : mosquitto_connect_async(ma->mosq, ma->url.host, ma->url.port,
						   RF_MQTT_KEEPALIVE_S);
	ma->started = true;
	if (rc != MOSQ_ERR_SUCCESS) {
		rf_err("mqtt: cannot connect to %s: %s; retrying in %llus", ma->conf.broker,
		       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
		       (unsigned long long)(ma->backoff_ms ? ma->backoff_ms * 2 : 1000) / 1000);
		schedule_retry(ma);
	}
}

int rf_mqtt_agent_fd(struct rf_mqtt_agent *ma, bool *want_write)
{
	*want_write = ma && ma->mosq && mosquitto_want_write(ma->mosq);
	return ma && ma->mosq && ma->attempt ? mosquitto_socket(ma->mosq) : -1;
}

void rf_mqtt_agent_tick(struct rf_mqtt_agent *ma)
{
	__u64 now = rf_now_mono_ms();
	int rc;

	if (!ma)
		return;
	if (!ma->attempt && now >= ma->retry_at_ms)
		dial(ma);
	if (!ma->attempt)
		return;
	rc = mosquitto_loop(ma->mosq, 0, 1);
	if (rc != MOSQ_ERR_SUCCESS && ma->attempt) {
		if (ma->connected)
			rf_err("mqtt: connection to %s lost: %s; reconnecting", ma->conf.broker,
			       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		ma->connected = false;
		schedule_retry(ma);
		return;
	}
	if (ma->connected && rf_tick_due(&ma->next_status_ms, now, RF_MQTT_STATUS_MS))
		publish_status(ma, false);
	if (ma->connected && rf_tick_due(&ma->next_mgmt_ms, now, RF_MQTT_MGMT_MS))
		mgmt_refresh(ma);
}

/* Device id, topics, our own identity for rf_mgmt. 0 or -errno (printed). */
static int setup_names(struct rf_mqtt_agent *ma)
{
	char err[RF_ERR_MAX];
	const char *prefix = ma->conf.prefix[0] ? ma->conf.prefix : RF_MQTT_PREFIX_DEFAULT;
	int ret;

	if (rf_mqtt_url_parse(ma->conf.broker, &ma->url, err, sizeof(err))) {
		rf_err("%s", err);
		return -EINVAL;
	}
	if (ma->conf.device_id[0])
		snprintf(ma->device, sizeof(ma->device), "%s", ma->conf.device_id);
	else if ((ret = rf_machine_id(NULL, ma->device, sizeof(ma->device)))) {
		rf_err("mqtt: no device id: /etc/machine-id is not usable (%s); set mqtt-device-id",
		       strerror(-ret));
		return ret;
	}
	snprintf(ma->base, sizeof(ma->base), "%s/%s", prefix, ma->device);
	snprintf(ma->t_actions, sizeof(ma->t_actions), "%s/actions", ma->base);
	snprintf(ma->t_status, sizeof(ma->t_status), "%s/status", ma->base);
	snprintf(ma->t_events, sizeof(ma->t_events), "%s/events", ma->base);
	ma->tgid = (__u32)getpid();
	ret = rf_exe_key_for("/proc/self/exe", &ma->exe, err, sizeof(err));
	if (ret)
		rf_err("mqtt: %s", err);
	return ret;
}

/* TLS with the CA, our certificate and key; the will; the persistent session. */
static int setup_session(struct rf_mqtt_agent *ma)
{
	char client_id[RF_MQTT_NAME_MAX + 16];
	_cleanup_free_ char *will = NULL;
	_cleanup_(json_decrefp) json_t *w = NULL;
	int rc;

	snprintf(client_id, sizeof(client_id), "ringfence-%s", ma->device);
	ma->mosq = mosquitto_new(client_id, false, ma);
	if (!ma->mosq)
		return -ENOMEM;
	mosquitto_int_option(ma->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* the last will: what the broker publishes when the session dies without a goodbye */
	w = json_pack("{s:s, s:b}", "device", ma->device, "online", 0);
	will = w ? json_dumps(w, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	rc = will ? mosquitto_will_set(ma->mosq, ma->t_status, (int)strlen(will), will, 1, true)
		  : MOSQ_ERR_NOMEM;
	if (!rc && ma->url.tls)
		rc = mosquitto_tls_set(ma->mosq, ma->conf.ca[0] ? ma->conf.ca : NULL,
				       ma->conf.ca[0] ? NULL : "/etc/ssl/certs",
				       ma->conf.cert[0] ? ma->conf.cert : NULL,
				       ma->conf.key[0] ? ma->conf.key : NULL, NULL);
	if (rc) {
		rf_err("mqtt: cannot set up the session (TLS files %s, %s, %s): %s", ma->conf.ca,
		       ma->conf.cert, ma->conf.key, mosquitto_strerror(rc));
		return -EINVAL;
	}
	mosquitto_connect_callback_set(ma->mosq, on_connect);
	mosquitto_disconnect_callback_set(ma->mosq, on_disconnect);
	mosquitto_message_callback_set(ma->mosq, on_message);
	return 0;
}

int rf_mqtt_agent_start(struct rf_ctx *ctx, struct rf_mqtt_agent **out)
{
	struct rf_mqtt_agent *ma;
	int ret;

	*out = NULL;
	ma = calloc(1, sizeof(*ma));
	if (!ma)
		return -ENOMEM;
	ma->ctx = ctx;
	ma->seen = calloc(RF_MQTT_SEEN_MAX, sizeof(*ma->seen));
	ret = ma->seen ? rf_mqtt_conf_load(ctx, &ma->conf) : -ENOMEM;
	if (ret || !ma->conf.broker[0]) {
		free(ma->seen);
		free(ma);
		return ret;
	}
	mosquitto_lib_init();
	ret = setup_names(ma);
	if (!ret)
		ret = setup_session(ma);
	if (ret) {
		rf_err("mqtt: remote control is off: fix the mqtt-* settings in %s and restart",
		       ctx->config);
		rf_mqtt_agent_stop(ma);
		return ret;
	}
	seen_load(ma);
	rf_err("mqtt: remote control through %s, topics %s/...", ma->conf.broker, ma->base);
	*out = ma;
	return 0;
}

void rf_mqtt_agent_stop(struct rf_mqtt_agent *ma)
{
	if (!ma)
		return;
	if (ma->connected) {
		_cleanup_free_ char *key = NULL, *doc = status_doc(ma, false, &key);

		publish(ma, ma->t_status, doc, true);
		mosquitto_disconnect(ma->mosq);
		mosquitto_loop(ma->mosq, 100, 1);
	}
	if (ma->tgid)
		rf_svc_for_each_target(ma->ctx, mgmt_clear_one, &ma->tgid);
	if (ma->mosq)
		mosquitto_destroy(ma->mosq);
	mosquitto_lib_cleanup();
	free(ma->last_status);
	free(ma->seen);
	free(ma);
}
#else /* !RF_MQTT */
#include <stdio.h>
#include <stdlib.h>
#include "rf_mqtt.h"
#include "rf_service.h"
#include "rf_util.h"

/* A build without MQTT: remote control configured is said loudly; the agent runs on. */
int rf_mqtt_agent_start(struct rf_ctx *ctx, struct rf_mqtt_agent **out)
{
	struct rf_mqtt_conf c;

	*out = NULL;
	if (!rf_mqtt_conf_load(ctx, &c) && c.broker[0])
		rf_err("mqtt-broker is set in %s, but this ringfence was built without MQTT "
		       "(RF_MQTT=0): remote control is off. Install a build with MQTT ('ringfence "
		       "--version' says mqtt yes)",
		       ctx->config);
	return 0;
}

int rf_mqtt_agent_fd(struct rf_mqtt_agent *ma, bool *want_write)
{
	(void)ma;
	*want_write = false;
	return -1;
}

void rf_mqtt_agent_tick(struct rf_mqtt_agent *ma)
{
	(void)ma;
}

void rf_mqtt_agent_event(struct rf_mqtt_agent *ma, const char *json, size_t len)
{
	(void)ma;
	(void)json;
	(void)len;
}

void rf_mqtt_agent_stop(struct rf_mqtt_agent *ma)
{
	(void)ma;
}
#endif /* RF_MQTT */
