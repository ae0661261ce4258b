// SPDX-License-Identifier: GPL-2.0-only
/* Allow-rule grammar: RULE := net CIDR [proto P] [port N[-M]] [dir D] |
 * host NAME [proto P] [port N[-M]] [dir D] | exe PATH [user U] | cgroup PATH */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/sysmacros.h>
#include "rf_rule.h"
#include "rf_util.h"

#define RF_MAX_TOKENS 16

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Strict unsigned decimal <= max (rf_parse_u64()): 0 or -1. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	__u64 v;

	if (rf_parse_u64(s, max, &v))
		return -1;
	*out = (unsigned long)v;
	return 0;
}

int rf_rule_check_new(const struct rf_rule *r, char *err, size_t errlen)
{
	static const __u8 mapped[16] = {[10] = 0xff, [11] = 0xff}; /* ::ffff:0:0/96 */
	__u32 plen = r->key.prefixlen, i;
	char cidr[64];

	if (r->kind != RF_RULE_NET || plen >= 96)
		return 0;
	for (i = 0; i < plen; i++) {
		__u8 bit = (__u8)(0x80 >> (i % 8));

		if ((mapped[i / 8] & bit) != (r->key.addr[i / 8] & bit))
			return 0; /* the prefix does not hold the IPv4-mapped block */
	}
	rf_format_cidr(&r->key, cidr, sizeof(cidr));
	snprintf(err, errlen,
		 "'net %s' would also allow every IPv4 address (IPv4 is matched as "
		 "::ffff:a.b.c.d, inside %s); allow IPv4 with its own rule ('net 0.0.0.0/0 ...') "
		 "and name the IPv6 you mean without ::ffff:0:0/96 (e.g. 'net 2000::/3' for all "
		 "global unicast)",
		 cidr, cidr);
	return -EINVAL;
}

int rf_parse_cidr(const char *s, struct rf_net_key *key, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long plen, maxlen;
	struct in6_addr a6;
	struct in_addr a4;
	int i, v4;

	memset(key, 0, sizeof(*key));
	if (alen == 0 || alen >= sizeof(addr))
		return fail(err, errlen,
			    "invalid address in '%s': expected an IPv4 or IPv6 CIDR such as "
			    "192.0.2.0/24 or 2001:db8::/32",
			    s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		v4 = 1;
		memset(key->addr + 10, 0xff, 2);
		memcpy(key->addr + 12, &a4, 4);
		maxlen = 32;
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		v4 = 0;
		memcpy(key->addr, &a6, 16);
		maxlen = 128;
	} else {
		return fail(err, errlen,
			    "invalid address in '%s': expected an IPv4 or IPv6 CIDR such as "
			    "192.0.2.0/24 or 2001:db8::/32",
			    s);
	}
	if (!slash)
		plen = maxlen;
	else if (parse_uint(slash + 1, maxlen, &plen))
		return fail(err, errlen,
			    "invalid prefix length in '%s': IPv4 takes /0 to /32, IPv6 /0 to /128",
			    s);
	key->prefixlen = (__u32)(v4 ? plen + 96 : plen);

	for (i = 0; i < 128; i++) {
		if ((__u32)i < key->prefixlen)
			continue;
		if (key->addr[i / 8] & (0x80 >> (i % 8)))
			return fail(err, errlen,
				    "'%s' has host bits set beyond the prefix length: give the "
				    "network address (for example 192.0.2.0/24)",
				    s);
	}
	return 0;
}

/* Is one label of a host name, s[0 .. n-1], well formed? 0, or -EINVAL with err set. */
static int host_label_check(const char *name, const char *s, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n == 0)
		return fail(err, errlen,
			    "bad host name '%s': empty label (two dots in a row, or a dot at the "
			    "start)",
			    name);
	if (n > RF_HOST_LABEL_MAX)
		return fail(err, errlen, "bad host name '%s': label '%.*s' is %zu bytes, over %d",
			    name, (int)n, s, n, RF_HOST_LABEL_MAX);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return fail(
			    err, errlen,
			    "bad host name '%s': '%c' in label '%.*s' (letters, digits and hyphens "
			    "only; write an international name in its xn-- form%s)",
			    name, isprint((unsigned char)s[i]) ? s[i] : '?', (int)n, s,
			    s[i] == '*' ? "; '*' only as a whole first label, '*.example.com'"
					: "");
	if (s[0] == '-' || s[n - 1] == '-')
		return fail(err, errlen,
			    "bad host name '%s': label '%.*s' starts or ends with a hyphen", name,
			    (int)n, s);
	return 0;
}

int rf_host_name_parse(const char *name, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len = strlen(name), i, labels = 0;
	const char *p, *dot, *body = name;
	char plain[RF_HOST_NAME_MAX + 2];
	struct in6_addr a6;
	int ret;

	if (len && name[len - 1] == '.')
		len--; /* "example.com." is the same absolute name */
	if (len == 0)
		return fail(err, errlen, "%s", "empty host name: e.g. host mgmt.example.com");
	if (len > RF_HOST_NAME_MAX)
		return fail(err, errlen, "bad host name '%.40s...': %zu bytes, over %d", name, len,
			    RF_HOST_NAME_MAX);
	if (len + 1 > outlen)
		return fail(err, errlen, "%s", "host name buffer too small");
	memcpy(plain, name, len);
	plain[len] = '\0';
	if (inet_pton(AF_INET, plain, &a6) == 1 || inet_pton(AF_INET6, plain, &a6) == 1)
		return fail(err, errlen, "'%s' is an address, not a name: use 'net %s'", name,
			    plain);
	if (name[0] == '*' && name[1] == '.')
		body = name + 2;
	if (body >= name + len) /* "*." alone */
		return fail(err, errlen, "bad host name '%s': nothing after '*.'", name);
	for (p = body;; p = dot + 1) {
		dot = memchr(p, '.', (size_t)(name + len - p));
		if (!dot)
			dot = name + len;
		ret = host_label_check(name, p, (size_t)(dot - p), err, errlen);
		if (ret)
			return ret;
		labels++;
		if (dot == name + len)
			break;
	}
	if (body != name && labels < 2)
		return fail(err, errlen,
			    "'%s' would allow every name in a top-level domain: name the domain "
			    "(e.g. *.example.com)",
			    name);
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[len] = '\0';
	return 0;
}

static int key_is_v4(const struct rf_net_key *key)
{
	static const __u8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return key->prefixlen >= 96 && memcmp(key->addr, mapped, 12) == 0;
}

void rf_format_cidr(const struct rf_net_key *key, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (key_is_v4(key)) {
		inet_ntop(AF_INET, key->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, key->prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, key->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, key->prefixlen > 128 ? 128 : key->prefixlen);
	}
}

static const char *proto_name(__u8 p)
{
	switch (p) {
	case RF_PROTO_ANY:
		return "any";
	case RF_PROTO_TCP:
		return "tcp";
	case RF_PROTO_UDP:
		return "udp";
	case RF_PROTO_ICMP:
		return "icmp";
	default:
		return "invalid";
	}
}

/* " proto tcp port 22 dir out": the parts of e that differ from the defaults. */
static void format_match(const struct rf_net_entry *e, char *buf, size_t len)
{
	char port[32] = "", proto[32] = "", dir[16] = "";

	if (e->proto != RF_PROTO_ANY)
		snprintf(proto, sizeof(proto), " proto %s", proto_name(e->proto));
	if (e->port_lo || e->port_hi) {
		if (e->port_lo == e->port_hi)
			snprintf(port, sizeof(port), " port %u", e->port_lo);
		else
			snprintf(port, sizeof(port), " port %u-%u", e->port_lo, e->port_hi);
	}
	if (e->dir == RF_DIR_OUT)
		snprintf(dir, sizeof(dir), " dir out");
	else if (e->dir == RF_DIR_IN)
		snprintf(dir, sizeof(dir), " dir in");
	else if (e->dir != RF_DIR_BOTH)
		snprintf(dir, sizeof(dir), " dir invalid");
	snprintf(buf, len, "%s%s%s", proto, port, dir);
}

void rf_format_net(const struct rf_net_key *key, const struct rf_net_entry *e, char *buf,
		   size_t len)
{
	char cidr[INET6_ADDRSTRLEN + 8], match[80];

	rf_format_cidr(key, cidr, sizeof(cidr));
	format_match(e, match, sizeof(match));
	snprintf(buf, len, "net %s%s", cidr, match);
}

/* May c stand in a path written without quotes? */
static bool plain_char(unsigned char c)
{
	return isalnum(c) || strchr("/._-+,:@=~%", c);
}

void rf_quote_path(const char *path, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t o = 0;

	for (; *p && plain_char(*p); p++)
		;
	if (!*p && *path) {
		snprintf(buf, len, "%s", path);
		return;
	}
	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (p = (const unsigned char *)path; *p && o + 5 < len; p++) {
		if (*p == '"' || *p == '\\')
			o += (size_t)sprintf(buf + o, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)sprintf(buf + o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

void rf_rule_format(const struct rf_rule *r, char *buf, size_t len)
{
	char q[RF_RULE_TEXT_MAX];

	if (r->kind == RF_RULE_NET) {
		rf_format_net(&r->key, &r->entry, buf, len);
		return;
	}
	if (r->kind == RF_RULE_HOST) {
		format_match(&r->entry, q, sizeof(q));
		snprintf(buf, len, "host %s%s", r->host, q);
		return;
	}
	rf_quote_path(r->path, q, sizeof(q));
	if (r->kind == RF_RULE_EXE && r->user[0])
		snprintf(buf, len, "exe %s user %s", q, r->user);
	else
		snprintf(buf, len, "%s %s", r->kind == RF_RULE_EXE ? "exe" : "cgroup", q);
}

static int parse_ports(const char *s, struct rf_net_entry *e, char *err, size_t errlen)
{
	char lo[16];
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (dash) {
		size_t n = (size_t)(dash - s);

		if (n == 0 || n >= sizeof(lo))
			return fail(
			    err, errlen,
			    "invalid port range '%s': expected N or N-M with 1 <= N <= M <= 65535",
			    s);
		memcpy(lo, s, n);
		lo[n] = '\0';
		if (parse_uint(lo, 65535, &a) || parse_uint(dash + 1, 65535, &b))
			return fail(
			    err, errlen,
			    "invalid port range '%s': expected N or N-M with 1 <= N <= M <= 65535",
			    s);
	} else {
		if (parse_uint(s, 65535, &a))
			return fail(
			    err, errlen,
			    "invalid port '%s': expected a number from 1 to 65535 or a range N-M",
			    s);
		b = a;
	}
	if (a == 0 || a > b)
		return fail(err, errlen,
			    "invalid port range '%s': expected N or N-M with 1 <= N <= M <= 65535",
			    s);
	e->port_lo = (__u16)a;
	e->port_hi = (__u16)b;
	return 0;
}

struct word {
	const char *name;
	__u8 value;
};

static const struct word protos[] = {{"tcp", RF_PROTO_TCP},
				     {"udp", RF_PROTO_UDP},
				     {"icmp", RF_PROTO_ICMP},
				     {"any", RF_PROTO_ANY},
				     {NULL, 0}};
static const struct word dirs[] = {
    {"in", RF_DIR_IN}, {"out", RF_DIR_OUT}, {"both", RF_DIR_BOTH}, {NULL, 0}};

/* The value of word val in the NULL-terminated table: 0, or -1 when it is not there. */
static int word_value(const struct word *w, const char *val, __u8 *out)
{
	for (; w->name; w++)
		if (!strcmp(w->name, val)) {
			*out = w->value;
			return 0;
		}
	return -1;
}

/* The "[proto P] [port N[-M]] [dir D]" words from argv[2] on, into e (defaults: any, both). */
static int parse_match(int argc, char *const argv[], struct rf_net_entry *e, char *err,
		       size_t errlen)
{
	int i, seen_proto = 0, seen_port = 0, seen_dir = 0, err_;

	e->proto = RF_PROTO_ANY;
	e->dir = RF_DIR_BOTH;
	for (i = 2; i < argc; i += 2) {
		const char *kw = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(kw, "proto") && strcmp(kw, "port") && strcmp(kw, "dir"))
			return fail(err, errlen,
				    "unknown keyword '%s' in %s rule: expected proto, port or dir",
				    kw, argv[0]);
		if (!val)
			return fail(err, errlen, "missing value after '%s'", kw);
		if (!strcmp(kw, "proto")) {
			if (seen_proto++)
				return fail(err, errlen, "'%s' given twice", kw);
			if (word_value(protos, val, &e->proto))
				return fail(err, errlen,
					    "unknown protocol '%s': expected tcp, udp, icmp or any",
					    val);
		} else if (!strcmp(kw, "port")) {
			if (seen_port++)
				return fail(err, errlen, "'%s' given twice", kw);
			err_ = parse_ports(val, e, err, errlen);
			if (err_)
				return err_;
		} else {
			if (seen_dir++)
				return fail(err, errlen, "'%s' given twice", kw);
			if (word_value(dirs, val, &e->dir))
				return fail(err, errlen,
					    "unknown direction '%s': expected in, out or both",
					    val);
		}
	}
	if (seen_port && e->proto == RF_PROTO_ICMP)
		return fail(err, errlen, "%s", "'port' does not apply to proto icmp");
	return 0;
}

static int parse_net(int argc, char *const argv[], struct rf_rule *r, char *err, size_t errlen)
{
	int err_;

	if (argc < 2)
		return fail(err, errlen, "%s",
			    "missing CIDR after 'net': e.g. net 192.0.2.0/24 [proto "
			    "tcp|udp|icmp|any] [port N[-M]] [dir in|out|both]");
	err_ = rf_parse_cidr(argv[1], &r->key, err, errlen);
	if (err_)
		return err_;
	return parse_match(argc, argv, &r->entry, err, errlen);
}

static int parse_host(int argc, char *const argv[], struct rf_rule *r, char *err, size_t errlen)
{
	int err_;

	if (argc < 2)
		return fail(err, errlen, "%s",
			    "missing name after 'host': e.g. host mgmt.example.com [proto "
			    "tcp|udp|icmp|any] [port N[-M]] [dir in|out|both], or host "
			    "*.example.com for the names below example.com");
	err_ = rf_host_name_parse(argv[1], r->host, sizeof(r->host), err, errlen);
	if (err_)
		return err_;
	return parse_match(argc, argv, &r->entry, err, errlen);
}

/* "exe PATH user NAME|UID|any": the user the rule allows the executable for. */
static int parse_exe_user(int argc, char *const argv[], struct rf_rule *r, char *err, size_t errlen)
{
	const char *u = argc > 3 ? argv[3] : "";
	size_t i;

	if (argc < 4)
		return fail(err, errlen, "%s",
			    "missing user after 'user' (a name, a uid or 'any')");
	if (argc > 4)
		return fail(err, errlen, "unexpected '%s' after the user", argv[4]);
	if (strlen(u) >= sizeof(r->user))
		return fail(err, errlen, "user '%s' too long", u);
	for (i = 0; u[i]; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
		      (u[i] >= '0' && u[i] <= '9') || strchr("._-$", u[i])))
			return fail(err, errlen, "'%s' is not a user name, a uid or 'any'", u);
	if (argv[1][0] != '/')
		return fail(err, errlen, "'%s' is not an absolute path", argv[1]);
	if (strlen(argv[1]) >= sizeof(r->path))
		return fail(err, errlen, "%s", "path too long");
	strcpy(r->path, argv[1]);
	strcpy(r->user, u);
	return 0;
}

int rf_rule_parse(int argc, char *const argv[], struct rf_rule *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (argc < 1)
		return fail(err, errlen, "%s",
			    "missing rule: expected 'net CIDR ...', 'host NAME ...', 'exe PATH' "
			    "or 'cgroup PATH'");
	if (!strcmp(argv[0], "net")) {
		r->kind = RF_RULE_NET;
		return parse_net(argc, argv, r, err, errlen);
	}
	if (!strcmp(argv[0], "host")) {
		r->kind = RF_RULE_HOST;
		return parse_host(argc, argv, r, err, errlen);
	}
	if (strcmp(argv[0], "exe") && strcmp(argv[0], "cgroup"))
		return fail(err, errlen,
			    "unknown rule type '%s': expected net, host, exe or cgroup", argv[0]);
	r->kind = argv[0][0] == 'e' ? RF_RULE_EXE : RF_RULE_CGROUP;
	if (argc < 2)
		return fail(err, errlen, "missing path after '%s'", argv[0]);
	if (argc > 2 && r->kind == RF_RULE_EXE && !strcmp(argv[2], "user"))
		return parse_exe_user(argc, argv, r, err, errlen);
	if (argc > 2)
		return fail(err, errlen, "unexpected '%s' after the path (quote paths with spaces)",
			    argv[2]);
	if (argv[1][0] != '/')
		return fail(err, errlen, "'%s' is not an absolute path", argv[1]);
	if (strlen(argv[1]) >= sizeof(r->path))
		return fail(err, errlen, "%s", "path too long");
	strcpy(r->path, argv[1]);
	return 0;
}

static int hex_digit(char c)
{
	return isdigit((unsigned char)c) ? c - '0'
	       : c >= 'a' && c <= 'f'	 ? c - 'a' + 10
	       : c >= 'A' && c <= 'F'	 ? c - 'A' + 10
					 : -1;
}

/*
 * The quoted word at *p (after its opening quote) unescaped into *w, in place: \" \\ \xNN.
 * Moves *p past the closing quote. -EINVAL for a bad escape, a NUL byte or no closing quote.
 */
static int unquote(char **p, char **w)
{
	char *r = *p, *o = *w;

	for (; *r && *r != '"'; r++) {
		int hi, lo;

		if (*r != '\\') {
			*o++ = *r;
			continue;
		}
		if (r[1] == '"' || r[1] == '\\') {
			*o++ = *++r;
			continue;
		}
		hi = r[1] == 'x' ? hex_digit(r[2]) : -1;
		lo = hi >= 0 ? hex_digit(r[3]) : -1;
		if (lo < 0 || (hi | lo) == 0)
			return -EINVAL;
		*o++ = (char)(hi << 4 | lo);
		r += 3;
	}
	if (*r != '"')
		return -EINVAL;
	*p = r + 1;
	*w = o;
	return 0;
}

int rf_rule_parse_line(const char *line, struct rf_rule *r, char *err, size_t errlen)
{
	char buf[RF_RULE_TEXT_MAX], *tok[RF_MAX_TOKENS], *p = buf, *w;
	int n = 0;

	if (strlen(line) >= sizeof(buf))
		return fail(err, errlen, "%s", "rule too long");
	strcpy(buf, line);
	for (;;) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		if (n == RF_MAX_TOKENS)
			return fail(err, errlen, "too many words in rule at '%s'", p);
		tok[n++] = w = p;
		if (*p == '"') { /* "PATH" with \" \\ \xNN escapes, as rf_quote_path() writes */
			p++;
			if (unquote(&p, &w) || (*p && !strchr(" \t\r\n", *p)))
				return fail(err, errlen, "%s",
					    "bad quoted path: expected \"...\" with only \\\", "
					    "\\\\ and \\xNN escapes (no \\x00), then a blank");
		} else {
			p += strcspn(p, " \t\r\n");
			w = p;
		}
		if (*p)
			p++;
		*w = '\0';
	}
	return rf_rule_parse(n, tok, r, err, errlen);
}

int rf_entry_equal(const struct rf_net_entry *a, const struct rf_net_entry *b)
{
	return a->proto == b->proto && a->dir == b->dir && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi;
}

int rf_net_val_add(struct rf_net_val *v, __u32 plen, const struct rf_net_entry *e)
{
	__u32 i, n = v->count > RF_NET_MAX_ENTRIES ? RF_NET_MAX_ENTRIES : v->count;

	for (i = 0; i < n; i++)
		if (rf_entry_equal(&v->e[i], e))
			return -EEXIST;
	if (n >= RF_NET_MAX_ENTRIES)
		return -ENOSPC;
	v->e[n] = *e;
	v->count = n + 1;
	v->prefixlen = plen;
	return 0;
}

int rf_net_val_del(struct rf_net_val *v, const struct rf_net_entry *e, int *now_empty)
{
	__u32 i, n = v->count > RF_NET_MAX_ENTRIES ? RF_NET_MAX_ENTRIES : v->count;

	for (i = 0; i < n; i++) {
		if (!rf_entry_equal(&v->e[i], e))
			continue;
		memmove(&v->e[i], &v->e[i + 1], (n - i - 1) * sizeof(v->e[0]));
		memset(&v->e[n - 1], 0, sizeof(v->e[0]));
		v->count = n - 1;
		*now_empty = v->count == 0;
		return 0;
	}
	return -ENOENT;
}

__u64 rf_kernel_dev(unsigned long long st_dev)
{
	return ((__u64)major(st_dev) << 20) | minor(st_dev);
}

/* Seconds in one duration unit ('s', 'm', 'h', 'd'); 0 for anything else. */
static __u64 unit_seconds(char unit)
{
	static const struct {
		char unit;
		__u64 secs;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == unit)
			return units[i].secs;
	return 0;
}

int rf_parse_duration(const char *s, __u64 *secs)
{
	const __u64 cap = 366ULL * 86400;
	char num[16];
	size_t n = strlen(s);
	unsigned long v;
	__u64 mult = 1;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	strcpy(num, s);
	mult = unit_seconds(num[n - 1]);
	if (mult)
		num[--n] = '\0';
	else
		mult = 1; /* a bare number is seconds */
	/* 64-bit arithmetic: on 32-bit boards v * mult in unsigned long wraps past the cap */
	if (parse_uint(num, (unsigned long)cap, &v) || v == 0 || (__u64)v * mult > cap)
		return -EINVAL;
	*secs = (__u64)v * mult;
	return 0;
}
