/* The traffic path of a service as the table in force lays it out: its
 * match (protocol, VIP, ports), the client port, and its champion and
 * challenger groups with their ports, modes and members.  `status` carries
 * it (PROTOCOL.md "path") so that a release note can write the path down
 * from the live state, not from a configuration file that may have been
 * edited since. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../dataplane/config.h"
#include "path.h"

static const char *port_role(const struct sl_config *cfg, const char *name)
{
	static const char *const roles[] = { "client", "backend", "shadow" };

	for (unsigned p = 0; cfg && p < cfg->nports; p++)
		if (!strcmp(cfg->ports[p].name, name))
			return cfg->ports[p].role < 3 ? roles[cfg->ports[p].role] : "?";
	return NULL;
}

static json_t *group_json(const struct sl_table_hdr *h, const struct sl_group_rec *g,
			  const char *role)
{
	json_t *members = json_array();
	json_t *o;

	for (unsigned m = 0; members && m < g->nmembers; m++) {
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", g->macs[m][0],
			 g->macs[m][1], g->macs[m][2], g->macs[m][3], g->macs[m][4], g->macs[m][5]);
		json_array_append_new(members, json_string(mac));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", g->name, "role", role, "port",
		      g->port < h->nports ? h->port_names[g->port] : "?", "mode",
		      g->mode == SL_MODE_MAC ? "mac" : "port", "members",
		      members ? members : json_null());
	return o;
}

json_t *sl_state_path_json(const struct sl_state *st, int svc, const struct sl_config *cfg)
{
	const struct sl_table_hdr *h = st->base;
	const struct sl_service_rec *s;
	const struct sl_svc_rec *r;
	char vip[INET6_ADDRSTRLEN], ports[16 * 12] = "";
	json_t *groups, *clients, *o;
	size_t off = 0;

	if (!h || svc < 0 || svc >= h->nservices)
		return json_null();
	s = &h->services[svc];
	r = &st->svc[svc].st;
	inet_ntop(s->family == 6 ? AF_INET6 : AF_INET, s->vip, vip, sizeof(vip));
	for (unsigned k = 0; k < s->nranges && off < sizeof(ports); k++) {
		if (s->ranges[k].lo == s->ranges[k].hi)
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%u",
						k ? "," : "", s->ranges[k].lo);
		else
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%u-%u",
						k ? "," : "", s->ranges[k].lo, s->ranges[k].hi);
	}
	/* the groups by the names the service's state holds: the roles swap
	 * on a switch or a completed rollout, the records do not */
	groups = json_array();
	for (unsigned g = 0; groups && g < h->ngroups; g++) {
		const char *role = !strcmp(st->base_groups[g].name, r->champion) ? "champion" :
				   !strcmp(st->base_groups[g].name, r->challenger) ? "challenger" :
				   NULL;

		if (role && st->base_groups[g].name[0])
			json_array_append_new(groups, group_json(h, &st->base_groups[g], role));
	}
	clients = json_array();
	for (unsigned p = 0; clients && p < h->nports; p++) {
		const char *role = port_role(cfg, h->port_names[p]);

		if (role && !strcmp(role, "client"))
			json_array_append_new(clients, json_string(h->port_names[p]));
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "proto", s->proto == 17 ? "udp" : "tcp", "vip",
		      vip, "ports", ports, "client_ports", clients ? clients : json_null(),
		      "groups", groups ? groups : json_null());
	return o ? o : json_null();
}
