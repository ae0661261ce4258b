// SPDX-License-Identifier: GPL-2.0-only
/* Rule grammar: parse, error messages, CIDR key encoding, canonical text, entry sets. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <criterion/criterion.h>
#include "rf_rule.h"
#include "helpers.h"

/* The LPM key for an IPv6 (or ::ffff:a.b.c.d) text address and a key prefix length. */
static struct rf_net_key key6(const char *addr, __u32 prefixlen)
{
	struct rf_net_key k = {.prefixlen = prefixlen};

	cr_assert_eq(inet_pton(AF_INET6, addr, k.addr), 1, "bad test address %s", addr);
	return k;
}

static void assert_key_eq(const struct rf_net_key *got, const struct rf_net_key *want,
			  const char *what)
{
	char g[INET6_ADDRSTRLEN], w[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, got->addr, g, sizeof(g));
	inet_ntop(AF_INET6, want->addr, w, sizeof(w));
	cr_assert(got->prefixlen == want->prefixlen && !memcmp(got->addr, want->addr, 16),
		  "%s: key %s/%u, want %s/%u", what, g, got->prefixlen, w, want->prefixlen);
}

/* ---- valid rules ---------------------------------------------------------------------------- */

struct good_rule {
	const char *line;
	enum rf_rule_kind kind;
	const char *addr; /* IPv6 text of the key address (net rules) */
	__u32 key_plen;
	__u8 proto, dir;
	__u16 lo, hi;
	const char *canon; /* rf_rule_format() */
};

static const struct good_rule good_rules[] = {
    /* defaults: proto any, dir both, any port */
    {"net 192.0.2.0/24", RF_RULE_NET, "::ffff:192.0.2.0", 120, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "net 192.0.2.0/24"},
    {"net 192.0.2.10", RF_RULE_NET, "::ffff:192.0.2.10", 128, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "net 192.0.2.10/32"},
    {"net 0.0.0.0/0", RF_RULE_NET, "::ffff:0.0.0.0", 96, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "net 0.0.0.0/0"},
    {"net 10.0.0.0/8", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "net 10.0.0.0/8"},
    {"net 2001:db8::/32 dir out", RF_RULE_NET, "2001:db8::", 32, RF_PROTO_ANY, RF_DIR_OUT, 0, 0,
     "net 2001:db8::/32 dir out"},
    {"net 2001:0db8:0000:0000:0000:0000:0000:0001", RF_RULE_NET, "2001:db8::1", 128, RF_PROTO_ANY,
     RF_DIR_BOTH, 0, 0, "net 2001:db8::1/128"},
    {"net 2001:db8::ffff:0:0/96", RF_RULE_NET, "2001:db8::ffff:0:0", 96, RF_PROTO_ANY, RF_DIR_BOTH,
     0, 0, "net 2001:db8::ffff:0:0/96"},
    {"net ::/0", RF_RULE_NET, "::", 0, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "net ::/0"},
    {"net ::1", RF_RULE_NET, "::1", 128, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "net ::1/128"},
    /* IPv4-mapped IPv6 text is the same key as the IPv4 rule, printed as IPv4 */
    {"net ::ffff:198.51.100.7", RF_RULE_NET, "::ffff:198.51.100.7", 128, RF_PROTO_ANY, RF_DIR_BOTH,
     0, 0, "net 198.51.100.7/32"},
    {"net ::ffff:198.51.100.0/120", RF_RULE_NET, "::ffff:198.51.100.0", 120, RF_PROTO_ANY,
     RF_DIR_BOTH, 0, 0, "net 198.51.100.0/24"},
    {"net ::ffff:0:0/96", RF_RULE_NET, "::ffff:0.0.0.0", 96, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "net 0.0.0.0/0"},
    /* every keyword and value */
    {"net 192.0.2.10/32 proto tcp port 22 dir in", RF_RULE_NET, "::ffff:192.0.2.10", 128,
     RF_PROTO_TCP, RF_DIR_IN, 22, 22, "net 192.0.2.10/32 proto tcp port 22 dir in"},
    {"net 10.0.0.0/8 proto udp port 1000-2000 dir out", RF_RULE_NET, "::ffff:10.0.0.0", 104,
     RF_PROTO_UDP, RF_DIR_OUT, 1000, 2000, "net 10.0.0.0/8 proto udp port 1000-2000 dir out"},
    {"net fe80::/10 proto icmp dir in", RF_RULE_NET, "fe80::", 10, RF_PROTO_ICMP, RF_DIR_IN, 0, 0,
     "net fe80::/10 proto icmp dir in"},
    {"net 10.0.0.0/8 proto any port 53 dir both", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY,
     RF_DIR_BOTH, 53, 53, "net 10.0.0.0/8 port 53"},
    {"net 10.0.0.0/8 dir in port 443 proto tcp", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_TCP,
     RF_DIR_IN, 443, 443, "net 10.0.0.0/8 proto tcp port 443 dir in"},
    {"net 10.0.0.0/8 port 1", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY, RF_DIR_BOTH, 1, 1,
     "net 10.0.0.0/8 port 1"},
    {"net 10.0.0.0/8 port 65535", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY, RF_DIR_BOTH,
     65535, 65535, "net 10.0.0.0/8 port 65535"},
    {"net 10.0.0.0/8 port 1-65535", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY, RF_DIR_BOTH,
     1, 65535, "net 10.0.0.0/8 port 1-65535"},
    {"net 10.0.0.0/8 port 7-7", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_ANY, RF_DIR_BOTH, 7,
     7, "net 10.0.0.0/8 port 7"},
    {"  net\t10.0.0.0/8   proto  tcp \r\n", RF_RULE_NET, "::ffff:10.0.0.0", 104, RF_PROTO_TCP,
     RF_DIR_BOTH, 0, 0, "net 10.0.0.0/8 proto tcp"},
    {"exe /usr/bin/curl", RF_RULE_EXE, NULL, 0, 0, 0, 0, 0, "exe /usr/bin/curl"},
    {"cgroup /system.slice/sshd.service", RF_RULE_CGROUP, NULL, 0, 0, 0, 0, 0,
     "cgroup /system.slice/sshd.service"},
    {"cgroup /", RF_RULE_CGROUP, NULL, 0, 0, 0, 0, 0, "cgroup /"},
};

static void assert_good_rule(const struct good_rule *t, const struct rf_rule *r)
{
	cr_assert_eq(r->kind, t->kind, "'%s': kind %d, want %d", t->line, r->kind, t->kind);
	if (t->kind == RF_RULE_NET) {
		struct rf_net_key want = key6(t->addr, t->key_plen);

		assert_key_eq(&r->key, &want, t->line);
		cr_assert(r->entry.proto == t->proto && r->entry.dir == t->dir &&
			      r->entry.port_lo == t->lo && r->entry.port_hi == t->hi,
			  "'%s': entry {proto %u dir %u port %u-%u}, want {%u %u %u-%u}", t->line,
			  r->entry.proto, r->entry.dir, r->entry.port_lo, r->entry.port_hi,
			  t->proto, t->dir, t->lo, t->hi);
	} else {
		cr_assert_str_eq(r->path, strchr(t->canon, '/'), "'%s': path", t->line);
	}
}

Test(rule, parse_line_valid)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good_rules); i++) {
		const struct good_rule *t = &good_rules[i];
		char err[RF_ERR_MAX] = "";
		struct rf_rule r;
		int ret;

		ret = rf_rule_parse_line(t->line, &r, err, sizeof(err));
		cr_assert_eq(ret, 0, "'%s' rejected: %d %s", t->line, ret, err);
		assert_good_rule(t, &r);
	}
}

Test(rule, format_canonical_and_round_trip)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good_rules); i++) {
		const struct good_rule *t = &good_rules[i];
		char err[RF_ERR_MAX] = "", text[RF_RULE_TEXT_MAX], text2[RF_RULE_TEXT_MAX];
		struct rf_rule r, r2;

		cr_assert_eq(rf_rule_parse_line(t->line, &r, err, sizeof(err)), 0, "%s", err);
		rf_rule_format(&r, text, sizeof(text));
		cr_assert_str_eq(text, t->canon, "format of '%s'", t->line);

		/* the canonical text parses to the very same rule and formats to itself */
		cr_assert_eq(rf_rule_parse_line(text, &r2, err, sizeof(err)), 0, "'%s': %s", text,
			     err);
		cr_assert_eq(r2.kind, r.kind, "'%s' kind", text);
		if (r.kind == RF_RULE_NET) {
			assert_key_eq(&r2.key, &r.key, text);
			cr_assert(rf_entry_equal(&r2.entry, &r.entry), "'%s' entry", text);
		} else {
			cr_assert_str_eq(r2.path, r.path);
		}
		rf_rule_format(&r2, text2, sizeof(text2));
		cr_assert_str_eq(text2, text);
	}
}

Test(rule, parse_tokens_keeps_path_with_blanks)
{
	char *const argv[] = {"exe", "/opt/my app/bin/agent"};
	char err[RF_ERR_MAX] = "";
	struct rf_rule r;

	cr_assert_eq(rf_rule_parse(2, argv, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.kind, RF_RULE_EXE);
	cr_assert_str_eq(r.path, "/opt/my app/bin/agent");
}

Test(rule, parse_tokens_net_matches_parse_line)
{
	char *const argv[] = {"net", "192.0.2.0/24", "proto", "tcp", "port", "22"};
	char err[RF_ERR_MAX] = "";
	struct rf_rule a, b;

	cr_assert_eq(rf_rule_parse(6, argv, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rf_rule_parse_line("net 192.0.2.0/24 proto tcp port 22", &b, err, sizeof(err)),
		     0, "%s", err);
	assert_key_eq(&a.key, &b.key, "tokens vs line");
	cr_assert(rf_entry_equal(&a.entry, &b.entry));
	cr_assert_eq(a.entry.dir, RF_DIR_BOTH);
	cr_assert_eq(a.entry.port_lo, 22);
}

/* ---- invalid rules: -EINVAL and a message naming the bad token --------------------------------
 */

struct bad_rule {
	const char *line;
	const char *token; /* must appear in the error message; NULL: message just non-empty */
};

static const struct bad_rule bad_rules[] = {
    /* CIDR */
    {"net 192.0.2.0/33", "192.0.2.0/33"},
    {"net 192.0.2.0/120", "192.0.2.0/120"},
    {"net 2001:db8::/129", "2001:db8::/129"},
    {"net 192.0.2.1/24", "192.0.2.1/24"},
    {"net 192.0.3.0/23", "192.0.3.0/23"},
    {"net 2001:db8::1/32", "2001:db8::1/32"},
    {"net 2001:db9::/31", "2001:db9::/31"},
    {"net ::ffff:192.0.2.1/120", "::ffff:192.0.2.1/120"},
    {"net 0.0.0.1/0", "0.0.0.1/0"},
    {"net ::1/0", "::1/0"},
    {"net 192.0.2.0/", "192.0.2.0/"},
    {"net 192.0.2.0/24x", "192.0.2.0/24x"},
    {"net 192.0.2.0/-1", "192.0.2.0/-1"},
    {"net 192.0.2.0/+24", "192.0.2.0/+24"},
    {"net 192.0.2.0/24/24", "192.0.2.0/24/24"},
    {"net 192.0.2/24", "192.0.2/24"},
    {"net 300.0.0.0/8", "300.0.0.0/8"},
    {"net 2001:db8:::/48", "2001:db8:::/48"},
    {"net fe80::1%eth0", "fe80::1%eth0"},
    {"net /24", "/24"},
    {"net example.com", "example.com"},
    {"net", "net"},
    /* ports */
    {"net 10.0.0.0/8 port 0", "'0'"},
    {"net 10.0.0.0/8 port 70000", "70000"},
    {"net 10.0.0.0/8 port 65536", "65536"},
    {"net 10.0.0.0/8 port 10-5", "10-5"},
    {"net 10.0.0.0/8 port 0-5", "0-5"},
    {"net 10.0.0.0/8 port 5-70000", "5-70000"},
    {"net 10.0.0.0/8 port -5", "-5"},
    {"net 10.0.0.0/8 port 5-", "5-"},
    {"net 10.0.0.0/8 port 1-2-3", "1-2-3"},
    {"net 10.0.0.0/8 port ssh", "ssh"},
    {"net 10.0.0.0/8 port 22x", "22x"},
    {"net 10.0.0.0/8 port 99999999999999999999", "99999999999999999999"},
    /* 2^32 + 22 and 2^64 + 22: 22 once wrapped (armhf parsed the first as port 22) */
    {"net 10.0.0.0/8 port 4294967318", "4294967318"},
    {"net 10.0.0.0/8 port 18446744073709551638", "18446744073709551638"},
    {"net 10.0.0.0/8 port 22-4294967318", "22-4294967318"},
    {"net 10.0.0.0/8 port +22", "+22"},
    {"net 10.0.0.0/8 port 0x16", "0x16"},
    {"net 192.0.2.0/4294967320", "192.0.2.0/4294967320"},
    {"net 10.0.0.0/8 proto icmp port 22", "port"},
    {"net 10.0.0.0/8 port 22 proto icmp", "port"},
    /* protocol, direction, keywords */
    {"net 10.0.0.0/8 proto sctp", "sctp"},
    {"net 10.0.0.0/8 proto 6", "'6'"},
    {"net 10.0.0.0/8 dir up", "up"},
    {"net 10.0.0.0/8 dir inout", "inout"},
    {"net 10.0.0.0/8 colour red", "colour"},
    {"net 10.0.0.0/8 ports 22", "ports"},
    {"net 10.0.0.0/8 proto tcp proto udp", "proto"},
    {"net 10.0.0.0/8 proto tcp proto tcp", "proto"},
    {"net 10.0.0.0/8 port 1 port 2", "port"},
    {"net 10.0.0.0/8 dir in dir out", "dir"},
    {"net 10.0.0.0/8 proto", "proto"},
    {"net 10.0.0.0/8 port", "port"},
    {"net 10.0.0.0/8 dir", "dir"},
    {"net 10.0.0.0/8 proto tcp extra", "extra"},
    {"net 10.0.0.0/8 192.0.2.0/24", "192.0.2.0/24"},
    /* paths and rule types */
    {"exe usr/bin/curl", "usr/bin/curl"},
    {"cgroup system.slice", "system.slice"},
    {"exe ./curl", "./curl"},
    {"exe", "exe"},
    {"cgroup", "cgroup"},
    {"exe /bin/a /bin/b", "/bin/b"},
    {"cgroup /a.slice extra", "extra"},
    {"firewall 10.0.0.0/8", "firewall"},
    {"NET 10.0.0.0/8", "NET"},
    {"", NULL},
    {" \t ", NULL},
};

Test(rule, parse_line_invalid_names_token)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_rules); i++) {
		const struct bad_rule *t = &bad_rules[i];
		char err[RF_ERR_MAX] = "";
		struct rf_rule r;
		int ret;

		ret = rf_rule_parse_line(t->line, &r, err, sizeof(err));
		cr_assert_eq(ret, -EINVAL, "'%s' returned %d, want -EINVAL", t->line, ret);
		cr_assert(err[0], "'%s': empty error message", t->line);
		if (t->token)
			cr_assert(strstr(err, t->token),
				  "'%s': message \"%s\" does not name \"%s\"", t->line, err,
				  t->token);
	}
}

Test(rule, parse_tokens_invalid)
{
	char *const none[] = {NULL};
	char *const rel[] = {"exe", "bin/sh"};
	char err[RF_ERR_MAX] = "";
	struct rf_rule r;

	cr_assert_eq(rf_rule_parse(0, none, &r, err, sizeof(err)), -EINVAL);
	cr_assert(err[0]);
	cr_assert_eq(rf_rule_parse(2, rel, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "bin/sh"), "message: %s", err);
}

Test(rule, too_many_words_and_too_long)
{
	char line[RF_RULE_TEXT_MAX + 64], err[RF_ERR_MAX] = "";
	struct rf_rule r;
	int i;

	line[0] = '\0';
	strcat(line, "net 10.0.0.0/8");
	for (i = 0; i < 10; i++)
		strcat(line, " dir in");
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), -EINVAL, "%s", line);
	cr_assert(err[0]);

	memset(line, 'a', sizeof(line) - 1);
	memcpy(line, "exe /", 5);
	line[sizeof(line) - 1] = '\0';
	err[0] = '\0';
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), -EINVAL);
	cr_assert(err[0]);
}

Test(rule, path_too_long)
{
	static char path[5000];
	char *argv[] = {"exe", path};
	char err[RF_ERR_MAX] = "";
	struct rf_rule r;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	cr_assert_eq(rf_rule_parse(2, argv, &r, err, sizeof(err)), -EINVAL);
	cr_assert(err[0]);
	path[sizeof(r.path) - 1] = '\0'; /* exactly fits with its NUL */
	cr_assert_eq(rf_rule_parse(2, argv, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(r.path), sizeof(r.path) - 1);
}

Test(rule, error_message_truncated_to_errlen)
{
	char err[16];
	struct rf_rule r;

	memset(err, 'X', sizeof(err));
	cr_assert_eq(rf_rule_parse_line("net 10.0.0.0/8 proto sctp", &r, err, 8), -EINVAL);
	cr_assert_eq(strlen(err), 7, "message not NUL-terminated within errlen");
	cr_assert_eq(err[8], 'X', "wrote past errlen");
}

/* ---- rf_parse_cidr key encoding ---------------------------------------------------------------
 */

struct cidr_case {
	const char *in;
	const char *addr;
	__u32 plen;
	const char *canon;
};

static const struct cidr_case cidr_cases[] = {
    {"192.0.2.0/24", "::ffff:192.0.2.0", 120, "192.0.2.0/24"},
    {"192.0.2.1", "::ffff:192.0.2.1", 128, "192.0.2.1/32"},
    {"192.0.2.1/32", "::ffff:192.0.2.1", 128, "192.0.2.1/32"},
    {"0.0.0.0/0", "::ffff:0.0.0.0", 96, "0.0.0.0/0"},
    {"128.0.0.0/1", "::ffff:128.0.0.0", 97, "128.0.0.0/1"},
    {"255.255.255.254/31", "::ffff:255.255.255.254", 127, "255.255.255.254/31"},
    {"2001:db8::/32", "2001:db8::", 32, "2001:db8::/32"},
    {"2001:db8::", "2001:db8::", 128, "2001:db8::/128"},
    {"2001:DB8:0:0:0:0:0:0/32", "2001:db8::", 32, "2001:db8::/32"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1", 128, "2001:db8::1/128"},
    {"::/0", "::", 0, "::/0"},
    {"::", "::", 128, "::/128"},
    {"8000::/1", "8000::", 1, "8000::/1"},
    {"::ffff:192.0.2.128/121", "::ffff:192.0.2.128", 121, "192.0.2.128/25"},
    {"::ffff:c000:0200/120", "::ffff:192.0.2.0", 120, "192.0.2.0/24"},
    {"::ffff:0:0/96", "::ffff:0.0.0.0", 96, "0.0.0.0/0"},
    {"fe80::/10", "fe80::", 10, "fe80::/10"},
};

Test(cidr, parse_encoding_and_format)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cidr_cases); i++) {
		const struct cidr_case *t = &cidr_cases[i];
		struct rf_net_key k, want = key6(t->addr, t->plen), k2;
		char err[RF_ERR_MAX] = "", text[64];

		cr_assert_eq(rf_parse_cidr(t->in, &k, err, sizeof(err)), 0, "%s: %s", t->in, err);
		assert_key_eq(&k, &want, t->in);
		rf_format_cidr(&k, text, sizeof(text));
		cr_assert_str_eq(text, t->canon, "format of %s", t->in);
		cr_assert_eq(rf_parse_cidr(text, &k2, err, sizeof(err)), 0, "%s: %s", text, err);
		assert_key_eq(&k2, &k, text);
	}
}

Test(cidr, bare_v4_and_v6_are_distinct_keys)
{
	struct rf_net_key v4, v6;
	char err[RF_ERR_MAX];

	/* 0.0.0.0/0 covers IPv4 only; ::/0 covers everything */
	cr_assert_eq(rf_parse_cidr("0.0.0.0/0", &v4, err, sizeof(err)), 0);
	cr_assert_eq(rf_parse_cidr("::/0", &v6, err, sizeof(err)), 0);
	cr_assert_neq(v4.prefixlen, v6.prefixlen);
}

Test(cidr, format_truncates_safely)
{
	struct rf_net_key k = key6("2001:db8:1234:5678:9abc:def0:1234:5678", 128);
	char buf[8];

	memset(buf, 'X', sizeof(buf));
	rf_format_cidr(&k, buf, 6);
	cr_assert_eq(strlen(buf), 5);
	cr_assert_eq(buf[6], 'X');
}

Test(cidr, format_garbage_prefixlen_is_clamped)
{
	/* prefixlen written by another agent: never prints more than /128 */
	struct rf_net_key k = key6("2001:db8::", 200);
	char buf[64];

	rf_format_cidr(&k, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::/128");
}

/* ---- rf_format_net ----------------------------------------------------------------------------
 */

Test(format, net_rule_text)
{
	struct rf_net_key k = key6("::ffff:192.0.2.0", 120);
	struct rf_net_entry e = {RF_PROTO_TCP, RF_DIR_BOTH, 0, 0, 22, 22};
	char buf[128];

	rf_format_net(&k, &e, buf, sizeof(buf));
	cr_assert_str_eq(buf, "net 192.0.2.0/24 proto tcp port 22");
	e.origin = RF_ENTRY_BUILTIN; /* informative, not part of the rule */
	rf_format_net(&k, &e, buf, sizeof(buf));
	cr_assert_str_eq(buf, "net 192.0.2.0/24 proto tcp port 22");
}

Test(format, garbage_entries_never_format_to_a_valid_rule)
{
	/* Values written by another agent must not print as a rule that allows something else. */
	static const struct rf_net_entry garbage[] = {
	    {99, RF_DIR_BOTH, 0, 0, 0, 0},	       /* unknown protocol */
	    {RF_PROTO_TCP, 0, 0, 0, 0, 0},	       /* no direction */
	    {RF_PROTO_TCP, 0x4, 0, 0, 0, 0},	       /* unknown direction bit only */
	    {RF_PROTO_TCP, 0xff, 0, 0, 0, 0},	       /* unknown bits on top of both */
	    {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 10, 5},   /* reversed range */
	    {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 0, 5},    /* range from port 0 */
	    {RF_PROTO_ICMP, RF_DIR_OUT, 0, 0, 22, 22}, /* port with icmp */
	};
	struct rf_net_key k = key6("::ffff:10.0.0.0", 104);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(garbage); i++) {
		char buf[128], err[RF_ERR_MAX];
		struct rf_rule r;

		rf_format_net(&k, &garbage[i], buf, sizeof(buf));
		cr_assert_eq(rf_rule_parse_line(buf, &r, err, sizeof(err)), -EINVAL,
			     "garbage entry %zu formatted as the valid rule '%s'", i, buf);
	}
}

Test(format, exe_and_cgroup)
{
	struct rf_rule r = {.kind = RF_RULE_EXE};
	char buf[64];

	strcpy(r.path, "/usr/sbin/sshd");
	rf_rule_format(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "exe /usr/sbin/sshd");
	r.kind = RF_RULE_CGROUP;
	rf_rule_format(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "cgroup /usr/sbin/sshd");
}

/* ---- rf_entry_equal, rf_net_val_add / rf_net_val_del ------------------------------------------
 */

Test(entries, equal_ignores_origin_only)
{
	const struct rf_net_entry a = {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 80, 90};
	struct rf_net_entry b = a;

	cr_assert(rf_entry_equal(&a, &b));
	b.origin = RF_ENTRY_BUILTIN;
	b.pad = 7;
	cr_assert(rf_entry_equal(&a, &b));
	b = a;
	b.proto = RF_PROTO_UDP;
	cr_assert_not(rf_entry_equal(&a, &b));
	b = a;
	b.dir = RF_DIR_BOTH;
	cr_assert_not(rf_entry_equal(&a, &b));
	b = a;
	b.port_lo = 81;
	cr_assert_not(rf_entry_equal(&a, &b));
	b = a;
	b.port_hi = 91;
	cr_assert_not(rf_entry_equal(&a, &b));
}

static struct rf_net_entry entry_port(__u16 port)
{
	struct rf_net_entry e = {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, port, port};

	return e;
}

Test(entries, add_until_full)
{
	struct rf_net_val v = {};
	struct rf_net_entry e;
	int i;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++) {
		e = entry_port((__u16)(100 + i));
		cr_assert_eq(rf_net_val_add(&v, 120, &e), 0, "entry %d", i);
		cr_assert_eq(v.count, (__u32)i + 1);
		cr_assert_eq(v.prefixlen, 120);
		cr_assert(rf_entry_equal(&v.e[i], &e));
	}
	e = entry_port(999);
	cr_assert_eq(rf_net_val_add(&v, 120, &e), -ENOSPC);
	cr_assert_eq(v.count, RF_NET_MAX_ENTRIES);
	/* a duplicate of a stored entry is reported as such even when full */
	e = entry_port(103);
	cr_assert_eq(rf_net_val_add(&v, 120, &e), -EEXIST);
}

Test(entries, add_duplicate)
{
	struct rf_net_val v = {};
	struct rf_net_entry e = entry_port(22), dup = e;

	cr_assert_eq(rf_net_val_add(&v, 128, &e), 0);
	dup.origin = RF_ENTRY_BUILTIN;
	cr_assert_eq(rf_net_val_add(&v, 128, &dup), -EEXIST);
	cr_assert_eq(v.count, 1);
	dup.dir = RF_DIR_IN; /* different rule on the same prefix */
	cr_assert_eq(rf_net_val_add(&v, 128, &dup), 0);
	cr_assert_eq(v.count, 2);
}

Test(entries, del_keeps_order_and_reports_empty)
{
	struct rf_net_val v = {};
	struct rf_net_entry e1 = entry_port(1), e2 = entry_port(2), e3 = entry_port(3), x;
	int empty = -1;

	cr_assert_eq(rf_net_val_add(&v, 104, &e1), 0);
	cr_assert_eq(rf_net_val_add(&v, 104, &e2), 0);
	cr_assert_eq(rf_net_val_add(&v, 104, &e3), 0);

	x = entry_port(4);
	cr_assert_eq(rf_net_val_del(&v, &x, &empty), -ENOENT);
	cr_assert_eq(v.count, 3);

	cr_assert_eq(rf_net_val_del(&v, &e2, &empty), 0);
	cr_assert_eq(empty, 0);
	cr_assert_eq(v.count, 2);
	cr_assert(rf_entry_equal(&v.e[0], &e1));
	cr_assert(rf_entry_equal(&v.e[1], &e3));
	cr_assert_eq(v.e[2].port_lo, 0, "freed slot not cleared");
	cr_assert_eq(v.e[2].dir, 0, "freed slot not cleared");

	cr_assert_eq(rf_net_val_del(&v, &e2, &empty), -ENOENT);
	cr_assert_eq(rf_net_val_del(&v, &e1, &empty), 0);
	cr_assert_eq(empty, 0);
	cr_assert_eq(rf_net_val_del(&v, &e3, &empty), 0);
	cr_assert_eq(empty, 1);
	cr_assert_eq(v.count, 0);
	cr_assert_eq(rf_net_val_del(&v, &e3, &empty), -ENOENT);
}

Test(entries, del_last_of_full_value)
{
	struct rf_net_val v = {};
	struct rf_net_entry e;
	int i, empty = -1;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++) {
		e = entry_port((__u16)(i + 1));
		cr_assert_eq(rf_net_val_add(&v, 128, &e), 0);
	}
	e = entry_port(RF_NET_MAX_ENTRIES);
	cr_assert_eq(rf_net_val_del(&v, &e, &empty), 0);
	cr_assert_eq(v.count, RF_NET_MAX_ENTRIES - 1);
	cr_assert_eq(empty, 0);
	e = entry_port(1);
	cr_assert(rf_entry_equal(&v.e[0], &e));
}

Test(entries, garbage_count_is_clamped)
{
	struct rf_net_val v = {};
	struct rf_net_entry e;
	int i, empty = -1;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++)
		v.e[i] = entry_port((__u16)(i + 1));
	v.count = 0xffffffff;
	e = entry_port(500);
	cr_assert_eq(rf_net_val_add(&v, 128, &e), -ENOSPC);
	e = entry_port(3);
	cr_assert_eq(rf_net_val_add(&v, 128, &e), -EEXIST);
	e = entry_port(500);
	cr_assert_eq(rf_net_val_del(&v, &e, &empty), -ENOENT);
	e = entry_port(RF_NET_MAX_ENTRIES);
	cr_assert_eq(rf_net_val_del(&v, &e, &empty), 0);
	cr_assert_eq(v.count, RF_NET_MAX_ENTRIES - 1, "count %u after del", v.count);
	cr_assert_eq(empty, 0);

	v.count = RF_NET_MAX_ENTRIES + 1;
	e = entry_port(999);
	cr_assert_eq(rf_net_val_add(&v, 128, &e), -ENOSPC);
	cr_assert_eq(v.count, RF_NET_MAX_ENTRIES + 1, "failed add changed count");
}

/* ---- rf_kernel_dev ----------------------------------------------------------------------------
 */

Test(kernel_dev, glibc_to_kernel_encoding)
{
	static const struct {
		unsigned int major, minor;
	} devs[] = {
	    {0, 0}, {8, 1}, {253, 0}, {259, 300}, {0, 0x12345}, {4095, 0xfffff},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(devs); i++) {
		unsigned long long glibc = makedev(devs[i].major, devs[i].minor);
		__u64 want = ((__u64)devs[i].major << 20) | devs[i].minor;

		cr_assert_eq(rf_kernel_dev(glibc), want, "%u:%u -> %#llx, want %#llx",
			     devs[i].major, devs[i].minor, (unsigned long long)rf_kernel_dev(glibc),
			     (unsigned long long)want);
	}
	/* the encodings really differ: an identity function would not pass */
	cr_assert_neq(rf_kernel_dev(makedev(8, 1)), (__u64)makedev(8, 1));
	cr_assert_eq(rf_kernel_dev(makedev(8, 1)), (8ULL << 20) | 1);
	cr_assert_eq(rf_kernel_dev(makedev(259, 300)), (259ULL << 20) | 300);
}

/* ---- rf_parse_duration ------------------------------------------------------------------------
 */

Test(duration, valid)
{
	static const struct {
		const char *in;
		__u64 secs;
	} ok[] = {
	    {"90", 90},
	    {"90s", 90},
	    {"1s", 1},
	    {"15m", 900},
	    {"2h", 7200},
	    {"1d", 86400},
	    {"366d", 366 * 86400ULL},
	    {"8784h", 366 * 86400ULL},
	    {"31622400", 366 * 86400ULL},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		__u64 s = 0;

		cr_assert_eq(rf_parse_duration(ok[i].in, &s), 0, "'%s' rejected", ok[i].in);
		cr_assert_eq(s, ok[i].secs, "'%s' -> %llu, want %llu", ok[i].in,
			     (unsigned long long)s, (unsigned long long)ok[i].secs);
	}
}

Test(duration, invalid)
{
	static const char *const bad[] = {
	    "", "0", "0s", "0d", "-1", "+5", "2x", "s", "h", "1.5h", " 5", "5 ", "5S", "1w", "367d",
	    "8785h", "31622401", "527041m", "1hm", "1h30m", "99999999999", "4294967297",
	    "18446744073709551617", "9999999999d", "0x10",
	    /* v * 86400 wraps a 32-bit unsigned long to 63104 s, under the cap (32-bit boards) */
	    "49711d", "1193047h", /* 1193047 * 3600 wraps to 2960 */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		__u64 s = 12345;

		cr_assert_eq(rf_parse_duration(bad[i], &s), -EINVAL, "'%s' accepted", bad[i]);
		cr_assert_eq(s, 12345, "'%s' wrote the output on error", bad[i]);
	}
}

/* Issue 12 item 5: an IPv6 prefix holding ::ffff:0:0/96 would allow all of IPv4 as well. */
Test(rule, ipv6_prefix_covering_ipv4_refused_on_add)
{
	static const struct {
		const char *line;
		int ok;
	} cases[] = {
	    {"net ::/0", 0},
	    {"net ::/1 proto tcp port 443", 0},
	    {"net ::/80", 0},
	    {"net ::fffe:0:0/95", 0},
	    {"net 2000::/3", 1},
	    {"net 2001:db8::/32", 1},
	    {"net ::/128", 1},
	    {"net 8000::/1", 1},
	    {"net ::1:0:0/96", 1},
	    {"net ::/96", 1}, /* IPv4-compatible ::a.b.c.d, not the mapped block */
	    {"net 0.0.0.0/0", 1},
	    {"net ::ffff:0:0/96", 1}, /* written as IPv6, but exactly IPv4: meant */
	    {"exe /usr/bin/true", 1},
	};
	char err[RF_ERR_MAX];
	struct rf_rule r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err[0] = '\0';
		cr_assert_eq(rf_rule_parse_line(cases[i].line, &r, err, sizeof(err)), 0, "%s: %s",
			     cases[i].line, err);
		cr_expect_eq(rf_rule_check_new(&r, err, sizeof(err)) == 0, cases[i].ok, "%s: %s",
			     cases[i].line, err);
		if (!cases[i].ok)
			cr_expect(strstr(err, "every IPv4 address") && strstr(err, "0.0.0.0/0"),
				  "%s", err);
	}
}

/* Quoted paths in rule text (what the state dir and the config file hold): strict, one way. */
Test(rule, quoted_paths_are_strict)
{
	static const char *const bad[] = {
	    "exe \"/opt/a b",	     /* no closing quote */
	    "exe \"/opt/\\x00\"",    /* a NUL byte */
	    "exe \"/opt/\\q\"",	     /* an unknown escape */
	    "exe \"/opt/\\x4\"",     /* a short hex escape */
	    "exe \"/opt/a\"b",	     /* text glued to the closing quote */
	    "exe \"/opt/a\" \"/b\"", /* two paths */
	};
	struct rf_rule r;
	char err[RF_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(rf_rule_parse_line(bad[i], &r, err, sizeof(err)), -EINVAL,
			     "accepted: %s", bad[i]);
	cr_assert_eq(
	    rf_rule_parse_line("exe \"/opt/my \\\"agent\\\"\\\\\\x41\"", &r, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(r.path, "/opt/my \"agent\"\\A");
	/* a path without anything unusual stays unquoted, as the previous release wrote it */
	cr_assert_eq(rf_rule_parse_line("exe /usr/bin/curl", &r, err, sizeof(err)), 0);
	cr_assert_str_eq(r.path, "/usr/bin/curl");
	{
		char text[RF_RULE_TEXT_MAX];

		rf_rule_format(&r, text, sizeof(text));
		cr_assert_str_eq(text, "exe /usr/bin/curl");
	}
}
