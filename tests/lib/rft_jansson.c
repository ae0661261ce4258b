// SPDX-License-Identifier: GPL-2.0-only
/* Strict JSON reading for the tests, on jansson; contracts in rft_json.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rft_json.h"

/* What the product promises a consumer: one value, no duplicate keys (jansson also rejects
 * invalid UTF-8, NUL in strings and bytes after the value). */
#define RFT_JSON_STRICT JSON_REJECT_DUPLICATES

json_t *rft_json_load(const char *text)
{
	json_error_t e;
	json_t *doc;

	cr_assert_not_null(text, "no JSON text");
	doc = json_loads(text, RFT_JSON_STRICT, &e);
	cr_assert_not_null(doc, "not one strict JSON document (%s at line %d column %d): %s",
			   e.text, e.line, e.column, text);
	return doc;
}

json_t *rft_json_lines(const char *text)
{
	json_t *arr = json_array();
	const char *p = text, *nl;
	int lineno = 0;

	cr_assert_not_null(text, "no JSON lines");
	for (; *p; p = *nl ? nl + 1 : nl) {
		json_error_t e;
		json_t *doc;
		size_t n;

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		lineno++;
		if (strspn(p, " \t\r") >= n)
			continue;
		doc = json_loadb(p, n, RFT_JSON_STRICT, &e);
		cr_assert_not_null(doc,
				   "line %d is not one strict JSON document (%s, column %d): %.*s",
				   lineno, e.text, e.column, (int)n, p);
		json_array_append_new(arr, doc);
	}
	return arr;
}

json_t *rft_json_at(json_t *doc, const char *path)
{
	char key[256];
	const char *p = path, *dot;

	while (doc && *p) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_is_object(doc)) {
			doc = json_object_get(doc, key);
		} else if (json_is_array(doc)) {
			char *end;
			unsigned long i = strtoul(key, &end, 10);

			doc = *key && !*end ? json_array_get(doc, i) : NULL;
		} else {
			return NULL;
		}
		p = dot ? dot + 1 : p + n;
	}
	return doc;
}

const char *rft_json_str_at(json_t *doc, const char *path)
{
	return json_string_value(rft_json_at(doc, path));
}

int rft_json_bool_at(json_t *doc, const char *path)
{
	json_t *v = rft_json_at(doc, path);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}

long long rft_json_int_at(json_t *doc, const char *path, long long def)
{
	json_t *v = rft_json_at(doc, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

static bool matches(json_t *el, const char *path, const char *value)
{
	const char *s = rft_json_str_at(el, path);

	return value ? s && !strcmp(s, value) : rft_json_at(el, path) != NULL;
}

json_t *rft_json_find(json_t *arr, const char *path, const char *value)
{
	size_t i;
	json_t *el;

	json_array_foreach(arr, i, el) if (matches(el, path, value)) return el;
	return NULL;
}

size_t rft_json_count(json_t *arr, const char *path, const char *value)
{
	size_t i, n = 0;
	json_t *el;

	json_array_foreach(arr, i, el) n += matches(el, path, value);
	return n;
}

/* Depth first, in document order: the first value of key for which want() holds. */
static json_t *find_key(json_t *v, const char *key, int (*want)(const json_t *))
{
	const char *k;
	json_t *child, *r;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, child)
		{
			if (!strcmp(k, key) && want(child))
				return child;
			if ((r = find_key(child, key, want)))
				return r;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) if ((r = find_key(child, key, want))) return r;
	}
	return NULL;
}

static int is_bool(const json_t *v)
{
	return json_is_boolean(v);
}

static int is_str(const json_t *v)
{
	return json_is_string(v);
}

int rft_json_bool(const char *json, const char *key)
{
	json_t *docs = rft_json_lines(json), *v = find_key(docs, key, is_bool);
	int r = v ? json_is_true(v) : -1;

	json_decref(docs);
	return r;
}

static const char *copy_out(const char *s, size_t len, char *buf, size_t buflen)
{
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

const char *rfp_json_str(const char *obj, const char *key, char *buf, size_t len)
{
	json_t *docs, *v;
	const char *r = NULL;

	if (!obj)
		return NULL;
	docs = rft_json_lines(obj);
	v = find_key(docs, key, is_str);
	if (v)
		r = copy_out(json_string_value(v), json_string_length(v), buf, len);
	json_decref(docs);
	return r;
}

static bool has_all(const char *s, size_t len, const char *const needles[])
{
	int i;

	for (i = 0; needles[i]; i++)
		if (!memmem(s, len, needles[i], strlen(needles[i])))
			return false;
	return true;
}

/* Depth first, the object before its members: the first object whose compact form holds every
 * needle (so a document's outermost object, or an element of a top-level array). */
static json_t *find_obj(json_t *v, const char *const needles[], char **text)
{
	const char *k;
	json_t *child, *r;
	size_t i;

	if (json_is_object(v)) {
		*text = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (*text && has_all(*text, strlen(*text), needles))
			return v;
		free(*text);
		*text = NULL;
		json_object_foreach(v, k, child) if ((r = find_obj(child, needles, text))) return r;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) if ((r = find_obj(child, needles, text))) return r;
	}
	return NULL;
}

const char *rfp_find_object(const char *text, const char *const needles[], char *buf, size_t len)
{
	json_t *docs;
	char *found = NULL;
	const char *r = NULL;

	if (!text)
		return NULL;
	docs = rft_json_lines(text);
	if (find_obj(docs, needles, &found))
		r = copy_out(found, strlen(found), buf, len);
	free(found);
	json_decref(docs);
	return r;
}

const char *rfp_find_line(const char *text, const char *const needles[], char *buf, size_t len)
{
	const char *p = text, *nl;

	while (p && *p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (has_all(p, (size_t)(nl - p), needles))
			return copy_out(p, (size_t)(nl - p), buf, len);
		p = *nl ? nl + 1 : nl;
	}
	return NULL;
}

char *rfp_read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 0;
	char *s = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			char *ns = realloc(s, cap + 65536);

			if (!ns) {
				free(s);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			s = ns;
			cap += 65536;
		}
		r = read(fd, s + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(s);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	s[n] = '\0';
	return s;
}
