/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef RF_AGENT_H
#define RF_AGENT_H

#include "rf_service.h"

/* Run the agent until SIGTERM/SIGINT; interval_ms: how often links and the flag are checked. */
int rf_agent_run(struct rf_ctx *ctx, int interval_ms);

#endif /* RF_AGENT_H */
