// SPDX-License-Identifier: GPL-2.0-only
/* Known DHCP servers: lease-file parsing, the dhcp-server config line, and the built-in's
 * destination check (rf_dhcp_peer) and the ND shape check (rf_nd_check) of policy.bpf.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "policy.bpf.h"
#include "rf_config.h"
#include "rf_dhcp.h"
#include "rf_util.h"
#include "helpers.h"

static struct rf_addr_key key(const char *s)
{
	struct rf_addr_key k = {{0}};

	if (inet_pton(AF_INET, s, k.addr + 12) == 1) {
		k.addr[10] = k.addr[11] = 0xff;
		return k;
	}
	cr_assert_eq(inet_pton(AF_INET6, s, k.addr), 1, "bad address %s", s);
	return k;
}

static bool has(const struct rf_addr_key *a, size_t n, const char *s)
{
	struct rf_addr_key k = key(s);
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(&a[i], &k, sizeof(k)))
			return true;
	return false;
}

Test(dhcp, dhclient_lease)
{
	const char *text =
	    "lease {\n"
	    "  interface \"eth0\";\n"
	    "  fixed-address 192.0.2.10;\n"
	    "  option subnet-mask 255.255.255.0;\n"
	    "  option routers 192.0.2.254;\n"
	    "  option dhcp-server-identifier 192.0.2.53;\n"
	    "  option domain-name-servers 198.51.100.1;\n"
	    "}\n"
	    "lease {\n"
	    "  option dhcp-server-identifier 192.0.2.54;\n"
	    "}\n"
	    "lease {\n"
	    "  option dhcp-server-identifier 192.0.2.53;\n" /* renewal: same server */
	    "}\n";
	struct rf_addr_key out[8];
	size_t n = 0;

	cr_assert_eq(rf_dhcp_lease_servers(text, out, &n, 8), 2);
	cr_assert_eq(n, 2);
	cr_assert(has(out, n, "192.0.2.53") && has(out, n, "192.0.2.54"));
	cr_assert_not(has(out, n, "192.0.2.254"), "the router is not a server");
	cr_assert_not(has(out, n, "198.51.100.1"));
}

Test(dhcp, networkd_and_networkmanager_internal_lease)
{
	const char *text = "# This is private data. Do not parse.\n"
			   "ADDRESS=192.0.2.10\n"
			   "NETMASK=255.255.255.0\n"
			   "ROUTER=192.0.2.254\n"
			   "SERVER_ADDRESS=192.0.2.67\n"
			   "DNS=198.51.100.1\n";
	struct rf_addr_key out[8];
	size_t n = 0;

	cr_assert_eq(rf_dhcp_lease_servers(text, out, &n, 8), 1);
	cr_assert(has(out, n, "192.0.2.67"));
	/* a second file naming the same server adds nothing */
	cr_assert_eq(rf_dhcp_lease_servers("SERVER_ADDRESS=192.0.2.67\n", out, &n, 8), 0);
	cr_assert_eq(n, 1);
}

Test(dhcp, garbage_and_limits)
{
	const char *text = "SERVER_ADDRESS=\n"
			   "SERVER_ADDRESS=not-an-address\n"
			   "XSERVER_ADDRESS=192.0.2.1\n"
			   "option dhcp-server-identifier 300.1.1.1;\n"
			   "option dhcp-server-identifier\n"
			   "# option dhcp-server-identifier 192.0.2.2;\n"
			   "SERVER_ADDRESS=192.0.2.3 trailing\n"
			   "\tSERVER_ADDRESS=2001:db8::547\r\n"
			   "SERVER_ADDRESS=192.0.2.4";
	struct rf_addr_key out[2];
	size_t n = 0;

	cr_assert_eq(rf_dhcp_lease_servers(text, out, &n, 2), 2, "stops at max");
	cr_assert(has(out, n, "192.0.2.3") && has(out, n, "2001:db8::547"));
	n = 0;
	cr_assert_eq(rf_dhcp_lease_servers("", out, &n, 2), 0);
	cr_assert_eq(rf_dhcp_lease_servers("SERVER_ADDRESS=192.0.2.4", out, &n, 2), 1,
		     "last line without a newline");
}

Test(dhcp, lease_dirs)
{
	char dir[] = "/tmp/rf-unit-dhcp-XXXXXX", path[512], dirs[1100];
	struct rf_addr_key out[8];
	size_t n = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dhclient.eth0.leases", dir);
	cr_assert_eq(rf_write_file_atomic(path, "option dhcp-server-identifier 192.0.2.5;\n", 41),
		     0);
	snprintf(path, sizeof(path), "%s/2", dir);
	cr_assert_eq(rf_write_file_atomic(path, "SERVER_ADDRESS=192.0.2.6\n", 25), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(dirs, sizeof(dirs), "/nonexistent-rf:%s", dir);
	cr_assert_eq(rf_dhcp_lease_dirs(dirs, out, &n, 8), 2);
	cr_assert(has(out, n, "192.0.2.5") && has(out, n, "192.0.2.6"));
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dhclient.eth0.leases", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/2", dir);
	unlink(path);
	rmdir(dir);
}

Test(dhcp, config_dhcp_server_lines)
{
	struct rf_conf c;
	char err[RF_ERR_MAX] = "";

	cr_assert_eq(rf_conf_parse("dhcp-server 192.0.2.67\ndhcp-server 2001:db8::547\n", "t.conf",
				   &c, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c.ndhcp_servers, 2);
	cr_assert(has(c.dhcp_servers, 2, "192.0.2.67") && has(c.dhcp_servers, 2, "2001:db8::547"));
	rf_conf_free(&c);
	cr_assert_neq(rf_conf_parse("dhcp-server 192.0.2.0/24\n", "t.conf", &c, err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "t.conf:1") && strstr(err, "dhcp-server"), "%s", err);
	rf_conf_free(&c);
	cr_assert_neq(rf_conf_parse("dhcp-server\n", "t.conf", &c, err, sizeof(err)), 0);
	rf_conf_free(&c);
}

static int peer(__u16 lport, const char *remote, const char *local, int ingress)
{
	struct rf_addr_key r = key(remote), l = key(local);

	return rf_dhcp_peer(lport, r.addr, l.addr, ingress);
}

Test(dhcp, builtin_destination_check)
{
	/* DHCPv4 out: broadcast, or a known server */
	cr_assert_eq(peer(68, "255.255.255.255", "0.0.0.0", 0), RF_DHCP_ALLOW);
	cr_assert_eq(peer(68, "203.0.113.9", "192.0.2.1", 0), RF_DHCP_IF_KNOWN);
	cr_assert_eq(peer(68, "192.0.2.255", "192.0.2.1", 0), RF_DHCP_IF_KNOWN);
	/* DHCPv4 in: to broadcast, or from a known server */
	cr_assert_eq(peer(68, "203.0.113.9", "255.255.255.255", 1), RF_DHCP_ALLOW);
	cr_assert_eq(peer(68, "203.0.113.9", "192.0.2.1", 1), RF_DHCP_IF_KNOWN);
	/* DHCPv6 out: the two server groups, or a known server */
	cr_assert_eq(peer(546, "ff02::1:2", "fe80::1", 0), RF_DHCP_ALLOW);
	cr_assert_eq(peer(546, "ff05::1:3", "2001:db8::1", 0), RF_DHCP_ALLOW);
	cr_assert_eq(peer(546, "ff02::1", "fe80::1", 0), RF_DHCP_IF_KNOWN);
	cr_assert_eq(peer(546, "ff0e::1:3", "fe80::1", 0), RF_DHCP_IF_KNOWN);
	cr_assert_eq(peer(546, "2001:db8:ffff::547", "2001:db8::1", 0), RF_DHCP_IF_KNOWN);
	cr_assert_eq(peer(546, "fe80::2", "fe80::1", 0), RF_DHCP_IF_KNOWN);
	/* DHCPv6 in: from link-local (on-link server or relay), to a group, or a known server */
	cr_assert_eq(peer(546, "fe80::2", "fe80::1", 1), RF_DHCP_ALLOW);
	cr_assert_eq(peer(546, "2001:db8:ffff::547", "ff02::1:2", 1), RF_DHCP_ALLOW);
	cr_assert_eq(peer(546, "2001:db8:ffff::547", "2001:db8::1", 1), RF_DHCP_IF_KNOWN);
}

static int nd(__u8 type, __u8 hops, const char *src, const char *dst, int ingress)
{
	struct rf_addr_key s = key(src), d = key(dst);

	return rf_nd_check(type, 0, hops, s.addr, d.addr, ingress);
}

Test(dhcp, nd_shape_check)
{
	cr_assert_eq(nd(135, 255, "2001:db8::1", "ff02::1:ff00:2", 0), RF_ND_ALLOW);
	cr_assert_eq(nd(135, 254, "2001:db8::1", "ff02::1:ff00:2", 0), RF_ND_DENY);
	cr_assert_eq(nd(135, 255, "2001:db8::1", "2001:db8::2", 0), RF_ND_IF_ONLINK);
	cr_assert_eq(nd(136, 255, "2001:db8::1", "2001:db8:ffff::9", 0), RF_ND_IF_ONLINK);
	cr_assert_eq(nd(133, 255, "fe80::1", "2001:db8::2", 0), RF_ND_DENY);
	cr_assert_eq(nd(136, 255, "2001:db8::2", "2001:db8::1", 1), RF_ND_ALLOW);
	cr_assert_eq(nd(136, 64, "2001:db8::2", "2001:db8::1", 1), RF_ND_DENY);
	cr_assert_eq(nd(134, 255, "2001:db8::2", "ff02::1", 1), RF_ND_DENY);
	cr_assert_eq(nd(134, 255, "fe80::2", "ff02::1", 1), RF_ND_ALLOW);
	cr_assert_eq(nd(143, 1, "fe80::1", "ff02::16", 0), RF_ND_ALLOW);
	cr_assert_eq(nd(143, 1, "::", "ff02::16", 0), RF_ND_ALLOW);
	cr_assert_eq(nd(143, 2, "fe80::1", "ff02::16", 0), RF_ND_DENY);
	cr_assert_eq(nd(131, 1, "fe80::1", "2001:db8::2", 0), RF_ND_DENY);
	cr_assert_eq(nd(128, 255, "fe80::1", "ff02::1", 0), RF_ND_DENY);
	cr_assert_eq(rf_nd_check(135, 1, 255, key("fe80::1").addr, key("ff02::1").addr, 0),
		     RF_ND_DENY);
}
