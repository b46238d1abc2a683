/* azure_batch.c - remove_many(): Blob Batch (container-scoped "Submit
 * Batch"), up to 256 DELETE subrequests in one POST instead of one round
 * trip each (expire removes chunks and WAL by the thousand).
 *
 * Each subrequest is authenticated on its own, like a request of its own
 * (Shared Key signature or bearer token).  With a SAS the driver deletes
 * one blob per request: Azurite refuses a batch under an account SAS
 * (500, "no configuration for Container_SubmitBatch"), so that path could
 * not be tested here, and a SAS scoped to a container may not allow it.  The
 * answer is multipart too: one "HTTP/1.1 <status>" per Content-ID.  202
 * is deleted, 404 BlobNotFound was absent; any other subanswer, or a
 * subrequest left unanswered, gets one DELETE of its own, so only a key
 * that keeps failing is reported.  A service or emulator without batch
 * support (400/404/405/501 to the batch itself) gets one DELETE per key
 * from then on.  The request body carries authorization values: it is
 * wiped before it is freed. */
#include "config.h"
#include "azure_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BATCH_MAX 256   /* the service's limit of subrequests per batch */

enum { SUB_UNKNOWN = 0, SUB_DONE, SUB_FAILED };

/* One DELETE; an absent blob is fine. */
static int delete_one(tr_conn *c, const char *key)
{
	az_request req = { .method = "DELETE", .key = key };
	az_response resp;
	int rc = az_http_do(c, &req, &resp);
	az_response_free(&resp);
	return rc == TR_ENOENT ? TR_OK : rc;
}

static int build_body(tr_conn *c, const char *const *keys, size_t n, const char *boundary, s3_str *body)
{
	char date[40], *auth = malloc(AZ_TOKEN_MAX + 300);
	int rc = auth ? TR_OK : az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	az_http_date_now(date);
	for (size_t i = 0; rc == TR_OK && i < n; i++) {
		s3_str_printf(body, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
			      "Content-ID: %zu\r\n\r\nDELETE ", boundary, i);
		rc = az_sub_auth(c, "DELETE", keys[i], date, body, auth, AZ_TOKEN_MAX + 300);
		if (rc != TR_OK)
			break;
		s3_str_printf(body, " HTTP/1.1\r\nx-ms-date: %s\r\n", date);
		if (auth[0])
			s3_str_printf(body, "Authorization: %s\r\n", auth);
		s3_str_add(body, "Content-Length: 0\r\n\r\n");
	}
	s3_str_printf(body, "--%s--\r\n", boundary);
	if (auth) {
		explicit_bzero(auth, AZ_TOKEN_MAX + 300);
		free(auth);
	}
	if (rc == TR_OK && body->oom)
		rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	return rc;
}

/* Marks each subanswer: "Content-ID: N" then "HTTP/1.1 S" (and, for a
 * 404, x-ms-error-code) in the parts that follow. */
static void read_answers(const s3_str *ans, size_t n, int *state)
{
	const char *p = ans->p ? ans->p : "", *end = p + ans->len;
	long id = -1, status = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (len > 11 && strncasecmp(p, "Content-ID:", 11) == 0) {
			id = strtol(p + 11, NULL, 10);
			status = 0;
		} else if (len > 9 && strncmp(p, "HTTP/1.1 ", 9) == 0 && id >= 0 && (size_t)id < n) {
			status = strtol(p + 9, NULL, 10);
			state[id] = status == 202 ? SUB_DONE : SUB_FAILED;
		} else if (status == 404 && id >= 0 && (size_t)id < n && len > 16 &&
			   strncasecmp(p, "x-ms-error-code:", 16) == 0 && strstr(p, "BlobNotFound") &&
			   strstr(p, "BlobNotFound") < p + len) {
			state[id] = SUB_DONE;  /* it was absent */
		}
		p = eol ? eol + 1 : end;
	}
}

static int no_batch(const az_response *r)
{
	return r->status == 400 || r->status == 404 || r->status == 405 || r->status == 501;
}

static int each_alone(tr_conn *c, const char *const *keys, size_t n, const int *state, size_t *failed)
{
	for (size_t i = 0; i < n; i++) {
		if (state && state[i] == SUB_DONE)
			continue;
		int rc = delete_one(c, keys[i]);
		if (rc != TR_OK) {
			*failed = i;
			return rc;
		}
	}
	return TR_OK;
}

static int batch(tr_conn *c, const char *const *keys, size_t n, size_t *failed)
{
	char boundary[48], ctype[96];
	s3_str body = { 0 };
	int *state = calloc(n, sizeof *state);
	snprintf(boundary, sizeof boundary, "batch_%016llx", (unsigned long long)az_random(c));
	int rc = state ? build_body(c, keys, n, boundary, &body) : az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	if (rc == TR_OK) {
		az_request req = { .method = "POST", .op = "BATCH DELETE", .subject = keys[0], .body = body.p,
				   .body_len = body.len };
		az_response resp;
		snprintf(ctype, sizeof ctype, "multipart/mixed; boundary=%s", boundary);
		az_request_query(&req, "restype", "container");
		az_request_query(&req, "comp", "batch");
		az_request_header(&req, "Content-Type", ctype);
		rc = az_http_do(c, &req, &resp);
		if (rc == TR_OK) {
			read_answers(&resp.body, n, state);
			rc = each_alone(c, keys, n, state, failed);
		} else if (no_batch(&resp)) {
			az_log(c, 1, AZ_NAME ": %s has no Blob Batch (%ld %s): one DELETE per blob", c->conf.base_url,
			       resp.status, resp.code[0] ? resp.code : "");
			c->no_batch = 1;
			rc = each_alone(c, keys, n, NULL, failed);
		}
		az_response_free(&resp);
	}
	if (body.p)
		explicit_bzero(body.p, body.len);
	s3_str_free(&body);
	free(state);
	return rc;
}

int az_remove_many(tr_conn *c, const char *const *keys, size_t n, size_t *failed)
{
	size_t f = 0;
	if (failed)
		*failed = 0;
	if (n > TR_REMOVE_MANY_MAX)
		return az_fail(c, TR_EINVAL, AZ_NAME ": remove_many: %zu keys, at most %d", n, TR_REMOVE_MANY_MAX);
	for (size_t i = 0; i < n; i++)  /* before anything is removed */
		if (az_check_key(c, "remove_many", keys[i]) != TR_OK) {
			if (failed)
				*failed = i;
			return TR_EINVAL;
		}
	for (size_t i = 0; i < n; i += BATCH_MAX) {
		size_t m = n - i < BATCH_MAX ? n - i : BATCH_MAX;
		int alone = c->no_batch || c->conf.auth == AZ_AUTH_SAS;
		int rc = alone ? each_alone(c, keys + i, m, NULL, &f) : batch(c, keys + i, m, &f);
		if (rc != TR_OK) {
			if (failed)
				*failed = i + f;
			return rc;
		}
	}
	return TR_OK;
}
