/* azure_conf.c - read and check the driver's settings at open(): the
 * container, the endpoint, and which credentials to use (Shared Key, SAS,
 * or a managed identity's token), from the settings or from a connection
 * string.  Messages name the setting, never a secret value. */
#include "config.h"
#include "azure_internal.h"
#include "azure_crypto.h"
#include "drv_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The parts of AZURE_STORAGE_CONNECTION_STRING the driver uses (pointers
 * into a private copy). */
typedef struct conn_string {
	char *copy;
	size_t len;          /* of copy, to wipe it (strtok cut it in pieces) */
	const char *account, *key, *sas, *blob_endpoint, *protocol, *suffix;
} conn_string;

static const char *get(tr_conn *c, const char *name)
{
	const char *v = c->env.setting ? c->env.setting(c->env.ctx, name) : NULL;
	return v && *v ? v : NULL;
}

static int oom(tr_conn *c)
{
	return az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
}

static int number(tr_conn *c, const char *name, long long def, long long min, long long max,
		  long long *out)
{
	if (drv_number(AZ_NAME, name, get(c, name), def, min, max, out, c->err, sizeof c->err) != 0)
		return TR_EINVAL;
	return TR_OK;
}

/* Azure's rule: 3 to 63 of [a-z0-9-], starting with a letter or digit,
 * no "--", not ending with '-'. */
static int container_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* "Key=Value;Key=Value": the value is everything after the first '='
 * (keys and signatures hold '=').  Unknown keys (QueueEndpoint, ...) are
 * ignored, as the Azure SDKs do. */
static int parse_conn_string(tr_conn *c, const char *s, conn_string *cs)
{
	static const char label[] = AZ_NAME ": setting azure-connection-string (AZURE_STORAGE_CONNECTION_STRING)";
	memset(cs, 0, sizeof *cs);
	if (!s)
		return TR_OK;
	if (!(cs->copy = strdup(s)))
		return oom(c);
	cs->len = strlen(s);
	char *save = NULL;
	for (char *part = strtok_r(cs->copy, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
		while (*part == ' ')
			part++;
		if (!*part)
			continue;
		char *eq = strchr(part, '=');
		if (!eq || eq == part)
			return az_fail(c, TR_EINVAL, "%s: a part is not Key=Value", label);
		*eq = '\0';
		const char *v = eq + 1;
		if (strcasecmp(part, "AccountName") == 0)
			cs->account = v;
		else if (strcasecmp(part, "AccountKey") == 0)
			cs->key = v;
		else if (strcasecmp(part, "SharedAccessSignature") == 0)
			cs->sas = v;
		else if (strcasecmp(part, "BlobEndpoint") == 0)
			cs->blob_endpoint = v;
		else if (strcasecmp(part, "DefaultEndpointsProtocol") == 0)
			cs->protocol = v;
		else if (strcasecmp(part, "EndpointSuffix") == 0)
			cs->suffix = v;
		else if (strcasecmp(part, "UseDevelopmentStorage") == 0)
			return az_fail(c, TR_EINVAL, "%s: UseDevelopmentStorage is not supported; give "
				       "BlobEndpoint, AccountName and AccountKey", label);
	}
	if (cs->protocol && strcmp(cs->protocol, "http") != 0 && strcmp(cs->protocol, "https") != 0)
		return az_fail(c, TR_EINVAL, "%s: DefaultEndpointsProtocol \"%s\" is not http or https",
			       label, cs->protocol);
	return TR_OK;
}

/* scheme://host[:port][/path]: the path is kept (Azurite puts the account
 * there); a query or fragment is refused. */
static int set_base_url(tr_conn *c, const char *url, const char *from)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return az_fail(c, TR_EINVAL, AZ_NAME ": %s: \"%s\" must start with http:// or https://", from, url);
	const char *host = strstr(url, "://") + 3;
	if (!*host || *host == '/' || strpbrk(url, "?#"))
		return az_fail(c, TR_EINVAL, AZ_NAME ": %s: \"%s\" must be scheme://host[:port][/path]", from, url);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (!(c->conf.base_url = strndup(url, n)))
		return oom(c);
	return TR_OK;
}

static int load_endpoint(tr_conn *c, const conn_string *cs)
{
	az_conf *k = &c->conf;
	const char *ep = get(c, "endpoint");
	if (ep) {
		k->endpoint_from = "the endpoint setting";
		return set_base_url(c, ep, "setting endpoint");
	}
	if (cs->blob_endpoint) {
		k->endpoint_from = "the connection string";
		return set_base_url(c, cs->blob_endpoint, "connection string BlobEndpoint");
	}
	if (!k->account)
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting azure-account (AZURE_STORAGE_ACCOUNT) is required "
			       "(or an endpoint)");
	char url[512];
	snprintf(url, sizeof url, "%s://%s.blob.%s", cs->protocol ? cs->protocol : "https", k->account,
		 cs->suffix ? cs->suffix : "core.windows.net");
	k->endpoint_from = cs->protocol || cs->suffix ? "the connection string's account and suffix" : "default";
	return set_base_url(c, url, "endpoint");
}

static int decode_key(tr_conn *c, const char *b64, const char *label)
{
	long n = az_base64_decode(b64, strlen(b64), c->conf.key, sizeof c->conf.key);
	if (n <= 0)
		return az_fail(c, TR_EINVAL, AZ_NAME ": %s: not a base64 account key", label);
	c->conf.key_len = (size_t)n;
	return TR_OK;
}

static void warn_shadowed(tr_conn *c)
{
	static const char *const names[] = { "azure-account", "azure-key", "azure-sas-token" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (get(c, names[i]))
			az_log(c, 1, AZ_NAME ": %s is ignored: AZURE_STORAGE_CONNECTION_STRING is set", names[i]);
}

/* Which credentials: azure-credentials pins one kind; auto takes a key,
 * else a SAS, else the managed identity. */
static int choose_auth(tr_conn *c, const char *key, const char *sas)
{
	const char *want = get(c, "azure-credentials");
	az_conf *k = &c->conf;
	if (!want || strcmp(want, "auto") == 0)
		k->auth = key ? AZ_AUTH_SHARED_KEY : sas ? AZ_AUTH_SAS : AZ_AUTH_MANAGED_IDENTITY;
	else if (strcmp(want, "shared-key") == 0)
		k->auth = AZ_AUTH_SHARED_KEY;
	else if (strcmp(want, "sas") == 0)
		k->auth = AZ_AUTH_SAS;
	else if (strcmp(want, "managed-identity") == 0)
		k->auth = AZ_AUTH_MANAGED_IDENTITY;
	else
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting azure-credentials: \"%s\" is not auto, shared-key, "
			       "sas or managed-identity", want);
	if (k->auth == AZ_AUTH_SHARED_KEY && !key)
		return az_fail(c, TR_EINVAL, AZ_NAME ": shared-key credentials need azure-key (AZURE_STORAGE_KEY) "
			       "or AccountKey in the connection string");
	if (k->auth == AZ_AUTH_SHARED_KEY && !k->account)
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting azure-account (AZURE_STORAGE_ACCOUNT) is required "
			       "with a shared key");
	if (k->auth == AZ_AUTH_SAS && !sas)
		return az_fail(c, TR_EINVAL, AZ_NAME ": sas credentials need azure-sas-token (AZURE_STORAGE_SAS_TOKEN) "
			       "or SharedAccessSignature in the connection string");
	if (k->auth == AZ_AUTH_SHARED_KEY)
		return decode_key(c, key, k->from_connection_string ? "connection string AccountKey"
								    : "setting azure-key (AZURE_STORAGE_KEY)");
	if (k->auth == AZ_AUTH_SAS) {
		while (*sas == '?')
			sas++;
		if (!(k->sas = strdup(sas)))
			return oom(c);
	}
	return TR_OK;
}

static int dup_opt(const char *v, char **out)
{
	*out = v ? strdup(v) : NULL;
	return v && !*out ? -1 : 0;
}

static int load_credentials(tr_conn *c, const conn_string *cs)
{
	az_conf *k = &c->conf;
	const char *account = get(c, "azure-account"), *key = get(c, "azure-key");
	const char *sas = get(c, "azure-sas-token");
	if (cs->copy) {
		warn_shadowed(c);
		k->from_connection_string = 1;
		account = cs->account;
		key = cs->key;
		sas = cs->sas;
	}
	if (dup_opt(account, &k->account) != 0)
		return oom(c);
	return choose_auth(c, key, sas);
}

static int load_identity(tr_conn *c)
{
	az_conf *k = &c->conf;
	const char *imds = get(c, "azure-imds-endpoint");
	if (dup_opt(imds ? imds : AZ_DEFAULT_IMDS, &k->imds_url) || dup_opt(get(c, "azure-client-id"), &k->client_id))
		return oom(c);
	if (strncmp(k->imds_url, "http://", 7) != 0 && strncmp(k->imds_url, "https://", 8) != 0)
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting azure-imds-endpoint: \"%s\" must start with http:// "
			       "or https://", k->imds_url);
	return TR_OK;
}

static int load_numbers(tr_conn *c)
{
	long long block, retries, maxtime, timeout;
	int rc;
	if ((rc = number(c, "azure-block-size", (long long)AZ_DEFAULT_BLOCK, (long long)AZ_MIN_BLOCK,
			 (long long)AZ_MAX_BLOCK, &block)) ||
	    (rc = number(c, "retries", 5, 0, 100, &retries)) ||
	    (rc = number(c, "retry-max-time", 60, 0, 86400, &maxtime)) ||
	    (rc = number(c, "timeout", 30, 1, 3600, &timeout)))
		return rc;
	c->conf.block_size = (size_t)block;
	c->conf.retries = (int)retries;
	c->conf.retry_max_time = (int)maxtime;
	c->conf.timeout = (long)timeout;
	return TR_OK;
}

static int load_container(tr_conn *c)
{
	const char *b = get(c, "bucket");
	if (!b)
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting bucket (the container) is required");
	if (!container_ok(b))
		return az_fail(c, TR_EINVAL, AZ_NAME ": setting bucket: \"%s\" is not a container name "
			       "(3 to 63 of a-z, 0-9 and '-', no \"--\", not starting or ending with '-')", b);
	if (!(c->conf.container = strdup(b)))
		return oom(c);
	return TR_OK;
}

int az_conf_load(tr_conn *c)
{
	conn_string cs;
	az_conf *k = &c->conf;
	int rc = parse_conn_string(c, get(c, "azure-connection-string"), &cs);
	if (rc == TR_OK)
		rc = load_container(c);
	if (rc == TR_OK)
		rc = load_credentials(c, &cs);
	if (rc == TR_OK)
		rc = load_endpoint(c, &cs);
	if (rc == TR_OK)
		rc = load_identity(c);
	if (rc == TR_OK)
		rc = load_numbers(c);
	if (rc == TR_OK && (dup_opt(get(c, "azure-ca-file"), &k->ca_file) ||
			    dup_opt(get(c, "state-dir"), &k->state_dir)))
		rc = oom(c);
	if (cs.copy) {
		explicit_bzero(cs.copy, cs.len);
		free(cs.copy);
	}
	return rc;
}

const char *az_auth_name(const az_conf *k)
{
	switch (k->auth) {
	case AZ_AUTH_SHARED_KEY: return "shared key";
	case AZ_AUTH_SAS: return "SAS token";
	case AZ_AUTH_MANAGED_IDENTITY: return "managed identity";
	}
	return "none";
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void az_conf_free(az_conf *k)
{
	free(k->account);
	free_secret(k->sas);
	free(k->container);
	free(k->base_url);
	free(k->imds_url);
	free(k->client_id);
	free(k->ca_file);
	free(k->state_dir);
	explicit_bzero(k, sizeof *k); /* the account key lives in it */
}
