/* s3_cred_local.c - the credential sources that need no network: the
 * static settings, and a profile of the AWS shared files. */
#include "config.h"
#include "s3_creds.h"
#include "s3_fetch.h"
#include "s3_profile.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROFILE_FILE_MAX (1024 * 1024)

/* --- static --- */

int s3_static_probe(tr_conn *c, s3_src_info *info)
{
	const s3_conf *k = &c->conf;
	if (!k->access_key_id && !k->secret_access_key) {
		snprintf(info->why, sizeof info->why, "access-key-id and secret-access-key not set");
		return S3_SRC_ABSENT;
	}
	if (!k->secret_access_key) {
		snprintf(info->why, sizeof info->why, "setting secret-access-key is required when access-key-id is set");
		return S3_SRC_BROKEN;
	}
	if (!k->access_key_id) {
		snprintf(info->why, sizeof info->why, "setting access-key-id is required when secret-access-key is set");
		return S3_SRC_BROKEN;
	}
	snprintf(info->detail, sizeof info->detail, "static (settings access-key-id, secret-access-key%s)",
		 k->session_token ? ", session-token" : "");
	return S3_SRC_CONFIGURED;
}

int s3_static_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen)
{
	const s3_conf *k = &c->conf;
	if (s3_creds_set(out, k->access_key_id, k->secret_access_key, k->session_token, 0, why, whylen) != 0)
		return TR_EINVAL;
	return TR_OK;
}

/* --- profile --- */

static void aws_file(const char *var, const char *leaf, char *out, size_t outlen)
{
	const char *v = getenv(var), *home = getenv("HOME");
	if (v && *v) {
		snprintf(out, outlen, "%s", v);
		return;
	}
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "";
	}
	snprintf(out, outlen, "%s/.aws/%s", home, leaf);
}

typedef struct profile_files {
	char credentials[4096];
	char config[4096];
	const char *name;
	int named;           /* s3-profile was given: missing is an error */
	char unread[1200];   /* files that could not be read, for messages */
} profile_files;

static void read_one(profile_files *f, const char *path, int config_style, s3_profile *p)
{
	char *text, why[512];
	size_t len;
	if (s3_read_small_file(path, PROFILE_FILE_MAX, &text, &len, why, sizeof why) != 0) {
		size_t used = strlen(f->unread);
		snprintf(f->unread + used, sizeof f->unread - used, "%s%s", used ? "; " : "", why);
		return;
	}
	s3_profile_parse(text, len, f->name, config_style, p);
	memset(text, 0, len);
	free(text);
}

/* The config file first, so the credentials file wins where both say. */
static void load_profile(tr_conn *c, profile_files *f, s3_profile *p)
{
	memset(f, 0, sizeof *f);
	memset(p, 0, sizeof *p);
	f->named = c->conf.profile != NULL;
	f->name = f->named ? c->conf.profile : "default";
	aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", f->credentials, sizeof f->credentials);
	aws_file("AWS_CONFIG_FILE", "config", f->config, sizeof f->config);
	read_one(f, f->config, 1, p);
	read_one(f, f->credentials, 0, p);
}

static int profile_check(const profile_files *f, const s3_profile *p, s3_src_info *info)
{
	int missing = f->named ? S3_SRC_BROKEN : S3_SRC_ABSENT;
	if (!p->found) {
		snprintf(info->why, sizeof info->why, "no profile \"%s\" in %s or %s%s%s", f->name, f->credentials,
			 f->config, f->unread[0] ? " (" : "", f->unread[0] ? "absent or unreadable)" : "");
		return missing;
	}
	if (!p->access_key_id[0] && !p->secret_access_key[0]) {
		if (p->unsupported[0]) {
			snprintf(info->why, sizeof info->why, "profile \"%s\" uses %s, which totalrecall does not "
				 "run: give the profile aws_access_key_id and aws_secret_access_key, or use the "
				 "web-identity, container or imds source", f->name, p->unsupported);
			return S3_SRC_BROKEN;
		}
		snprintf(info->why, sizeof info->why, "profile \"%s\" has no aws_access_key_id", f->name);
		return missing;
	}
	if (!p->access_key_id[0] || !p->secret_access_key[0]) {
		snprintf(info->why, sizeof info->why, "profile \"%s\" has %s but no %s", f->name,
			 p->access_key_id[0] ? "aws_access_key_id" : "aws_secret_access_key",
			 p->access_key_id[0] ? "aws_secret_access_key" : "aws_access_key_id");
		return S3_SRC_BROKEN;
	}
	return S3_SRC_CONFIGURED;
}

int s3_profile_probe(tr_conn *c, s3_src_info *info)
{
	profile_files f;
	s3_profile *p = malloc(sizeof *p);
	if (!p) {
		snprintf(info->why, sizeof info->why, "out of memory");
		return S3_SRC_BROKEN;
	}
	load_profile(c, &f, p);
	int st = profile_check(&f, p, info);
	if (st == S3_SRC_CONFIGURED)
		snprintf(info->detail, sizeof info->detail, "profile %s (%s, %s)", f.name, f.credentials, f.config);
	s3_profile_wipe(p);
	free(p);
	return st;
}

int s3_profile_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen)
{
	profile_files f;
	s3_src_info info;
	int rc = TR_OK;
	s3_profile *p = malloc(sizeof *p);
	if (!p) {
		snprintf(why, whylen, "out of memory");
		return TR_ENOMEM;
	}
	load_profile(c, &f, p);
	if (profile_check(&f, p, &info) != S3_SRC_CONFIGURED) {
		snprintf(why, whylen, "%s", info.why);
		rc = TR_EAUTH;
	} else if (s3_creds_set(out, p->access_key_id, p->secret_access_key, p->session_token, 0, why,
				whylen) != 0) {
		rc = TR_EINVAL;
	}
	s3_profile_wipe(p);
	free(p);
	return rc;
}

int s3_profile_region(tr_conn *c, char *out, size_t outlen)
{
	profile_files f;
	s3_profile *p = malloc(sizeof *p);
	out[0] = '\0';
	if (!p)
		return -1;
	load_profile(c, &f, p);
	snprintf(out, outlen, "%s", p->region);
	s3_profile_wipe(p);
	free(p);
	return out[0] ? 0 : -1;
}
