/* s3_json.h - just enough JSON for credential endpoints (ECS, EKS Pod
 * Identity, EC2 instance metadata): string members of one flat object. */
#ifndef TR_S3_JSON_H
#define TR_S3_JSON_H

#include <stddef.h>

/*
 * Finds member name of the top-level object in json[0..len) and decodes
 * its string value into out (NUL-terminated, \uXXXX as UTF-8).  Returns 1
 * found, 0 absent (or not a string), -1 when the document is not one
 * well-formed JSON object or the value does not fit.
 */
int s3_json_string(const char *json, size_t len, const char *name, char *out, size_t outlen);

#endif
