// SPDX-License-Identifier: GPL-2.0-only
/* Host rules (allow by name): the NAME grammar, canonical text and the state round trip. */
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>
#include "rf_rule.h"
#include "rf_state.h"
#include "helpers.h"

struct good_host {
	const char *line;
	const char *host; /* the stored (canonical) name */
	__u8 proto, dir;
	__u16 lo, hi;
	const char *canon; /* rf_rule_format() */
};

static const struct good_host good_hosts[] = {
    {"host mgmt.example.com", "mgmt.example.com", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "host mgmt.example.com"},
    /* stored lowercased: names compare case-insensitively */
    {"host MGMT.Example.COM", "mgmt.example.com", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "host mgmt.example.com"},
    /* the absolute form is the same name */
    {"host mgmt.example.com.", "mgmt.example.com", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "host mgmt.example.com"},
    {"host localhost", "localhost", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host localhost"},
    {"host *.example.com", "*.example.com", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host *.example.com"},
    {"host *.EXAMPLE.org.", "*.example.org", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host *.example.org"},
    {"host edr.example.net proto tcp port 443 dir out", "edr.example.net", RF_PROTO_TCP, RF_DIR_OUT,
     443, 443, "host edr.example.net proto tcp port 443 dir out"},
    {"host edr.example.net dir out port 8000-8080 proto udp", "edr.example.net", RF_PROTO_UDP,
     RF_DIR_OUT, 8000, 8080, "host edr.example.net proto udp port 8000-8080 dir out"},
    {"host edr.example.net proto icmp dir in", "edr.example.net", RF_PROTO_ICMP, RF_DIR_IN, 0, 0,
     "host edr.example.net proto icmp dir in"},
    {"host edr.example.net proto any port 53 dir both", "edr.example.net", RF_PROTO_ANY,
     RF_DIR_BOTH, 53, 53, "host edr.example.net port 53"},
    /* digits, hyphens inside labels, punycode (IDN) labels, an all-digit label */
    {"host xn--bcher-kva.example", "xn--bcher-kva.example", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0,
     "host xn--bcher-kva.example"},
    {"host a-b.c-d.e", "a-b.c-d.e", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host a-b.c-d.e"},
    {"host 1.example.com", "1.example.com", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host 1.example.com"},
    {"host 3com.example", "3com.example", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host 3com.example"},
    {"host *.a.b", "*.a.b", RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, "host *.a.b"},
};

static void assert_good_host(const struct good_host *t, const struct rf_rule *r)
{
	cr_assert_eq(r->kind, RF_RULE_HOST, "'%s': kind %d", t->line, r->kind);
	cr_assert_str_eq(r->host, t->host, "'%s': name", t->line);
	cr_assert(r->entry.proto == t->proto && r->entry.dir == t->dir &&
		      r->entry.port_lo == t->lo && r->entry.port_hi == t->hi,
		  "'%s': entry {proto %u dir %u port %u-%u}", t->line, r->entry.proto, r->entry.dir,
		  r->entry.port_lo, r->entry.port_hi);
}

Test(host_rule, valid_names_and_canonical_text)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good_hosts); i++) {
		const struct good_host *t = &good_hosts[i];
		char err[RF_ERR_MAX] = "", text[RF_RULE_TEXT_MAX], text2[RF_RULE_TEXT_MAX];
		struct rf_rule r, r2;
		int ret;

		ret = rf_rule_parse_line(t->line, &r, err, sizeof(err));
		cr_assert_eq(ret, 0, "'%s' rejected: %d %s", t->line, ret, err);
		assert_good_host(t, &r);
		cr_assert_eq(rf_rule_check_new(&r, err, sizeof(err)), 0, "'%s': %s", t->line, err);
		rf_rule_format(&r, text, sizeof(text));
		cr_assert_str_eq(text, t->canon, "format of '%s'", t->line);
		cr_assert_eq(rf_rule_parse_line(text, &r2, err, sizeof(err)), 0, "'%s': %s", text,
			     err);
		assert_good_host(t, &r2);
		rf_rule_format(&r2, text2, sizeof(text2));
		cr_assert_str_eq(text2, text);
	}
}

Test(host_rule, tokens_match_line)
{
	char *const argv[] = {"host", "Mgmt.Example.com", "proto", "tcp", "port", "443"};
	char err[RF_ERR_MAX] = "";
	struct rf_rule a, b;

	cr_assert_eq(rf_rule_parse(6, argv, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(
	    rf_rule_parse_line("host mgmt.example.com proto tcp port 443", &b, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(a.host, b.host);
	cr_assert(rf_entry_equal(&a.entry, &b.entry));
}

/* A name of n bytes: labels of 63 bytes ('a'..) joined by dots, the last one shorter. */
static void long_name(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : (char)('a' + i % 26);
	if (buf[n - 1] == '.')
		buf[n - 1] = 'z';
	buf[n] = '\0';
}

Test(host_rule, length_limits)
{
	char name[400], line[500], err[RF_ERR_MAX] = "", label[80];
	struct rf_rule r;

	long_name(name, 253);
	snprintf(line, sizeof(line), "host %s", name);
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), 0, "253 bytes: %s", err);
	cr_assert_eq(strlen(r.host), 253);
	/* 253 plus the absolute form's dot is still 253 */
	snprintf(line, sizeof(line), "host %s.", name);
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), 0, "253 bytes + '.': %s", err);

	long_name(name, 254);
	snprintf(line, sizeof(line), "host %s", name);
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), -EINVAL, "254 bytes");
	cr_assert(strstr(err, "254 bytes, over 253"), "message: %s", err);

	memset(label, 'a', 63);
	snprintf(line, sizeof(line), "host %.63s.example.com", label);
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), 0, "63-byte label: %s", err);
	snprintf(line, sizeof(line), "host %.63sb.example.com", label);
	cr_assert_eq(rf_rule_parse_line(line, &r, err, sizeof(err)), -EINVAL, "64-byte label");
	cr_assert(strstr(err, "64 bytes, over 63"), "message: %s", err);
}

struct bad_host {
	const char *line;
	const char *msg; /* must appear in the error message */
};

static const struct bad_host bad_hosts[] = {
    {"host", "missing name"},
    {"host .", "empty host name"},
    {"host ..", "empty label"},
    {"host example..com", "empty label"},
    {"host .example.com", "empty label"},
    {"host example.com..", "empty label"},
    {"host exa_mple.com", "'_' in label 'exa_mple'"},
    {"host exam ple.com", "unknown keyword 'ple.com'"},
    {"host \"exam ple.com\"", "' ' in label"},
    {"host bücher.example", "xn--"},
    {"host example.com/24", "'/' in label"},
    {"host example.com:443", "':' in label"},
    {"host *", "'*' only as a whole first label"},
    {"host *.", "nothing after '*.'"},
    {"host *example.com", "'*' in label '*example'"},
    {"host a.*.example.com", "'*' in label '*'"},
    {"host *.*.example.com", "'*' in label '*'"},
    {"host example.*", "'*' in label '*'"},
    {"host **.example.com", "'*' in label '**'"},
    {"host *.com", "top-level domain"},
    {"host *.com.", "top-level domain"},
    {"host -example.com", "starts or ends with a hyphen"},
    {"host example-.com", "label 'example-'"},
    {"host www.example.com-", "label 'com-'"},
    {"host 192.0.2.1", "use 'net 192.0.2.1'"},
    {"host 192.0.2.1.", "use 'net 192.0.2.1'"},
    {"host 2001:db8::1", "use 'net 2001:db8::1'"},
    {"host example.com proto sctp", "sctp"},
    {"host example.com port 0", "'0'"},
    {"host example.com proto icmp port 22", "port"},
    {"host example.com dir sideways", "sideways"},
    {"host example.com colour red", "unknown keyword 'colour' in host rule"},
    {"host example.com port", "missing value after 'port'"},
    {"host example.com port 1 port 2", "given twice"},
    {"HOST example.com", "expected net, host, exe or cgroup"},
};

Test(host_rule, invalid_names_say_why)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_hosts); i++) {
		const struct bad_host *t = &bad_hosts[i];
		char err[RF_ERR_MAX] = "";
		struct rf_rule r;
		int ret;

		ret = rf_rule_parse_line(t->line, &r, err, sizeof(err));
		cr_assert_eq(ret, -EINVAL, "'%s' returned %d, want -EINVAL", t->line, ret);
		cr_assert(strstr(err, t->msg), "'%s': message \"%s\" does not say \"%s\"", t->line,
			  err, t->msg);
	}
}

Test(host_rule, name_parse_direct)
{
	char out[RF_HOST_NAME_MAX + 1], small[8], err[RF_ERR_MAX];

	cr_assert_eq(rf_host_name_parse("", out, sizeof(out), err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "empty host name"), "%s", err);
	cr_assert_eq(rf_host_name_parse("Ab.Cd", out, sizeof(out), err, sizeof(err)), 0);
	cr_assert_str_eq(out, "ab.cd");
	/* never writes past outlen */
	memset(small, 'X', sizeof(small));
	cr_assert_eq(rf_host_name_parse("example.com", small, 4, err, sizeof(err)), -EINVAL);
	cr_assert_eq(small[4], 'X');
}

TestSuite(host_rule_state, .init = tmpdir_setup, .fini = tmpdir_teardown);

/* Host rules persist as their canonical text, beside net and exe rules, and parse back. */
Test(host_rule_state, round_trip_through_rules_file)
{
	char *const lines[] = {"net 192.0.2.0/24",
			       "host mgmt.example.com proto tcp port 443 dir out",
			       "host *.example.org", "exe /usr/bin/curl"};
	char **got = NULL, err[RF_ERR_MAX] = "";
	struct rf_rule r;
	size_t n = 0, i;

	cr_assert_eq(rf_rules_save(test_tmpdir, lines, ARRAY_SIZE(lines)), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, ARRAY_SIZE(lines));
	for (i = 0; i < n; i++)
		cr_assert_str_eq(got[i], lines[i]);
	cr_assert_eq(rf_rule_parse_line(got[1], &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.kind, RF_RULE_HOST);
	cr_assert_str_eq(r.host, "mgmt.example.com");
	cr_assert_eq(r.entry.port_lo, 443);
	cr_assert_eq(rf_rule_parse_line(got[2], &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(r.host, "*.example.org");
	rf_lines_free(got, n);

	/* rf_rules_change: adding the same canonical text twice keeps one, del removes it */
	cr_assert_eq(rf_rules_change(test_tmpdir, "host a.example.com", true), 0);
	cr_assert_eq(rf_rules_change(test_tmpdir, "host a.example.com", true), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, ARRAY_SIZE(lines) + 1);
	rf_lines_free(got, n);
	cr_assert_eq(rf_rules_change(test_tmpdir, "host a.example.com", false), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, ARRAY_SIZE(lines));
	rf_lines_free(got, n);
}

/* ---- rf_host_name keys and values (include/rf_host.h) ------------------------------------- */

#include "rf_hosts.h"

Test(host_key, right_aligned_wire_form)
{
	static const __u8 tail[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
	struct rf_host_key k, k2;
	char name[RF_HOST_NAME_MAX + 3];
	__u32 match;

	cr_assert_eq(rf_host_key_of("Example.COM", &k, &match), 0);
	cr_assert_eq(match, RF_HOST_EXACT);
	for (size_t i = 0; i < RF_HOST_NAME_LEN - sizeof(tail); i++)
		cr_assert_eq(k.name[i], 0, "byte %zu", i);
	cr_assert(!memcmp(k.name + RF_HOST_NAME_LEN - sizeof(tail), tail, sizeof(tail)));
	/* a wildcard is stored under its domain's key */
	cr_assert_eq(rf_host_key_of("*.example.com", &k2, &match), 0);
	cr_assert_eq(match, RF_HOST_BELOW);
	cr_assert(!memcmp(&k, &k2, sizeof(k)));
	/* and back */
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), 0);
	cr_assert_str_eq(name, "example.com");
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_BELOW, name, sizeof(name)), 0);
	cr_assert_str_eq(name, "*.example.com");
}

Test(host_key, longest_name_round_trips)
{
	char name[RF_HOST_NAME_MAX + 1], back[RF_HOST_NAME_MAX + 3];
	struct rf_host_key k;
	__u32 match;

	long_name(name, RF_HOST_NAME_MAX);
	cr_assert_eq(rf_host_key_of(name, &k, &match), 0);
	/* 253 bytes of text are 255 on the wire: the key from byte 1 */
	cr_assert_eq(k.name[0], 0);
	cr_assert_neq(k.name[1], 0);
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, back, sizeof(back)), 0);
	cr_assert_str_eq(back, name);
}

Test(host_key, garbage_keys_have_no_name)
{
	struct rf_host_key k;
	char name[RF_HOST_NAME_MAX + 3];
	__u32 match;

	memset(&k, 0, sizeof(k));
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), -EINVAL, "root");
	cr_assert_eq(rf_host_key_of("example.com", &k, &match), 0);
	k.name[RF_HOST_NAME_LEN - 1] = 1; /* no final root byte */
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), -EINVAL, "no root");
	cr_assert_eq(rf_host_key_of("example.com", &k, &match), 0);
	k.name[RF_HOST_NAME_LEN - 13] = 9; /* a label length running past the name */
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), -EINVAL, "length");
	cr_assert_eq(rf_host_key_of("example.com", &k, &match), 0);
	k.name[RF_HOST_NAME_LEN - 12] = '/'; /* a byte no rule name has */
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), -EINVAL, "byte");
	memset(&k, 0xff, sizeof(k));
	cr_assert_eq(rf_host_key_name(&k, RF_HOST_EXACT, name, sizeof(name)), -EINVAL, "0xff");
}

Test(host_val, add_del_and_limits)
{
	struct rf_net_entry tcp443 = {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 443, 443};
	struct rf_net_entry any = {RF_PROTO_ANY, RF_DIR_BOTH, 0, 0, 0, 0};
	struct rf_host_val v = {};
	bool empty;
	__u32 id;

	cr_assert_eq(rf_host_val_add(&v, &tcp443, RF_HOST_EXACT, 1), 0);
	cr_assert_eq(rf_host_val_add(&v, &tcp443, RF_HOST_EXACT, 2), -EEXIST);
	/* the same entry as a wildcard under the same key is another rule */
	cr_assert_eq(rf_host_val_add(&v, &tcp443, RF_HOST_BELOW, 3), 0);
	/* origin is informative: a config copy of a rule is the same rule */
	tcp443.origin = RF_ENTRY_CONFIG;
	cr_assert_eq(rf_host_val_add(&v, &tcp443, RF_HOST_EXACT, 4), -EEXIST);
	cr_assert_eq(v.count, 2);
	for (__u16 p = 1; v.count < RF_HOST_MAX_RULES; p++) {
		struct rf_net_entry e = {RF_PROTO_UDP, RF_DIR_OUT, 0, 0, p, p};

		cr_assert_eq(rf_host_val_add(&v, &e, RF_HOST_EXACT, 10 + p), 0);
	}
	cr_assert_eq(rf_host_val_add(&v, &any, RF_HOST_EXACT, 99), -ENOSPC);
	cr_assert_eq(rf_host_val_del(&v, &any, RF_HOST_EXACT, &id, &empty), -ENOENT);
	cr_assert_eq(rf_host_val_del(&v, &tcp443, RF_HOST_BELOW, &id, &empty), 0);
	cr_assert_eq(id, 3);
	cr_assert(!empty);
	cr_assert_eq(v.count, RF_HOST_MAX_RULES - 1);
	cr_assert_eq(v.r[0].id, 1);
	cr_assert_eq(v.r[1].id, 11, "the rules after the removed one move up");
	/* a garbage count is clamped, never read past the array */
	v.count = 1000;
	cr_assert_eq(rf_host_val_add(&v, &any, RF_HOST_EXACT, 99), -ENOSPC);
}

Test(host_addr, learn_refresh_and_expiry)
{
	struct rf_net_entry tcp443 = {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 443, 443};
	struct rf_net_entry udp = {RF_PROTO_UDP, RF_DIR_OUT, 0, 0, 0, 0};
	struct rf_host_addr_val v = {};
	const __u64 s = 1000000000ULL, now = 1000 * s;
	bool empty;

	cr_assert_eq(rf_host_addr_learn(&v, &tcp443, 7, now + 300 * s, now), 0);
	cr_assert_eq(v.count, 1);
	/* the same rule again: refreshed, the later expiry kept */
	cr_assert_eq(rf_host_addr_learn(&v, &tcp443, 7, now + 60 * s, now), 0);
	cr_assert_eq(v.count, 1);
	cr_assert_eq(v.e[0].expires_ns, now + 300 * s);
	cr_assert_eq(rf_host_addr_learn(&v, &tcp443, 7, now + 900 * s, now), 0);
	cr_assert_eq(v.e[0].expires_ns, now + 900 * s);
	/* other rules take other slots until all 8 are used */
	for (__u32 id = 8; v.count < RF_HOST_ADDR_ENTRIES; id++)
		cr_assert_eq(rf_host_addr_learn(&v, &udp, id, now + 60 * s, now), 0);
	cr_assert_eq(rf_host_addr_learn(&v, &udp, 99, now + 60 * s, now), -ENOSPC);
	/* once one of them expired, its slot is reused */
	cr_assert_eq(rf_host_addr_learn(&v, &udp, 99, now + 120 * s, now + 61 * s), 0);
	cr_assert_eq(v.e[1].rule_id, 99);
	cr_assert_eq(v.e[1].expires_ns, now + 120 * s);
	/* forget: only that rule's entry goes; empty when none is left */
	cr_assert(rf_host_addr_forget(&v, 7, &empty));
	cr_assert(!empty);
	cr_assert_eq(v.e[0].expires_ns, 0);
	cr_assert(!rf_host_addr_forget(&v, 7, &empty));
	for (__u32 i = 0; i < RF_HOST_ADDR_ENTRIES; i++)
		if (v.e[i].expires_ns)
			rf_host_addr_forget(&v, v.e[i].rule_id, &empty);
	cr_assert(empty);
	/* a freed slot is used again before the count grows */
	cr_assert_eq(rf_host_addr_learn(&v, &tcp443, 5, now + 60 * s, now), 0);
	cr_assert_eq(v.count, RF_HOST_ADDR_ENTRIES);
	cr_assert_eq(v.e[0].rule_id, 5);
}

Test(host_addr, ttl_clamp_and_refresh_interval)
{
	cr_assert_eq(rf_host_ttl_clamp(0), RF_HOST_TTL_MIN);
	cr_assert_eq(rf_host_ttl_clamp(59), 60);
	cr_assert_eq(rf_host_ttl_clamp(300), 300);
	cr_assert_eq(rf_host_ttl_clamp(86401), RF_HOST_TTL_MAX);
	cr_assert_eq(rf_host_ttl_clamp(0x7fffffffu), RF_HOST_TTL_MAX);
	/* a TTL with the top bit set counts as 0 (RFC 2181 8), as the programs count it */
	cr_assert_eq(rf_host_ttl_clamp(0xffffffffu), RF_HOST_TTL_MIN);
	/* half the shortest TTL, at least 30 s, at most an hour; nothing answered: 30 s */
	cr_assert_eq(rf_host_refresh_ms(0), 30000);
	cr_assert_eq(rf_host_refresh_ms(60), 30000);
	cr_assert_eq(rf_host_refresh_ms(300), 150000);
	cr_assert_eq(rf_host_refresh_ms(86400), 3600000);
}
