/* azure_list.c - list(): List Blobs pages of up to 5000 names, followed
 * by NextMarker until the service gives none (a page may be short, even
 * empty, and still have a marker).  The Blob service lists names in
 * ascending lexicographic order; the driver checks that every name is
 * greater, byte by byte, than the one before, across pages, and fails
 * loudly otherwise instead of handing the core an order it relies on
 * and does not get. */
#include "config.h"
#include "azure_http.h"
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lister {
	tr_conn *c;
	const char *prefix;
	tr_list_fn fn;
	void *ctx;
	tr_object_info info;
	char last[TR_KEY_MAX + 1];  /* the previous name, "" before the first */
	int stopped;                /* the callback asked to stop */
} lister;

static int bad_page(lister *l, const char *why)
{
	return az_fail(l->c, TR_ECORRUPT, AZ_NAME ": LIST %s/%s: %s", l->c->conf.container, l->prefix, why);
}

/* One <Blob>: its name, size and time into l->info, then the callback. */
static int take_blob(lister *l, const char *xml, size_t len)
{
	char num[32], when[64];
	size_t plen;
	const char *after;
	tr_object_info *info = &l->info;
	memset(info, 0, sizeof *info);
	if (s3_xml_text(xml, len, "Name", info->key, sizeof info->key) != 1 || !info->key[0])
		return bad_page(l, "a blob without a readable name");
	const char *props = s3_xml_element(xml, len, "Properties", &plen, &after);
	if (props && s3_xml_text(props, plen, "Content-Length", num, sizeof num) == 1)
		info->size = strtoll(num, NULL, 10);
	if (props && s3_xml_text(props, plen, "Last-Modified", when, sizeof when) == 1)
		info->mtime = az_http_time(when);
	if (strncmp(info->key, l->prefix, strlen(l->prefix)) != 0)
		return bad_page(l, "the service returned a name outside the prefix");
	if (l->last[0] && strcmp(l->last, info->key) >= 0) {
		char msg[2 * 96 + 64];
		snprintf(msg, sizeof msg, "names out of ascending order (\"%.80s\" after \"%.80s\")", info->key, l->last);
		return bad_page(l, msg);
	}
	snprintf(l->last, sizeof l->last, "%s", info->key);
	if (l->fn(l->ctx, info) != 0)
		l->stopped = 1;
	return TR_OK;
}

static int parse_page(lister *l, const char *xml, size_t len, char **marker)
{
	size_t blen, elen;
	const char *after, *p;
	*marker = NULL;
	if (!s3_xml_element(xml, len, "EnumerationResults", &elen, &after))
		return bad_page(l, "not an EnumerationResults answer");
	const char *blobs = s3_xml_element(xml, len, "Blobs", &blen, &after);
	int rc = TR_OK;
	for (p = blobs; rc == TR_OK && !l->stopped && p && p < blobs + blen; p = after) {
		size_t n;
		const char *b = s3_xml_element(p, (size_t)(blobs + blen - p), "Blob", &n, &after);
		if (!b)
			break;
		rc = take_blob(l, b, n);
	}
	const char *m = s3_xml_element(xml, len, "NextMarker", &elen, &after);
	if (rc == TR_OK && !l->stopped && m && elen > 0) {
		if (!(*marker = malloc(elen + 1)))
			return az_fail(l->c, TR_ENOMEM, AZ_NAME ": out of memory");
		if (s3_xml_decode(m, elen, *marker, elen + 1) < 0)
			rc = bad_page(l, "an unreadable NextMarker");
	}
	return rc;
}

static int list_page(lister *l, const char *marker, char **next)
{
	az_request req = { .method = "GET", .op = "LIST", .subject = l->prefix };
	az_response resp;
	az_request_query(&req, "restype", "container");
	az_request_query(&req, "comp", "list");
	az_request_query(&req, "prefix", l->prefix);
	az_request_query(&req, "maxresults", "5000");
	if (marker)
		az_request_query(&req, "marker", marker);
	int rc = az_http_do(l->c, &req, &resp);
	if (rc == TR_OK)
		rc = parse_page(l, resp.body.p ? resp.body.p : "", resp.body.len, next);
	az_response_free(&resp);
	return rc;
}

int az_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	lister *l = calloc(1, sizeof *l);
	char *marker = NULL;
	int rc;
	if (!l)
		return az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	*l = (lister){ .c = c, .prefix = prefix ? prefix : "", .fn = fn, .ctx = ctx };
	do {
		char *next = NULL;
		rc = list_page(l, marker, &next);
		free(marker);
		marker = next;
	} while (rc == TR_OK && marker && !l->stopped);
	free(marker);
	free(l);
	return rc;
}
