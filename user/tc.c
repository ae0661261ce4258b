// SPDX-License-Identifier: GPL-2.0-only
/* The packet-socket guard's tc egress filters, through libbpf's netlink helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_tc.h"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void tc_hook_for(struct bpf_tc_hook *h, int ifindex)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = BPF_TC_EGRESS;
}

/* Is our filter on this interface's egress? */
static bool tc_present(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO);
	libbpf_print_fn_t old = libbpf_set_print(quiet_print); /* "no qdisc" is an answer here */
	struct bpf_tc_hook h;
	int ret;

	tc_hook_for(&h, ifindex);
	ret = bpf_tc_query(&h, &o);
	libbpf_set_print(old);
	return ret == 0;
}

static void append_name(char *names, size_t nameslen, const char *name)
{
	if (names && strlen(names) + strlen(name) + 2 < nameslen) {
		strcat(names, names[0] ? " " : "");
		strcat(names, name);
	}
}

static int attach_one(int ifindex, int prog)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO,
			    .prog_fd = prog, .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t old_print;
	struct bpf_tc_hook h;
	int err;

	tc_hook_for(&h, ifindex);
	/*
	 * An existing clsact qdisc is fine (libbpf would log "Exclusivity flag on"). It is left in
	 * place on detach: other tools' filters may hang off it, and an empty clsact costs nothing.
	 */
	old_print = libbpf_set_print(quiet_print);
	err = bpf_tc_hook_create(&h);
	libbpf_set_print(old_print);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&h, &o);
}

int rf_tc_attach_all(const char *prog_pin, char *names, size_t nameslen)
{
	struct if_nameindex *ifs, *i;
	int prog, n = 0, ret = 0;

	if (names && nameslen)
		names[0] = '\0';
	prog = bpf_obj_get(prog_pin);
	if (prog < 0)
		return -errno;
	ifs = if_nameindex();
	if (!ifs) {
		ret = -errno;
		close(prog);
		return ret;
	}
	for (i = ifs; i->if_index; i++) {
		int err;

		if (!strcmp(i->if_name, "lo") || tc_present((int)i->if_index))
			continue;
		err = attach_one((int)i->if_index, prog);
		if (err) {
			ret = err;
			continue;
		}
		n++;
		append_name(names, nameslen, i->if_name);
	}
	if_freenameindex(ifs);
	close(prog);
	return ret ? ret : n;
}

void rf_tc_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO);
		struct bpf_tc_hook h;

		if (!tc_present((int)i->if_index))
			continue;
		tc_hook_for(&h, (int)i->if_index);
		bpf_tc_detach(&h, &o);
	}
	if_freenameindex(ifs);
}

int rf_tc_for_each(void (*fn)(const char *ifname, void *arg), void *arg)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		if (!tc_present((int)i->if_index))
			continue;
		n++;
		if (fn)
			fn(i->if_name, arg);
	}
	if_freenameindex(ifs);
	return n;
}
