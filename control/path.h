/* A service's traffic path from the table in force (see path.c). */
#ifndef SLUICE_PATH_H
#define SLUICE_PATH_H

#include <jansson.h>

#include "state.h"

struct sl_config;

/* {"proto", "vip", "ports": "443" | "80,8000-8099", "client_ports": [NAME],
 * "groups": [{"name", "role": "champion"|"challenger", "port", "mode":
 * "port"|"mac", "members": [MAC...]}]}; null for no such service. */
json_t *sl_state_path_json(const struct sl_state *st, int svc, const struct sl_config *cfg);

#endif
