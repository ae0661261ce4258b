// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rf_dhcp.h"
#include "rf_util.h"

static int dhcp_sync(int map_fd, const struct rf_conf *c, bool frozen);

/* "192.0.2.1" or "2001:db8::1" -> key (IPv4 mapped). 0 or -EINVAL. */
static int addr_key(const char *s, struct rf_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, k->addr + 12) == 1) {
		k->addr[10] = k->addr[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, s, k->addr) == 1 ? 0 : -EINVAL;
}

static size_t add_key(const struct rf_addr_key *k, struct rf_addr_key *out, size_t *n, size_t max)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!memcmp(&out[i], k, sizeof(*k)))
			return 0;
	if (*n >= max)
		return 0;
	out[(*n)++] = *k;
	return 1;
}

/* Copy the address that starts at p (up to ';', a quote or a blank) into buf. */
static void take_word(const char *p, char *buf, size_t len)
{
	size_t i = 0;

	while (*p == ' ' || *p == '\t' || *p == '"')
		p++;
	while (p[i] && i + 1 < len && !strchr(" \t;\"\r\n", p[i])) {
		buf[i] = p[i];
		i++;
	}
	buf[i] = '\0';
}

size_t rf_dhcp_lease_servers(const char *text, struct rf_addr_key *out, size_t *n, size_t max)
{
	static const char *const keys[] = {"option dhcp-server-identifier ", "SERVER_ADDRESS="};
	const char *line = text;
	size_t added = 0, i;

	while (line && *line) {
		const char *p = line;
		char word[INET6_ADDRSTRLEN + 1];
		struct rf_addr_key k;

		while (*p == ' ' || *p == '\t')
			p++;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strncmp(p, keys[i], strlen(keys[i])))
				continue;
			take_word(p + strlen(keys[i]), word, sizeof(word));
			if (!addr_key(word, &k))
				added += add_key(&k, out, n, max);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return added;
}

size_t rf_dhcp_lease_dirs(const char *dirs, struct rf_addr_key *out, size_t *n, size_t max)
{
	char *copy = strdup(dirs ? dirs : ""), *dir, *save = NULL;
	size_t added = 0;

	if (!copy)
		return 0;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			char path[PATH_MAX], *text = NULL;
			struct stat st;
			size_t len;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			/* lease files are small: skip anything else a directory may hold */
			if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size > 1 << 20)
				continue;
			if (!rf_read_file(path, &text, &len)) {
				added += rf_dhcp_lease_servers(text, out, n, max);
				free(text);
			}
		}
		closedir(d);
	}
	free(copy);
	return added;
}

int rf_dhcp_apply(const char *pin_dir, const struct rf_conf *c, bool frozen)
{
	char path[PATH_MAX];
	int map_fd, ret;

	snprintf(path, sizeof(path), "%s/rf_dhcp_server", pin_dir);
	map_fd = bpf_obj_get(path);
	if (map_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = dhcp_sync(map_fd, c, frozen);
	close(map_fd);
	return ret;
}

/* The servers wanted in the map (want[0..n), each with its origin flags). */
struct dhcp_want {
	struct rf_addr_key key[RF_MAX_DHCP_SERVERS];
	__u32 flags[RF_MAX_DHCP_SERVERS];
	size_t n;
};

static void want_add(struct dhcp_want *w, const struct rf_addr_key *k, __u32 flags)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (!memcmp(&w->key[i], k, sizeof(*k)))
			break;
	if (i == w->n) {
		if (w->n == RF_MAX_DHCP_SERVERS)
			return;
		w->key[w->n] = *k;
		w->flags[w->n++] = 0;
	}
	w->flags[i] |= flags;
}

/* While isolated: the servers in the map that no "dhcp-server" line put there stay. */
static void want_frozen(int map_fd, struct dhcp_want *w)
{
	struct rf_addr_key cur, next;
	struct rf_allow_val v;
	int more;

	for (more = !bpf_map_get_next_key(map_fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(map_fd, &cur, &next)) {
		cur = next;
		if (!bpf_map_lookup_elem(map_fd, &cur, &v) &&
		    (v.flags & RF_DHCP_SERVER_LEASE || !(v.flags & RF_DHCP_SERVER_CONFIG)))
			want_add(w, &cur,
				 v.flags & RF_DHCP_SERVER_LEASE ? RF_DHCP_SERVER_LEASE : 0);
	}
}

static int dhcp_sync(int map_fd, const struct rf_conf *c, bool frozen)
{
	struct rf_addr_key cur, next, stale[RF_MAX_DHCP_SERVERS], leases[RF_MAX_DHCP_SERVERS];
	const char *dirs = getenv("RINGFENCE_DHCP_LEASES");
	static struct dhcp_want w;
	size_t nstale = 0, nleases = 0, i;
	int ret = 0, more;

	w.n = 0;
	for (i = 0; i < c->ndhcp_servers; i++)
		want_add(&w, &c->dhcp_servers[i], RF_DHCP_SERVER_CONFIG);
	if (frozen) {
		want_frozen(map_fd, &w);
	} else {
		rf_dhcp_lease_dirs(dirs ? dirs : RF_DHCP_LEASE_DIRS, leases, &nleases,
				   RF_MAX_DHCP_SERVERS);
		for (i = 0; i < nleases; i++)
			want_add(&w, &leases[i], RF_DHCP_SERVER_LEASE);
	}
	for (i = 0; i < w.n; i++) {
		struct rf_allow_val v = {.flags = w.flags[i]};

		if (bpf_map_update_elem(map_fd, &w.key[i], &v, BPF_ANY))
			ret = -errno;
	}
	/* then drop the servers nothing names any more */
	for (more = !bpf_map_get_next_key(map_fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(map_fd, &cur, &next)) {
		cur = next;
		for (i = 0; i < w.n && memcmp(&w.key[i], &cur, sizeof(cur)); i++)
			;
		if (i == w.n && nstale < RF_MAX_DHCP_SERVERS)
			stale[nstale++] = cur;
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(map_fd, &stale[i]);
	return ret;
}
