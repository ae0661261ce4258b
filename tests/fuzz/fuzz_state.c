// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state dir's record decoders (user/history.c, user/state.c): an action history line and the
 * isolation record, whatever the bytes. A decoded action encodes back to a line that decodes to
 * the same action; the isolation record loads into bounded fields. Thin on purpose: the entry
 * points are rf_action_decode() and rf_isolation_load(), re-point here when the format changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz.h"
#include "rf_history.h"
#include "rf_state.h"

static char dir[64], file[96];

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

static void check_action(const char *line)
{
	static struct rf_action a, back;
	static char text[8192];

	if (rf_action_decode(line, &a))
		return;
	FUZZ_CHECK(a.id != 0 && (unsigned)a.status < 4, "'%s': id %llu status %d", line,
		   (unsigned long long)a.id, (int)a.status);
	rf_action_encode(&a, text, sizeof(text));
	FUZZ_CHECK(!rf_action_decode(text, &back), "'%s' -> '%s' does not decode", line, text);
	FUZZ_CHECK(!memcmp(&a, &back, sizeof(a)), "'%s' -> '%s' is another action", line, text);
}

static void check_isolation(const uint8_t *data, size_t size)
{
	struct rf_isolation iso;
	int fd;

	if (!dir[0]) {
		/* tmpfs where there is one: a file per input on a disk is slow */
		snprintf(dir, sizeof(dir), "%s/rf-fuzz-state-%d",
			 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", (int)getpid());
		snprintf(file, sizeof(file), "%s/isolation", dir);
		FUZZ_CHECK(!mkdir(dir, 0700) || errno == EEXIST, "mkdir %s", dir);
		atexit(cleanup);
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size && !close(fd), "write %s",
		   file);
	if (rf_isolation_load(dir, &iso))
		return;
	FUZZ_CHECK(memchr(iso.comment, '\0', sizeof(iso.comment)), "comment not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 16384)
		return 0;
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	check_action(s);
	free(s);
	check_isolation(data, size);
	return 0;
}
