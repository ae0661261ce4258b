// SPDX-License-Identifier: GPL-2.0-only
/* machineAction documents (DESIGN.md "Remote control"; MDE's machineAction entity) and the rules
 * that keep one device from getting the same request twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "console.h"

bool rfc_valid_id(const char *id)
{
	size_t n = 0;

	if (!id || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (; id[n]; n++)
		if (id[n] <= ' ' || id[n] >= 0x7f || strchr("+#/", id[n]))
			return false;
	return n >= 1 && n <= RFC_MAX_ID;
}

void rfc_time_iso(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	char sec[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%03uZ", sec, (unsigned int)(ts->tv_nsec / 1000000) % 1000);
}

int rfc_uuid(char *buf, size_t len)
{
	unsigned char b[16];

	if (len < 37)
		return -ENOSPC;
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

json_t *rfc_action_new(const char *id, const char *type, const char *device, const char *name,
		       const char *requestor, const char *comment, const char *scope,
		       const struct timespec *now, int timeout)
{
	struct timespec end = {.tv_sec = now->tv_sec + timeout};
	char t[40], until[40];

	rfc_time_iso(t, sizeof(t), now);
	rfc_time_iso(until, sizeof(until), &end);
	return json_pack("{s:s, s:s, s:s*, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n}", "id", id,
			 "type", type, "scope", scope, "requestor", requestor, "requestorComment",
			 comment, "status", "Pending", "machineId", device, "computerDnsName", name,
			 "creationDateTimeUtc", t, "lastUpdateDateTimeUtc", t, "notAfter", until,
			 "error");
}

static int bad(char *err, size_t len, const char *msg)
{
	snprintf(err, len, "%s", msg);
	return -EINVAL;
}

int rfc_action_request(const char *body, size_t len, bool isolate, json_t **root,
		       const char **comment, const char **scope, char *err, size_t errlen)
{
	json_t *c, *s;
	const char *key;
	json_t *v;

	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*root))
		return bad(err, errlen, "The request body is not a JSON object");
	json_object_foreach(*root, key, v)
	{
		if (strcmp(key, "Comment") && (!isolate || strcmp(key, "IsolationType")))
			return bad(err, errlen, "Unknown property in the request body");
	}
	c = json_object_get(*root, "Comment");
	if (!json_is_string(c) || !json_string_length(c))
		return bad(err, errlen, "Comment is required (a non-empty string)");
	if (json_string_length(c) > RFC_MAX_COMMENT)
		return bad(err, errlen, "Comment is longer than 1000 characters");
	*comment = json_string_value(c);
	*scope = NULL;
	if (!isolate)
		return 0;
	s = json_object_get(*root, "IsolationType");
	*scope = s ? json_string_value(s) : "Full";
	if (!*scope || strcmp(*scope, "Full"))
		return bad(err, errlen,
			   "IsolationType must be \"Full\" (ringfence has no Selective isolation)");
	return 0;
}

const char *rfc_action_conflict(struct rfc_fleet *f, const struct rfc_device *d, const char *type,
				const char **code)
{
	bool isolate = !strcmp(type, "Isolate");
	const char *st;
	size_t i;

	for (i = 0; i < f->nact; i++) {
		if (strcmp(f->act[i].device, d->id) ||
		    strcmp(json_string_value(json_object_get(f->act[i].doc, "type")), type))
			continue;
		st = json_string_value(json_object_get(f->act[i].doc, "status"));
		if (!rfc_status_final(st)) {
			*code = "ActiveRequestAlreadyExists";
			return isolate ? "An isolate action is already pending for this machine"
				       : "A release action is already pending for this machine";
		}
	}
	*code = "InvalidRequest";
	if (isolate && rfc_dev_isolated(d))
		return "The machine is already isolated";
	if (!isolate && !rfc_dev_isolated(d))
		return "The machine is not isolated";
	return NULL;
}

static int newest_first(const void *a, const void *b)
{
	const char *ta =
	    json_string_value(json_object_get(*(json_t *const *)a, "creationDateTimeUtc"));
	const char *tb =
	    json_string_value(json_object_get(*(json_t *const *)b, "creationDateTimeUtc"));

	return strcmp(tb ? tb : "", ta ? ta : "");
}

json_t *rfc_actions_json(struct rfc_fleet *f, const char *device, size_t max)
{
	json_t **docs, *arr = json_array();
	size_t i, n = 0;

	docs = calloc(f->nact + 1, sizeof(*docs));
	if (!docs || !arr) {
		free(docs);
		json_decref(arr);
		return NULL;
	}
	for (i = 0; i < f->nact; i++)
		if (!device || !strcmp(f->act[i].device, device))
			docs[n++] = f->act[i].doc;
	qsort(docs, n, sizeof(*docs), newest_first);
	for (i = 0; i < n && i < max; i++)
		json_array_append(arr, docs[i]);
	free(docs);
	return arr;
}

static long iso_age(const char *iso, time_t now)
{
	struct tm tm = {0};

	if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (long)(now - timegm(&tm));
}

void rfc_actions_expire(struct rfc_fleet *f, int timeout, const struct timespec *now, json_t *out)
{
	const char *st, *created;
	char t[40];
	json_t *doc;
	size_t i;

	rfc_time_iso(t, sizeof(t), now);
	for (i = 0; i < f->nact; i++) {
		st = json_string_value(json_object_get(f->act[i].doc, "status"));
		created = json_string_value(json_object_get(f->act[i].doc, "creationDateTimeUtc"));
		if (rfc_status_final(st) || iso_age(created, now->tv_sec) < timeout)
			continue;
		doc = json_deep_copy(f->act[i].doc);
		if (!doc)
			continue;
		json_object_set_new(doc, "status", json_string("TimeOut"));
		json_object_set_new(doc, "lastUpdateDateTimeUtc", json_string(t));
		json_object_set_new(
		    doc, "error",
		    json_sprintf("The device did not complete the action within %d s", timeout));
		json_array_append_new(
		    out, json_pack("{s:s, s:O}", "device", f->act[i].device, "doc", doc));
		json_decref(f->act[i].doc);
		f->act[i].doc = doc;
		f->generation++;
	}
}
