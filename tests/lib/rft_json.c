// SPDX-License-Identifier: GPL-2.0-only
/* Lookups in JSON and text output; contracts in rft_json.h. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "rft_child.h"
#include "rft_json.h"

int rft_json_bool(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	p += strlen(pat);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t\r\n");
	if (!strncmp(p, "true", 4))
		return 1;
	if (!strncmp(p, "false", 5))
		return 0;
	return -1;
}

char *rfp_read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *s;

	if (fd < 0)
		return NULL;
	s = rft_slurp_fd(fd);
	close(fd);
	return s;
}

static bool has_all(const char *s, size_t len, const char *const needles[])
{
	int i;

	for (i = 0; needles[i]; i++)
		if (!memmem(s, len, needles[i], strlen(needles[i])))
			return false;
	return true;
}

static const char *copy_out(const char *s, size_t len, char *buf, size_t buflen)
{
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
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

const char *rfp_find_object(const char *text, const char *const needles[], char *buf, size_t len)
{
	const char *p = text, *open, *close;

	while (p && (open = strchr(p, '{'))) {
		close = strchr(open, '}');
		if (!close)
			return NULL;
		if (has_all(open, (size_t)(close - open + 1), needles))
			return copy_out(open, (size_t)(close - open + 1), buf, len);
		p = close + 1;
	}
	return NULL;
}

const char *rfp_json_str(const char *obj, const char *key, char *buf, size_t len)
{
	char pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = obj ? strstr(obj, pat) : NULL;
	if (!p)
		return NULL;
	p += strlen(pat);
	for (e = p; *e && *e != '"'; e++)
		if (*e == '\\' && e[1])
			e++;
	return copy_out(p, (size_t)(e - p), buf, len);
}
