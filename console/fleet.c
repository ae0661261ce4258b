// SPDX-License-Identifier: GPL-2.0-only
/* The console's mirror of the broker's retained documents: PREFIX/DEVICE/status and
 * PREFIX/DEVICE/actions/ID. Nothing here is persisted; a restarted console gets it all back from
 * the broker on subscribing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "console.h"

void rfc_fleet_init(struct rfc_fleet *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->generation = 1;
}

void rfc_fleet_free(struct rfc_fleet *f)
{
	size_t i;

	for (i = 0; i < f->ndev; i++)
		json_decref(f->dev[i].status);
	for (i = 0; i < f->nact; i++)
		json_decref(f->act[i].doc);
	free(f->dev);
	free(f->act);
	free(f->machines_cache);
	pthread_mutex_destroy(&f->lock);
}

struct rfc_device *rfc_fleet_device(struct rfc_fleet *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->ndev; i++)
		if (!strcmp(f->dev[i].id, id))
			return &f->dev[i];
	return NULL;
}

struct rfc_action *rfc_fleet_action(struct rfc_fleet *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->nact; i++)
		if (!strcmp(f->act[i].id, id))
			return &f->act[i];
	return NULL;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 64) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 64;
	return 0;
}

static int set_status(struct rfc_fleet *f, const char *id, json_t *doc, time_t now)
{
	struct rfc_device *d = rfc_fleet_device(f, id);

	if (!doc) { /* retained document cleared: the device was removed from the fleet */
		if (d) {
			json_decref(d->status);
			*d = f->dev[--f->ndev];
		}
		return 0;
	}
	if (!d) {
		if (grow((void **)&f->dev, &f->capdev, f->ndev, sizeof(*d)))
			return -ENOMEM;
		d = &f->dev[f->ndev++];
		memset(d, 0, sizeof(*d));
		strcpy(d->id, id);
		d->first_seen = now;
	}
	json_decref(d->status);
	d->status = doc;
	d->received = now;
	return 0;
}

static const char *doc_str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

/* A status that has moved on is never moved back (a late Pending after InProgress, say). */
static int status_rank(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "Pending"))
		return 0;
	if (!strcmp(s, "InProgress"))
		return 1;
	return rfc_status_final(s) ? 2 : -1;
}

int rfc_fleet_put_action(struct rfc_fleet *f, const char *device, json_t *doc)
{
	const char *id = doc_str(doc, "id");
	struct rfc_action *a;

	if (!id || strlen(id) > RFC_MAX_ID) {
		json_decref(doc);
		return -EINVAL;
	}
	a = rfc_fleet_action(f, id);
	if (a) {
		if (status_rank(doc_str(doc, "status")) < status_rank(doc_str(a->doc, "status"))) {
			json_decref(doc);
			return 0;
		}
		json_decref(a->doc);
		a->doc = doc;
		f->generation++;
		return 0;
	}
	if (grow((void **)&f->act, &f->capact, f->nact, sizeof(*a))) {
		json_decref(doc);
		return -ENOMEM;
	}
	a = &f->act[f->nact++];
	strcpy(a->id, id);
	strcpy(a->device, device);
	a->doc = doc;
	f->generation++;
	return 0;
}

static void drop_action(struct rfc_fleet *f, const char *id)
{
	struct rfc_action *a = rfc_fleet_action(f, id);

	if (a) {
		json_decref(a->doc);
		memmove(a, a + 1, (size_t)(&f->act[f->nact] - (a + 1)) * sizeof(*a));
		f->nact--;
	}
}

/* Split PREFIX/DEVICE/REST: 0 with dev and rest filled, -EINVAL otherwise. */
static int topic_split(const char *prefix, const char *topic, char *dev, const char **rest)
{
	size_t pl = strlen(prefix), dl;
	const char *d;

	if (strncmp(topic, prefix, pl) || topic[pl] != '/')
		return -EINVAL;
	d = topic + pl + 1;
	dl = strcspn(d, "/");
	if (!dl || dl > RFC_MAX_ID || d[dl] != '/')
		return -EINVAL;
	memcpy(dev, d, dl);
	dev[dl] = '\0';
	*rest = d + dl + 1;
	return rfc_valid_id(dev) ? 0 : -EINVAL;
}

static int action_message(struct rfc_fleet *f, const char *dev, const char *id, json_t *doc)
{
	const char *doc_id;

	if (!rfc_valid_id(id)) {
		json_decref(doc);
		return -EINVAL;
	}
	if (!doc) {
		drop_action(f, id);
		return 0;
	}
	doc_id = doc_str(doc, "id");
	/* an action document stands for the action its topic names, for that topic's device only */
	if (!json_is_object(doc) || !doc_id || strcmp(doc_id, id) || !doc_str(doc, "type") ||
	    status_rank(doc_str(doc, "status")) < 0) {
		json_decref(doc);
		return -EINVAL;
	}
	json_object_set_new(doc, "machineId", json_string(dev));
	return rfc_fleet_put_action(f, dev, doc);
}

int rfc_fleet_message(struct rfc_fleet *f, const char *prefix, const char *topic,
		      const void *payload, size_t len, time_t now)
{
	char dev[RFC_MAX_ID + 1];
	json_t *doc = NULL;
	const char *rest;
	int err;

	if (topic_split(prefix, topic, dev, &rest))
		return -EINVAL;
	if (len) {
		doc = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			return -EINVAL;
		}
	}
	pthread_mutex_lock(&f->lock);
	if (!strcmp(rest, "status"))
		err = set_status(f, dev, doc, now);
	else if (!strncmp(rest, "actions/", 8))
		err = action_message(f, dev, rest + 8, doc);
	else {
		json_decref(doc);
		err = -EINVAL;
	}
	f->generation++;
	pthread_mutex_unlock(&f->lock);
	return err;
}

bool rfc_status_final(const char *s)
{
	return s && (!strcmp(s, "Succeeded") || !strcmp(s, "Failed") || !strcmp(s, "TimeOut") ||
		     !strcmp(s, "Cancelled"));
}

/* The device's state fields, read leniently: the agent's status --json plus what the remote
 * agent adds (docs/API.md, "What the console reads"). */
bool rfc_dev_isolated(const struct rfc_device *d)
{
	return json_is_true(json_object_get(d->status, "isolated"));
}

bool rfc_dev_online(const struct rfc_device *d)
{
	json_t *v = json_object_get(d->status, "online");
	const char *s;

	if (json_is_boolean(v))
		return json_is_true(v);
	s = doc_str(d->status, "connection");
	if (!s)
		s = doc_str(d->status, "state");
	return s && !strcmp(s, "online");
}

const char *rfc_dev_name(const struct rfc_device *d)
{
	static const char *keys[] = {"computerDnsName", "hostname", "name"};
	const char *s;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		s = doc_str(d->status, keys[i]);
		if (s && *s)
			return s;
	}
	return d->id;
}

static json_t *last_seen(const struct rfc_device *d)
{
	static const char *keys[] = {"lastSeen", "time", "timestamp"};
	struct timespec ts = {.tv_sec = d->received};
	char buf[40];
	const char *s;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		s = doc_str(d->status, keys[i]);
		if (s && *s)
			return json_string(s);
	}
	if (!d->received)
		return json_null();
	rfc_time_iso(buf, sizeof(buf), &ts);
	return json_string(buf);
}

json_t *rfc_machine_json(const struct rfc_device *d, bool with_status)
{
	bool isolated = rfc_dev_isolated(d), online = rfc_dev_online(d);
	json_t *m;

	m = json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:b, s:b}", "id", d->id, "computerDnsName",
		      rfc_dev_name(d), "lastSeen", last_seen(d), "healthStatus",
		      online ? "Active" : "Inactive", "isolationState",
		      isolated ? "Isolated" : "NotIsolated", "isolated", isolated, "online", online,
		      "audit", json_is_true(json_object_get(d->status, "audit")));
	if (m && with_status)
		json_object_set(m, "deviceStatus", d->status);
	return m;
}
