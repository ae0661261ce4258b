// SPDX-License-Identifier: GPL-2.0-only
/* Action and status documents of remote control, through jansson (see rf_mqtt.h). */
#if RF_MQTT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "rf_mqtt.h"
#include "rf_util.h"

static const char *const type_names[RF_REMOTE_TYPE_MAX] = {
    [RF_REMOTE_ISOLATE] = "Isolate",	[RF_REMOTE_UNISOLATE] = "Unisolate",
    [RF_REMOTE_AUDIT] = "Audit",	[RF_REMOTE_ALLOW_ADD] = "AllowAdd",
    [RF_REMOTE_ALLOW_DEL] = "AllowDel", [RF_REMOTE_CONFIRM] = "Confirm",
};

const char *rf_remote_type_name(enum rf_remote_type t)
{
	return (unsigned)t < RF_REMOTE_TYPE_MAX ? type_names[t] : NULL;
}

static int days_from_civil(int y, int m, int d, long long *days)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};

	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	*days = (long long)(timegm(&tm) / 86400);
	return 0;
}

int rf_parse_rfc3339(const char *s, __u64 *unix_ns)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	long long days, t;
	const char *p;
	__u64 frac = 0, scale = 100000000ULL;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 ||
	    (s[10] != 'T' && s[10] != 't') ||
	    sscanf(s + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
		return -EINVAL;
	if (h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0 ||
	    days_from_civil(y, mo, d, &days))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		for (p++, n = 0; *p >= '0' && *p <= '9'; p++, n++)
			if (scale) {
				frac += (__u64)(*p - '0') * scale;
				scale /= 10;
			}
		if (!n)
			return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
			return -EINVAL;
		if (*p == '-')
			oh = -oh, om = -om;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = days * 86400 + h * 3600 + mi * 60 + sec - (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*unix_ns = (__u64)t * 1000000000ULL + frac;
	return 0;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > RF_MQTT_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-_.:", s[i])))
			return false;
	return true;
}

/* Optional string field name into out (len bytes): -EINVAL if not a string or too long. */
static int str_field(json_t *o, const char *name, char *out, size_t len, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= len ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s\" must be a string of at most %zu bytes", name,
			 len - 1);
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_type(json_t *o, struct rf_remote_action *a, char *err, size_t errlen)
{
	char t[32];
	int i;

	if (str_field(o, "type", t, sizeof(t), err, errlen))
		return -EINVAL;
	for (i = 0; i < RF_REMOTE_TYPE_MAX; i++)
		if (!strcmp(t, type_names[i])) {
			a->type = (enum rf_remote_type)i;
			return 0;
		}
	snprintf(err, errlen,
		 "unknown action type '%.31s': expected Isolate, Unisolate, Audit, AllowAdd, "
		 "AllowDel or Confirm",
		 t);
	return t[0] ? -EOPNOTSUPP : -EINVAL;
}

/* "target": "unit:NAME", "container:ID" or "cgroup:PATH". */
static int parse_target(json_t *o, struct rf_remote_action *a, char *err, size_t errlen)
{
	static const char *const kinds[] = {"unit", "container", "cgroup"};
	char t[sizeof(a->target) + 16];
	size_t i, n;

	if (str_field(o, "target", t, sizeof(t), err, errlen))
		return -EINVAL;
	if (!t[0])
		return 0;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i]);
		if (!strncmp(t, kinds[i], n) && t[n] == ':' && t[n + 1] && t[n + 1] != '-' &&
		    strlen(t + n + 1) < sizeof(a->target)) {
			snprintf(a->target_kind, sizeof(a->target_kind), "%s", kinds[i]);
			snprintf(a->target, sizeof(a->target), "%s", t + n + 1);
			return 0;
		}
	}
	snprintf(err, errlen, "\"target\" must be unit:NAME, container:ID or cgroup:PATH");
	return -EINVAL;
}

static int check_values(struct rf_remote_action *a, const char *not_after, char *err, size_t errlen)
{
	struct rf_rule r;
	char e[RF_ERR_MAX];
	__u64 secs;

	if ((a->for_[0] && rf_parse_duration(a->for_, &secs)) ||
	    (a->confirm_within[0] && rf_parse_duration(a->confirm_within, &secs))) {
		snprintf(err, errlen,
			 "\"for\" and \"confirmWithin\" take a duration such as 90s, "
			 "15m, 2h or 1d");
		return -EINVAL;
	}
	if (not_after[0] && rf_parse_rfc3339(not_after, &a->not_after_unix_ns)) {
		snprintf(err, errlen,
			 "\"notAfter\" must be an RFC 3339 time such as "
			 "2026-12-06T08:00:00Z");
		return -EINVAL;
	}
	if (a->type != RF_REMOTE_ALLOW_ADD && a->type != RF_REMOTE_ALLOW_DEL)
		return 0;
	if (!a->rule[0] || rf_rule_parse_line(a->rule, &r, e, sizeof(e))) {
		snprintf(err, errlen, "\"rule\": %s", a->rule[0] ? e : "missing");
		return -EINVAL;
	}
	return 0;
}

static int parse_object(json_t *o, struct rf_remote_action *a, char *err, size_t errlen)
{
	char id[RF_MQTT_ID_MAX + 2], not_after[64];
	int ret;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "an action is a JSON object");
		return -EINVAL;
	}
	if (str_field(o, "id", id, sizeof(id), err, errlen) || !id_ok(id)) {
		snprintf(err, errlen,
			 "\"id\" must be 1 to %d letters, digits, '-', '_', '.' or ':'",
			 RF_MQTT_ID_MAX);
		return -EINVAL;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	if ((ret = parse_type(o, a, err, errlen)))
		return ret;
	if (str_field(o, "requestor", a->requestor, sizeof(a->requestor), err, errlen) ||
	    str_field(o, "requestorIdentity", a->identity, sizeof(a->identity), err, errlen) ||
	    str_field(o, "requestorComment", a->comment, sizeof(a->comment), err, errlen) ||
	    str_field(o, "for", a->for_, sizeof(a->for_), err, errlen) ||
	    str_field(o, "confirmWithin", a->confirm_within, sizeof(a->confirm_within), err,
		      errlen) ||
	    str_field(o, "rule", a->rule, sizeof(a->rule), err, errlen) ||
	    str_field(o, "notAfter", not_after, sizeof(not_after), err, errlen) ||
	    parse_target(o, a, err, errlen))
		return -EINVAL;
	return check_values(a, not_after, err, errlen);
}

int rf_remote_parse(const char *doc, size_t len, struct rf_remote_action *a, char *err,
		    size_t errlen)
{
	json_error_t je;
	json_t *o;
	int ret;

	memset(a, 0, sizeof(*a));
	if (len > RF_MQTT_ACTION_MAX) {
		snprintf(err, errlen, "action document of %zu bytes: the limit is %d", len,
			 RF_MQTT_ACTION_MAX);
		return -E2BIG;
	}
	o = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errlen, "not a JSON document: %s (line %d)", je.text, je.line);
		return -EINVAL;
	}
	ret = parse_object(o, a, err, errlen);
	json_decref(o);
	return ret;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *time_or_null(__u64 ns)
{
	char t[40];

	if (!ns)
		return json_null();
	rf_format_time(ns, t, sizeof(t));
	return json_string(t);
}

static json_t *target_json(const struct rf_remote_action *a)
{
	char t[sizeof(a->target) + 16];

	if (!a->target_kind[0])
		return json_null();
	snprintf(t, sizeof(t), "%s:%s", a->target_kind, a->target);
	return json_string(t);
}

char *rf_remote_status_doc(const struct rf_remote_action *a, const char *device, const char *status,
			   const char *error, __u64 created_ns, __u64 updated_ns)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(a->id));
	json_object_set_new(o, "type", str_or_null(rf_remote_type_name(a->type)));
	json_object_set_new(o, "machineId", json_string(device));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "requestor", str_or_null(a->requestor));
	json_object_set_new(o, "requestorComment", str_or_null(a->comment));
	json_object_set_new(o, "target", target_json(a));
	json_object_set_new(o, "creationDateTimeUtc", time_or_null(created_ns));
	json_object_set_new(o, "lastUpdateDateTimeUtc", time_or_null(updated_ns));
	json_object_set_new(o, "error", str_or_null(error));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

char *rf_remote_action_doc(const struct rf_remote_action *a)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(a->id));
	json_object_set_new(o, "type", json_string(rf_remote_type_name(a->type)));
	json_object_set_new(o, "requestor", str_or_null(a->requestor));
	json_object_set_new(o, "requestorIdentity", str_or_null(a->identity));
	json_object_set_new(o, "requestorComment", str_or_null(a->comment));
	if (a->for_[0])
		json_object_set_new(o, "for", json_string(a->for_));
	if (a->confirm_within[0])
		json_object_set_new(o, "confirmWithin", json_string(a->confirm_within));
	if (a->rule[0])
		json_object_set_new(o, "rule", json_string(a->rule));
	if (a->target_kind[0])
		json_object_set_new(o, "target", target_json(a));
	if (a->not_after_unix_ns)
		json_object_set_new(o, "notAfter", time_or_null(a->not_after_unix_ns));
	json_object_set_new(o, "creationDateTimeUtc", time_or_null(rf_now_unix_ns()));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}
#endif /* RF_MQTT */
