// SPDX-License-Identifier: GPL-2.0-only
/*
 * --btf FILE / config 'btf FILE': the BTF libbpf relocates the programs against, for kernels
 * without /sys/kernel/btf/vmlinux. The same binary on the same kernel fails to load with a file
 * that is not BTF and loads with a copy of the kernel's BTF (so the file is what libbpf used),
 * a missing file is named, --btf wins over the config, and the programs relocated against the
 * copy enforce: IPv4 and IPv6, allowed port open, other port EPERM with nothing received.
 * On a kernel without BTF the copy is of $RINGFENCE_BTF (make test-kernels makes one).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_ALLOWED 8601
#define PORT_OTHER   8602

TestSuite(btf, .init = rft_setup, .fini = rft_teardown, .timeout = 120);

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1, "write %s", path);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	cr_assert_geq(in, 0, "open %s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(out, 0, "open %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	cr_assert_eq(n, 0);
	close(in);
	close(out);
}

static bool attached(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/rf_link_connect4", rft.pin_dir);
	return access(path, F_OK) == 0;
}

/* The CLI with up to 4 arguments (the rest NULL); asserts exit status want and that stderr
 * names `names`. */
static void load_expect(int want, const char *names, const char *a1, const char *a2, const char *a3,
			const char *a4)
{
	/* an inherited RINGFENCE_BTF would hide the config's btf */
	char *const env[] = {"RINGFENCE_BTF=", NULL};
	char *args[] = {(char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
	char *err = NULL;
	int st = rft_cli_argv(env, args, NULL, &err);

	cr_assert_eq(st, want, "%s %s %s %s: exit %d, want %d: %s", a1, a2 ? a2 : "", a3 ? a3 : "",
		     a4 ? a4 : "", st, want, err ? err : "");
	if (names)
		cr_expect(err && strstr(err, names), "'%s' should say '%s'", err ? err : "", names);
	free(err);
}

Test(btf, custom_file_is_the_one_libbpf_uses)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	const char *kernel_btf = getenv("RINGFENCE_BTF");
	char bogus[400], copy[400], missing[400], conf[500];
	struct rft_server srv;

	snprintf(bogus, sizeof(bogus), "%s/bogus.btf", rft.state_dir);
	snprintf(copy, sizeof(copy), "%s/vmlinux.btf", rft.state_dir);
	snprintf(missing, sizeof(missing), "%s/missing.btf", rft.state_dir);
	write_text(bogus, "this is not BTF\n");
	copy_file(kernel_btf && *kernel_btf ? kernel_btf : "/sys/kernel/btf/vmlinux", copy);

	load_expect(1, missing, "--btf", missing, "load", NULL);
	cr_expect(!attached(), "a load with a missing BTF file attached programs");
	/* libbpf parses the file for CO-RE: garbage makes the load fail, naming the file */
	load_expect(1, "failed to parse target BTF", "-v", "--btf", bogus, "load");
	cr_expect(!attached(), "a load with a bogus BTF file attached programs");
	load_expect(1, bogus, "--btf", bogus, "load", NULL);
	/* the config's btf is used too, and --btf wins over it */
	snprintf(conf, sizeof(conf), "dns off\npacket-guard off\nbtf %s\n", bogus);
	write_text(rft.config, conf);
	load_expect(1, bogus, "load", NULL, NULL, NULL);
	cr_expect(!attached(), "a load with the config's bogus BTF file attached programs");
	load_expect(0, NULL, "--btf", copy, "load", NULL);
	cr_assert(attached(), "loaded with a copy of the kernel BTF but nothing is attached");

	/* the programs relocated against the copy enforce */
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	rft_cli_ok(0, "--btf", copy, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port",
		   "8601", "dir", "out", NULL);
	rft_cli_ok(0, "--btf", copy, "allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port",
		   "8601", "dir", "out", NULL);
	rft_cli_ok(0, "--btf", copy, "isolate", "--force", NULL);
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "relocated against the copy");
	rft_cli_ok(0, "--btf", copy, "release", NULL);
	rft_server_stop(&srv);
}

/*
 * The CLI with --btf FILE and the arguments given, as on a kernel without BTF of its own: in a
 * child with a private mount namespace where a tmpfs hides /sys/kernel/btf (a kernel that has
 * none already needs no hiding). Returns the exit status; stderr goes to the test's log.
 */
static int cli_without_kernel_btf(const char *btf, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 3], *err = NULL; /* --btf FILE and rft_cli_args()'s */
	char *const env[] = {"RINGFENCE_BTF=", NULL};
	va_list ap;
	int st = -1;
	pid_t pid;

	args[0] = "--btf";
	args[1] = (char *)btf;
	va_start(ap, btf);
	rft_cli_args(args + 2, va_arg(ap, const char *), &ap);
	va_end(ap);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(125);
		if (!access("/sys/kernel/btf/vmlinux", F_OK) &&
		    (mount("none", "/sys/kernel/btf", "tmpfs", 0, "size=64k") ||
		     !access("/sys/kernel/btf/vmlinux", F_OK)))
			_exit(126);
		st = rft_cli_argv(env, args, NULL, &err);
		if (st)
			fprintf(stderr, "ringfence %s: exit %d: %s\n", args[2], st, err ? err : "");
		_exit(st < 0 || st > 124 ? 124 : st);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_lt(WEXITSTATUS(st), 125, "could not hide /sys/kernel/btf (%d)", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

/*
 * A kernel without BTF of its own (boards): libbpf needs the running kernel's BTF for any kfunc,
 * even a weak one never called, and a --btf file does not stand in for it, so the loader takes
 * the same programs built without the kfunc there. They load from the --btf file and enforce,
 * IPv4 and IPv6: allowed port open, other port EPERM with nothing received.
 */
Test(btf, loads_and_enforces_where_the_kernel_has_no_btf)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	const char *kernel_btf = getenv("RINGFENCE_BTF");
	char copy[400];
	struct rft_server srv;

	snprintf(copy, sizeof(copy), "%s/vmlinux.btf", rft.state_dir);
	copy_file(kernel_btf && *kernel_btf ? kernel_btf : "/sys/kernel/btf/vmlinux", copy);
	cr_assert_eq(cli_without_kernel_btf(copy, "load", NULL), 0,
		     "no load without the kernel's BTF (see the log)");
	cr_assert(attached());
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	cr_assert_eq(cli_without_kernel_btf(copy, "allow", "add", "net", RFT_PEER_IP4, "proto",
					    "tcp", "port", "8601", NULL),
		     0);
	cr_assert_eq(cli_without_kernel_btf(copy, "allow", "add", "net", RFT_PEER_IP6, "proto",
					    "tcp", "port", "8601", NULL),
		     0);
	cr_assert_eq(cli_without_kernel_btf(copy, "isolate", "--force", NULL), 0);
	rfp_expect_tcp_ports(&srv, PORT_ALLOWED, PORT_OTHER, "without the kernel's BTF");
	cr_assert_eq(cli_without_kernel_btf(copy, "release", NULL), 0);
	rft_server_stop(&srv);
}
