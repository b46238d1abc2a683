/* s3_endpoint.h - AWS partitions (their DNS suffixes), service host
 * names, and the region a redirected bucket turned out to be in, kept in
 * state-dir so the next command starts there. */
#ifndef TR_S3_ENDPOINT_H
#define TR_S3_ENDPOINT_H

#include <stddef.h>
#include "s3_internal.h"

/* The DNS suffix of the partition of region: "amazonaws.com.cn" for cn-*,
 * "c2s.ic.gov" for us-iso-*, ..., "amazonaws.com" for the rest (aws and
 * aws-us-gov). */
const char *s3_partition_suffix(const char *region);

/* "<service>.<region>.<suffix>" into out; -1 when it does not fit. */
int s3_aws_host(const char *service, const char *region, char *out, size_t outlen);

/* 1 when host[:port] is a host name under one of the partitions' suffixes. */
int s3_is_aws_host(const char *hostport);

/* 1 for a plausible region name: 1-63 of [a-z0-9-], no leading '-'. */
int s3_region_valid(const char *region);

/* Signs for region from now on (and talks to its endpoint when the
 * endpoint is AWS's default).  0, or -1 when out of memory. */
int s3_switch_region(tr_conn *c, const char *region);

/* At open: start in the region a previous redirect taught us. */
void s3_region_cache_load(tr_conn *c);
/* After following a redirect: remember the bucket's region. */
void s3_region_cache_store(tr_conn *c, const char *region);

#endif
