// SPDX-License-Identifier: GPL-2.0-only
/* Process-level kernel-test helpers; contracts in rf_proc.h. */
#include <errno.h>
#include <grp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

/* Before execve in a child: PATH and the loader path only (nothing of Criterion's sandbox). */
static void minimal_env(void)
{
	const char *ld = getenv("LD_LIBRARY_PATH");
	char *keep = ld ? strdup(ld) : NULL;

	clearenv();
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	if (keep)
		setenv("LD_LIBRARY_PATH", keep, 1);
	free(keep);
}

/* ---- helper modes (run before Criterion's main) ------------------------------------------ */

static int helper_client(int argc, char **argv)
{
	enum rft_proto proto;
	struct rft_result r;

	if (argc < 6)
		return RFT_ERROR;
	if (argc > 6 && argv[6][0])
		prctl(PR_SET_NAME, argv[6]);
	proto = !strcmp(argv[2], "tcp")	  ? RFT_TCP
		: !strcmp(argv[2], "udp") ? RFT_UDP
					  : RFT_UDP_CONNECTED;
	r = rft_client(strcmp(argv[0], "-") ? argv[0] : NULL, NULL,
		       argv[1][0] == '6' ? AF_INET6 : AF_INET, proto, argv[3],
		       (unsigned short)atoi(argv[4]), atoi(argv[5]));
	return r.outcome;
}

/* client-as UID ...: the client run as user UID (real, effective and saved; no groups). */
static int helper_client_as(int argc, char **argv)
{
	uid_t uid;

	if (argc < 1)
		return RFT_ERROR;
	uid = (uid_t)atoi(argv[0]);
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return RFT_ERROR;
	return helper_client(argc - 1, argv + 1);
}

static int helper_forkexec(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 1)
		return 125;
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		minimal_env();
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 125;
	return WEXITSTATUS(status);
}

static int helper_echo_server(int argc, char **argv)
{
	unsigned short port;
	struct pollfd p[64];
	char buf[4096];
	int n = 2, i;

	if (argc < 1)
		return 1;
	port = (unsigned short)atoi(argv[0]);
	p[0] = (struct pollfd){.fd = rft_listen(AF_INET, SOCK_STREAM, port), .events = POLLIN};
	p[1] = (struct pollfd){.fd = rft_listen(AF_INET6, SOCK_STREAM, port), .events = POLLIN};
	if (p[0].fd < 0 || p[1].fd < 0 || write(1, "R", 1) != 1)
		return 1;
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		for (i = 0; i < n; i++) {
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (i < 2) {
				int c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);

				if (c < 0)
					continue;
				if (n == 64 || write(1, "A", 1) != 1) {
					close(c);
					continue;
				}
				p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
				continue;
			}
			r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
				continue;
			}
			if (send(p[i].fd, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
				/* the client notices */
			}
		}
	}
}

static int helper_conn(int argc, char **argv)
{
	char payload[RFT_PAYLOAD_LEN], c;
	int fd;

	if (argc < 3)
		return 1;
	fd = rft_connect(argv[0][0] == '6' ? AF_INET6 : AF_INET, RFT_TCP, argv[1],
			 (unsigned short)atoi(argv[2]), 2000);
	if (write(1, fd < 0 ? "E" : "R", 1) != 1 || fd < 0)
		return 1;
	memset(payload, 'p', sizeof(payload));
	while (read(0, &c, 1) == 1) {
		unsigned char got = 0;
		int n;

		if (send(fd, payload, sizeof(payload), MSG_NOSIGNAL) == (ssize_t)sizeof(payload)) {
			n = rft_recv_upto(fd, RFT_PAYLOAD_LEN, rft_now_ms() + 1000);
			got = (unsigned char)(n > 0 ? n : 0);
		}
		if (write(1, &got, 1) != 1)
			break;
	}
	return 0;
}

/* glibc passes (argc, argv, envp) to ELF constructors; priority 101 runs before Criterion's. */
__attribute__((constructor(101))) static void rfp_helper_main(int argc, char **argv)
{
	int ret = 127;

	if (argc < 3 || strcmp(argv[1], RFP_HELPER_ARG))
		return;
	rft_child_init();
	if (!strcmp(argv[2], "client"))
		ret = helper_client(argc - 3, argv + 3);
	else if (!strcmp(argv[2], "client-as"))
		ret = helper_client_as(argc - 3, argv + 3);
	else if (!strcmp(argv[2], "forkexec"))
		ret = helper_forkexec(argc - 3, argv + 3);
	else if (!strcmp(argv[2], "echo-server"))
		ret = helper_echo_server(argc - 3, argv + 3);
	else if (!strcmp(argv[2], "conn"))
		ret = helper_conn(argc - 3, argv + 3);
	_exit(ret);
}

/* ---- cgroups and files ------------------------------------------------------------------ */

int rfp_cgroup_child(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", rft.cg, rel);
	return rft_cgroup_create(buf);
}

int rfp_copy_self(const char *name, char *buf, size_t len)
{
	char chunk[65536];
	int in, out, ret = 0;
	ssize_t n;

	snprintf(buf, len, "%s/%s", rft.state_dir, name);
	in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	while ((n = read(in, chunk, sizeof(chunk))) > 0) {
		if (write(out, chunk, (size_t)n) != n) {
			ret = -EIO;
			break;
		}
	}
	if (n < 0)
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	return ret;
}

/* ---- spawning ---------------------------------------------------------------------------- */

pid_t rfp_spawn(const char *netns, const char *cgroup, char *const argv[], int *in_fd, int *out_fd)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, ctl, i;
	pid_t pid;

	if ((in_fd && pipe2(in, O_CLOEXEC)) || (out_fd && pipe2(out, O_CLOEXEC))) {
		pid = -errno;
		goto close_pipes;
	}
	pid = rft_fork_in(netns, cgroup, &ctl);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(in_fd ? in[0] : devnull, 0);
		dup2(out_fd ? out[1] : devnull, 1);
		dup2(devnull, 2);
		minimal_env();
		execv(argv[0], argv); /* closes ctl (O_CLOEXEC) */
		_exit(127);
	}
	if (pid > 0) {
		close(ctl);
		if (in_fd) {
			*in_fd = in[1];
			in[1] = -1;
		}
		if (out_fd) {
			*out_fd = out[0];
			out[0] = -1;
		}
	}
close_pipes:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return pid;
}

int rfp_wait(pid_t pid, int timeout_ms)
{
	long deadline = rft_now_ms() + timeout_ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (rft_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			rft_untrack_child(pid);
			return -1;
		}
		rft_msleep(5);
	}
	rft_untrack_child(pid);
	if (r != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void rfp_kill(pid_t pid)
{
	rft_kill_child(pid);
}

enum rft_outcome rfp_exe_client(const char *exe, const char *cgroup, int family,
				enum rft_proto proto, const char *addr, unsigned short port,
				const char *comm)
{
	char portbuf[8];
	char *argv[] = {
	    (char *)exe,
	    RFP_HELPER_ARG,
	    "client",
	    rft.dev_ns,
	    family == AF_INET6 ? "6" : "4",
	    proto == RFT_TCP   ? "tcp"
	    : proto == RFT_UDP ? "udp"
			       : "udpc",
	    (char *)addr,
	    portbuf,
	    "1500",
	    (char *)(comm ? comm : ""),
	    NULL,
	};
	pid_t pid;
	int st;

	snprintf(portbuf, sizeof(portbuf), "%u", port);
	pid = rfp_spawn(rft.dev_ns, cgroup, argv, NULL, NULL);
	if (pid < 0)
		return RFT_ERROR;
	st = rfp_wait(pid, 10000);
	return st >= RFT_OK && st <= RFT_ERROR ? (enum rft_outcome)st : RFT_ERROR;
}

int rfp_read_byte(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	unsigned char c;

	if (poll(&p, 1, timeout_ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

void rfp_exe_conn_open(struct rfp_exe_conn *c, const char *exe, int family, unsigned short port)
{
	char portbuf[8];
	char *argv[] = {(char *)exe,
			RFP_HELPER_ARG,
			"conn",
			family == AF_INET6 ? "6" : "4",
			family == AF_INET6 ? RFT_PEER_IP6 : RFT_PEER_IP4,
			portbuf,
			NULL};

	snprintf(portbuf, sizeof(portbuf), "%u", port);
	c->pid = rfp_spawn(rft.dev_ns, rft.cg, argv, &c->in, &c->out);
	cr_assert_gt(c->pid, 0);
	cr_assert_eq(rfp_read_byte(c->out, 5000), 'R', "%s: connection to port %u failed", exe,
		     port);
}

int rfp_exe_conn_echo(struct rfp_exe_conn *c)
{
	if (write(c->in, "S", 1) != 1)
		return -1;
	return rfp_read_byte(c->out, 5000);
}

void rfp_exe_conn_close(struct rfp_exe_conn *c)
{
	close(c->in);
	close(c->out);
	rfp_kill(c->pid);
}

/* ---- workers ----------------------------------------------------------------------------- */

int rfp_worker_start_res(struct rfp_worker *w, const char *netns, const char *cgroup, rfp_res_fn fn,
			 void *arg, void *res, size_t len)
{
	pid_t pid = rft_fork_in(netns, cgroup, &w->ctl);
	int cmd;

	w->pid = -1;
	w->len = len;
	if (pid < 0)
		return pid;
	if (pid == 0) {
		/* res is the child's copy of the caller's buffer */
		fn(0, arg, res);
		while (write(w->ctl, res, len) == (ssize_t)len &&
		       read(w->ctl, &cmd, sizeof(cmd)) == sizeof(cmd))
			fn(cmd, arg, res);
		_exit(0);
	}
	w->pid = pid;
	if (read(w->ctl, res, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

int rfp_worker_call_res(struct rfp_worker *w, int cmd, void *res)
{
	if (w->ctl < 0 || write(w->ctl, &cmd, sizeof(cmd)) != sizeof(cmd) ||
	    read(w->ctl, res, w->len) != (ssize_t)w->len)
		return -EIO;
	return 0;
}

struct int_call {
	rfp_fn fn;
	void *arg;
};

static void int_result(int cmd, void *arg, void *res)
{
	const struct int_call *c = arg;

	*(int *)res = c->fn(cmd, c->arg);
}

int rfp_worker_start(struct rfp_worker *w, const char *netns, const char *cgroup, rfp_fn fn,
		     void *arg)
{
	struct int_call c = {fn, arg}; /* lives on in the worker, which never returns from here */
	int ret, err = rfp_worker_start_res(w, netns, cgroup, int_result, &c, &ret, sizeof(ret));

	return err ? err : ret;
}

int rfp_worker_call(struct rfp_worker *w, int cmd)
{
	int ret;

	return rfp_worker_call_res(w, cmd, &ret) ? -EIO : ret;
}

void rfp_worker_stop(struct rfp_worker *w)
{
	rft_child_close(&w->pid, &w->ctl);
}

int rfp_run_in(const char *netns, const char *cgroup, rfp_fn fn, void *arg)
{
	struct rfp_worker w;
	int ret = rfp_worker_start(&w, netns, cgroup, fn, arg);

	rfp_worker_stop(&w);
	return ret;
}

struct sysctl_arg {
	const char *path;
	const char *value;
};

static int write_sysctl(int cmd, void *arg)
{
	const struct sysctl_arg *a = arg;
	char p[PATH_MAX];
	int fd, ret = 0;
	ssize_t len = (ssize_t)strlen(a->value);

	(void)cmd;
	snprintf(p, sizeof(p), "/proc/sys/%s", a->path);
	fd = open(p, O_WRONLY | O_CLOEXEC); /* per-netns sysctls follow the opener's netns */
	if (fd < 0)
		return -errno;
	if (write(fd, a->value, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

int rfp_sysctl_in(const char *netns, const char *path, const char *value)
{
	struct sysctl_arg a = {path, value};

	return rfp_run_in(netns, NULL, write_sysctl, &a);
}

/* ---- sniffer
 * ------------------------------------------------------------------------------------- */

int rfp_sniffer_start(struct rfp_sniffer *s, const char *netns, unsigned short ethertype,
		      const char *marker)
{
	int ctl, err;
	pid_t pid;

	s->pid = -1;
	s->count = mmap(NULL, sizeof(*s->count), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (s->count == MAP_FAILED) {
		s->count = NULL;
		return -errno;
	}
	pid = rft_fork_in(netns, NULL, &ctl);
	if (pid < 0) {
		rfp_sniffer_stop(s);
		return pid;
	}
	if (pid == 0) {
		static unsigned char buf[65536];
		int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));

		rft_ready(ctl, fd < 0 ? errno : 0);
		close(ctl);
		for (;;) {
			struct sockaddr_ll sll;
			socklen_t sl = sizeof(sll);
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sll, &sl);

			if (n <= 0 || sll.sll_pkttype == PACKET_OUTGOING)
				continue;
			if (memmem(buf, (size_t)n, marker, strlen(marker)))
				__atomic_add_fetch(s->count, 1, __ATOMIC_RELEASE);
		}
	}
	s->pid = pid;
	err = rft_ready_wait(ctl);
	close(ctl);
	if (err)
		rfp_sniffer_stop(s);
	return err;
}

unsigned int rfp_sniffer_count(const struct rfp_sniffer *s)
{
	return s->count ? __atomic_load_n(s->count, __ATOMIC_ACQUIRE) : 0;
}

void rfp_sniffer_stop(struct rfp_sniffer *s)
{
	rfp_kill(s->pid);
	s->pid = -1;
	if (s->count)
		munmap(s->count, sizeof(*s->count));
	s->count = NULL;
}

/* ---- CLI and agent ----------------------------------------------------------------------- */

/* agent-start actions in `history --json` (parsed strictly), or -1 when history fails. */
static int agent_starts(void)
{
	char *out = NULL;
	json_t *acts;
	int n = -1;

	if (!rft_cli(&out, NULL, "history", "--json", NULL)) {
		acts = rft_json_load(out);
		n = (int)rft_json_count(acts, "type", "agent-start");
		json_decref(acts);
	}
	free(out);
	return n;
}

pid_t rfp_agent_start(void)
{
	char log[PATH_MAX], *args[] = {"agent", NULL};
	int before = agent_starts(), fd, i;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/agent.log", rft.state_dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	pid = rft_cli_start(NULL, args, fd, fd);
	close(fd);
	if (pid < 0)
		return pid;
	rft_track_child(pid);
	/*
	 * 15 s here: the agent loads every target it restores first (each load verifies the whole
	 * object, 2-3 s on a loaded 2-CPU VM since host rules); under emulation up to 60 s
	 */
	for (i = 0; i < (rft_scaled_ms(15000) < 60000 ? rft_scaled_ms(15000) : 60000) / 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			rft_untrack_child(pid);
			return -ECHILD;
		}
		if (agent_starts() > (before < 0 ? 0 : before))
			return pid;
		rft_msleep(50);
	}
	rfp_kill(pid);
	return -ETIMEDOUT;
}

bool rfp_history_wait(int timeout_ms, const char *const needles[])
{
	char *out, obj[4096];
	long deadline = rft_now_ms() + timeout_ms;
	bool found;

	for (;;) {
		out = NULL;
		found = !rft_cli(&out, NULL, "history", "--json", NULL) &&
			rfp_find_object(out, needles, obj, sizeof(obj));
		free(out);
		if (found || rft_now_ms() >= deadline)
			return found;
		rft_msleep(100);
	}
}

int rfp_frame_worker(int cmd, void *arg)
{
	static int fd = -1, ifindex;
	unsigned char frame[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	const char *marker = arg;

	if (cmd == 0) {
		struct if_nameindex *ifs = if_nameindex(), *i;

		for (i = ifs; i && i->if_index && !ifindex; i++)
			if (strcmp(i->if_name, "lo"))
				ifindex = (int)i->if_index;
		if (ifs)
			if_freenameindex(ifs);
		fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(RFP_ETH_P_TEST));
		return fd < 0 ? -errno : ifindex ? 0 : -ENODEV;
	}
	frame[12] = RFP_ETH_P_TEST >> 8;
	frame[13] = RFP_ETH_P_TEST & 0xff;
	memcpy(frame + 14, marker, strnlen(marker, sizeof(frame) - 14));
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	sll.sll_protocol = htons(RFP_ETH_P_TEST);
	return sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0
		   ? -errno
		   : (int)sizeof(frame);
}

const struct rfp_flow rfp_flows[RFP_NFLOWS] = {
    {AF_INET, RFT_PEER_IP4, RFT_TCP},
    {AF_INET, RFT_PEER_IP4, RFT_UDP},
    {AF_INET6, RFT_PEER_IP6, RFT_TCP},
    {AF_INET6, RFT_PEER_IP6, RFT_UDP},
};

static unsigned long long received(const struct rft_server *s, const struct rfp_flow *f,
				   unsigned short port)
{
	struct rft_port_stats st = rft_server_stats(s, port, f->family);

	return f->proto == RFT_TCP ? st.conns + st.tcp_bytes : st.dgrams + st.udp_bytes;
}

void rfp_expect_flow(const struct rft_server *s, const struct rfp_flow *f, const char *cg,
		     unsigned short port, bool deny, const char *what)
{
	const char *proto = f->proto == RFT_TCP ? "tcp" : "udp";
	unsigned long long before = received(s, f, port);
	struct rft_result r = rft_client(rft.dev_ns, cg, f->family, f->proto, f->addr, port, 1500);

	if (deny) {
		cr_expect_eq(r.outcome, RFT_EPERM, "%s: %s %s port %u: expected EPERM, got %s (%d)",
			     what, proto, f->addr, port, rft_outcome_name(r.outcome), r.err);
		rft_msleep(100);
		cr_expect_eq(received(s, f, port), before,
			     "%s: %s %s port %u denied, but the peer received something", what,
			     proto, f->addr, port);
	} else {
		cr_expect_eq(r.outcome, RFT_OK, "%s: %s %s port %u: expected OK, got %s (%d)", what,
			     proto, f->addr, port, rft_outcome_name(r.outcome), r.err);
		cr_expect_gt(received(s, f, port), before,
			     "%s: %s %s port %u: peer counted nothing", what, proto, f->addr, port);
	}
}

void rfp_expect_tcp_ports(const struct rft_server *s, unsigned short allowed, unsigned short denied,
			  const char *what)
{
	size_t i;

	for (i = 0; i < RFP_NFLOWS; i++) {
		if (rfp_flows[i].proto != RFT_TCP)
			continue;
		rfp_expect_flow(s, &rfp_flows[i], rft.cg, allowed, false, what);
		rfp_expect_flow(s, &rfp_flows[i], rft.cg, denied, true, what);
	}
}
