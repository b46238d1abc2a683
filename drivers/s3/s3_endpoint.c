/* s3_endpoint.c - partitions, host names and the learned region (see
 * s3_endpoint.h). */
#include "config.h"
#include "s3_endpoint.h"
#include "s3_statefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *prefix;
	const char *suffix;
} PARTITIONS[] = {
	{ "cn-", "amazonaws.com.cn" },     /* aws-cn */
	{ "us-isob-", "sc2s.sgov.gov" },   /* aws-iso-b */
	{ "us-iso-", "c2s.ic.gov" },       /* aws-iso */
	{ "us-isof-", "csp.hci.ic.gov" },  /* aws-iso-f */
	{ "eu-isoe-", "cloud.adc-e.uk" },  /* aws-iso-e */
};

const char *s3_partition_suffix(const char *region)
{
	for (size_t i = 0; i < sizeof PARTITIONS / sizeof PARTITIONS[0]; i++)
		if (strncmp(region, PARTITIONS[i].prefix, strlen(PARTITIONS[i].prefix)) == 0)
			return PARTITIONS[i].suffix;
	return "amazonaws.com"; /* aws, and aws-us-gov (us-gov-*) */
}

int s3_aws_host(const char *service, const char *region, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s.%s.%s", service, region, s3_partition_suffix(region));
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int host_ends_with(const char *hostport, const char *suffix)
{
	size_t n = strcspn(hostport, ":");
	size_t s = strlen(suffix);
	return n > s && hostport[n - s - 1] == '.' && strncmp(hostport + n - s, suffix, s) == 0;
}

int s3_is_aws_host(const char *hostport)
{
	if (host_ends_with(hostport, "amazonaws.com"))
		return 1;
	for (size_t i = 0; i < sizeof PARTITIONS / sizeof PARTITIONS[0]; i++)
		if (host_ends_with(hostport, PARTITIONS[i].suffix))
			return 1;
	return 0;
}

int s3_region_valid(const char *region)
{
	size_t n = strlen(region);
	if (n == 0 || n > 63 || region[0] == '-')
		return 0;
	for (const char *p = region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

int s3_switch_region(tr_conn *c, const char *region)
{
	char host[256];
	char *r = strdup(region);
	if (!r)
		return -1;
	free(c->conf.region);
	c->conf.region = r;
	if (!c->conf.endpoint_is_default)
		return 0;
	char *h = s3_aws_host("s3", region, host, sizeof host) == 0 ? strdup(host) : NULL;
	if (!h)
		return -1;
	free(c->conf.endpoint_host);
	c->conf.endpoint_host = h;
	return 0;
}

/* The cache is keyed on the configuration as given, so changing the
 * region setting (or the endpoint, or the bucket) starts afresh. */
static void cache_path(tr_conn *c)
{
	char id[2048];
	snprintf(id, sizeof id, "%s://%s\n%s\n%s", c->conf.scheme, c->conf.endpoint_host, c->conf.bucket,
		 c->conf.region);
	s3_state_path(c, "s3-region", id, c->region_cache, sizeof c->region_cache);
}

void s3_region_cache_load(tr_conn *c)
{
	char buf[96], why[256];
	cache_path(c);
	long n = s3_state_read(c->region_cache, buf, sizeof buf, why, sizeof why);
	if (n == -2)
		s3_log(c, 1, "%s: ignoring %s: %s", S3_DRIVER_NAME, c->region_cache, why);
	if (n <= 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	if (!s3_region_valid(buf) || strcmp(buf, c->conf.region) == 0)
		return;
	if (s3_switch_region(c, buf) == 0)
		s3_log(c, 3, "%s: bucket %s is in region %s (learned from a redirect, %s)", S3_DRIVER_NAME,
		       c->conf.bucket, buf, c->region_cache);
}

void s3_region_cache_store(tr_conn *c, const char *region)
{
	char line[96], why[512];
	if (!c->region_cache[0] || !s3_region_valid(region))
		return;
	snprintf(line, sizeof line, "%s\n", region);
	if (s3_state_write(c, c->region_cache, line, strlen(line), why, sizeof why) != 0)
		s3_log(c, 1, "%s: cannot remember the region of bucket %s: %s", S3_DRIVER_NAME,
		       c->conf.bucket, why);
}
