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

/* Lock <state_dir>/name, waiting up to timeout_ms: the fd, -EBUSY when held, or -errno. */
static int lock_file(const char *state_dir, const char *name, int timeout_ms)
{
	char path[PATH_MAX];
	int fd, waited = 0, err;

	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	rf_state_path(path, sizeof(path), state_dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		struct timespec ts = {0, 50 * 1000000L};

		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			close(fd);
			return err;
		}
		nanosleep(&ts, NULL);
		waited += 50;
	}
	return fd;
}

int rf_state_lock(const char *state_dir)
{
	return lock_file(state_dir, "lock", RF_LOCK_TIMEOUT_MS);
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
	char path[PATH_MAX];
	bool running;
	int fd;

	rf_state_path(path, sizeof(path), state_dir, "agent.lock");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	running = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return running;
}

void rf_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}
