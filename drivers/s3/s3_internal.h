/* s3_internal.h - the connection of the s3/minio driver, shared by its
 * source files.  Nothing here is global: every piece of state lives in
 * one tr_conn. */
#ifndef TR_S3_INTERNAL_H
#define TR_S3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "totalrecall/driver.h"
#include "drv_util.h"

#ifdef TR_S3_PROFILE_MINIO
#define S3_DRIVER_NAME "minio"
#else
#define S3_DRIVER_NAME "s3"
#endif

#define S3_VERSION "0.2.0"
/* Sent on every request, so server logs and bucket policies can tell us apart. */
#define S3_USER_AGENT "totalrecall/" PACKAGE_VERSION " (" S3_DRIVER_NAME " driver " S3_VERSION ")"

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

/* Where credentials come from (s3-credentials; AUTO walks the chain). */
enum s3_cred_source {
	S3_CRED_AUTO = 0,
	S3_CRED_STATIC,       /* access-key-id/secret-access-key(/session-token) */
	S3_CRED_WEB_IDENTITY, /* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN via STS */
	S3_CRED_CONTAINER,    /* ECS / EKS Pod Identity endpoint */
	S3_CRED_IMDS,         /* EC2 instance metadata, IMDSv2 */
	S3_CRED_PROFILE,      /* ~/.aws/credentials and ~/.aws/config */
};

/* Integrity checksum sent with every body (s3-checksum). */
enum s3_checksum {
	S3_CHECKSUM_SHA256 = 0, /* x-amz-checksum-sha256 */
	S3_CHECKSUM_MD5,        /* Content-MD5 */
	S3_CHECKSUM_NONE,
};

/* Credentials in use; temporary ones carry an expiration. */
typedef struct s3_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;    /* NULL for long-term keys */
	int64_t expiration;     /* seconds since the epoch; 0: does not expire */
} s3_creds;

/* What the bucket settings ask of every request. */
typedef struct s3_features {
	char *sse;              /* x-amz-server-side-encryption, or NULL */
	char *sse_kms_key_id;
	char *ssec_key;         /* SSE-C key, base64 of 32 bytes (a secret) */
	char ssec_key_md5[32];  /* base64 of its MD5 */
	char *storage_class;    /* every object but those under wal_prefix */
	char *wal_storage_class;
	char *wal_prefix;       /* key prefix the core gives for WAL objects */
	enum s3_checksum checksum;
	int requester_pays;
} s3_features;

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
	enum s3_cred_source cred_setting; /* s3-credentials */
	char *profile;          /* s3-profile (AWS_PROFILE), NULL: "default" */
	char *signing_region;   /* region as configured, before any redirect */
	s3_features feat;
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
	int no_delete_objects;  /* the server refused DeleteObjects: one DELETE per key */
	char err[1024];
	/* credentials (s3_creds.c) */
	s3_creds creds;
	enum s3_cred_source cred_source; /* the source in use */
	char cred_detail[320];  /* what describe() says about it, no secret */
	int64_t creds_refresh_at; /* refresh at or after this time; 0: never */
	char cred_cache[4200];  /* state-dir file caching them, or "" */
	CURL *fetch_curl;       /* for credential endpoints, made on demand */
	/* time: seconds to add to the local clock (learned from RequestTimeTooSkewed) */
	int64_t clock_offset;
	char describe_buf[1536];
	char region_cache[4200]; /* state-dir file of the learned region, or "" */
};

/* s3_conf.c */
int s3_conf_load(tr_conn *c);
void s3_conf_free(s3_conf *conf);

/* s3_features.c */
int s3_features_load(tr_conn *c);
void s3_features_free(s3_features *f);

/* s3_creds.c */
int s3_creds_open(tr_conn *c);
void s3_creds_close(tr_conn *c);

/* The local time corrected by what the server told us. */
int64_t s3_now(const tr_conn *c);

/* s3_describe.c */
const char *s3_describe(tr_conn *c);

/* s3.c */
/* Logs through the core; sets c->err and returns status (drv_util.h). */
#define s3_log(c, level, ...) drv_log(&(c)->env, level, __VA_ARGS__)
#define s3_fail(c, status, ...) drv_fail((c)->err, sizeof (c)->err, status, __VA_ARGS__)
uint64_t s3_random(tr_conn *c);
/* HEAD of key: TR_OK (info filled if not NULL), TR_ENOENT only when a
 * GET confirms S3's NoSuchKey, or an error. */
int s3_head_object(tr_conn *c, const char *key, tr_object_info *info);

/* s3.c: TR_EINVAL with a message unless key is one the ABI allows. */
int s3_check_key(tr_conn *c, const char *op, const char *key);
/* s3_delete.c: the driver's remove_many(). */
int s3_remove_many(tr_conn *c, const char *const *keys, size_t n, size_t *failed);

#endif
