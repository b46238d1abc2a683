/* test_sigv4.c - the s3 driver's SigV4 signer against the whole AWS SigV4
 * test suite (generic-service rules) and the S3 documentation's worked
 * examples (S3 rules), plus URL encoding and the minimal XML parser.
 * Vectors are read at run time from $top_srcdir/tests/vectors. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"
#include "s3_xml.h"

#define SUITE_CASES 33       /* .req files outside _errata */
#define S3_HEADER_VECTORS 4  /* header-auth examples in s3-doc-vectors.json */

static char vec_dir[4096];

/* --- files --- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return buf;
}

/* --- the AWS suite: discovering cases --- */

static char *cases[64];
static int ncases;

static void find_cases(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096], req[4200];
	struct stat st;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue; /* _errata holds superseded expectations */
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(req, sizeof req, "%s/%s.req", path, e->d_name);
		if (access(req, R_OK) == 0 && ncases < 64)
			cases[ncases++] = strdup(path);
		find_cases(path); /* normalize-path/ and post-sts-token/ nest cases */
	}
	closedir(d);
}

/* --- parsing a .req file --- */

typedef struct parsed_req {
	char method[16];
	char *path;
	s3_kv query[32];
	size_t nquery;
	s3_kv headers[32];
	size_t nheaders;
	char *body;
	size_t body_len;
	char *amz_date;
	char *store;   /* the file; names and values point into it or into folded */
	char *folded[32];
} parsed_req;

static void parse_query(parsed_req *r, char *q)
{
	while (q && *q && r->nquery < 32) {
		char *amp = strchr(q, '&');
		if (amp)
			*amp = '\0';
		char *eq = strchr(q, '=');
		if (eq)
			*eq = '\0';
		r->query[r->nquery++] = (s3_kv){ q, eq ? eq + 1 : "" };
		q = amp ? amp + 1 : NULL;
	}
}

/* Request line: "METHOD PATH[?QUERY] HTTP/1.1"; the path may hold spaces. */
static void parse_request_line(parsed_req *r, char *line)
{
	char *sp = strchr(line, ' ');
	char *proto = strstr(line, " HTTP/1.1");
	ck_assert(sp && proto);
	*sp = '\0';
	*proto = '\0';
	snprintf(r->method, sizeof r->method, "%s", line);
	r->path = sp + 1;
	char *q = strchr(r->path, '?');
	if (q) {
		*q = '\0';
		parse_query(r, q + 1);
	}
}

/* Folds a continuation line into the previous header's value. */
static void fold(parsed_req *r, const char *more)
{
	size_t i = r->nheaders - 1;
	size_t n = strlen(r->headers[i].value) + strlen(more) + 2;
	char *v = malloc(n);
	snprintf(v, n, "%s %s", r->headers[i].value, more);
	free(r->folded[i]);
	r->folded[i] = v;
	r->headers[i].value = v;
}

static void parse_req(parsed_req *r, const char *file)
{
	size_t len;
	memset(r, 0, sizeof *r);
	r->store = slurp(file, &len);
	ck_assert_msg(r->store != NULL, "cannot read %s", file);
	char *p = r->store;
	if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
		p += 3; /* two .req files start with a UTF-8 BOM */
	char *body = strstr(p, "\n\n");
	if (body) {
		*body = '\0';
		r->body = body + 2;
		r->body_len = strlen(r->body);
	} else {
		r->body = "";
	}
	char *save = NULL;
	char *line = strtok_r(p, "\n", &save);
	parse_request_line(r, line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (line[0] == ' ' || line[0] == '\t') {
			fold(r, line);
			continue;
		}
		char *colon = strchr(line, ':');
		ck_assert(colon && r->nheaders < 32);
		*colon = '\0';
		r->headers[r->nheaders++] = (s3_kv){ line, colon + 1 };
		if (strcasecmp(line, "X-Amz-Date") == 0)
			r->amz_date = colon + 1;
	}
}

static void free_req(parsed_req *r)
{
	for (int i = 0; i < 32; i++)
		free(r->folded[i]);
	free(r->store);
}

/* Trailing newlines in the expectation files are not part of them. */
static char *expected(const char *dir, const char *name, const char *ext)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
	char *s = slurp(path, NULL);
	ck_assert_msg(s != NULL, "cannot read %s", path);
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The suite writes "Credential=..., SignedHeaders=..., Signature=..."; S3's
 * documentation and this signer omit the blanks.  Both are valid. */
static void strip_comma_blanks(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			while (p[1] == ' ')
				p++;
	}
	*o = '\0';
}

START_TEST(aws_suite_case)
{
	const char *dir = cases[_i];
	const char *name = strrchr(dir, '/') + 1;
	char file[4400];
	parsed_req r;
	char hash[65];
	s3_sigv4_result res;

	snprintf(file, sizeof file, "%s/%s.req", dir, name);
	parse_req(&r, file);
	ck_assert_msg(r.amz_date != NULL, "%s: no X-Amz-Date", name);
	s3_sha256_hex(r.body, r.body_len, hash);
	s3_sigv4_request sr = { r.method, r.path, r.query, r.nquery, r.headers, r.nheaders, hash,
				S3_SIGV4_GENERIC };
	s3_sigv4_key key = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
			     "service", r.amz_date };
	ck_assert_int_eq(s3_sigv4_sign(&sr, &key, &res), 0);

	char *creq = expected(dir, name, "creq"), *sts = expected(dir, name, "sts");
	char *authz = expected(dir, name, "authz");
	strip_comma_blanks(authz);
	ck_assert_msg(strcmp(res.canonical_request, creq) == 0, "%s: canonical request\n%s\n--- expected\n%s",
		      name, res.canonical_request, creq);
	ck_assert_msg(strcmp(res.string_to_sign, sts) == 0, "%s: string to sign\n%s\n--- expected\n%s",
		      name, res.string_to_sign, sts);
	ck_assert_msg(strcmp(res.authorization, authz) == 0, "%s: authorization\n%s\n--- expected\n%s",
		      name, res.authorization, authz);
	free(creq);
	free(sts);
	free(authz);
	s3_sigv4_result_free(&res);
	free_req(&r);
}
END_TEST

START_TEST(aws_suite_complete)
{
	/* Every case of the suite runs: none is skipped. */
	ck_assert_int_eq(ncases, SUITE_CASES);
}
END_TEST

/* S3 rules differ from the generic ones exactly on the normalize-path
 * cases: S3 signs "//" and "." segments as they are. */
START_TEST(s3_rules_keep_path)
{
	s3_kv h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" } };
	s3_sigv4_request sr = { "GET", "//example/./a/../b//", NULL, 0, h, 2, "UNSIGNED-PAYLOAD",
				S3_SIGV4_S3 };
	s3_sigv4_key key = { "AK", "SK", "us-east-1", "s3", "20150830T123600Z" };
	s3_sigv4_result res;
	ck_assert_int_eq(s3_sigv4_sign(&sr, &key, &res), 0);
	ck_assert(strncmp(res.canonical_request, "GET\n//example/./a/../b//\n\n", 26) == 0);
	s3_sigv4_result_free(&res);
	sr.rules = S3_SIGV4_GENERIC;
	ck_assert_int_eq(s3_sigv4_sign(&sr, &key, &res), 0);
	ck_assert(strncmp(res.canonical_request, "GET\n/example/b/\n\n", 17) == 0);
	s3_sigv4_result_free(&res);
}
END_TEST

/* --- a small JSON reader for s3-doc-vectors.json --- */

typedef struct json {
	int type;  /* 'o' object, 'a' array, 's' string, 'n' other scalar */
	char *str;
	struct json **items;  /* values (objects: alternating key, value) */
	size_t n;
} json;

static const char *jp;

static void skip_ws(void)
{
	while (*jp == ' ' || *jp == '\n' || *jp == '\r' || *jp == '\t')
		jp++;
}

static void push(json *j, json *item)
{
	j->items = realloc(j->items, (j->n + 1) * sizeof *j->items);
	j->items[j->n++] = item;
}

static void utf8(char **o, unsigned cp)
{
	if (cp < 0x80) {
		*(*o)++ = (char)cp;
	} else if (cp < 0x800) {
		*(*o)++ = (char)(0xC0 | (cp >> 6));
		*(*o)++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*(*o)++ = (char)(0xE0 | (cp >> 12));
		*(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*(*o)++ = (char)(0x80 | (cp & 0x3F));
	}
}

static char *json_string(void)
{
	const char *start = ++jp;
	size_t cap = 0;
	while (*jp && *jp != '"') {
		if (*jp == '\\')
			jp++;
		jp++;
		cap++;
	}
	char *out = malloc(cap * 3 + 1), *o = out;
	for (const char *p = start; p < jp; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'u': {
			char hex[5] = { p[1], p[2], p[3], p[4], 0 };
			utf8(&o, (unsigned)strtoul(hex, NULL, 16));
			p += 4;
			break;
		}
		default: *o++ = *p; break;
		}
	}
	*o = '\0';
	jp++;
	return out;
}

static json *json_value(void)
{
	json *j = calloc(1, sizeof *j);
	skip_ws();
	if (*jp == '{' || *jp == '[') {
		char close = *jp == '{' ? '}' : ']';
		j->type = *jp == '{' ? 'o' : 'a';
		jp++;
		for (skip_ws(); *jp != close; skip_ws()) {
			if (j->type == 'o') {
				skip_ws();
				json *k = calloc(1, sizeof *k);
				k->type = 's';
				k->str = json_string();
				push(j, k);
				skip_ws();
				jp++; /* ':' */
			}
			push(j, json_value());
			skip_ws();
			if (*jp == ',')
				jp++;
		}
		jp++;
	} else if (*jp == '"') {
		j->type = 's';
		j->str = json_string();
	} else {
		const char *s = jp;
		while (*jp && !strchr(",]} \n\r\t", *jp))
			jp++;
		j->type = 'n';
		j->str = strndup(s, (size_t)(jp - s));
	}
	return j;
}

static json *jget(const json *o, const char *key)
{
	for (size_t i = 0; o && i + 1 < o->n; i += 2)
		if (strcmp(o->items[i]->str, key) == 0)
			return o->items[i + 1];
	return NULL;
}

static const char *jstr(const json *o, const char *key)
{
	json *v = jget(o, key);
	ck_assert_msg(v && v->str, "JSON: no string \"%s\"", key);
	return v->str;
}

static void json_free(json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++)
		json_free(j->items[i]);
	free(j->items);
	free(j->str);
	free(j);
}

static s3_kv *pairs(const json *arr, size_t *n)
{
	*n = arr ? arr->n : 0;
	s3_kv *kv = calloc(*n + 1, sizeof *kv);
	for (size_t i = 0; i < *n; i++)
		kv[i] = (s3_kv){ arr->items[i]->items[0]->str, arr->items[i]->items[1]->str };
	return kv;
}

static void check_s3_vector(const json *v, const json *cred)
{
	const char *name = jstr(v, "name");
	const json *exp = jget(v, "expected");
	size_t nq, nh;
	s3_kv *q = pairs(jget(v, "query"), &nq), *h = pairs(jget(v, "headers"), &nh);
	s3_sigv4_request sr = { jstr(v, "method"), jstr(v, "path"), q, nq, h, nh,
				jstr(jget(v, "payload"), "sha256"), S3_SIGV4_S3 };
	s3_sigv4_key key = { jstr(cred, "access_key_id"), jstr(cred, "secret_access_key"),
			     jstr(cred, "region"), jstr(cred, "service"), jstr(cred, "amz_date") };
	s3_sigv4_result res;
	ck_assert_int_eq(s3_sigv4_sign(&sr, &key, &res), 0);
	ck_assert_msg(strcmp(res.canonical_request, jstr(exp, "canonical_request")) == 0,
		      "%s: canonical request\n%s", name, res.canonical_request);
	char creq_hash[65];
	s3_sha256_hex(res.canonical_request, strlen(res.canonical_request), creq_hash);
	ck_assert_str_eq(creq_hash, jstr(exp, "canonical_request_sha256"));
	ck_assert_str_eq(res.signed_headers, jstr(exp, "signed_headers"));
	ck_assert_msg(strstr(res.string_to_sign, creq_hash) != NULL, "%s: string to sign", name);
	ck_assert_str_eq(res.signature, jstr(exp, "signature"));
	ck_assert_str_eq(res.authorization, jstr(exp, "authorization"));
	s3_sigv4_result_free(&res);
	free(q);
	free(h);
}

START_TEST(s3_doc_examples)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/s3-doc-vectors.json", vec_dir);
	char *text = slurp(path, NULL);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	jp = text;
	json *root = json_value();
	json *vecs = jget(root, "vectors");
	int header = 0;
	ck_assert(vecs != NULL);
	for (size_t i = 0; i < vecs->n; i++) {
		/* Presigned URLs and aws-chunked streaming are features this
		 * driver does not use (it signs each request's whole payload),
		 * so only the header-auth examples apply. */
		if (strcmp(jstr(vecs->items[i], "kind"), "header") != 0)
			continue;
		check_s3_vector(vecs->items[i], jget(root, "credentials"));
		header++;
	}
	ck_assert_int_eq(header, S3_HEADER_VECTORS);
	json_free(root);
	free(text);
}
END_TEST

/* --- URL encoding --- */

START_TEST(uri_encoding)
{
	const char *key = "dir/a b+c=d@e~_.-\xc3\xa9$%";
	char *path = s3_uri_encode(key, strlen(key), 1);
	char *value = s3_uri_encode(key, strlen(key), 0);
	ck_assert_str_eq(path, "dir/a%20b%2Bc%3Dd%40e~_.-%C3%A9%24%25");
	ck_assert_str_eq(value, "dir%2Fa%20b%2Bc%3Dd%40e~_.-%C3%A9%24%25");
	free(path);
	free(value);
	s3_kv q[] = { { "prefix", "a/b c" }, { "list-type", "2" }, { "continuation-token", "x+y=" } };
	char *cq = s3_canonical_query(q, 3);
	ck_assert_str_eq(cq, "continuation-token=x%2By%3D&list-type=2&prefix=a%2Fb%20c");
	free(cq);
	cq = s3_canonical_query(NULL, 0);
	ck_assert_str_eq(cq, "");
	free(cq);
}
END_TEST

/* --- XML --- */

typedef struct collected {
	char keys[8][TR_KEY_MAX + 1];
	int64_t sizes[8];
	int64_t mtimes[8];
	int n;
	int stop_after;
} collected;

static int collect(void *ctx, const tr_object_info *info)
{
	collected *c = ctx;
	snprintf(c->keys[c->n], sizeof c->keys[0], "%s", info->key);
	c->sizes[c->n] = info->size;
	c->mtimes[c->n] = info->mtime;
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static const char LIST_PAGE[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>bucket</Name><Prefix>wal/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
	"<IsTruncated>true</IsTruncated>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>"
	"<Contents><Key>wal/a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key>"
	"<LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;abc&quot;</ETag>"
	"<Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents><Key>wal/caf&#233;&#x1F600;</Key><Size>0</Size></Contents>"
	"<Contents>\n  <Key>wal/z</Key>\n  <Size>7</Size>\n</Contents>"
	"</ListBucketResult>";

START_TEST(xml_list_page)
{
	collected c = { .n = 0 };
	s3_list_page page;
	ck_assert_int_eq(s3_xml_parse_list(LIST_PAGE, strlen(LIST_PAGE), collect, &c, &page), 0);
	ck_assert_int_eq(c.n, 3);
	ck_assert_str_eq(c.keys[0], "wal/a & b <c> \"q\" 's'");
	ck_assert_int_eq(c.sizes[0], 434234);
	ck_assert_int_eq(c.mtimes[0], 1255369830);
	ck_assert_str_eq(c.keys[1], "wal/caf\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_str_eq(c.keys[2], "wal/z");
	ck_assert_int_eq(c.sizes[2], 7);
	ck_assert_int_eq(page.truncated, 1);
	ck_assert_str_eq(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");
	ck_assert_int_eq((int)page.count, 3);
	free(page.next_token);

	collected stop = { .stop_after = 1 };
	ck_assert_int_eq(s3_xml_parse_list(LIST_PAGE, strlen(LIST_PAGE), collect, &stop, &page), 1);
	ck_assert_int_eq(stop.n, 1);
	free(page.next_token);
}
END_TEST

START_TEST(xml_list_last_page_and_malformed)
{
	static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
				   "<KeyCount>0</KeyCount></ListBucketResult>";
	static const char no_token[] = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	static const char bad_entity[] = "<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>";
	collected c = { .n = 0 };
	s3_list_page page;
	ck_assert_int_eq(s3_xml_parse_list(last, strlen(last), collect, &c, &page), 0);
	ck_assert_int_eq(page.truncated, 0);
	ck_assert_ptr_null(page.next_token);
	ck_assert_int_eq(c.n, 0);
	ck_assert_int_eq(s3_xml_parse_list(no_token, strlen(no_token), collect, &c, &page), -1);
	ck_assert_int_eq(s3_xml_parse_list(bad_entity, strlen(bad_entity), collect, &c, &page), -1);
	ck_assert_int_eq(s3_xml_parse_list("<Error/>", 8, collect, &c, &page), -1);
}
END_TEST

START_TEST(xml_error_body)
{
	static const char body[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
		"<Message>The request signature we calculated does not match the signature you provided.</Message>"
		"<AWSAccessKeyId>AK</AWSAccessKeyId><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char redirect[] =
		"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; "
		"expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>";
	s3_xml_error e;
	ck_assert_int_eq(s3_xml_parse_error(body, strlen(body), &e), 1);
	ck_assert_str_eq(e.code, "SignatureDoesNotMatch");
	ck_assert(strncmp(e.message, "The request signature we calculated", 35) == 0);
	ck_assert_str_eq(e.region, "");
	ck_assert_int_eq(s3_xml_parse_error(redirect, strlen(redirect), &e), 1);
	ck_assert_str_eq(e.region, "eu-west-1");
	ck_assert_int_eq(s3_xml_parse_error("", 0, &e), 0);
	ck_assert_int_eq(s3_xml_parse_error(LIST_PAGE, strlen(LIST_PAGE), &e), 0);
}
END_TEST

/* CompleteMultipartUpload can answer 200 and then report an error in the
 * body; the driver must see it (and retry) rather than take the 200. */
START_TEST(xml_complete_multipart)
{
	static const char failed[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>InternalError</Code>"
		"<Message>We encountered an internal error. Please try again.</Message>"
		"<RequestId>656c76696e6727732072657175657374</RequestId></Error>";
	static const char ok[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult>"
		"<Location>http://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key>"
		"<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
	static const char init[] =
		"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
		"<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&amp;&amp;</UploadId>"
		"</InitiateMultipartUploadResult>";
	s3_xml_error e;
	char id[256];
	ck_assert_int_eq(s3_xml_parse_error(failed, strlen(failed), &e), 1);
	ck_assert_str_eq(e.code, "InternalError");
	ck_assert_int_eq(s3_xml_parse_error(ok, strlen(ok), &e), 0);
	ck_assert_int_eq(s3_xml_text(init, strlen(init), "UploadId", id, sizeof id), 1);
	ck_assert_str_eq(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&&");
}
END_TEST

START_TEST(xml_element_boundaries)
{
	static const char doc[] = "<R><KeyCount>2</KeyCount><Key attr=\"1\">k</Key><Empty/></R>";
	char out[32];
	ck_assert_int_eq(s3_xml_text(doc, strlen(doc), "Key", out, sizeof out), 1);
	ck_assert_str_eq(out, "k");
	ck_assert_int_eq(s3_xml_text(doc, strlen(doc), "Empty", out, sizeof out), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(s3_xml_text(doc, strlen(doc), "Missing", out, sizeof out), 0);
	ck_assert_int_eq(s3_xml_text(doc, strlen(doc), "KeyCount", out, 1), -1); /* does not fit */
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("sigv4");
	TCase *t = tcase_create("aws-suite");
	tcase_add_loop_test(t, aws_suite_case, 0, ncases);
	tcase_add_test(t, aws_suite_complete);
	tcase_add_test(t, s3_rules_keep_path);
	suite_add_tcase(s, t);
	t = tcase_create("s3-doc");
	tcase_add_test(t, s3_doc_examples);
	tcase_add_test(t, uri_encoding);
	suite_add_tcase(s, t);
	t = tcase_create("xml");
	tcase_add_test(t, xml_list_page);
	tcase_add_test(t, xml_list_last_page_and_malformed);
	tcase_add_test(t, xml_error_body);
	tcase_add_test(t, xml_complete_multipart);
	tcase_add_test(t, xml_element_boundaries);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char suite_dir[4200];
	snprintf(vec_dir, sizeof vec_dir, "%s/tests/vectors", top && *top ? top : "..");
	snprintf(suite_dir, sizeof suite_dir, "%s/sigv4-test-suite", vec_dir);
	find_cases(suite_dir);
	SRunner *sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (int i = 0; i < ncases; i++)
		free(cases[i]);
	return failed ? 1 : 0;
}
