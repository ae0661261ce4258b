// SPDX-License-Identifier: GPL-2.0-only
/* Bearer tokens (one per responder or playbook; its name is the actions' requestor) and their
 * rate limits: fixed one-minute and one-hour windows per token, as MDE counts calls. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "console.h"

#define MIN_TOKEN_LEN 16

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._@:-", *s))
			return false;
	return true;
}

static int token_add(struct rfc_tokens *ts, const char *path, int line, const char *name,
		     const char *tok)
{
	size_t i;

	if (!name_ok(name) || strlen(name) >= sizeof(ts->t[0].name)) {
		fprintf(stderr,
			"ringfence-console: %s:%d: a name is 1-63 of A-Z a-z 0-9 . _ @ : -\n", path,
			line);
		return -EINVAL;
	}
	if (strlen(tok) < MIN_TOKEN_LEN || strlen(tok) >= sizeof(ts->t[0].token)) {
		fprintf(stderr,
			"ringfence-console: %s:%d: the token of '%s' must be %d-255 characters "
			"(e.g. openssl rand -hex 32)\n",
			path, line, name, MIN_TOKEN_LEN);
		return -EINVAL;
	}
	for (i = 0; i < ts->n; i++) {
		if (!strcmp(ts->t[i].name, name) || !strcmp(ts->t[i].token, tok)) {
			fprintf(stderr, "ringfence-console: %s:%d: duplicate name or token\n", path,
				line);
			return -EINVAL;
		}
	}
	if (ts->n == RFC_MAX_TOKENS) {
		fprintf(stderr, "ringfence-console: %s: more than %d tokens\n", path,
			RFC_MAX_TOKENS);
		return -E2BIG;
	}
	memset(&ts->t[ts->n], 0, sizeof(ts->t[0]));
	strcpy(ts->t[ts->n].name, name);
	strcpy(ts->t[ts->n].token, tok);
	ts->n++;
	return 0;
}

static int tokens_parse(struct rfc_tokens *ts, const char *path, FILE *f)
{
	char line[1024], name[256], tok[1024], extra[2];
	int n = 0, fields, err;

	while (fgets(line, sizeof(line), f)) {
		n++;
		fields = sscanf(line, "%255s %1023s %1s", name, tok, extra);
		if (fields <= 0 || name[0] == '#')
			continue;
		if (fields != 2) {
			fprintf(stderr, "ringfence-console: %s:%d: expected 'NAME TOKEN'\n", path,
				n);
			return -EINVAL;
		}
		err = token_add(ts, path, n, name, tok);
		if (err)
			return err;
	}
	if (!ts->n) {
		fprintf(stderr,
			"ringfence-console: %s: no 'NAME TOKEN' line: nobody could log in\n", path);
		return -EINVAL;
	}
	return 0;
}

int rfc_tokens_load(struct rfc_tokens *ts, const char *path)
{
	struct stat st;
	FILE *f;
	int err;

	ts->n = 0;
	ts->per_minute = RFC_RATE_PER_MINUTE;
	ts->per_hour = RFC_RATE_PER_HOUR;
	pthread_mutex_init(&ts->lock, NULL);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		fprintf(stderr, "ringfence-console: cannot read the token file %s: %s\n", path,
			strerror(-err));
		return err;
	}
	if (fstat(fileno(f), &st) || (st.st_mode & 0077)) {
		fprintf(stderr,
			"ringfence-console: %s is readable or writable by others: chmod 600 %s\n",
			path, path);
		fclose(f);
		return -EPERM;
	}
	err = tokens_parse(ts, path, f);
	fclose(f);
	return err;
}

/* Compare without an early exit, so the time taken does not tell how much of a guess matched. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < lb; i++)
		diff |= (unsigned char)(b[i] ^ a[i < la ? i : 0]);
	return !diff;
}

const char *rfc_tokens_find(struct rfc_tokens *ts, const char *token)
{
	const char *found = NULL;
	size_t i;

	if (!token || !*token)
		return NULL;
	for (i = 0; i < ts->n; i++)
		if (same_secret(ts->t[i].token, token) && !found)
			found = ts->t[i].name;
	return found;
}

static unsigned int window_count(time_t *start, unsigned int *count, time_t now, int len)
{
	if (!*start || now - *start >= len || now < *start) {
		*start = now;
		*count = 0;
	}
	return *count;
}

int rfc_tokens_charge(struct rfc_tokens *ts, const char *name, time_t now)
{
	struct rfc_token *t = NULL;
	int wait = 0;
	size_t i;

	pthread_mutex_lock(&ts->lock);
	for (i = 0; i < ts->n && !t; i++)
		if (!strcmp(ts->t[i].name, name))
			t = &ts->t[i];
	if (!t) {
		wait = 60;
	} else if (window_count(&t->minute_start, &t->minute_count, now, 60) >= ts->per_minute) {
		wait = (int)(t->minute_start + 60 - now);
	} else if (window_count(&t->hour_start, &t->hour_count, now, 3600) >= ts->per_hour) {
		wait = (int)(t->hour_start + 3600 - now);
	} else {
		t->minute_count++;
		t->hour_count++;
	}
	pthread_mutex_unlock(&ts->lock);
	return wait;
}
