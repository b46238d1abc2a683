/* azure_internal.h - the connection of the azure driver, shared by its
 * source files.  Nothing here is global: every piece of state lives in
 * one tr_conn. */
#ifndef TR_AZURE_INTERNAL_H
#define TR_AZURE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "totalrecall/driver.h"
#include "drv_util.h"

#define AZ_NAME "azure"
#define AZ_VERSION "0.1.0"
/* Blob service REST version: >= 2017-11-09 for bearer tokens, >= 2019-12-12
 * for blocks and single puts of up to 4000 MiB. */
#define AZ_API_VERSION "2021-08-06"

#define AZ_MIB ((size_t)1024 * 1024)
#define AZ_MIN_BLOCK AZ_MIB
#define AZ_DEFAULT_BLOCK (16 * AZ_MIB)
#define AZ_MAX_BLOCK ((size_t)4000 * AZ_MIB)
#define AZ_MAX_BLOCKS 50000

/* Longest bearer token accepted (Entra ID access tokens are 1 to 4 KiB). */
#define AZ_TOKEN_MAX 8192

#define AZ_DEFAULT_IMDS "http://169.254.169.254/metadata/identity/oauth2/token"

/* Where the credentials came from, for describe() and messages. */
enum az_auth {
	AZ_AUTH_SHARED_KEY = 1,
	AZ_AUTH_SAS,
	AZ_AUTH_MANAGED_IDENTITY,
};

typedef struct az_conf {
	char *account;          /* NULL only with SAS or a token and an explicit endpoint */
	unsigned char key[64];  /* decoded account key (Shared Key) */
	size_t key_len;
	char *sas;              /* SAS query string without '?', or NULL */
	char *container;
	char *base_url;         /* scheme://host[:port][/path], no trailing '/' */
	const char *endpoint_from; /* "endpoint", "the connection string" or "default" */
	int from_connection_string; /* account/key/SAS came from it */
	enum az_auth auth;
	char *imds_url;
	char *client_id;        /* user-assigned managed identity, or NULL */
	char *ca_file;
	size_t block_size;
	int retries;
	int retry_max_time;     /* seconds */
	long timeout;           /* seconds, connect and stall */
	char *state_dir;
} az_conf;

/* A bearer token from the managed identity endpoint. */
typedef struct az_token {
	char *value;            /* NULL: none yet */
	int64_t expires;        /* seconds since the epoch, by our clock */
	int from_cache;         /* read from state-dir, not fetched by us */
	int fetched;            /* tokens fetched by this connection */
	int dropped;            /* the service refused one: no more cache reads */
} az_token;

struct tr_conn {
	az_conf conf;
	tr_driver_env env;
	CURL *curl;
	uint64_t rng;           /* xorshift state: backoff jitter, block ids */
	az_token token;
	int no_batch;           /* the service refused Blob Batch: one DELETE per blob */
	char desc[512];
	char err[1024];
};

/* azure.c */
/* Logs through the core; sets c->err and returns status (drv_util.h). */
#define az_log(c, level, ...) drv_log(&(c)->env, level, __VA_ARGS__)
#define az_fail(c, status, ...) drv_fail((c)->err, sizeof (c)->err, status, __VA_ARGS__)
uint64_t az_random(tr_conn *c);

/* azure_conf.c */
int az_conf_load(tr_conn *c);
void az_conf_free(az_conf *conf);
const char *az_auth_name(const az_conf *conf);

/* azure_upload.c */
int az_put(tr_conn *c, const char *key, const tr_put_args *a);

/* azure_list.c */
int az_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx);

/* azure.c: TR_EINVAL with a message unless key is a blob name we use. */
int az_check_key(tr_conn *c, const char *op, const char *key);
/* azure_batch.c: the driver's remove_many(). */
int az_remove_many(tr_conn *c, const char *const *keys, size_t n, size_t *failed);

#endif
