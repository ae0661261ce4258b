// SPDX-License-Identifier: GPL-2.0-only
/* HTTP(S) through libmicrohttpd: the page's files without a token, the API with one. Order of
 * the checks on /api/: token (401), rate limit (429), body size (413), then the endpoint. Every
 * request gets one log line on stderr: who, what, result. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>
#include "console.h"

struct rfc_http {
	struct MHD_Daemon *d;
	char *cert, *key;
};

struct req {
	char requestor[64];
	char *body;
	size_t len;
	bool too_big;
	bool answered; /* refused at the first call: the rest of the body is discarded */
};

static void log_request(const char *who, const char *method, const char *url,
			const struct rfc_reply *r)
{
	char t[40];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	rfc_time_iso(t, sizeof(t), &now);
	fprintf(stderr, "%s ringfence-console: %s %s %s -> %u%s%s\n", t, who, method, url, r->code,
		*r->log ? " " : "", r->log);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct rfc_reply *r, const char *who,
				  const char *method, const char *url, int retry_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char retry[16];

	log_request(who, method, url, r);
	if (!r->body)
		r->body = strdup("");
	resp = MHD_create_response_from_buffer(r->body ? strlen(r->body) : 0, r->body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->type ? r->type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->code == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (retry_after > 0) {
		snprintf(retry, sizeof(retry), "%d", retry_after);
		MHD_add_response_header(resp, "Retry-After", retry);
	}
	ret = MHD_queue_response(conn, r->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_static(struct MHD_Connection *conn, const char *method, const char *url)
{
	struct rfc_reply r = {0};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *data, *type;
	size_t len;

	data = rfc_web_file(url, &len, &type);
	if (!data) {
		rfc_reply_error(&r, 404, "ResourceNotFound", "No such page");
		return send_reply(conn, &r, "-", method, url, 0);
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		rfc_reply_error(&r, 405, "MethodNotAllowed", "Use GET on this resource");
		return send_reply(conn, &r, "-", method, url, 0);
	}
	r.code = 200;
	log_request("-", method, url, &r);
	resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; frame-ancestors 'none'; form-action 'none'");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char *bearer(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* The first call of an /api/ request: who is it, may they, and is the body small enough. */
static enum MHD_Result api_admit(struct rfc_ctx *c, struct MHD_Connection *conn, struct req *q,
				 const char *method, const char *url)
{
	const char *who = rfc_tokens_find(c->tokens, bearer(conn)), *cl;
	struct rfc_reply r = {0};
	char msg[96];
	int wait;

	q->answered = true;
	if (!who) {
		rfc_reply_error(&r, 401, "Unauthorized",
				"A valid bearer token is required (Authorization: Bearer TOKEN)");
		return send_reply(conn, &r, "-", method, url, 0);
	}
	snprintf(q->requestor, sizeof(q->requestor), "%s", who);
	wait = rfc_tokens_charge(c->tokens, who, time(NULL));
	if (wait) {
		snprintf(msg, sizeof(msg),
			 "Rate limit of %u calls per minute and %u per hour "
			 "exceeded; retry in %d s",
			 c->tokens->per_minute, c->tokens->per_hour, wait);
		rfc_reply_error(&r, 429, "TooManyRequests", msg);
		return send_reply(conn, &r, who, method, url, wait);
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > RFC_MAX_BODY) {
		rfc_reply_error(&r, 413, "RequestEntityTooLarge",
				"The request body exceeds 16 KiB");
		return send_reply(conn, &r, who, method, url, 0);
	}
	q->answered = false;
	return MHD_YES;
}

static void body_append(struct req *q, const char *data, size_t n)
{
	char *p;

	if (q->too_big || q->len + n > RFC_MAX_BODY) {
		q->too_big = true;
		return;
	}
	p = realloc(q->body, q->len + n + 1);
	if (!p) {
		q->too_big = true;
		return;
	}
	memcpy(p + q->len, data, n);
	q->len += n;
	p[q->len] = '\0';
	q->body = p;
}

/* machineId=ID, or MDE's OData form $filter=machineId eq 'ID'. */
static int machine_filter(struct MHD_Connection *conn, char *out, size_t len, const char **res)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "machineId");
	char id[RFC_MAX_ID + 2], tail[2];

	*res = NULL;
	if (v) {
		*res = v;
		return 0;
	}
	v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "$filter");
	if (!v)
		return 0;
	if (sscanf(v, "machineId eq '%129[^']'%1s", id, tail) != 1 || strlen(v) < 15 ||
	    v[strlen(v) - 1] != '\'')
		return -EINVAL;
	snprintf(out, len, "%s", id);
	*res = out;
	return 0;
}

static enum MHD_Result api_dispatch(struct rfc_ctx *c, struct MHD_Connection *conn, struct req *q,
				    const char *method, const char *url)
{
	struct rfc_reply r = {0};
	char idbuf[RFC_MAX_ID + 2];
	const char *machine;

	if (q->too_big)
		rfc_reply_error(&r, 413, "RequestEntityTooLarge",
				"The request body exceeds 16 KiB");
	else if (machine_filter(conn, idbuf, sizeof(idbuf), &machine))
		rfc_reply_error(&r, 400, "InvalidParameter",
				"Only $filter=machineId eq 'ID' is supported");
	else
		rfc_api(c, q->requestor, method, url, machine, q->body ? q->body : "", q->len, &r);
	return send_reply(conn, &r, q->requestor, method, url, 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **state)
{
	struct req *q = *state;

	(void)version;
	if (strncmp(url, "/api/", 5) && strcmp(url, "/api"))
		return send_static(conn, method, url);
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*state = q;
		return api_admit(cls, conn, q, method, url);
	}
	if (q->answered) {
		*data_size = 0;
		return MHD_YES;
	}
	if (*data_size) {
		body_append(q, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	return api_dispatch(cls, conn, q, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *q = *state;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
		*state = NULL;
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf && !n) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

static int listen_addr(const char *host, unsigned short port, struct sockaddr_storage *ss, bool *v6)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *ai;

	if (getaddrinfo(host, NULL, &hints, &ai)) {
		fprintf(stderr, "ringfence-console: --listen: '%s' is not an IP address\n", host);
		return -EINVAL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	*v6 = ss->ss_family == AF_INET6;
	if (*v6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	return 0;
}

static int load_tls(struct rfc_http *h, const struct rfc_opts *o)
{
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		fprintf(stderr, "ringfence-console: this libmicrohttpd has no TLS support\n");
		return -ENOTSUP;
	}
	h->cert = slurp(o->tls_cert);
	h->key = slurp(o->tls_key);
	if (!h->cert || !h->key) {
		fprintf(stderr, "ringfence-console: cannot read --tls-cert %s or --tls-key %s\n",
			o->tls_cert, o->tls_key);
		return -EINVAL;
	}
	return 0;
}

struct rfc_http *rfc_http_start(struct rfc_ctx *c)
{
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct rfc_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	bool v6;

	if (!h || listen_addr(c->opts->listen_host, c->opts->listen_port, &ss, &v6))
		goto fail;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (*c->opts->tls_cert) {
		if (load_tls(h, c->opts))
			goto fail;
		flags |= MHD_USE_TLS;
	}
	h->d = MHD_start_daemon(flags, c->opts->listen_port, NULL, NULL, on_request, c,
				MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_NOTIFY_COMPLETED,
				on_completed, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2,
				MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_CONNECTION_LIMIT, 512,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, 128,
				h->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert,
				MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
	if (!h->d) {
		fprintf(stderr,
			"ringfence-console: cannot listen on %s:%u (in use? a bad "
			"certificate or key?)\n",
			c->opts->listen_host, c->opts->listen_port);
		goto fail;
	}
	return h;
fail:
	if (h) {
		free(h->cert);
		free(h->key);
	}
	free(h);
	return NULL;
}

void rfc_http_stop(struct rfc_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h->cert);
	free(h->key);
	free(h);
}
