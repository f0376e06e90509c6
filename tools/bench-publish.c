/* sluice-bench-publish: publish the tables of an INI configuration into the
 * pinned maps of an instance, without sluiced, so that the bench (and a
 * person checking sluice-dp --instance by hand) can run the dataplane on
 * mapped tables.  Each run publishes the next generation. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "maps.h"
#include "tables.h"

#ifndef SL_BPF_OBJECT_BUILD
#define SL_BPF_OBJECT_BUILD SL_MAPS_OBJ_NAME
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-bench-publish -c CONFIG [--instance NAME] [--bpffs DIR]\n"
		"                            [--object FILE] [--share BP] [--unpin]\n"
		"Publish the decision tables of CONFIG as the next generation of the pinned\n"
		"maps of instance NAME (created if needed), then wait up to [control]\n"
		"ack_timeout for an attached sluice-dp to acknowledge it.  For benchmarks and\n"
		"tests: sluiced is the publisher in production.\n"
		"\n"
		"  -c, --config CONFIG  INI configuration\n"
		"      --instance NAME  default: [control] instance\n"
		"      --bpffs DIR      default: [control] bpffs, /sys/fs/bpf\n"
		"      --object FILE    the maps object (default: [control] bpf_object, else\n"
		"                       " SL_BPF_OBJECT_BUILD ")\n"
		"      --share BP       every service's challenger share, basis points\n"
		"      --unpin          remove the instance's maps instead\n"
		"Exit status: 0 published (or removed), 1 failure, 2 bad usage, 3 published but\n"
		"not acknowledged by every attached worker in time.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "instance", required_argument, NULL, 'n' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "object", required_argument, NULL, 'o' },
		{ "share", required_argument, NULL, 's' },
		{ "unpin", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *instance = NULL, *bpffs = NULL, *object = NULL;
	uint32_t waited, missing[SL_MAX_WORKERS], nmissing, gen;
	struct sl_table_hdr *hdr = NULL;
	struct sl_group_rec *groups = NULL;
	static struct sl_config cfg;
	char err[1024];
	struct sl_maps m;
	long share = -1;
	int c, unpin = 0, fresh, rc, status = 1;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			instance = optarg;
			break;
		case 'b':
			bpffs = optarg;
			break;
		case 'o':
			object = optarg;
			break;
		case 's':
			errno = 0;
			share = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || share < 0 ||
			    share > SL_SHARE_MAX_BP) {
				fprintf(stderr, "sluice-bench-publish: --share '%s': expected "
					"basis points, 0..%u\n", optarg, SL_SHARE_MAX_BP);
				return 2;
			}
			break;
		case 'u':
			unpin = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "sluice-bench-publish: %s\n", !config ? "missing -c CONFIG" :
			"unexpected argument");
		usage(stderr);
		return 2;
	}
	if (sl_config_load(config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-bench-publish: %s\n", err);
		return 2;
	}
	if (!instance)
		instance = cfg.instance;
	if (!bpffs)
		bpffs = cfg.bpffs;
	if (!object)
		object = cfg.bpf_object[0] ? cfg.bpf_object : SL_BPF_OBJECT_BUILD;
	if (!instance[0]) {
		fprintf(stderr, "sluice-bench-publish: no instance: give --instance NAME or "
			"[control] instance in %s\n", config);
		return 2;
	}
	if (unpin) {
		if (sl_maps_unpin(bpffs, instance, err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice-bench-publish: %s\n", err);
			return 1;
		}
		printf("sluice-bench-publish: removed the maps of instance %s\n", instance);
		return 0;
	}
	if (share >= 0)
		for (unsigned s = 0; s < cfg.nservices; s++)
			cfg.services[s].share_bp = (uint16_t)share;

	if (sl_maps_create(bpffs, instance, object, &m, &fresh, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-bench-publish: %s\n", err);
		return 1;
	}
	hdr = calloc(1, sizeof(*hdr));
	groups = calloc(SL_MAX_GROUPS, sizeof(*groups));
	if (!hdr || !groups) {
		fprintf(stderr, "sluice-bench-publish: out of memory\n");
		goto out;
	}
	gen = __atomic_load_n(&m.control->gen, __ATOMIC_ACQUIRE) + 1;
	if (sl_tables_build(hdr, groups, &cfg, gen, err, sizeof(err)) != 0 ||
	    sl_maps_publish(&m, hdr, groups, cfg.ngroups, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-bench-publish: %s\n", err);
		goto out;
	}
	printf("sluice-bench-publish: instance %s: generation %u published (slot %u)%s\n",
	       instance, gen, m.control->active_slot, fresh ? ", maps created" : "");
	rc = sl_maps_wait_acks(&m, gen, cfg.ack_timeout_ms * 1000u, &waited, missing, &nmissing);
	status = 0;
	if (rc == 0) {
		printf("sluice-bench-publish: acknowledged by %u worker%s of pid %u in %u us\n",
		       sl_maps_workers(&m), sl_maps_workers(&m) == 1 ? "" : "s", m.dp->pid,
		       waited);
	} else if (rc == 2) {
		printf("sluice-bench-publish: no dataplane attached\n");
	} else {
		printf("sluice-bench-publish: not acknowledged after %u us by worker%s", waited,
		       nmissing == 1 ? "" : "s");
		for (uint32_t i = 0; i < nmissing; i++)
			printf("%s %u", i ? "," : "", missing[i]);
		printf("\n");
		status = 3;
	}
out:
	free(hdr);
	free(groups);
	sl_maps_close(&m);
	return status;
}
