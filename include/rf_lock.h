/* SPDX-License-Identifier: GPL-2.0-only */
/* Locks in the state dir: the one that orders ringfence's writers, and the agent's own. */
#ifndef RF_LOCK_H
#define RF_LOCK_H

#include <stdbool.h>

#define RF_LOCK_TIMEOUT_MS 10000
/* isolate waits this long for the lock, then isolates through the kernel and records later */
#define RF_ISOLATE_LOCK_WAIT_MS 3000

/* Take the state-dir lock (waits up to RF_LOCK_TIMEOUT_MS). Returns an fd >= 0 or -errno. */
int rf_state_lock(const char *state_dir);
/* The same lock, waiting at most timeout_ms. */
int rf_state_lock_wait(const char *state_dir, int timeout_ms);
/* The same lock without waiting: -EBUSY while a CLI holds it. */
int rf_state_trylock(const char *state_dir);
void rf_state_unlock(int fd);

/* The running agent holds <state>/agent.lock for its lifetime. rf_agent_lock() returns the fd
 * (>= 0), -EBUSY if another agent runs, or -errno. rf_agent_running() asks without taking it. */
int rf_agent_lock(const char *state_dir);
bool rf_agent_running(const char *state_dir);

#endif /* RF_LOCK_H */
