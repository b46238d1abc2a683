/* s3_internal.h - the connection of the s3/minio driver, shared by its
 * source files.  Nothing here is global: every piece of state lives in
 * one tr_conn. */
#ifndef TR_S3_INTERNAL_H
#define TR_S3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "totalrecall/driver.h"

#ifdef TR_S3_PROFILE_MINIO
#define S3_DRIVER_NAME "minio"
#else
#define S3_DRIVER_NAME "s3"
#endif

#define S3_MIB ((size_t)1024 * 1024)
#define S3_MIN_PART (5 * S3_MIB)
#define S3_DEFAULT_PART (16 * S3_MIB)
#define S3_MAX_PART ((size_t)5 * 1024 * S3_MIB)
#define S3_MAX_PARTS 10000

enum s3_condput {
	S3_CONDPUT_AUTO = 0, /* setting: probe once, cache in state-dir */
	S3_CONDPUT_ON,       /* setting: trust If-None-Match */
	S3_CONDPUT_OFF,      /* setting: never send it, HEAD-then-PUT */
};

enum s3_condput_state {
	S3_COND_UNKNOWN = 0,
	S3_COND_HONOURED,
	S3_COND_IGNORED,
};

typedef struct s3_conf {
	char *bucket;
	char *region;
	char *access_key_id;
	char *secret_access_key;
	char *session_token;    /* NULL when unset */
	char *scheme;           /* "http" or "https" */
	char *endpoint_host;    /* host[:port] of the endpoint, no bucket */
	int endpoint_is_default; /* no endpoint setting: AWS regional endpoint */
	int path_style;         /* 1 path-style, 0 virtual-hosted */
	char *ca_file;
	int insecure;
	size_t part_size;
	int retries;
	int retry_max_time;     /* seconds */
	long timeout;           /* seconds, connect and stall */
	char *state_dir;
	enum s3_condput condput;
} s3_conf;

struct tr_conn {
	s3_conf conf;
	tr_driver_env env;
	CURL *curl;
	uint64_t rng;           /* xorshift state for backoff jitter and probe keys */
	enum s3_condput_state cond_state;
	int warned_fallback;
	int saw_501;            /* the server refused If-None-Match: stop sending it */
	int region_redirected;  /* followed a region redirect already */
	char err[1024];
};

/* s3_conf.c */
int s3_conf_load(tr_conn *c);
void s3_conf_free(s3_conf *conf);

/* s3.c */
void s3_log(tr_conn *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int s3_fail(tr_conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t s3_random(tr_conn *c);
/* HEAD of key: TR_OK (info filled if not NULL), TR_ENOTFOUND only when a
 * GET confirms S3's NoSuchKey, or an error. */
int s3_head_object(tr_conn *c, const char *key, tr_object_info *info);

#endif
