// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rule grammar (user/rule.c): any line either parses to a rule whose canonical text parses
 * back to the same rule, or is refused with a message; CIDRs round-trip; net entries are sane.
 */
#include <errno.h>
#include "fuzz.h"
#include "rf_rule.h"

static void check_net(const struct rf_rule *r, const char *line)
{
	const struct rf_net_entry *e = &r->entry;

	FUZZ_CHECK(r->key.prefixlen <= 128, "'%s': prefixlen %u", line, r->key.prefixlen);
	FUZZ_CHECK((e->port_lo == 0 && e->port_hi == 0) ||
		       (e->port_lo >= 1 && e->port_lo <= e->port_hi),
		   "'%s': ports %u-%u", line, e->port_lo, e->port_hi);
	FUZZ_CHECK(e->dir >= 1 && e->dir <= RF_DIR_BOTH, "'%s': dir %u", line, e->dir);
	FUZZ_CHECK(e->proto == RF_PROTO_ANY || e->proto == RF_PROTO_ICMP ||
		       e->proto == RF_PROTO_TCP || e->proto == RF_PROTO_UDP,
		   "'%s': proto %u", line, e->proto);
	for (unsigned int i = r->key.prefixlen; i < 128; i++) /* host bits are zero */
		FUZZ_CHECK(!(r->key.addr[i / 8] & (0x80 >> (i % 8))), "'%s': host bit %u set", line,
			   i);
}

/* A host rule's name is stored canonical: lowercase LDH labels, at most 253 bytes. */
static void check_host(const struct rf_rule *r, const char *line)
{
	size_t i, n = strlen(r->host);

	FUZZ_CHECK(n >= 1 && n <= RF_HOST_NAME_MAX, "'%s': name of %zu bytes", line, n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK((r->host[i] >= 'a' && r->host[i] <= 'z') ||
			       (r->host[i] >= '0' && r->host[i] <= '9') || r->host[i] == '-' ||
			       r->host[i] == '.' || (i == 0 && r->host[i] == '*'),
			   "'%s': byte %zu of the name is '%c'", line, i, r->host[i]);
}

static void check_rule(const char *line)
{
	static struct rf_rule r, back;
	static char text[RF_RULE_TEXT_MAX], again[RF_RULE_TEXT_MAX];
	char err[RF_ERR_MAX];
	int ret;

	err[0] = '\0';
	ret = rf_rule_parse_line(line, &r, err, sizeof(err));
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL, "'%s': %d", line, ret);
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)), "'%s': no message", line);
		return;
	}
	if (r.kind == RF_RULE_NET || r.kind == RF_RULE_HOST)
		check_net(&r, line);
	if (r.kind == RF_RULE_HOST)
		check_host(&r, line);
	rf_rule_format(&r, text, sizeof(text));
	ret = rf_rule_parse_line(text, &back, err, sizeof(err));
	FUZZ_CHECK(ret == 0, "'%s' -> '%s' does not parse: %s", line, text, err);
	rf_rule_format(&back, again, sizeof(again));
	FUZZ_CHECK(!strcmp(text, again), "'%s': '%s' then '%s'", line, text, again);
	FUZZ_CHECK(back.kind == r.kind, "'%s': kind", line);
	if (r.kind == RF_RULE_NET)
		FUZZ_CHECK(!memcmp(&back.key, &r.key, sizeof(r.key)) &&
			       rf_entry_equal(&back.entry, &r.entry),
			   "'%s': '%s' is another rule", line, text);
	if (r.kind == RF_RULE_HOST)
		FUZZ_CHECK(!strcmp(back.host, r.host) && rf_entry_equal(&back.entry, &r.entry),
			   "'%s': '%s' is another rule", line, text);
	rf_rule_check_new(&r, err, sizeof(err));
}

static void check_cidr(const char *s)
{
	struct rf_net_key k, back;
	char err[RF_ERR_MAX], text[64];

	if (rf_parse_cidr(s, &k, err, sizeof(err)))
		return;
	rf_format_cidr(&k, text, sizeof(text));
	FUZZ_CHECK(!rf_parse_cidr(text, &back, err, sizeof(err)), "'%s' -> '%s': %s", s, text, err);
	FUZZ_CHECK(!memcmp(&k, &back, sizeof(k)), "'%s' -> '%s' is another key", s, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 8192)
		return 0;
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	check_rule(s);
	check_cidr(s);
	free(s);
	return 0;
}
