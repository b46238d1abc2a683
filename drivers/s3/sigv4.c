/* sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * signing key and signature, computed with BearSSL's SHA-256 and HMAC.
 * The signer takes raw (decoded) paths and query values and encodes them
 * once itself, so a caller never has to agree with it on pre-encoding. */
#include "config.h"
#include "sigv4.h"
#include "s3_str.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

static const char hex_lower[] = "0123456789abcdef";

char *s3_uri_encode(const char *in, size_t len, int keep_slash)
{
	s3_str s = { 0 };
	s3_str_add(&s, "");
	s3_str_add_encoded(&s, in, len, keep_slash);
	return s3_str_take(&s);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	br_sha256_context c;
	unsigned char d[32];
	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, d);
	to_hex(d, 32, out);
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mlen);
	br_hmac_out(&hc, out);
}

/* --- canonical URI --- */

/* Generic-service rule: drop "." segments, resolve "..", collapse "//". */
static void normalize_path(s3_str *out, const char *path)
{
	const char *segs[256];
	size_t lens[256];
	size_t n = 0;
	int trailing = 0;
	const char *p = path;

	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - start);
		trailing = (*p == '/' || len == 0);
		if (len == 0)
			continue;
		if (len == 1 && start[0] == '.') {
			trailing = 1;
		} else if (len == 2 && start[0] == '.' && start[1] == '.') {
			if (n > 0)
				n--;
			trailing = 1;
		} else if (n < 256) {
			segs[n] = start;
			lens[n++] = len;
		}
	}
	s3_str_addc(out, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			s3_str_addc(out, '/');
		s3_str_add_encoded(out, segs[i], lens[i], 0);
	}
	if (trailing && n > 0)
		s3_str_addc(out, '/');
}

static void canonical_uri(s3_str *out, const char *path, enum s3_sigv4_rules rules)
{
	if (!path || !*path) {
		s3_str_addc(out, '/');
		return;
	}
	if (rules == S3_SIGV4_GENERIC)
		normalize_path(out, path);
	else
		s3_str_add_encoded(out, path, strlen(path), 1);
}

/* --- canonical query --- */

typedef struct enc_pair {
	char *name;
	char *value;
} enc_pair;

static int pair_cmp(const void *a, const void *b)
{
	const enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

char *s3_canonical_query(const s3_kv *query, size_t nquery)
{
	enc_pair *pairs = calloc(nquery ? nquery : 1, sizeof *pairs);
	s3_str s = { 0 };
	int ok = pairs != NULL;

	for (size_t i = 0; ok && i < nquery; i++) {
		pairs[i].name = s3_uri_encode(query[i].name, strlen(query[i].name), 0);
		pairs[i].value = s3_uri_encode(query[i].value, strlen(query[i].value), 0);
		ok = pairs[i].name && pairs[i].value;
	}
	if (ok) {
		qsort(pairs, nquery, sizeof *pairs, pair_cmp);
		s3_str_add(&s, "");
		for (size_t i = 0; i < nquery; i++)
			s3_str_printf(&s, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
	}
	for (size_t i = 0; pairs && i < nquery; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	if (!ok) {
		s3_str_free(&s);
		return NULL;
	}
	return s3_str_take(&s);
}

/* --- canonical headers --- */

static int name_cmp_ci(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y || !x)
			return (int)x - (int)y;
	}
}

static void add_lower(s3_str *s, const char *name)
{
	for (; *name; name++) {
		char c = *name;
		s3_str_addc(s, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
	}
}

/* Trims the value and collapses inner runs of blanks to one space. */
static void add_trimmed(s3_str *s, const char *v)
{
	int pending = 0, started = 0;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			pending = started;
			continue;
		}
		if (pending)
			s3_str_addc(s, ' ');
		s3_str_addc(s, *v);
		pending = 0;
		started = 1;
	}
}

/* Stable order by lowercase name, so duplicates keep their order when
 * their values are joined with ','. */
static size_t *sorted_header_index(const s3_kv *h, size_t n)
{
	size_t *idx = malloc((n ? n : 1) * sizeof *idx);
	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && name_cmp_ci(h[idx[j - 1]].name, h[i].name) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return idx;
}

static void canonical_headers(s3_str *creq, s3_str *signed_h, const s3_kv *h, size_t n,
			      const size_t *idx)
{
	for (size_t k = 0; k < n; k++) {
		const s3_kv *cur = &h[idx[k]];
		int dup = k > 0 && name_cmp_ci(h[idx[k - 1]].name, cur->name) == 0;
		if (dup) {
			s3_str_addc(creq, ',');
		} else {
			if (k > 0) {
				s3_str_addc(creq, '\n');
				s3_str_addc(signed_h, ';');
			}
			add_lower(creq, cur->name);
			s3_str_addc(creq, ':');
			add_lower(signed_h, cur->name);
		}
		add_trimmed(creq, cur->value);
	}
	s3_str_addc(creq, '\n');
}

/* --- signature --- */

static void signing_key(const s3_sigv4_key *key, unsigned char out[32])
{
	s3_str k = { 0 };
	unsigned char a[32], b[32];
	s3_str_printf(&k, "AWS4%s", key->secret_access_key);
	hmac(k.p ? k.p : "", k.len, key->amz_date, 8, a);
	hmac(a, 32, key->region, strlen(key->region), b);
	hmac(b, 32, key->service, strlen(key->service), a);
	hmac(a, 32, "aws4_request", 12, out);
	if (k.p)
		memset(k.p, 0, k.len); /* the secret should not linger on the heap */
	s3_str_free(&k);
}

void s3_sigv4_result_free(s3_sigv4_result *res)
{
	free(res->canonical_request);
	free(res->string_to_sign);
	free(res->signed_headers);
	free(res->authorization);
	memset(res, 0, sizeof *res);
}

static int build_canonical(const s3_sigv4_request *req, s3_str *creq, s3_str *sh)
{
	size_t *idx = sorted_header_index(req->headers, req->nheaders);
	char *q = s3_canonical_query(req->query, req->nquery);
	if (!idx || !q) {
		free(idx);
		free(q);
		return -1;
	}
	s3_str_printf(creq, "%s\n", req->method);
	canonical_uri(creq, req->path, req->rules);
	s3_str_printf(creq, "\n%s\n", q);
	s3_str_add(sh, "");
	canonical_headers(creq, sh, req->headers, req->nheaders, idx);
	s3_str_printf(creq, "\n%s\n%s", sh->p ? sh->p : "", req->payload_hash);
	free(idx);
	free(q);
	return creq->oom || sh->oom ? -1 : 0;
}

int s3_sigv4_sign(const s3_sigv4_request *req, const s3_sigv4_key *key, s3_sigv4_result *res)
{
	s3_str creq = { 0 }, sh = { 0 }, sts = { 0 }, auth = { 0 };
	char creq_hash[65];
	unsigned char ksig[32], sig[32];

	memset(res, 0, sizeof *res);
	if (build_canonical(req, &creq, &sh) != 0)
		goto oom;
	s3_sha256_hex(creq.p, creq.len, creq_hash);
	s3_str_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", key->amz_date,
		      key->amz_date, key->region, key->service, creq_hash);
	if (sts.oom)
		goto oom;
	signing_key(key, ksig);
	hmac(ksig, 32, sts.p, sts.len, sig);
	to_hex(sig, 32, res->signature);
	s3_str_printf(&auth, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request,"
		      "SignedHeaders=%s,Signature=%s", key->access_key_id, key->amz_date,
		      key->region, key->service, sh.p, res->signature);
	res->canonical_request = s3_str_take(&creq);
	res->signed_headers = s3_str_take(&sh);
	res->string_to_sign = s3_str_take(&sts);
	res->authorization = s3_str_take(&auth);
	if (!res->canonical_request || !res->signed_headers || !res->string_to_sign ||
	    !res->authorization) {
		s3_sigv4_result_free(res);
		return -1;
	}
	return 0;
oom:
	s3_str_free(&creq);
	s3_str_free(&sh);
	s3_str_free(&sts);
	s3_str_free(&auth);
	return -1;
}
