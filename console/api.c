// SPDX-License-Identifier: GPL-2.0-only
/* The MDE-shaped endpoints (docs/API.md). Every handler fills a reply; nothing is published
 * unless the request is valid and the device can take it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "console.h"

#define ACTIONS_MAX  1000 /* newest first, as MDE pages its lists */
#define CTX_MACHINES "https://api.securitycenter.microsoft.com/api/$metadata#Machines"
#define CTX_ACTIONS  "https://api.securitycenter.microsoft.com/api/$metadata#MachineActions"

void rfc_reply_error(struct rfc_reply *r, unsigned int status, const char *code, const char *msg)
{
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);

	r->code = status;
	r->type = "application/json";
	r->body = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	snprintf(r->log, sizeof(r->log), "%s", code);
}

/* Steals v. */
static void reply_json(struct rfc_reply *r, unsigned int status, json_t *v)
{
	if (!v) {
		rfc_reply_error(r, 500, "InternalError", "Out of memory");
		return;
	}
	r->code = status;
	r->type = "application/json";
	r->body = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (!r->body)
		rfc_reply_error(r, 500, "InternalError", "Out of memory");
}

/* GET /api/machines: dumped once per fleet change, so a busy page costs a copy. */
static void machines_list(struct rfc_fleet *f, struct rfc_reply *r)
{
	json_t *arr, *v;
	size_t i;

	pthread_mutex_lock(&f->lock);
	if (!f->machines_cache || f->cache_generation != f->generation) {
		arr = json_array();
		for (i = 0; arr && i < f->ndev; i++)
			json_array_append_new(arr, rfc_machine_json(&f->dev[i], false));
		v = json_pack("{s:s, s:o*}", "@odata.context", CTX_MACHINES, "value", arr);
		free(f->machines_cache);
		f->machines_cache = v ? json_dumps(v, JSON_COMPACT) : NULL;
		f->cache_generation = f->generation;
		json_decref(v);
	}
	r->body = f->machines_cache ? strdup(f->machines_cache) : NULL;
	pthread_mutex_unlock(&f->lock);
	r->code = 200;
	r->type = "application/json";
	if (!r->body)
		rfc_reply_error(r, 500, "InternalError", "Out of memory");
}

static void machine_get(struct rfc_fleet *f, const char *id, struct rfc_reply *r)
{
	struct rfc_device *d;
	json_t *m = NULL;

	pthread_mutex_lock(&f->lock);
	d = rfc_fleet_device(f, id);
	if (d) {
		m = rfc_machine_json(d, true);
		if (m)
			json_object_set_new(m, "recentActions", rfc_actions_json(f, id, 20));
	}
	pthread_mutex_unlock(&f->lock);
	if (!d)
		rfc_reply_error(r, 404, "ResourceNotFound", "Machine not found");
	else
		reply_json(r, 200, m);
}

static void actions_list(struct rfc_fleet *f, const char *machine, struct rfc_reply *r)
{
	json_t *arr;

	pthread_mutex_lock(&f->lock);
	arr = rfc_actions_json(f, machine, ACTIONS_MAX);
	pthread_mutex_unlock(&f->lock);
	reply_json(r, 200, json_pack("{s:s, s:o*}", "@odata.context", CTX_ACTIONS, "value", arr));
}

static void action_get(struct rfc_fleet *f, const char *id, struct rfc_reply *r)
{
	struct rfc_action *a;
	json_t *doc = NULL;

	pthread_mutex_lock(&f->lock);
	a = rfc_fleet_action(f, id);
	if (a)
		doc = json_deep_copy(a->doc);
	pthread_mutex_unlock(&f->lock);
	if (!a)
		rfc_reply_error(r, 404, "ResourceNotFound", "Machine action not found");
	else
		reply_json(r, 200, doc);
}

/* Under the fleet lock: check, record and publish, so two requests cannot both pass the check. */
static void action_create(struct rfc_ctx *c, const char *requestor, const char *dev_id,
			  bool isolate, const char *comment, const char *scope, struct rfc_reply *r)
{
	const char *type = isolate ? "Isolate" : "Unisolate", *why, *code;
	struct rfc_fleet *f = c->fleet;
	char id[40], msg[128];
	struct rfc_device *d;
	struct timespec now;
	json_t *doc;
	int err;

	if (rfc_uuid(id, sizeof(id)))
		return rfc_reply_error(r, 500, "InternalError", "No random numbers for an id");
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&f->lock);
	d = rfc_fleet_device(f, dev_id);
	why = d ? rfc_action_conflict(f, d, type, &code) : NULL;
	if (!d || why) {
		pthread_mutex_unlock(&f->lock);
		return d ? rfc_reply_error(r, 400, code, why)
			 : rfc_reply_error(r, 404, "ResourceNotFound", "Machine not found");
	}
	doc = rfc_action_new(id, type, d->id, rfc_dev_name(d), requestor, comment, scope, &now,
			     c->opts->action_timeout);
	err =
	    doc ? rfc_broker_send_action(c->broker, d->id, doc, c->opts->action_timeout) : -ENOMEM;
	if (!err)
		err = rfc_fleet_put_action(f, d->id, json_incref(doc));
	pthread_mutex_unlock(&f->lock);
	if (err) {
		json_decref(doc);
		snprintf(msg, sizeof(msg), "The broker did not take the action: %s",
			 err == -ENOTCONN ? "not connected" : strerror(-err));
		return rfc_reply_error(r, 503, "ServiceUnavailable", msg);
	}
	reply_json(r, 201, doc);
	snprintf(r->log, sizeof(r->log), "action %s %s", type, id);
}

static void action_post(struct rfc_ctx *c, const char *requestor, const char *dev_id, bool isolate,
			const char *body, size_t len, struct rfc_reply *r)
{
	const char *comment, *scope;
	json_t *root = NULL;
	char err[160];

	if (rfc_action_request(body, len, isolate, &root, &comment, &scope, err, sizeof(err)))
		rfc_reply_error(r, 400, "InvalidRequestBody", err);
	else
		action_create(c, requestor, dev_id, isolate, comment, scope, r);
	json_decref(root);
}

/* Split "/api/COLL[/ID[/VERB]]" into its parts; -EINVAL for anything else. */
static int split_url(const char *url, char *coll, char *id, char *verb)
{
	char extra[2];
	int n;

	*coll = *id = *verb = '\0';
	if (strncmp(url, "/api/", 5) || strstr(url, "//"))
		return -EINVAL;
	n = sscanf(url + 5, "%31[^/]/%129[^/]/%31[^/]/%1s", coll, id, verb, extra);
	if (n < 1 || n > 3)
		return -EINVAL;
	if (url[strlen(url) - 1] == '/')
		return -EINVAL;
	return (n >= 2 && !rfc_valid_id(id)) ? -EINVAL : 0;
}

static void method_not_allowed(struct rfc_reply *r, const char *allowed)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "Use %s on this resource", allowed);
	rfc_reply_error(r, 405, "MethodNotAllowed", msg);
}

void rfc_api(struct rfc_ctx *c, const char *requestor, const char *method, const char *url,
	     const char *query_machine, const char *body, size_t len, struct rfc_reply *r)
{
	char coll[32], id[RFC_MAX_ID + 2], verb[32];
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");

	if (split_url(url, coll, id, verb))
		return rfc_reply_error(r, 404, "ResourceNotFound", "No such resource");
	if (!strcmp(coll, "machines") && *verb) {
		if (strcmp(verb, "isolate") && strcmp(verb, "unisolate"))
			return rfc_reply_error(r, 404, "ResourceNotFound",
					       "No such machine action");
		if (!post)
			return method_not_allowed(r, "POST");
		return action_post(c, requestor, id, !strcmp(verb, "isolate"), body, len, r);
	}
	if ((strcmp(coll, "machines") && strcmp(coll, "machineactions")) || *verb)
		return rfc_reply_error(r, 404, "ResourceNotFound", "No such resource");
	if (!get)
		return method_not_allowed(r, "GET");
	if (!strcmp(coll, "machines"))
		return *id ? machine_get(c->fleet, id, r) : machines_list(c->fleet, r);
	if (*id)
		return action_get(c->fleet, id, r);
	if (query_machine && !rfc_valid_id(query_machine))
		return rfc_reply_error(r, 400, "InvalidParameter", "machineId is not a valid id");
	actions_list(c->fleet, query_machine, r);
}
