/* s3_profile.h - named profiles of the AWS shared files: static keys from
 * ~/.aws/credentials ("[name]") and ~/.aws/config ("[profile name]",
 * "[default]"), and the profile's region. */
#ifndef TR_S3_PROFILE_H
#define TR_S3_PROFILE_H

#include <stddef.h>

/* Longest session token taken (STS tokens grow with session policies and
 * tags; a few KiB in practice). */
#define S3_TOKEN_MAX 16384

typedef struct s3_profile {
	int found;                     /* the section exists */
	char access_key_id[256];
	char secret_access_key[256];
	char session_token[S3_TOKEN_MAX];
	char region[64];
	char unsupported[64];          /* e.g. "role_arn": a kind of profile we do not run */
} s3_profile;

/*
 * Reads profile name from the text of one file into p, keeping what p
 * already holds for keys the file does not set (so the credentials file
 * can be read after the config file and win).  config_style: section
 * names are "profile NAME" (and "default"), as in ~/.aws/config.
 * Lines: "[section]", "key = value", comments starting with '#' or ';';
 * indented lines (sub-settings such as "s3 =\n  addressing_style = x")
 * are skipped.  Keys are matched without regard to case.
 */
void s3_profile_parse(const char *text, size_t len, const char *name, int config_style, s3_profile *p);

/* Overwrites the secrets of p. */
void s3_profile_wipe(s3_profile *p);

#endif
