// SPDX-License-Identifier: GPL-2.0-only
/* Config file parser: every setting, defaults, and malformed files (file:line, nothing applied). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rf_config.h"
#include "rf_state.h"

Test(config, defaults_when_empty)
{
	struct rf_conf c;
	char err[RF_ERR_MAX] = "";

	cr_assert_eq(rf_conf_parse("", "t.conf", &c, err, sizeof(err)), 0);
	cr_assert(c.dhcp && c.nd && c.dns_auto);
	cr_assert_eq(c.nrules, 0);
	cr_assert_eq(c.packet_guard, RF_GUARD_AUTO);
	rf_conf_free(&c);
}

Test(config, every_setting)
{
	const char *text = "# management\n"
			   "allow net 203.0.113.10/32 proto tcp port 443 dir out  # EDR\n"
			   "  allow exe /opt/edr/bin/agent\n"
			   "allow cgroup /system.slice/edr.service\n"
			   "\n"
			   "dhcp off\n"
			   "nd no\n"
			   "dns 192.0.2.53,2001:db8::53\n"
			   "packet-guard on\n"
			   "btf /boot/vmlinux-5.10.btf\n";
	struct rf_conf c;
	char err[RF_ERR_MAX] = "";

	cr_assert_eq(rf_conf_parse(text, "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nrules, 3);
	cr_assert_str_eq(c.rules[0], "net 203.0.113.10/32 proto tcp port 443 dir out");
	cr_assert_str_eq(c.rules[1], "exe /opt/edr/bin/agent");
	cr_assert_str_eq(c.rules[2], "cgroup /system.slice/edr.service");
	cr_assert(!c.dhcp);
	cr_assert(!c.nd);
	cr_assert(!c.dns_auto);
	cr_assert_eq(c.nresolvers, 2);
	cr_assert_eq(c.packet_guard, RF_GUARD_ON);
	cr_assert_str_eq(c.btf, "/boot/vmlinux-5.10.btf");
	rf_conf_free(&c);
	cr_assert_str_eq(c.btf, "", "btf is reset with the rest");
}

Test(config, dns_off_and_auto)
{
	struct rf_conf c;
	char err[RF_ERR_MAX];

	cr_assert_eq(rf_conf_parse("dns off\n", "t", &c, err, sizeof(err)), 0);
	cr_assert(!c.dns_auto);
	cr_assert_eq(c.nresolvers, 0);
	rf_conf_free(&c);
	cr_assert_eq(rf_conf_parse("dns off\ndns auto\n", "t", &c, err, sizeof(err)), 0);
	cr_assert(c.dns_auto);
	rf_conf_free(&c);
}

struct bad_case {
	const char *text;
	const char *where; /* expected "file:line" prefix */
	const char *names; /* the bad token must appear in the message */
};

static const struct bad_case bad_cases[] = {
    {"allow net 192.0.2.0/33\n", "bad.conf:1:", "192.0.2.0/33"},
    {"dhcp on\n\nallow net 192.0.2.1 port 70000\n", "bad.conf:3:", "70000"},
    {"allow net 192.0.2.1 proto gre\n", "bad.conf:1:", "gre"},
    {"allow exe relative/path\n", "bad.conf:1:", "relative/path"},
    {"allow\n", "bad.conf:1:", "missing rule"},
    {"dhcp maybe\n", "bad.conf:1:", "maybe"},
    {"nd\n", "bad.conf:1:", "nd"},
    {"dns 192.0.2.0/24\n", "bad.conf:1:", "192.0.2.0/24"},
    {"dns 192.0.2.1, 192.0.2.2\n", "bad.conf:1:", "dns"},
    {"dns 1,2,3,4,5,6,7,8,9\n", "bad.conf:1:", "1"},
    {"packet-guard sometimes\n", "bad.conf:1:", "sometimes"},
    {"btf vmlinux.btf\n", "bad.conf:1:", "vmlinux.btf"},
    {"btf\n", "bad.conf:1:", "btf"},
    {"# ok\nallow net 192.0.2.1\nisolate now\n", "bad.conf:3:", "isolate"},
};

Test(config, malformed_names_file_line_and_applies_nothing)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct rf_conf c;
		char err[RF_ERR_MAX] = "";

		cr_assert_neq(rf_conf_parse(bc->text, "bad.conf", &c, err, sizeof(err)), 0,
			      "accepted: %s", bc->text);
		cr_assert(!strncmp(err, bc->where, strlen(bc->where)),
			  "'%s' does not start with %s", err, bc->where);
		cr_assert(strstr(err, bc->names), "'%s' does not name '%s'", err, bc->names);
		/* nothing half-applied: back to the defaults, no rules kept */
		cr_assert_eq(c.nrules, 0);
		cr_assert_null(c.rules);
		cr_assert(c.dhcp && c.nd && c.dns_auto);
	}
}

Test(config, missing_file_is_defaults_unreadable_is_error)
{
	struct rf_conf c;
	char err[RF_ERR_MAX] = "", dir[] = "/tmp/rf-unit-conf-XXXXXX";

	cr_assert_eq(rf_conf_load("/nonexistent/ringfence.conf", &c, err, sizeof(err)), 0);
	cr_assert(c.dns_auto);
	rf_conf_free(&c);
	cr_assert_not_null(mkdtemp(dir));
	/* a directory cannot be read as a file */
	cr_assert_neq(rf_conf_load(dir, &c, err, sizeof(err)), 0);
	cr_assert(strstr(err, dir), "%s", err);
	rmdir(dir);
}

Test(config, resolv_conf_and_rule_lines)
{
	char path[] = "/tmp/rf-unit-resolv-XXXXXX", **lines = NULL;
	struct rf_net_key keys[RF_MAX_RESOLVERS];
	struct rf_conf c;
	char err[RF_ERR_MAX];
	size_t n = 0;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	cr_assert_not_null(f);
	fprintf(f, "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%%eth0\n"
		   "nameserver not-an-ip\noptions edns0\n");
	fclose(f);
	cr_assert_eq(rf_resolv_conf(path, keys, RF_MAX_RESOLVERS), 2);
	cr_assert_eq(rf_resolv_conf(path, keys, 1), 1, "max respected");

	cr_assert_eq(rf_conf_parse("allow net 198.51.100.0/24 dir in\n", "t", &c, err, sizeof(err)),
		     0);
	cr_assert_eq(rf_conf_rule_lines(&c, path, &lines, &n), 0);
	cr_assert_eq(n, 5); /* the rule, then udp+tcp for each of 2 resolvers */
	cr_assert_str_eq(lines[0], "net 198.51.100.0/24 dir in");
	cr_assert_str_eq(lines[1], "net 192.0.2.53/32 proto udp port 53 dir out");
	cr_assert_str_eq(lines[2], "net 192.0.2.53/32 proto tcp port 53 dir out");
	cr_assert_str_eq(lines[3], "net fe80::1/128 proto udp port 53 dir out");
	rf_lines_free(lines, n);
	rf_conf_free(&c);

	/* dns off: no resolver rules; explicit list ignores resolv.conf */
	cr_assert_eq(rf_conf_parse("dns off\n", "t", &c, err, sizeof(err)), 0);
	cr_assert_eq(rf_conf_rule_lines(&c, path, &lines, &n), 0);
	cr_assert_eq(n, 0);
	rf_lines_free(lines, n);
	rf_conf_free(&c);
	cr_assert_eq(rf_conf_parse("dns 203.0.113.53\n", "t", &c, err, sizeof(err)), 0);
	cr_assert_eq(rf_conf_rule_lines(&c, path, &lines, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(lines[0], "net 203.0.113.53/32 proto udp port 53 dir out");
	rf_lines_free(lines, n);
	rf_conf_free(&c);
	unlink(path);
}

/*
 * Issue 21 item 13: a resolver is one unicast address. "nameserver 0.0.0.0/0" was parsed as a
 * CIDR and allowed port 53 to every IPv4 host; prefixes, unspecified, broadcast and multicast
 * "resolvers" are skipped in resolv.conf and refused in the config file.
 */
Test(config, resolvers_are_addresses_not_prefixes)
{
	char path[] = "/tmp/rf-unit-resolv-XXXXXX", cidr[64], err[RF_ERR_MAX];
	static const char *const bad[] = {
	    "0.0.0.0/0",       "::/0",	      "192.0.2.0/24", "2001:db8::/32",	"0.0.0.0",    "::",
	    "255.255.255.255", "224.0.0.251", "ff02::fb",     "::ffff:0.0.0.0", "example.org"};
	struct rf_net_key keys[RF_MAX_RESOLVERS];
	struct rf_conf c;
	size_t i;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	cr_assert_not_null(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fprintf(f, "nameserver %s\n", bad[i]);
	fprintf(f, "nameserver 192.0.2.53\nnameserver 2001:db8::53\n");
	fclose(f);
	cr_assert_eq(rf_resolv_conf(path, keys, RF_MAX_RESOLVERS), 2, "a prefix became a resolver");
	rf_format_cidr(&keys[0], cidr, sizeof(cidr));
	cr_expect_str_eq(cidr, "192.0.2.53/32");
	rf_format_cidr(&keys[1], cidr, sizeof(cidr));
	cr_expect_str_eq(cidr, "2001:db8::53/128");
	unlink(path);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "dns %s\n", bad[i]);
		cr_expect_neq(rf_conf_parse(line, "t", &c, err, sizeof(err)), 0, "%s accepted",
			      line);
		rf_conf_free(&c);
	}
	cr_expect_eq(rf_conf_parse("dns 192.0.2.53,2001:db8::53\n", "t", &c, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_eq(c.nresolvers, 2);
	rf_conf_free(&c);
}

Test(config, guard_words)
{
	cr_assert_eq(rf_conf_guard_word("auto"), RF_GUARD_AUTO);
	cr_assert_eq(rf_conf_guard_word("on"), RF_GUARD_ON);
	cr_assert_eq(rf_conf_guard_word("off"), RF_GUARD_OFF);
	cr_assert_eq(rf_conf_guard_word("On"), -2);
	cr_assert_eq(rf_conf_guard_word(""), -2);
}

Test(config, allow_ipv6_prefix_covering_ipv4_is_refused)
{
	struct rf_conf c;
	char err[RF_ERR_MAX] = "";

	cr_assert_neq(rf_conf_parse("allow net 0.0.0.0/0\nallow net ::/0 proto tcp\n", "t.conf", &c,
				    err, sizeof(err)),
		      0);
	cr_expect(strstr(err, "t.conf:2") && strstr(err, "every IPv4 address"), "%s", err);
	cr_expect_eq(c.nrules, 0, "a refused file applies nothing");
	rf_conf_free(&c);
	cr_assert_eq(rf_conf_parse("allow net 2000::/3\n", "t.conf", &c, err, sizeof(err)), 0, "%s",
		     err);
	rf_conf_free(&c);
}

/* A NUL byte does not end the file silently (the rules after it unread): an error naming its
 * line, the file applied nothing. */
Test(config, nul_byte_is_an_error_naming_the_line)
{
	static const char text[] = "dhcp on\nallow net 192.0.2.1\0garbage\nallow net 192.0.2.2\n";
	char err[RF_ERR_MAX] = "", path[64];
	struct rf_conf c;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/ringfence-unit-%d-nul.conf", (int)getpid());
	f = fopen(path, "we");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	cr_assert_eq(fclose(f), 0);
	cr_expect_eq(rf_conf_load(path, &c, err, sizeof(err)), -EINVAL, "a NUL byte was accepted");
	unlink(path);
	cr_expect(strstr(err, "-nul.conf:2:") && strstr(err, "NUL"), "%s", err);
	cr_expect_eq(c.nrules, 0, "half applied");
	cr_expect_eq(rf_conf_parse_buf(text, sizeof(text) - 1, "t.conf", &c, err, sizeof(err)),
		     -EINVAL);
	cr_expect(strstr(err, "t.conf:2:"), "%s", err);
	/* the same text without the NUL is fine */
	cr_assert_eq(rf_conf_parse_buf(text, 27, "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.nrules, 1);
	rf_conf_free(&c);
}

/* A path with a blank is written quoted in the config, and kept quoted (canonical) in its rules. */
Test(config, quoted_exe_path)
{
	struct rf_conf c;
	char err[RF_ERR_MAX] = "";

	cr_assert_eq(
	    rf_conf_parse("allow exe \"/opt/my agent/run\"\n", "t.conf", &c, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(c.nrules, 1);
	cr_assert_str_eq(c.rules[0], "exe \"/opt/my agent/run\"");
	rf_conf_free(&c);
}
