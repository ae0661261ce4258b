// SPDX-License-Identifier: GPL-2.0-only
/* Blocked-attempt events as ECS JSON lines and as text. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_events.h"
#include "rf_loader.h"
#include "rf_rule.h"
#include "helpers.h"
#include "rft_json.h"

#define T0_UNIX_NS 1795416781123456789ULL /* 2026-11-23T06:53:01.123Z */

static void set_addr(__u8 a[16], const char *text)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, text, &v4) == 1) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &v4, 4);
		return;
	}
	cr_assert_eq(inet_pton(AF_INET6, text, a), 1, "bad test address %s", text);
}

/* Like the kernel's comm: truncated to RF_COMM_LEN, NUL-terminated only when shorter. */
static void set_comm(struct rf_event *e, const char *s)
{
	size_t n = strlen(s);

	memset(e->comm, 0, sizeof(e->comm));
	memcpy(e->comm, s, n < sizeof(e->comm) ? n : sizeof(e->comm));
}

static struct rf_event connect_event(void)
{
	struct rf_event e = {
	    .ts_boot_ns = 1000000000ULL,
	    .cgroup_id = 4242,
	    .exe_dev = (8ULL << 20) | 1,
	    .exe_ino = 1234567,
	    .pid = 3001,
	    .tgid = 3000,
	    .uid = 1000,
	    .hook = RF_HOOK_CONNECT4,
	    .reason = RF_REASON_NO_RULE,
	    .family = 2,
	    .proto = 6,
	    .dport = 443,
	    .sport = 0,
	    .sock_type = 1,
	};

	set_addr(e.daddr, "198.51.100.7");
	strcpy(e.comm, "curl");
	return e;
}

static const struct rf_event_ctx ctx = {
    .boot_to_unix_ns = T0_UNIX_NS - 1000000000ULL,
    .exe_path = "/usr/bin/curl",
    .hostname = "web-01",
};

struct json_arg {
	const struct rf_event *e;
	const struct rf_event_ctx *c;
};

static void json_fn(FILE *f, const void *p)
{
	const struct json_arg *a = p;

	rf_event_json(f, a->e, a->c);
}

static void text_fn(FILE *f, const void *p)
{
	const struct json_arg *a = p;

	rf_event_text(f, a->e, a->c);
}

/*
 * rf_event_json output, checked to be one newline-terminated line of ASCII holding one strict
 * JSON document (no duplicate keys, valid UTF-8), parsed.
 */
static json_t *event_json(const struct rf_event *e, const struct rf_event_ctx *c)
{
	struct json_arg a = {e, c};
	char *text = capture(json_fn, &a);
	size_t len = strlen(text), i;
	json_t *doc;

	cr_assert(len > 2 && text[len - 1] == '\n', "not newline-terminated: %s", text);
	cr_assert_eq(strchr(text, '\n'), text + len - 1, "more than one line: %s", text);
	for (i = 0; i < len; i++)
		cr_assert((unsigned char)text[i] < 0x80, "a raw non-ASCII byte %#x in %s",
			  (unsigned char)text[i], text);
	doc = rft_json_load(text);
	cr_assert(json_is_object(doc), "not an object: %s", text);
	free(text);
	return doc;
}

/* The value at path: a string as it is, anything else as its compact JSON text. */
static void expect_field(json_t *doc, const char *path, const char *want)
{
	json_t *v = rft_json_at(doc, path);
	char *text;

	cr_assert_not_null(v, "%s missing", path);
	if (json_is_string(v)) {
		cr_assert_str_eq(json_string_value(v), want, "%s", path);
		return;
	}
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	cr_assert_str_eq(text, want, "%s", path);
	free(text);
}

static void expect_no_field(json_t *doc, const char *path)
{
	cr_assert_null(rft_json_at(doc, path), "%s present", path);
}

Test(events_json, connect4_ecs_fields)
{
	struct rf_event e = connect_event();
	json_t *doc = event_json(&e, &ctx);

	expect_field(doc, "@timestamp", "2026-11-23T06:53:01.123Z");
	expect_field(doc, "event.action", "connection-blocked");
	expect_field(doc, "event.outcome", "failure");
	expect_field(doc, "event.kind", "event");
	expect_field(doc, "event.category.0", "network");
	expect_field(doc, "process.pid", "3000");
	expect_field(doc, "process.thread.id", "3001");
	expect_field(doc, "process.name", "curl");
	expect_field(doc, "process.executable", "/usr/bin/curl");
	expect_field(doc, "user.id", "1000");
	expect_field(doc, "host.hostname", "web-01");
	expect_field(doc, "destination.ip", "198.51.100.7");
	expect_field(doc, "destination.port", "443");
	expect_field(doc, "network.transport", "tcp");
	expect_field(doc, "network.type", "ipv4");
	expect_field(doc, "network.direction", "egress");
	expect_field(doc, "ringfence.hook", "connect4");
	expect_field(doc, "ringfence.cgroup_id", "4242");
	expect_field(doc, "ringfence.exe_inode", "1234567");
	/* no local address known: no source object */
	expect_no_field(doc, "source.ip");
	json_decref(doc);
}

Test(events_json, ipv6_and_local_address)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.hook = RF_HOOK_SENDMSG6;
	e.family = 10;
	e.proto = 17;
	e.dport = 53;
	e.sport = 40000;
	set_addr(e.daddr, "2001:db8::53");
	set_addr(e.saddr, "2001:db8::1");
	doc = event_json(&e, &ctx);
	expect_field(doc, "destination.ip", "2001:db8::53");
	expect_field(doc, "destination.port", "53");
	expect_field(doc, "source.ip", "2001:db8::1");
	expect_field(doc, "source.port", "40000");
	expect_field(doc, "network.transport", "udp");
	expect_field(doc, "network.type", "ipv6");
	expect_field(doc, "ringfence.hook", "sendmsg6");
	json_decref(doc);
}

Test(events_json, mapped_v4_prints_dotted_quad)
{
	static const char *const addrs[] = {"192.0.2.1", "0.0.0.0", "255.255.255.255", "127.0.0.1"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(addrs); i++) {
		struct rf_event e = connect_event();
		json_t *doc;

		e.hook = RF_HOOK_CONNECT6; /* v4-mapped on a v6 socket */
		e.family = 10;
		set_addr(e.daddr, addrs[i]);
		doc = event_json(&e, &ctx);
		expect_field(doc, "destination.ip", addrs[i]);
		json_decref(doc);
	}
}

Test(events_json, ingress_remote_is_source)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.hook = RF_HOOK_INGRESS;
	e.pid = e.tgid = e.uid = 0;
	e.comm[0] = '\0';
	e.exe_dev = e.exe_ino = 0;
	set_addr(e.daddr, "203.0.113.9"); /* remote */
	e.dport = 51515;
	set_addr(e.saddr, "192.0.2.10"); /* local */
	e.sport = 22;
	doc = event_json(&e, &ctx);
	expect_field(doc, "source.ip", "203.0.113.9");
	expect_field(doc, "source.port", "51515");
	expect_field(doc, "destination.ip", "192.0.2.10");
	expect_field(doc, "destination.port", "22");
	expect_field(doc, "network.direction", "ingress");
	expect_field(doc, "ringfence.hook", "ingress");
	/* packet hooks have no process context */
	expect_no_field(doc, "process.pid");
	json_decref(doc);
}

Test(events_json, egress_remote_is_destination)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.hook = RF_HOOK_EGRESS;
	e.tgid = 0;
	set_addr(e.daddr, "203.0.113.9");
	set_addr(e.saddr, "192.0.2.10");
	e.sport = 22;
	doc = event_json(&e, &ctx);
	expect_field(doc, "destination.ip", "203.0.113.9");
	expect_field(doc, "source.ip", "192.0.2.10");
	expect_field(doc, "network.direction", "egress");
	json_decref(doc);
}

Test(events_json, sock_create)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.hook = RF_HOOK_SOCK_CREATE;
	e.reason = RF_REASON_SOCKET_TYPE;
	e.proto = 255;
	e.sock_type = 3; /* SOCK_RAW */
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.action", "socket-blocked");
	expect_field(doc, "event.reason", "socket_type");
	expect_field(doc, "ringfence.socket_type", "3");
	expect_field(doc, "ringfence.hook", "sock_create");
	expect_no_field(doc, "destination.ip");
	json_decref(doc);
}

Test(events_json, tc_egress_packet_socket)
{
	struct rf_event e = connect_event();
	json_t *doc;
	char *out;
	struct json_arg a = {&e, &ctx};

	e.hook = RF_HOOK_TC_EGRESS;
	e.reason = RF_REASON_PACKET_SOCKET;
	e.family = 17; /* AF_PACKET */
	e.proto = 0;
	e.sock_type = 3;
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.action", "frame-blocked");
	expect_field(doc, "event.reason", "packet_socket");
	expect_field(doc, "ringfence.hook", "tc_egress");
	expect_field(doc, "network.type", "packet");
	expect_no_field(doc, "destination.ip"); /* a frame has no inet remote */
	json_decref(doc);
	out = capture(text_fn, &a);
	cr_assert(strstr(out, "(packet socket type 3)"), "%s", out);
	free(out);
}

Test(events_json, optional_context)
{
	struct rf_event e = connect_event();
	struct rf_event_ctx c = {.boot_to_unix_ns = 0};
	json_t *doc = event_json(&e, &c);

	expect_no_field(doc, "process.executable");
	expect_no_field(doc, "host.hostname");
	expect_field(doc, "process.pid", "3000");
	expect_field(doc, "@timestamp", "1970-01-01T00:00:01.000Z");
	json_decref(doc);
}

Test(events_json, hostile_strings_escaped)
{
	static const char *const comms[] = {
	    "evil\"}\n{",   "a\\\"b",	    "\x1b]0;pwned\x07",
	    "\r\t\x01\x7f", "\xff\xfe\xc3", "\",\"pid\":1,\"x\":\"",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(comms); i++) {
		struct rf_event e = connect_event();
		struct rf_event_ctx c = ctx;
		json_t *doc;

		set_comm(&e, comms[i]);
		c.exe_path = comms[i];
		c.hostname = comms[i];
		doc = event_json(&e, &c);
		cr_assert(json_is_string(rft_json_at(doc, "process.name")));
		cr_assert(json_is_string(rft_json_at(doc, "process.executable")));
		if (!strchr(comms[i], '\xff')) /* valid UTF-8 up to the first NUL: kept exactly */
			expect_field(doc, "process.executable", comms[i]);
		/* no injected keys */
		expect_field(doc, "process.pid", "3000");
		expect_no_field(doc, "pid");
		expect_no_field(doc, "x");
		json_decref(doc);
	}
}

/*
 * The target and the kernel's identity of the process share one "ringfence" object: with a
 * target, the event used to carry the key "ringfence" twice, so a strict parser rejected the line
 * and a lax one kept only one of them (hook, cgroup id and exe inode lost).
 */
Test(events_json, target_and_identity_in_one_object)
{
	static const char *const hooks[] = {"connect4", "connect6"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		struct rf_event e = connect_event();
		struct rf_event_ctx c = ctx;
		json_t *doc;

		c.target = "/system.slice/web.service";
		if (i) {
			e.hook = RF_HOOK_CONNECT6;
			e.family = 10;
			set_addr(e.daddr, "2001:db8::7");
		}
		doc = event_json(&e, &c); /* strict: duplicate keys are rejected */
		expect_field(doc, "ringfence.target", "/system.slice/web.service");
		expect_field(doc, "ringfence.hook", hooks[i]);
		expect_field(doc, "ringfence.cgroup_id", "4242");
		expect_field(doc, "ringfence.exe_dev", "8388609");
		expect_field(doc, "ringfence.exe_inode", "1234567");
		expect_field(doc, "ringfence.socket_type", "1");
		json_decref(doc);
		c.target = NULL; /* no target: no key */
		doc = event_json(&e, &c);
		expect_no_field(doc, "ringfence.target");
		expect_field(doc, "ringfence.hook", hooks[i]);
		json_decref(doc);
	}
}

/* Identity values above 2^63-1 (another agent's map, an overlay inode) are never negative. */
Test(events_json, u64_identity_not_negative)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.cgroup_id = ~0ULL;
	e.exe_ino = 1ULL << 63;
	e.exe_dev = (1ULL << 63) - 1;
	doc = event_json(&e, &ctx);
	expect_field(doc, "ringfence.cgroup_id", "18446744073709551615");
	expect_field(doc, "ringfence.exe_inode", "9223372036854775808");
	expect_field(doc, "ringfence.exe_dev", "9223372036854775807");
	cr_assert(json_is_integer(rft_json_at(doc, "ringfence.exe_dev")));
	json_decref(doc);
}

/* Terminal controls in JSON strings are escaped: ESC, C1 (U+009B CSI) and every non-ASCII. */
Test(events_json, terminal_controls_escaped)
{
	struct rf_event e = connect_event();
	struct rf_event_ctx c = ctx;
	json_t *doc;

	c.exe_path = "/tmp/\x1b[2J\xc2\x9b"
		     "31m\xc3\xa9";
	set_comm(&e, "\xc2\x9b"
		     "2J\x1b]0;x\x07");
	doc = event_json(&e, &c); /* asserts the line is pure ASCII */
	expect_field(doc, "process.executable", c.exe_path);
	expect_field(doc, "process.name",
		     "\xc2\x9b"
		     "2J\x1b]0;x\x07");
	json_decref(doc);
}

Test(events_json, comm_without_nul_is_bounded)
{
	struct rf_event e = connect_event();
	json_t *doc;

	memset(e.comm, 'A', RF_COMM_LEN); /* the kernel fills all 16 bytes */
	doc = event_json(&e, &ctx);
	expect_field(doc, "process.name", "AAAAAAAAAAAAAAAA");
	json_decref(doc);
}

Test(events_json, unknown_hook_and_transport)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.hook = 200;
	e.proto = 132;
	e.reason = 77;
	doc = event_json(&e, &ctx);
	expect_field(doc, "ringfence.hook", "unknown");
	expect_field(doc, "network.transport", "other");
	json_decref(doc);
}

Test(events, names)
{
	cr_assert_str_eq(rf_hook_name(RF_HOOK_CONNECT4), "connect4");
	cr_assert_str_eq(rf_hook_name(RF_HOOK_SOCK_CREATE), "sock_create");
	cr_assert_str_eq(rf_hook_name(RF_HOOK_MAX), "unknown");
	cr_assert_str_eq(rf_hook_name(0xffffffff), "unknown");
	cr_assert_str_eq(rf_transport_name(1), "icmp");
	cr_assert_str_eq(rf_transport_name(58), "ipv6-icmp");
	cr_assert_str_eq(rf_transport_name(6), "tcp");
	cr_assert_str_eq(rf_transport_name(17), "udp");
	cr_assert_str_eq(rf_transport_name(47), "other");
}

Test(events, addr)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {"::ffff:10.1.2.3", "10.1.2.3"},
	    {"2001:db8::1", "2001:db8::1"},
	    {"::1", "::1"},
	    {"::", "::"},
	    {"::127.0.0.1", "::127.0.0.1"}, /* IPv4-compatible: glibc form, still IPv6 */
	    {"::ffff:0:0", "0.0.0.0"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		__u8 a[16];
		char buf[64];

		set_addr(a, cases[i].in);
		rf_event_addr(a, buf, sizeof(buf));
		cr_assert_str_eq(buf, cases[i].out);
	}
}

/* ---- text output ------------------------------------------------------------------------------
 */

static char *event_text(const struct rf_event *e, const struct rf_event_ctx *c)
{
	struct json_arg a = {e, c};
	char *out = capture(text_fn, &a);
	size_t len = strlen(out);

	cr_assert(len > 0 && out[len - 1] == '\n', "not newline-terminated: %s", out);
	cr_assert_eq(strchr(out, '\n'), out + len - 1, "more than one line: %s", out);
	return out;
}

Test(events_text, line_content)
{
	struct rf_event e = connect_event();
	char *out = event_text(&e, &ctx);

	cr_assert(strstr(out, "2026-11-23T06:53:01.123Z"), "%s", out);
	cr_assert(strstr(out, " connect4 "), "%s", out);
	cr_assert(strstr(out, " tcp "), "%s", out);
	cr_assert(strstr(out, " 3000 "), "%s", out);
	cr_assert(strstr(out, " curl "), "%s", out);
	cr_assert(strstr(out, " 198.51.100.7:443 "), "%s", out);
	cr_assert(strstr(out, " /usr/bin/curl\n"), "%s", out);
	free(out);

	e.hook = RF_HOOK_CONNECT6;
	set_addr(e.daddr, "2001:db8::1");
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " [2001:db8::1]:443 "), "%s", out);
	free(out);

	e.hook = RF_HOOK_SOCK_CREATE;
	e.sock_type = 3;
	e.comm[0] = '\0';
	out = event_text(&e, &(struct rf_event_ctx){.exe_path = NULL});
	cr_assert(strstr(out, "socket type 3)"), "%s", out);
	cr_assert(strstr(out, " - "), "empty comm not shown as '-': %s", out);
	free(out);
}

Test(events_text, control_chars_stripped_from_comm)
{
	static const char *const comms[] = {
	    "evil\n2026-01-01", "\x1b[2J\x1b[H", "a\rb", "\t\x01\x1f\x7f", "bell\x07",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(comms); i++) {
		struct rf_event e = connect_event();
		const unsigned char *p;
		char *out;

		set_comm(&e, comms[i]);
		out = event_text(&e, &ctx);
		for (p = (const unsigned char *)out; *p != '\n'; p++)
			cr_assert(*p >= 0x20 && *p != 0x7f, "comm %zu: control byte %#x in '%s'", i,
				  *p, out);
		free(out);
	}
}

Test(events_text, comm_without_nul_is_bounded)
{
	struct rf_event e = connect_event();
	char *out;

	memset(e.comm, 'B', RF_COMM_LEN);
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, "BBBBBBBBBBBBBBBB "), "%s", out);
	cr_assert_null(strstr(out, "BBBBBBBBBBBBBBBBB"), "%s", out);
	free(out);
}

Test(events_text, header_one_line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rf_event_text_header(f);
	fclose(f);
	cr_assert(!strncmp(buf, "TIME", 4), "%s", buf);
	cr_assert(strstr(buf, "REMOTE"), "%s", buf);
	cr_assert_eq(strchr(buf, '\n'), buf + len - 1);
	free(buf);
}

/*
 * The executable path is as attacker-controlled as comm (any user can name a file
 * "x\n<forged line>" or put terminal escapes in it), so the text line must not carry its
 * control bytes either.
 */
Test(events_text, control_chars_stripped_from_exe_path)
{
	static const char *const paths[] = {
	    "/tmp/x\n2026-11-23T06:53:01.123Z connect4    tcp   1    sshd",
	    "/tmp/\x1b[2J\x1b[Hclear",
	    "/tmp/a\rb",
	    "/tmp/\x7f\x01",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		struct rf_event e = connect_event();
		struct rf_event_ctx c = ctx;
		struct json_arg a = {&e, &c};
		const unsigned char *p;
		unsigned int bad = 0;
		char *out;

		c.exe_path = paths[i];
		out = capture(text_fn, &a);
		for (p = (const unsigned char *)out; *p && !bad; p++)
			if ((*p < 0x20 || *p == 0x7f) && !(*p == '\n' && !p[1]))
				bad = *p;
		free(out);
		cr_assert_eq(bad, 0, "exe path %zu: control byte %#x in the text line", i, bad);
	}
}

/* ---- rf_event_exe_path: /proc/PID/exe counts only if it is still the file the kernel saw ---- */

static void self_identity(struct rf_event *e)
{
	struct stat st;

	cr_assert_eq(stat("/proc/self/exe", &st), 0);
	memset(e, 0, sizeof(*e));
	e->tgid = (__u32)getpid();
	e->pid = e->tgid;
	e->exe_ino = st.st_ino;
	e->exe_dev = rf_kernel_dev(st.st_dev);
}

Test(events_exe, path_when_identity_matches)
{
	char want[4096], buf[4096];
	struct rf_event e;
	ssize_t n;

	self_identity(&e);
	n = readlink("/proc/self/exe", want, sizeof(want) - 1);
	cr_assert_gt(n, 0);
	want[n] = '\0';
	cr_assert_str_eq(rf_event_exe_path(&e, buf, sizeof(buf)), want);
}

Test(events_exe, reused_pid_is_not_named)
{
	struct rf_event e;
	char buf[4096];

	/* the pid now runs another binary than the one in the event: say nothing, not a lie */
	self_identity(&e);
	e.exe_ino += 1;
	cr_assert_null(rf_event_exe_path(&e, buf, sizeof(buf)));
	self_identity(&e);
	e.exe_dev ^= 1;
	cr_assert_null(rf_event_exe_path(&e, buf, sizeof(buf)));
	self_identity(&e);
	e.exe_ino = 0; /* no identity from the kernel (packet hooks) */
	cr_assert_null(rf_event_exe_path(&e, buf, sizeof(buf)));
}

Test(events_exe, unknown_path_shown_as_question_mark)
{
	struct rf_event e;
	char *out;

	self_identity(&e);
	e.hook = RF_HOOK_CONNECT4;
	out = event_text(&e, &(struct rf_event_ctx){.exe_path = NULL});
	cr_assert(strstr(out, " ?\n"), "an unverified executable must show '?': %s", out);
	free(out);
	e.exe_ino = 0;
	out = event_text(&e, &(struct rf_event_ctx){.exe_path = NULL});
	cr_assert(strstr(out, " -\n"), "no executable at all shows '-': %s", out);
	free(out);
}

/* The path the kernel recorded: components leaf first, up to "/" of the mount. */
Test(events_exe, kernel_path_from_components)
{
	struct rf_event e;
	char buf[512];

	memset(&e, 0, sizeof(e));
	strcpy(e.exe_path[0], "curl");
	strcpy(e.exe_path[1], "bin");
	strcpy(e.exe_path[2], "usr");
	strcpy(e.exe_path[3], "/");
	cr_assert_str_eq(rf_event_kernel_exe_path(&e, buf, sizeof(buf)), "/usr/bin/curl");
	/* a pid reused by another binary: the kernel's record names the blocked one */
	e.tgid = (__u32)getpid();
	e.exe_ino = 1;
	cr_assert_str_eq(rf_event_exe_path(&e, buf, sizeof(buf)), "/usr/bin/curl");
	strcpy(e.exe_path[0], "/");
	cr_assert_null(rf_event_kernel_exe_path(&e, buf, sizeof(buf)), "no name before the root");
	memset(e.exe_path, 'a', sizeof(e.exe_path)); /* no NUL, no root: cut, marked deep */
	cr_assert_not_null(rf_event_kernel_exe_path(&e, buf, sizeof(buf)));
	cr_assert_eq(strncmp(buf, ".../", 4), 0, "%s", buf);
	cr_assert_eq(strlen(buf), 3 + RF_EXE_PATH_DEPTH * RF_EXE_NAME_LEN, "%s", buf);
	memset(&e, 0, sizeof(e));
	cr_assert_null(rf_event_kernel_exe_path(&e, buf, sizeof(buf)));
}

/* Audit mode: the same event, marked would-block, outcome unknown (nothing was blocked). */
Test(events_json, would_block_in_audit_mode)
{
	struct rf_event e = connect_event();
	json_t *doc;
	char *out;

	e.flags = RF_EVENT_WOULD_BLOCK;
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.type", "[\"denied\",\"connection\"]");
	expect_field(doc, "event.action", "would-block");
	expect_field(doc, "event.outcome", "unknown");
	json_decref(doc);
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " would-block "), "%s", out);
	free(out);
	e.flags = 0;
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " blocked "), "%s", out);
	free(out);
}

/* ---- rf_event_log_line: the agent's events.jsonl as events shows it -------------------------
 */

static char *log_line(const char *line, bool json, int *ret)
{
	char *out;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	*ret = rf_event_log_line(f, line, json);
	fclose(f);
	return out;
}

/* A torn or damaged line never reaches a JSON consumer; every line printed is strict JSON. */
Test(events_log, json_lines_are_checked)
{
	static const char *const bad[] = {
	    "{\"@timestamp\":\"2026-11-23T06:53:01.123Z\",\"event\":{\"kind\"", /* torn */
	    "garbage",
	    "",
	    "[1,2]",
	    "\"s\"",
	    "{\"a\":1}{\"b\":2}",
	    "{\"a\":\"\xff\"}",
	};
	const char *good = "{\"event\":{\"action\":\"connection-blocked\"},\"ringfence\":{\"hook\":"
			   "\"connect4\",\"target\":\"/t\"}}";
	char *out;
	json_t *doc;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		out = log_line(bad[i], true, &ret);
		cr_expect_eq(ret, -EINVAL, "line %zu accepted", i);
		cr_expect_str_eq(out, "", "line %zu written", i);
		free(out);
	}
	out = log_line(good, true, &ret);
	cr_expect_eq(ret, 0);
	doc = rft_json_load(out);
	cr_expect_str_eq(rft_json_str_at(doc, "ringfence.hook") ?: "", "connect4");
	json_decref(doc);
	free(out);
	/* an earlier agent's line with "ringfence" twice comes out without the duplicate */
	out = log_line("{\"ringfence\":{\"hook\":\"connect4\"},\"ringfence\":{\"target\":\"/t\"}}",
		       true, &ret);
	cr_expect_eq(ret, 0);
	doc = rft_json_load(out); /* strict */
	cr_expect_str_eq(rft_json_str_at(doc, "ringfence.target") ?: "", "/t");
	json_decref(doc);
	free(out);
	/* text: made safe for a terminal */
	out = log_line("{\"x\":\"\x1b[2J\xc2\x9b\"}", false, &ret);
	cr_expect_eq(ret, 0);
	cr_expect_str_eq(out, "{\"x\":\"?[2J?\"}\n");
	free(out);
}

/* Host rules (issue 24): a block that only an expired learned address would have allowed, and
 * an answer's address that could not be learned (not a block). */
Test(events_json, host_rule_reasons)
{
	struct rf_event e = connect_event();
	json_t *doc;

	e.reason = RF_REASON_HOST_EXPIRED;
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.reason", "host_expired");
	expect_field(doc, "event.action", "learned-address-expired");
	expect_field(doc, "event.type", "[\"denied\",\"connection\"]");
	expect_field(doc, "event.outcome", "failure");
	json_decref(doc);
	e.flags = RF_EVENT_WOULD_BLOCK; /* audit mode: nothing blocked */
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.action", "would-block");
	expect_field(doc, "event.reason", "host_expired");
	json_decref(doc);

	e = connect_event();
	e.hook = RF_HOOK_INGRESS;
	e.reason = RF_REASON_HOST_FULL;
	doc = event_json(&e, &ctx);
	expect_field(doc, "event.reason", "host_full");
	expect_field(doc, "event.action", "address-not-learned");
	expect_field(doc, "event.type", "[\"info\",\"connection\"]");
	expect_field(doc, "event.outcome", "unknown");
	json_decref(doc);
}

Test(events_text, host_rule_actions)
{
	struct rf_event e = connect_event();
	char *out;

	e.reason = RF_REASON_HOST_EXPIRED;
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " expired "), "%s", out);
	free(out);
	e.reason = RF_REASON_HOST_FULL;
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " not-learned "), "%s", out);
	cr_assert(!strstr(out, "blocked"), "%s", out);
	free(out);
	e.reason = RF_REASON_NO_RULE;
	out = event_text(&e, &ctx);
	cr_assert(strstr(out, " blocked "), "%s", out);
	free(out);
}
