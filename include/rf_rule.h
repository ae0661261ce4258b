/* SPDX-License-Identifier: GPL-2.0-only */
/* Allow-rule grammar: text <-> map keys and entries. Pure functions, unit-tested. */
#ifndef RF_RULE_H
#define RF_RULE_H

#include <stddef.h>
#include "ringfence.h"

/* The longest canonical rule text: a 4095-byte path quoted with every byte as \xNN. */
#define RF_RULE_TEXT_MAX (4 * 4096 + 64)
#define RF_ERR_MAX	 512

enum rf_rule_kind {
	RF_RULE_NET,
	RF_RULE_EXE,
	RF_RULE_CGROUP,
	RF_RULE_HOST,
};

/* A DNS name in text: at most 253 bytes (255 on the wire), labels of 1..63 bytes. */
#define RF_HOST_NAME_MAX  253
#define RF_HOST_LABEL_MAX 63

struct rf_rule {
	enum rf_rule_kind kind;
	struct rf_net_key key;	   /* RF_RULE_NET: canonical prefix, host bits zero */
	struct rf_net_entry entry; /* RF_RULE_NET and RF_RULE_HOST: proto, port, dir */
	/* RF_RULE_HOST: the name lowercased, without a trailing dot; "*.example.com" for any name
	 * below example.com */
	char host[RF_HOST_NAME_MAX + 1];
	char path[4096]; /* RF_RULE_EXE / RF_RULE_CGROUP, as given */
	char user[64];	 /* RF_RULE_EXE: "user NAME|UID|any" as given; "" = the file's owner */
};

/*
 * Parse a rule from tokens, e.g. {"net", "192.0.2.0/24", "proto", "tcp", "port", "22"}.
 * Returns 0, or -EINVAL with a message naming the bad token in err. Paths are not resolved here.
 */
int rf_rule_parse(int argc, char *const argv[], struct rf_rule *r, char *err, size_t errlen);

/*
 * Same, from one line of text split on blanks ("net 2001:db8::/32 dir out"). A word in double
 * quotes may hold blanks and the escapes \" \\ \xNN ("exe \"/opt/my agent/run\""), as
 * rf_rule_format() writes paths: parse_line(format(r)) is r for every path.
 */
int rf_rule_parse_line(const char *line, struct rf_rule *r, char *err, size_t errlen);

/*
 * Check a host rule's NAME and write its canonical form into out (lowercased, one trailing dot
 * removed): dot-separated labels of 1..63 letters, digits and hyphens, none starting or ending
 * with a hyphen, 253 bytes in all; or "*." and such a name of two labels or more, for any name
 * below it ("*.com" would let anything on the host open any .com name: refused). An IP address
 * is refused (that is a net rule). 0, or -EINVAL with err naming the problem.
 */
int rf_host_name_parse(const char *name, char *out, size_t outlen, char *err, size_t errlen);

/* Parse "ADDR[/LEN]" into an LPM key (IPv4 mapped into IPv6). Rejects set host bits. */
int rf_parse_cidr(const char *s, struct rf_net_key *key, char *err, size_t errlen);

/*
 * May r be added as a new rule? Refuses (-EINVAL, err says why and what to write instead) an
 * IPv6 prefix shorter than /96 that covers ::ffff:0:0/96: IPv4 is looked up as IPv4-mapped IPv6,
 * so "net ::/0" would silently allow all of IPv4 too. Deleting such a rule stays possible.
 */
int rf_rule_check_new(const struct rf_rule *r, char *err, size_t errlen);

/* Canonical text of a CIDR key: "192.0.2.0/24", "2001:db8::/32". */
void rf_format_cidr(const struct rf_net_key *key, char *buf, size_t len);

/* Canonical text of a net rule from its key and one entry: "net 192.0.2.0/24 proto tcp port 22". */
void rf_format_net(const struct rf_net_key *key, const struct rf_net_entry *e, char *buf,
		   size_t len);

/* Canonical text of any rule; a path with anything but [A-Za-z0-9/._-+,:@=~%] is quoted
 * (rf_quote_path()), so the text is one line of printable ASCII that parses back to r. */
void rf_rule_format(const struct rf_rule *r, char *buf, size_t len);
/* path as a rule word: as it is, or "..." with \" \\ and \xNN for other bytes. */
void rf_quote_path(const char *path, char *buf, size_t len);

/* Do two entries allow exactly the same thing (origin ignored)? */
int rf_entry_equal(const struct rf_net_entry *a, const struct rf_net_entry *b);

/*
 * Add or remove entry e in value v (for key prefixlen plen). Returns 0 on change, -EEXIST when
 * already present (add), -ENOENT when absent (del), -ENOSPC when the prefix holds
 * RF_NET_MAX_ENTRIES already. *now_empty is set when del leaves no entry.
 */
int rf_net_val_add(struct rf_net_val *v, __u32 plen, const struct rf_net_entry *e);
int rf_net_val_del(struct rf_net_val *v, const struct rf_net_entry *e, int *now_empty);

/* The kernel's s_dev encoding (major << 20 | minor) of a glibc dev_t from stat(). */
__u64 rf_kernel_dev(unsigned long long st_dev);

/* Parse "90", "90s", "15m", "2h", "1d" into seconds (1 .. 366 days). */
int rf_parse_duration(const char *s, __u64 *secs);

#endif /* RF_RULE_H */
