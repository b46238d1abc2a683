/* s3_creds.h - the AWS credential chain of the s3/minio driver.
 *
 * Sources, in the order of the AWS SDKs (s3-credentials=auto):
 *   static        access-key-id/secret-access-key(/session-token) settings
 *                 (AWS_ACCESS_KEY_ID, ... through the core)
 *   web-identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, STS
 *                 AssumeRoleWithWebIdentity (EKS IRSA)
 *   profile       s3-profile (AWS_PROFILE, else "default") in
 *                 AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE
 *   container     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI (ECS,
 *                 EKS Pod Identity)
 *   imds          EC2 instance metadata, IMDSv2 only
 * A profile named explicitly (s3-profile set) comes before web-identity.
 * A source that is not configured is skipped; one that is configured but
 * fails stops the chain (falling through could sign as someone else).
 * Temporary credentials are cached in state-dir and refreshed a few
 * minutes before they expire, also in the middle of a command.
 */
#ifndef TR_S3_CREDS_H
#define TR_S3_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include "s3_internal.h"
#include "s3_profile.h"

#define S3_SRC_ABSENT 0      /* probe: the source is not configured here */
#define S3_SRC_CONFIGURED 1  /* probe: it is; fetch() will be asked */
#define S3_SRC_BROKEN (-1)   /* probe: configured, but wrongly (why says how) */

/* What a probe learns without any network request. */
typedef struct s3_src_info {
	char ident[2048];    /* what identifies the credentials (the cache key) */
	char detail[320];    /* for describe() and messages; never a secret */
	char why[768];       /* why absent or broken */
} s3_src_info;

/* --- each source (s3_cred_local.c, s3_sts.c, s3_container.c, s3_imds.c) --- */
int s3_static_probe(tr_conn *c, s3_src_info *info);
int s3_static_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen);
int s3_profile_probe(tr_conn *c, s3_src_info *info);
int s3_profile_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen);
/* The region of the profile (config file), for when region is not set. */
int s3_profile_region(tr_conn *c, char *out, size_t outlen);
int s3_webid_probe(tr_conn *c, s3_src_info *info);
int s3_webid_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen);
/* The STS endpoint web-identity uses for region (with its overrides). */
void s3_sts_endpoint(const char *region, char *out, size_t outlen);
/* May a full container URI receive the authorization token? */
int s3_container_host_allowed(const char *url);
int s3_container_probe(tr_conn *c, s3_src_info *info);
int s3_container_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen);
/* The instance metadata endpoint (AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE]). */
void s3_imds_endpoint(char *out, size_t outlen);
int s3_imds_probe(tr_conn *c, s3_src_info *info);
int s3_imds_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen);

/* --- shared helpers (s3_creds.c) --- */

/* Copies the strings into out (token may be NULL or ""); -1 with why set
 * when out of memory or when a value could not be sent in a header. */
int s3_creds_set(s3_creds *out, const char *id, const char *secret, const char *token,
		 int64_t expiration, char *why, size_t whylen);
/* Overwrites the secret and the token, frees everything. */
void s3_creds_clear(s3_creds *cr);
/* Reads AccessKeyId, SecretAccessKey, Token and Expiration from the JSON
 * document of a container or instance metadata endpoint. */
int s3_creds_from_json(const char *json, size_t len, s3_creds *out, char *why, size_t whylen);
/* The name of a source, as s3-credentials spells it. */
const char *s3_cred_source_name(enum s3_cred_source s);

/* --- the cache file (s3_credcache.c) --- */
/* Text of a cache file for cr; malloc'ed, NULL when out of memory. */
char *s3_credcache_format(enum s3_cred_source src, const s3_creds *cr);
/* Parses a cache file for source src; 0, or -1 when it is not one. */
int s3_credcache_parse(const char *text, enum s3_cred_source src, s3_creds *out);

/* --- used by the request path (s3_http.c) and describe() --- */

/* Before each request: refreshes temporary credentials that are about to
 * expire.  TR_OK, or an error with c->err set. */
int s3_creds_ensure(tr_conn *c);
/* The server said the credentials expired: fetch new ones now (not from
 * the cache).  1 when new credentials are in place, 0 when the source
 * cannot give new ones (static, profile) or failed (logged). */
int s3_creds_refresh_now(tr_conn *c);

#endif
