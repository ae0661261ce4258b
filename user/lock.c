// SPDX-License-Identifier: GPL-2.0-only
/* The state-dir lock that orders ringfence's writers, and the agent's own lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "rf_state.h"
#include "rf_util.h"

/*
 * Open <state_dir>/name for locking, in the checked dir, never through a symlink (-ELOOP) nor
 * as a directory (-EISDIR). A read-only state dir still locks an existing file (flock needs no
 * write access).
 */
static int open_lock(const char *state_dir, const char *name)
{
	int fd = rf_state_open_file(state_dir, name, O_RDWR | O_CREAT);

	if (fd == -EROFS || fd == -EACCES) {
		int ro = rf_state_open_file(state_dir, name, O_RDONLY);

		if (ro >= 0)
			return ro;
	}
	return fd;
}

/* Lock <state_dir>/name, waiting up to timeout_ms: the fd, -EBUSY when held, or -errno. */
static int lock_file(const char *state_dir, const char *name, int timeout_ms)
{
	_cleanup_close_ int fd = open_lock(state_dir, name);
	int waited = 0;

	if (fd < 0)
		return fd;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		struct timespec ts = {0, 50 * 1000000L};

		if (errno != EWOULDBLOCK || waited >= timeout_ms)
			return errno == EWOULDBLOCK ? -EBUSY : -errno;
		nanosleep(&ts, NULL);
		waited += 50;
	}
	return TAKE_FD(fd);
}

int rf_state_lock(const char *state_dir)
{
	return lock_file(state_dir, "lock", RF_LOCK_TIMEOUT_MS);
}

int rf_state_lock_wait(const char *state_dir, int timeout_ms)
{
	return lock_file(state_dir, "lock", timeout_ms);
}

int rf_state_trylock(const char *state_dir)
{
	return lock_file(state_dir, "lock", 0);
}

int rf_agent_lock(const char *state_dir)
{
	char pid[32];
	int fd = lock_file(state_dir, "agent.lock", 0);

	if (fd < 0)
		return fd;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || write(fd, pid, strlen(pid)) < 0) {
		/* the pid is informative only */
	}
	return fd;
}

bool rf_agent_running(const char *state_dir)
{
	_cleanup_close_ int fd = rf_state_open_file(state_dir, "agent.lock", O_RDONLY);

	return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
}

void rf_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}
