/* azure.c - the azure storage driver (Azure Blob Storage, block blobs):
 * the tr_driver vtable and the object operations, over azure_http
 * (authenticated requests, retries, resumable downloads), azure_upload
 * (Put Blob, staged blocks), azure_list (List Blobs) and azure_token (the
 * managed identity's token).  `bucket` is the container. */
#include "config.h"
#include "azure_internal.h"
#include "azure_http.h"
#include "drv_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


uint64_t az_random(tr_conn *c)
{
	return drv_random(&c->rng);
}

/* Keys as the ABI defines them, and no control characters: the service
 * would have to hand them back XML-encoded in listings. */
int az_check_key(tr_conn *c, const char *op, const char *key)
{
	int ok = tr_key_ok(key);
	size_t n = ok ? strlen(key) : 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)key[i] >= 0x20 && key[i] != 0x7f;
	if (!ok)
		return az_fail(c, TR_EINVAL, AZ_NAME ": %s: invalid blob name \"%.80s\"", op, key ? key : "");
	return TR_OK;
}

/* --- open / close --- */

static void az_close(tr_conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	az_token_free(&c->token);
	az_conf_free(&c->conf);
	free(c);
}

static int az_open(const tr_driver_env *env, tr_conn **out)
{
	tr_conn *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return TR_ENOMEM;
	if (!TR_DRIVER_ENV_OK(env))
		return az_fail(c, TR_EINVAL, AZ_NAME ": the core's driver environment is older than driver ABI version %d",
			       TR_DRIVER_ABI_VERSION);
	c->env = *env;
	c->rng = drv_seed(c);
	int rc = az_conf_load(c);
	if (rc != TR_OK)
		return rc;
	c->curl = drv_curl_handle();
	if (!c->curl)
		return az_fail(c, TR_ENOMEM, AZ_NAME ": cannot create a curl handle");
	az_log(c, 3, AZ_NAME ": container %s at %s, %s", c->conf.container, c->conf.base_url,
	       az_auth_name(&c->conf));
	return TR_OK;
}

static const char *az_errmsg(tr_conn *c)
{
	return c && c->err[0] ? c->err : "no error";
}

/* --- put / get / head / remove / list --- */

static int az_put_op(tr_conn *c, const char *key, const tr_put_args *a)
{
	int rc = az_check_key(c, "PUT", key);
	if (rc != TR_OK)
		return rc;
	if (a->checksum && strlen(a->checksum) > TR_CHECKSUM_MAX)
		return az_fail(c, TR_EINVAL, AZ_NAME ": PUT %s/%s: checksum longer than %d bytes",
			       c->conf.container, key, TR_CHECKSUM_MAX);
	if (a->flags & ~TR_PUT_IF_ABSENT)  /* TR_PUT_BATCH too: there is no sync() */
		return az_fail(c, TR_ENOTSUP, AZ_NAME ": PUT %s/%s: flags 0x%x not supported", c->conf.container, key,
			       a->flags & ~TR_PUT_IF_ABSENT);
	return az_put(c, key, a);
}

static int az_get(tr_conn *c, const char *key, tr_write_fn write, void *ctx)
{
	int rc = az_check_key(c, "GET", key);
	if (rc != TR_OK)
		return rc;
	az_request req = { .method = "GET", .key = key, .sink = write, .sink_ctx = ctx };
	az_response resp;
	rc = az_http_do(c, &req, &resp);
	az_response_free(&resp);
	return rc;
}

/* A HEAD answer has no body, and a server or proxy may leave out
 * x-ms-error-code: then ask the container, so that a missing container
 * is an error and not "the blob is absent". */
static int absent_or_no_container(tr_conn *c, const char *key)
{
	az_request req = { .method = "HEAD" };
	az_response resp;
	az_request_query(&req, "restype", "container");
	int rc = az_http_do(c, &req, &resp);
	az_response_free(&resp);
	if (rc == TR_OK)
		return az_fail(c, TR_ENOENT, AZ_NAME ": HEAD %s/%s: not found", c->conf.container, key);
	return rc;
}

static int az_head(tr_conn *c, const char *key, tr_object_info *info)
{
	int rc = az_check_key(c, "HEAD", key);
	if (rc != TR_OK)
		return rc;
	az_request req = { .method = "HEAD", .key = key };
	az_response resp;
	rc = az_http_do(c, &req, &resp);
	memset(info, 0, sizeof *info);
	if (rc == TR_OK) {
		snprintf(info->key, sizeof info->key, "%s", key);
		info->size = resp.content_length < 0 ? 0 : resp.content_length;
		info->mtime = az_http_time(resp.last_modified);
		snprintf(info->checksum, sizeof info->checksum, "%s", resp.checksum);
	} else if (resp.status == 404 && !resp.code[0]) {
		rc = absent_or_no_container(c, key);
	}
	az_response_free(&resp);
	return rc;
}

static int az_remove(tr_conn *c, const char *key)
{
	int rc = az_check_key(c, "DELETE", key);
	if (rc != TR_OK)
		return rc;
	az_request req = { .method = "DELETE", .key = key };
	az_response resp;
	rc = az_http_do(c, &req, &resp);
	az_response_free(&resp);
	return rc == TR_ENOENT ? TR_OK : rc;
}

static int az_list_op(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	return az_list(c, prefix, fn, ctx);
}

/* If-None-Match: * is part of the Blob service's contract on Put Blob and
 * Put Block List (409 BlobAlreadyExists): atomic on every connection. */
static unsigned az_caps(tr_conn *c)
{
	(void)c;
	return TR_CAP_PUT_IF_ABSENT | TR_CAP_CHECKSUM | TR_CAP_RANGE_RESUME | TR_CAP_REMOTE;
}

static const char *credential_source(const az_conf *k)
{
	if (k->from_connection_string)
		return "azure-connection-string (AZURE_STORAGE_CONNECTION_STRING)";
	if (k->auth == AZ_AUTH_SHARED_KEY)
		return "azure-key (AZURE_STORAGE_KEY)";
	return k->auth == AZ_AUTH_SAS ? "azure-sas-token (AZURE_STORAGE_SAS_TOKEN)" : NULL;
}

static const char *az_describe(tr_conn *c)
{
	const az_conf *k = &c->conf;
	char cred[400], where[64];
	const char *src = credential_source(k);
	if (k->auth == AZ_AUTH_MANAGED_IDENTITY)
		snprintf(cred, sizeof cred, "managed identity%s%s via %s", k->client_id ? " " : "",
			 k->client_id ? k->client_id : "", k->imds_url);
	else
		snprintf(cred, sizeof cred, "%s from %s", az_auth_name(k), src);
	if (strcmp(k->endpoint_from, "default") == 0)
		snprintf(where, sizeof where, "the default endpoint");
	else
		snprintf(where, sizeof where, "from %s", k->endpoint_from);
	snprintf(c->desc, sizeof c->desc,
		 "azure: container %s at %s (%s), credentials: %s; put-if-absent: If-None-Match "
		 "(atomic); blocks of %zu MiB", k->container, k->base_url, where, cred, k->block_size / AZ_MIB);
	return c->desc;
}

static const tr_driver az_driver = {
	.abi_version = TR_DRIVER_ABI_VERSION,
	.struct_size = sizeof(tr_driver),
	.name = AZ_NAME,
	.version = AZ_VERSION,
	.open = az_open,
	.close = az_close,
	.errmsg = az_errmsg,
	.caps = az_caps,
	.describe = az_describe,
	.put = az_put_op,
	.get = az_get,
	.head = az_head,
	.list = az_list_op,
	.remove = az_remove,
	.remove_many = az_remove_many,
	.sync = NULL,
};

__attribute__((visibility("default"))) const tr_driver *totalrecall_driver(void);

__attribute__((visibility("default"))) const tr_driver *totalrecall_driver(void)
{
	return &az_driver;
}
