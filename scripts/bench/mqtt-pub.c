// SPDX-License-Identifier: GPL-2.0-only
/* mqtt-pub PORT: publish each stdin line "TOPIC<TAB>PAYLOAD" retained at QoS 1 to the broker on
 * 127.0.0.1:PORT over one connection, then wait until the broker acknowledged them all. For
 * scripts/bench/console.sh (1,000 mosquitto_pub processes take a minute). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>

static int acked;

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)arg;
	(void)mid;
	acked++;
}

int main(int argc, char **argv)
{
	struct mosquitto *m;
	char line[65536], *tab;
	int sent = 0;

	if (argc != 2)
		return 2;
	mosquitto_lib_init();
	m = mosquitto_new(NULL, true, NULL);
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
	if (!m || mosquitto_connect(m, "127.0.0.1", atoi(argv[1]), 30)) {
		fprintf(stderr, "mqtt-pub: cannot connect to 127.0.0.1:%s\n", argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab++ = '\0';
		if (mosquitto_publish(m, NULL, line, (int)strlen(tab), tab, 1, true))
			return 1;
		sent++;
		mosquitto_loop(m, 0, 1);
	}
	while (acked < sent && mosquitto_loop(m, 1000, 1) == MOSQ_ERR_SUCCESS)
		;
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return acked == sent ? 0 : 1;
}
