/* SPDX-License-Identifier: GPL-2.0-only */
/* Loading, attaching and pinning the BPF object; the state of its links. */
#ifndef RF_LOADER_H
#define RF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include "ringfence.h"
#include "rf_maps.h"
#include "rf_tc.h"

#define RF_PIN_DIR_DEFAULT "/sys/fs/bpf/ringfence"
#define RF_BPFFS_DEFAULT   "/sys/fs/bpf"

enum rf_attach_kind {
	RF_ATTACH_CGROUP, /* a cgroup program; its link is pinned */
	RF_ATTACH_TC,	  /* the tc program; the program is pinned and attached per interface */
	RF_ATTACH_SHARED, /* counted on its own, runs in the tc program: nothing to attach */
};

/* One per enum rf_hook, generated from RF_HOOK_LIST. */
struct rf_hook_desc {
	const char *prog;  /* program name in the object */
	const char *pin;   /* file name under the pin dir: the link, or the tc program */
	const char *label; /* user-facing hook name */
	enum rf_attach_kind kind;
};
extern const struct rf_hook_desc rf_hooks[RF_HOOK_MAX];

/* Does this kernel run the hook? (false for setsockopt where its helpers are not allowed) */
bool rf_hook_available(enum rf_hook hook);

/* The user-facing name of a hook value from the kernel ("unknown" when out of range). */
const char *rf_hook_name(unsigned int hook);

struct rf_link_state {
	bool attached;	 /* pin present and the link is attached */
	__u64 cgroup_id; /* where it is attached */
	__u32 prog_id;
};

/* Check the kernel can run ringfence: BTF (the kernel's, or the file btf if not NULL), ring
 * buffer, sk storage, bpf_get_current_task() in cgroup progs. Returns 0 or -errno with a
 * message in err naming what is missing and how to fix it. */
int rf_probe_kernel(const char *btf, char *err, size_t errlen);

/*
 * Check pin_dir lives on a mounted bpffs (its parent if it does not exist yet). When it is below
 * /sys/fs/bpf and nothing is mounted there, mount bpffs there first, as systemd and bpftool do.
 */
int rf_check_bpffs(const char *pin_dir, char *err, size_t errlen);

struct rf_load_opts {
	const char *pin_dir;
	const char *cgroup_dir; /* the cgroup to attach to */
	__u64 cgroup_id;
	bool verbose; /* libbpf and verifier messages on stderr */
	/* a BTF file describing the running kernel for CO-RE (kernels without
	 * /sys/kernel/btf/vmlinux), NULL for the kernel's own */
	const char *btf;
	/* out, optional: the ABI version of older pins this load upgraded in place (or tried
	 * to: see the error), 0 when there was nothing to upgrade */
	__u32 *upgraded_from;
	/* out, optional: the attached links ran an earlier build's programs (same ABI) and now
	 * run this build's, swapped in place */
	bool *programs_replaced;
	/* out, optional: with *programs_replaced, the build they ran (zero: from before rf_build)
	 */
	struct rf_build *replaced_build;
	/*
	 * A target other than the home: its hash maps allocate on insert (BPF_F_NO_PREALLOC) and
	 * its event ring buffer is RF_EVENTS_RINGBUF_SIZE_TARGET, so dozens of container targets
	 * cost kilobytes, not a megabyte each.
	 */
	bool lean;
	/*
	 * out, optional: pins under ringfence's map names that were not ringfence's (another type
	 * or layout), renamed to NAME_foreign_<unix time> so that the load could go on: "PATH ->
	 * NEWPATH; ...", "" when there were none.
	 */
	char *foreign;
	size_t foreign_len;
};

/* Load, attach to the cgroup and pin everything that is not already pinned and attached.
 * Existing pinned maps are reused (their contents survive). Links attached to another cgroup
 * are an error (-EBUSY) naming that cgroup.
 * Pins of an older ABI are upgraded in place without a moment unenforced: maps of unchanged
 * layout are reused, new ones created, ABI 1's exe rules copied (any generation), the program
 * inside each pinned link swapped (bpf_link_update), new hooks attached, the ABI version
 * written, the obsolete pins removed (docs/ABI.md "Upgrading"). Pins of a newer ABI are an
 * error (-EPROTO) and left untouched. Links of the same ABI that run an earlier build's programs
 * (rf_build) get this build's the same way (bpf_link_update); a later build's are kept. */
int rf_load(const struct rf_load_opts *o, char *err, size_t errlen);

/* This build's identity (include/ringfence.h, struct rf_build). */
void rf_this_build(struct rf_build *b);
/* The build recorded in the pinned rf_build: 0, or -ENOENT when there is none (nothing loaded,
 * or loaded by a build from before rf_build). */
int rf_pinned_build(const char *pin_dir, struct rf_build *b);
/*
 * The programs the links under pin_dir run, against this build's (the one rule the loader and
 * status share): < 0 an earlier build's, or one from before rf_build (the next load replaces
 * them); 0 this build's; > 0 a later build's, or a record that cannot be read (kept).
 * *pinned gets the record (zero when there is none).
 */
int rf_build_cmp(const char *pin_dir, struct rf_build *pinned);

/* Detach and unpin every link, unpin every map and program under pin_dir. */
int rf_unload(const char *pin_dir);

/* rf_config as pinned under pin_dir (whatever the ABI of the other pins); 0 or -errno. */
int rf_pinned_config(const char *pin_dir, struct rf_config *cfg);

/* Is anything pinned under pin_dir? */
bool rf_pins_present(const char *pin_dir);

/* State of each hook's link (array of RF_HOOK_MAX; only cgroup hooks are filled). */
void rf_links_state(const char *pin_dir, struct rf_link_state *st);

/* Path of a hook's pin (link or program) under pin_dir. */
void rf_hook_pin_path(char *buf, size_t len, const char *pin_dir, enum rf_hook hook);

/*
 * What a long-running holder (the agent) keeps open so that isolation does not depend on the
 * pins: a pinned link whose pin goes away (bpffs unmounted, the pin removed) loses its last
 * reference and detaches within milliseconds, unless someone else holds it. The links hold their
 * programs and those their maps; the tc program and rf_build (used by no program) are held too.
 */
struct rf_held {
	int fd[RF_HOOK_MAX]; /* the link of each cgroup hook, the tc program; -1: none */
	int build;	     /* rf_build */
};
void rf_held_init(struct rf_held *h);
/* Open (hold) what is pinned under pin_dir now, after closing what h held. 0 or -errno. */
int rf_hold(const char *pin_dir, struct rf_held *h);
void rf_held_close(struct rf_held *h);
/* Has a held object that still enforces (a link still attached, the tc program) lost its pin? */
bool rf_held_unpinned(const char *pin_dir, const struct rf_held *h);
/*
 * Pin the held objects again where their pins are missing: the links that are still attached,
 * the maps their programs use (by name), the tc program and rf_build. pin_dir must be on a
 * bpffs (/sys/fs/bpf is mounted again if it is the one that is missing). Returns how many pins
 * were made, or -errno with err set (e.g. no bpffs there yet: try again later).
 */
int rf_repin(const char *pin_dir, const struct rf_held *h, char *err, size_t errlen);

#endif /* RF_LOADER_H */
