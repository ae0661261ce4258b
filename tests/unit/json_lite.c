// SPDX-License-Identifier: GPL-2.0-only
/* Strict JSON checker with a dotted-path lookup, for checking ringfence's JSON output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_lite.h"

#define JL_MAX_DEPTH 64
#define JL_PATH_MAX  512
#define JL_STR_MAX   4096

struct jl {
	const unsigned char *p;
	const char *want;
	char *out;
	size_t outlen;
	int found;
	int depth;
};

static void skip_ws(struct jl *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		s->p++;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table), 0 if ill-formed. */
static int utf8_strict(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int hex4(const unsigned char *p, unsigned int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static size_t put_utf8(char *b, unsigned int cp)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | cp >> 18);
	b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parse a string literal at s->p (on the quote) and decode it into buf. */
static int parse_string(struct jl *s, char *buf, size_t len)
{
	size_t o = 0;

	if (*s->p != '"')
		return -EINVAL;
	s->p++;
	for (;;) {
		unsigned int cp, lo;
		int n;

		if (o + 5 > len)
			return -EINVAL;
		if (*s->p == '"') {
			s->p++;
			buf[o] = '\0';
			return 0;
		}
		if (*s->p < 0x20) /* raw control byte, or the end of the document */
			return -EINVAL;
		if (*s->p != '\\') {
			n = utf8_strict(s->p);
			if (!n)
				return -EINVAL;
			memcpy(buf + o, s->p, (size_t)n);
			o += (size_t)n;
			s->p += n;
			continue;
		}
		s->p++;
		switch (*s->p) {
		case '"':
		case '\\':
		case '/':
			buf[o++] = (char)*s->p;
			break;
		case 'b':
			buf[o++] = '\b';
			break;
		case 'f':
			buf[o++] = '\f';
			break;
		case 'n':
			buf[o++] = '\n';
			break;
		case 'r':
			buf[o++] = '\r';
			break;
		case 't':
			buf[o++] = '\t';
			break;
		case 'u':
			if (hex4(s->p + 1, &cp))
				return -EINVAL;
			s->p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -EINVAL; /* lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (s->p[1] != '\\' || s->p[2] != 'u' || hex4(s->p + 3, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -EINVAL;
				s->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			o += put_utf8(buf + o, cp);
			break;
		default:
			return -EINVAL;
		}
		s->p++;
	}
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct jl *s)
{
	if (*s->p == '-')
		s->p++;
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		while (is_digit(*s->p))
			s->p++;
	else
		return -EINVAL;
	if (*s->p == '.') {
		s->p++;
		if (!is_digit(*s->p))
			return -EINVAL;
		while (is_digit(*s->p))
			s->p++;
	}
	if (*s->p == 'e' || *s->p == 'E') {
		s->p++;
		if (*s->p == '+' || *s->p == '-')
			s->p++;
		if (!is_digit(*s->p))
			return -EINVAL;
		while (is_digit(*s->p))
			s->p++;
	}
	return 0;
}

static void hit(struct jl *s, const char *path, const char *val, size_t vlen)
{
	if (!s->want || !path || strcmp(path, s->want))
		return;
	s->found++;
	snprintf(s->out, s->outlen, "%.*s", (int)vlen, val);
}

static int parse_value(struct jl *s, const char *path);

static int child_path(char *buf, const char *path, const char *name)
{
	int n;

	if (path)
		n = snprintf(buf, JL_PATH_MAX, "%s.%s", path, name);
	else
		n = snprintf(buf, JL_PATH_MAX, "%s", name);
	return n < JL_PATH_MAX ? 0 : -EINVAL;
}

static int key_seen(char ***seen, size_t *n, const char *key)
{
	char **ns;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*seen)[i], key))
			return 1;
	ns = realloc(*seen, (*n + 1) * sizeof(*ns));
	if (ns)
		*seen = ns;
	if (!ns || !(ns[*n] = strdup(key)))
		return -1;
	(*n)++;
	return 0;
}

static int parse_members(struct jl *s, const char *path, char ***seen, size_t *nseen)
{
	char key[JL_STR_MAX], sub[JL_PATH_MAX];
	int err;

	s->p++;
	skip_ws(s);
	if (*s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		skip_ws(s);
		err = parse_string(s, key, sizeof(key));
		if (err)
			return err;
		if (key_seen(seen, nseen, key))
			return -EINVAL; /* duplicate key (or out of memory) */
		skip_ws(s);
		if (*s->p++ != ':')
			return -EINVAL;
		if (child_path(sub, path, key))
			return -EINVAL;
		err = parse_value(s, sub);
		if (err)
			return err;
		skip_ws(s);
		if (*s->p == '}') {
			s->p++;
			return 0;
		}
		if (*s->p++ != ',')
			return -EINVAL;
	}
}

static int parse_object(struct jl *s, const char *path)
{
	char **seen = NULL;
	size_t nseen = 0, i;
	int err;

	err = parse_members(s, path, &seen, &nseen);
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	return err;
}

static int parse_array(struct jl *s, const char *path)
{
	char idx[16], sub[JL_PATH_MAX];
	int err, i = 0;

	s->p++;
	skip_ws(s);
	if (*s->p == ']') {
		s->p++;
		return 0;
	}
	for (;; i++) {
		snprintf(idx, sizeof(idx), "%d", i);
		if (child_path(sub, path, idx))
			return -EINVAL;
		err = parse_value(s, sub);
		if (err)
			return err;
		skip_ws(s);
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p++ != ',')
			return -EINVAL;
	}
}

static int parse_value(struct jl *s, const char *path)
{
	static const char *const lits[] = {"true", "false", "null"};
	const unsigned char *start;
	char str[JL_STR_MAX];
	size_t i;
	int err;

	if (++s->depth > JL_MAX_DEPTH)
		return -EINVAL;
	skip_ws(s);
	start = s->p;
	switch (*s->p) {
	case '{':
		err = parse_object(s, path);
		break;
	case '[':
		err = parse_array(s, path);
		break;
	case '"':
		err = parse_string(s, str, sizeof(str));
		if (!err)
			hit(s, path, str, strlen(str));
		break;
	default:
		err = -EINVAL;
		for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
			size_t n = strlen(lits[i]);

			if (!strncmp((const char *)s->p, lits[i], n)) {
				s->p += n;
				err = 0;
				break;
			}
		}
		if (err)
			err = parse_number(s);
		if (!err)
			hit(s, path, (const char *)start, (size_t)(s->p - start));
		break;
	}
	s->depth--;
	return err;
}

int json_get(const char *doc, const char *path, char *out, size_t outlen)
{
	struct jl s = {
	    .p = (const unsigned char *)doc,
	    .want = path,
	    .out = out,
	    .outlen = outlen,
	};
	int err;

	err = parse_value(&s, NULL);
	if (err)
		return err;
	skip_ws(&s);
	if (*s.p)
		return -EINVAL; /* trailing garbage: more than one value */
	if (s.found > 1)
		return -EINVAL; /* duplicate key */
	if (path && !s.found)
		return -ENOENT;
	return 0;
}

int json_valid(const char *doc)
{
	return json_get(doc, NULL, NULL, 0) == 0;
}
