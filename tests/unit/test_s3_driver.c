/* test_s3_driver.c - the s3 driver's pure pieces, built from its own
 * sources: the AWS shared files (profiles), partition endpoints and the
 * STS/IMDS/container endpoint rules, the JSON of credential endpoints,
 * the credentials cache file, base64, SigV4 with a session token and
 * checksum/SSE-C headers (vectors computed by botocore, see
 * tests/vectors/gen_s3_token_vectors.py), the headers bucket features add
 * to each kind of request, and the private state-dir files. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3_base64.h"
#include "s3_creds.h"
#include "s3_endpoint.h"
#include "s3_features.h"
#include "s3_json.h"
#include "s3_profile.h"
#include "s3_statefile.h"
#include "sigv4.h"

/* --- profiles --- */

static const char CREDS_FILE[] =
	"# comment\r\n"
	"[default]\r\n"
	"aws_access_key_id = AKIDDEFAULT\r\n"
	"aws_secret_access_key = secret/with+and=equals\r\n"
	"\r\n"
	"[backup]\n"
	"  ; indented comment\n"
	"AWS_ACCESS_KEY_ID=AKIDBACKUP\n"
	"aws_secret_access_key   =   backup-secret   \n"
	"aws_session_token = tok\n"
	"[backup-other]\n"
	"aws_access_key_id = WRONG\n";

static const char CONFIG_FILE[] =
	"[default]\n"
	"region = eu-central-1\n"
	"[profile backup]\n"
	"region = eu-west-2\n"
	"aws_secret_access_key = from-config\n"
	"s3 =\n"
	"  region = us-east-1\n"
	"  addressing_style = path\n"
	"[profile  spaced ]\n"
	"aws_access_key_id = AKIDSPACED\n"
	"[backup]\n"
	"aws_access_key_id = NOT-A-CONFIG-SECTION\n"
	"[profile sso]\n"
	"sso_session = corp\n";

START_TEST(profile_credentials_file)
{
	s3_profile p;
	memset(&p, 0, sizeof p);
	s3_profile_parse(CREDS_FILE, strlen(CREDS_FILE), "default", 0, &p);
	ck_assert_int_eq(p.found, 1);
	ck_assert_str_eq(p.access_key_id, "AKIDDEFAULT");
	ck_assert_str_eq(p.secret_access_key, "secret/with+and=equals");
	ck_assert_str_eq(p.session_token, "");
	memset(&p, 0, sizeof p);
	s3_profile_parse(CREDS_FILE, strlen(CREDS_FILE), "backup", 0, &p);
	ck_assert_str_eq(p.access_key_id, "AKIDBACKUP");
	ck_assert_str_eq(p.secret_access_key, "backup-secret");
	ck_assert_str_eq(p.session_token, "tok");
	memset(&p, 0, sizeof p);
	s3_profile_parse(CREDS_FILE, strlen(CREDS_FILE), "nope", 0, &p);
	ck_assert_int_eq(p.found, 0);
	ck_assert_str_eq(p.access_key_id, "");
}
END_TEST

START_TEST(profile_config_file)
{
	s3_profile p;
	memset(&p, 0, sizeof p);
	s3_profile_parse(CONFIG_FILE, strlen(CONFIG_FILE), "backup", 1, &p);
	ck_assert_int_eq(p.found, 1);
	/* "[backup]" is not a profile in the config file; the sub-setting
	 * "s3 = / region" does not change the profile's region. */
	ck_assert_str_eq(p.access_key_id, "");
	ck_assert_str_eq(p.region, "eu-west-2");
	ck_assert_str_eq(p.secret_access_key, "from-config");
	/* The credentials file, read second, wins. */
	s3_profile_parse(CREDS_FILE, strlen(CREDS_FILE), "backup", 0, &p);
	ck_assert_str_eq(p.secret_access_key, "backup-secret");
	ck_assert_str_eq(p.region, "eu-west-2");
	memset(&p, 0, sizeof p);
	s3_profile_parse(CONFIG_FILE, strlen(CONFIG_FILE), "default", 1, &p);
	ck_assert_str_eq(p.region, "eu-central-1");
	memset(&p, 0, sizeof p);
	s3_profile_parse(CONFIG_FILE, strlen(CONFIG_FILE), "spaced", 1, &p);
	ck_assert_str_eq(p.access_key_id, "AKIDSPACED");
	memset(&p, 0, sizeof p);
	s3_profile_parse(CONFIG_FILE, strlen(CONFIG_FILE), "sso", 1, &p);
	ck_assert_int_eq(p.found, 1);
	ck_assert_str_eq(p.unsupported, "sso_session");
	s3_profile_wipe(&p);
	ck_assert_int_eq(p.found, 0);
}
END_TEST

START_TEST(profile_odd_input)
{
	static const char odd[] = "[default\naws_access_key_id = X\n[default]\nnovalue\n=\naws_access_key_id=\n";
	s3_profile p;
	memset(&p, 0, sizeof p);
	s3_profile_parse(odd, strlen(odd), "default", 0, &p);
	ck_assert_int_eq(p.found, 1);
	ck_assert_str_eq(p.access_key_id, ""); /* the unclosed header was no section */
	memset(&p, 0, sizeof p);
	s3_profile_parse("", 0, "default", 0, &p);
	ck_assert_int_eq(p.found, 0);
	memset(&p, 0, sizeof p);
	static const char no_eol[] = "[default]\naws_access_key_id = NOEOL";
	s3_profile_parse(no_eol, strlen(no_eol), "default", 0, &p);
	ck_assert_str_eq(p.access_key_id, "NOEOL");
}
END_TEST

/* --- partitions and endpoints --- */

START_TEST(partition_hosts)
{
	char h[256];
	static const struct { const char *region, *s3; } cases[] = {
		{ "us-east-1", "s3.us-east-1.amazonaws.com" },
		{ "eu-west-1", "s3.eu-west-1.amazonaws.com" },
		{ "cn-north-1", "s3.cn-north-1.amazonaws.com.cn" },
		{ "cn-northwest-1", "s3.cn-northwest-1.amazonaws.com.cn" },
		{ "us-gov-west-1", "s3.us-gov-west-1.amazonaws.com" },
		{ "us-gov-east-1", "s3.us-gov-east-1.amazonaws.com" },
		{ "us-iso-east-1", "s3.us-iso-east-1.c2s.ic.gov" },
		{ "us-isob-east-1", "s3.us-isob-east-1.sc2s.sgov.gov" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(s3_aws_host("s3", cases[i].region, h, sizeof h), 0);
		ck_assert_str_eq(h, cases[i].s3);
	}
	ck_assert_int_eq(s3_aws_host("sts", "cn-north-1", h, sizeof h), 0);
	ck_assert_str_eq(h, "sts.cn-north-1.amazonaws.com.cn");
	ck_assert_int_eq(s3_aws_host("sts", "us-gov-west-1", h, 10), -1);
	ck_assert_int_eq(s3_is_aws_host("s3.eu-west-1.amazonaws.com"), 1);
	ck_assert_int_eq(s3_is_aws_host("bucket.s3.cn-north-1.amazonaws.com.cn:443"), 1);
	ck_assert_int_eq(s3_is_aws_host("s3.us-iso-east-1.c2s.ic.gov"), 1);
	ck_assert_int_eq(s3_is_aws_host("notamazonaws.com"), 0);
	ck_assert_int_eq(s3_is_aws_host("amazonaws.com.evil.example"), 0);
	ck_assert_int_eq(s3_is_aws_host("127.0.0.1:9000"), 0);
	ck_assert_int_eq(s3_region_valid("eu-west-1"), 1);
	ck_assert_int_eq(s3_region_valid("us-gov-west-1"), 1);
	ck_assert_int_eq(s3_region_valid(""), 0);
	ck_assert_int_eq(s3_region_valid("-x"), 0);
	ck_assert_int_eq(s3_region_valid("EU-WEST-1"), 0);
	ck_assert_int_eq(s3_region_valid("eu-west-1.evil.example/x"), 0);
}
END_TEST

START_TEST(sts_and_imds_endpoints)
{
	char ep[512];
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL");
	s3_sts_endpoint("eu-west-1", ep, sizeof ep);
	ck_assert_str_eq(ep, "https://sts.eu-west-1.amazonaws.com/");
	s3_sts_endpoint("cn-northwest-1", ep, sizeof ep);
	ck_assert_str_eq(ep, "https://sts.cn-northwest-1.amazonaws.com.cn/");
	s3_sts_endpoint("us-gov-east-1", ep, sizeof ep);
	ck_assert_str_eq(ep, "https://sts.us-gov-east-1.amazonaws.com/");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
	s3_sts_endpoint("eu-west-1", ep, sizeof ep);
	ck_assert_str_eq(ep, "http://127.0.0.1:4566/");
	setenv("AWS_ENDPOINT_URL_STS", "https://sts.example.test//", 1);
	s3_sts_endpoint("eu-west-1", ep, sizeof ep);
	ck_assert_str_eq(ep, "https://sts.example.test/");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL");

	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	s3_imds_endpoint(ep, sizeof ep);
	ck_assert_str_eq(ep, "http://169.254.169.254");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
	s3_imds_endpoint(ep, sizeof ep);
	ck_assert_str_eq(ep, "http://[fd00:ec2::254]");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/", 1);
	s3_imds_endpoint(ep, sizeof ep);
	ck_assert_str_eq(ep, "http://127.0.0.1:1338");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
}
END_TEST

START_TEST(container_hosts)
{
	static const char *const yes[] = {
		"http://127.0.0.1/creds", "http://127.0.0.1:8080/creds", "http://127.1.2.3/x", "http://localhost:80/x",
		"http://[::1]:8080/x", "http://169.254.170.2/v2/credentials/abc", "http://169.254.170.23/v1/credentials",
		"http://[fd00:ec2::23]/v1/credentials", "https://creds.example.test/x", NULL
	};
	static const char *const no[] = {
		"http://10.0.0.1/x", "http://169.254.170.2.evil.example/x", "http://127.0.0.1@evil.example/x",
		"http://user:pw@127.0.0.1/x", "ftp://127.0.0.1/x", "http:///x", "127.0.0.1/x", "http://[::1/x", NULL
	};
	for (int i = 0; yes[i]; i++)
		ck_assert_msg(s3_container_host_allowed(yes[i]), "%s should be allowed", yes[i]);
	for (int i = 0; no[i]; i++)
		ck_assert_msg(!s3_container_host_allowed(no[i]), "%s should be refused", no[i]);
}
END_TEST

/* --- JSON --- */

static const char ECS_DOC[] =
	"{\n  \"RoleArn\": \"arn:aws:iam::1:role/x\",\n  \"AccessKeyId\" : \"ASIAJSON\",\n"
	"  \"Nested\": {\"AccessKeyId\": \"NOT-THIS\", \"a\": [1, 2.5e3, -3, true, false, null, {\"b\": []}]},\n"
	"  \"SecretAccessKey\": \"se\\/cr\\\"et\\\\\",\n  \"Token\": \"caf\\u00e9 \\ud83d\\ude00\",\n"
	"  \"Expiration\": \"2024-05-01T18:00:00Z\",\n  \"Count\": 3\n}\n";

START_TEST(json_strings)
{
	char out[128];
	size_t n = strlen(ECS_DOC);
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "AccessKeyId", out, sizeof out), 1);
	ck_assert_str_eq(out, "ASIAJSON");
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "SecretAccessKey", out, sizeof out), 1);
	ck_assert_str_eq(out, "se/cr\"et\\");
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "Token", out, sizeof out), 1);
	ck_assert_str_eq(out, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "Missing", out, sizeof out), 0);
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "Count", out, sizeof out), 0); /* not a string */
	ck_assert_int_eq(s3_json_string(ECS_DOC, n, "AccessKeyId", out, 5), -1);  /* does not fit */
	ck_assert_int_eq(s3_json_string("{}", 2, "x", out, sizeof out), 0);
}
END_TEST

START_TEST(json_malformed)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\": \"b\"", "{\"a\": \"b\"} x", "{\"a\" \"b\"}", "{\"a\": \"b\",}",
		"{\"a\": \"\x01\"}", "{\"a\": \"\\q\"}", "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00\"}",
		"{\"a\": \"\\u0000\"}", "{\"a\": \"\\u12\"}", "{\"a\": tru}", "{\"a\": }", "{a: \"b\"}",
		"{\"a\": [1, 2}", NULL
	};
	char out[64];
	for (int i = 0; bad[i]; i++)
		ck_assert_msg(s3_json_string(bad[i], strlen(bad[i]), "a", out, sizeof out) == -1, "accepted %s", bad[i]);
	/* Nesting beyond the bound is refused, not followed. */
	char deep[200] = "{\"x\": ";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	for (int i = 0; i < 40; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	ck_assert_int_eq(s3_json_string(deep, strlen(deep), "a", out, sizeof out), -1);
}
END_TEST

START_TEST(creds_from_json_doc)
{
	s3_creds c;
	char why[256];
	static const char doc[] = "{\"Code\": \"Success\", \"AccessKeyId\": \"ASIAJSON\", \"SecretAccessKey\": "
				  "\"se\\/cr+et\", \"Token\": \"IQoJ\\/tok+en==\", \"Expiration\": "
				  "\"2024-05-01T18:00:00Z\"}";
	ck_assert_int_eq(s3_creds_from_json(doc, strlen(doc), &c, why, sizeof why), 0);
	ck_assert_str_eq(c.access_key_id, "ASIAJSON");
	ck_assert_str_eq(c.secret_access_key, "se/cr+et");
	ck_assert_str_eq(c.session_token, "IQoJ/tok+en==");
	ck_assert_int_eq(c.expiration, 1714586400); /* 2024-05-01T18:00:00Z */
	s3_creds_clear(&c);
	ck_assert_ptr_null(c.access_key_id);
	/* Blanks and non-ASCII are no credentials AWS issues. */
	ck_assert_int_eq(s3_creds_from_json(ECS_DOC, strlen(ECS_DOC), &c, why, sizeof why), -1);
	static const char no_secret[] = "{\"AccessKeyId\": \"A\", \"Token\": \"t\"}";
	ck_assert_int_eq(s3_creds_from_json(no_secret, strlen(no_secret), &c, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "no AccessKeyId or SecretAccessKey"));
	static const char bad_time[] = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Expiration\": \"soon\"}";
	ck_assert_int_eq(s3_creds_from_json(bad_time, strlen(bad_time), &c, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "is not a time"));
	/* A token that would break the request's headers is refused. */
	static const char crlf[] = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Token\": \"t\\r\\nX-Evil: 1\"}";
	ck_assert_int_eq(s3_creds_from_json(crlf, strlen(crlf), &c, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "session token holds a blank"));
	static const char no_token[] = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}";
	ck_assert_int_eq(s3_creds_from_json(no_token, strlen(no_token), &c, why, sizeof why), 0);
	ck_assert_ptr_null(c.session_token);
	ck_assert_int_eq(c.expiration, 0);
	s3_creds_clear(&c);
}
END_TEST

/* --- the cache file --- */

START_TEST(credcache_round_trip)
{
	s3_creds in, out;
	char why[128];
	ck_assert_int_eq(s3_creds_set(&in, "ASIAC", "sec/ret+", "tok/en==", 1714586400, why, sizeof why), 0);
	char *text = s3_credcache_format(S3_CRED_WEB_IDENTITY, &in);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(s3_credcache_parse(text, S3_CRED_WEB_IDENTITY, &out), 0);
	ck_assert_str_eq(out.access_key_id, "ASIAC");
	ck_assert_str_eq(out.secret_access_key, "sec/ret+");
	ck_assert_str_eq(out.session_token, "tok/en==");
	ck_assert_int_eq(out.expiration, 1714586400);
	s3_creds_clear(&out);
	/* Another source's cache is not ours. */
	ck_assert_int_eq(s3_credcache_parse(text, S3_CRED_IMDS, &out), -1);
	free(text);
	s3_creds_clear(&in);
	static const char *const bad[] = {
		"",
		"totalrecall-s3-credentials 2\nsource imds\nexpiration 5\naccess-key-id a\nsecret-access-key b\n",
		"totalrecall-s3-credentials 1\nsource imds\nexpiration 5x\naccess-key-id a\nsecret-access-key b\n",
		"totalrecall-s3-credentials 1\nsource imds\nexpiration 0\naccess-key-id a\nsecret-access-key b\n",
		"totalrecall-s3-credentials 1\nsource imds\nexpiration 5\naccess-key-id a\n",
		"totalrecall-s3-credentials 1\nsource imds\nexpiration 5\nsecret-access-key b\n",
		NULL
	};
	for (int i = 0; bad[i]; i++)
		ck_assert_msg(s3_credcache_parse(bad[i], S3_CRED_IMDS, &out) == -1, "accepted case %d", i);
	ck_assert_int_eq(s3_credcache_parse("totalrecall-s3-credentials 1\nsource imds\nexpiration 5\n"
					    "access-key-id a\nsecret-access-key b\n", S3_CRED_IMDS, &out), 0);
	ck_assert_ptr_null(out.session_token);
	s3_creds_clear(&out);
}
END_TEST

/* --- base64 --- */

START_TEST(base64_rfc4648)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char out[32];
	unsigned char raw[32];
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(s3_base64_encode(plain[i], strlen(plain[i]), out, sizeof out), 0);
		ck_assert_str_eq(out, enc[i]);
		long n = s3_base64_decode(enc[i], raw, sizeof raw);
		ck_assert_int_eq(n, (long)strlen(plain[i]));
		ck_assert_int_eq(memcmp(raw, plain[i], (size_t)n), 0);
	}
	ck_assert_int_eq(s3_base64_encode("foobar", 6, out, 8), -1);
	ck_assert_int_eq(s3_base64_decode("Zm9vYmFy", raw, 5), -1);
	static const char *const bad[] = { "Zg=", "Z===", "Zg=a", "Zm9v!mFy", "Zg==Zg==", "=m9v", "Zh==", "Zm9=", NULL };
	for (int i = 0; bad[i]; i++)
		ck_assert_msg(s3_base64_decode(bad[i], raw, sizeof raw) == -1, "accepted %s", bad[i]);
}
END_TEST

/* --- SigV4 with session token and checksum headers (botocore vectors) --- */

typedef struct vector {
	const char *method, *host, *path;
	s3_kv query[2];
	size_t nquery;
	s3_kv headers[6];
	size_t nheaders;
	const char *body;
	const char *signed_headers, *signature;
} vector;

#define SSEC_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SSEC_MD5 "tP/LI3N87DFaSk0aoqYgzg=="

static const vector VECTORS[] = {
	{ "PUT", "pg-bucket.s3.eu-west-1.amazonaws.com", "/k8s/db1/wal/0000000100000000/000000010000000000000001",
	  { { 0 } }, 0,
	  { { "Content-Type", "application/octet-stream" },
	    { "x-amz-checksum-sha256", "9pN+Ael/GvjJxqUnN7rma1R57j/R/WHCdSfxL09RGrc=" },
	    { "x-amz-sdk-checksum-algorithm", "SHA256" }, { "x-amz-storage-class", "STANDARD_IA" } }, 4,
	  "hello, wal\n",
	  "content-type;host;x-amz-checksum-sha256;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm;"
	  "x-amz-security-token;x-amz-storage-class",
	  "fc27b7bf650cbfea6a0662bbac17d06f96b0f788610534305018d967f8145ad1" },
	{ "PUT", "s3.eu-west-1.amazonaws.com", "/pg-bucket/k8s/db1/chunks/ab/c+d e",
	  { { "partNumber", "2" }, { "uploadId", "abc/def+g==" } }, 2,
	  { { "x-amz-checksum-sha256", "Ar/VRShb62DivP/4ACH2nZLv9hw7AZLsjThT0m8I/KE=" },
	    { "x-amz-sdk-checksum-algorithm", "SHA256" },
	    { "x-amz-server-side-encryption-customer-algorithm", "AES256" },
	    { "x-amz-server-side-encryption-customer-key", SSEC_B64 },
	    { "x-amz-server-side-encryption-customer-key-MD5", SSEC_MD5 } }, 5,
	  "part two of a multipart upload",
	  "host;x-amz-checksum-sha256;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm;"
	  "x-amz-security-token;x-amz-server-side-encryption-customer-algorithm;"
	  "x-amz-server-side-encryption-customer-key;x-amz-server-side-encryption-customer-key-md5",
	  "737b6fc5c3b863a3246e3e981cefabff560a2ed2149acc05a7b8491ee5fa0c25" },
	{ "GET", "pg-bucket.s3.eu-west-1.amazonaws.com", "/k8s/db1/keyring", { { 0 } }, 0,
	  { { "x-amz-request-payer", "requester" },
	    { "x-amz-server-side-encryption-customer-algorithm", "AES256" },
	    { "x-amz-server-side-encryption-customer-key", SSEC_B64 },
	    { "x-amz-server-side-encryption-customer-key-MD5", SSEC_MD5 } }, 4,
	  "",
	  "host;x-amz-content-sha256;x-amz-date;x-amz-request-payer;x-amz-security-token;"
	  "x-amz-server-side-encryption-customer-algorithm;x-amz-server-side-encryption-customer-key;"
	  "x-amz-server-side-encryption-customer-key-md5",
	  "68daa38583fbc7e1cacc9853e6eb1117ef905f5222b4f9a25cf38860d2d067a6" },
};

START_TEST(sigv4_token_vectors)
{
	const vector *v = &VECTORS[_i];
	char hash[65];
	s3_kv hdr[12];
	size_t n = 0;
	s3_sha256_hex(v->body, strlen(v->body), hash);
	hdr[n++] = (s3_kv){ "Host", v->host };
	hdr[n++] = (s3_kv){ "x-amz-content-sha256", hash };
	hdr[n++] = (s3_kv){ "x-amz-date", "20240501T120000Z" };
	hdr[n++] = (s3_kv){ "x-amz-security-token", "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==" };
	for (size_t i = 0; i < v->nheaders; i++)
		hdr[n++] = v->headers[i];
	s3_sigv4_request req = { v->method, v->path, v->query, v->nquery, hdr, n, hash, S3_SIGV4_S3 };
	s3_sigv4_key key = { "ASIAEXAMPLEKEYID", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "s3",
			     "20240501T120000Z" };
	s3_sigv4_result res;
	ck_assert_int_eq(s3_sigv4_sign(&req, &key, &res), 0);
	ck_assert_str_eq(res.signed_headers, v->signed_headers);
	ck_assert_str_eq(res.signature, v->signature);
	s3_sigv4_result_free(&res);
}
END_TEST

/* The checksum header is what the vectors (and S3) expect of the body. */
START_TEST(digests_of_bodies)
{
	tr_conn *c = calloc(1, sizeof *c);
	s3_digests d;
	s3_digests_compute(c, "hello, wal\n", 11, &d);
	ck_assert_str_eq(d.sha256_b64, "9pN+Ael/GvjJxqUnN7rma1R57j/R/WHCdSfxL09RGrc=");
	ck_assert_str_eq(d.sha256_hex, "f6937e01e97f1af8c9c6a52737bae66b5479ee3fd1fd61c27527f12f4f511ab7");
	ck_assert_str_eq(d.md5_b64, "");
	c->conf.feat.checksum = S3_CHECKSUM_MD5;
	s3_digests_compute(c, "", 0, &d);
	ck_assert_str_eq(d.sha256_hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(d.md5_b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
	free(c);
}
END_TEST

/* --- feature headers per request --- */

static const char *find_hdr(const s3_kv *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static size_t headers_for(tr_conn *c, const char *method, const char *key, const char *q, s3_kv *h)
{
	s3_request req = { .method = method, .key = key };
	s3_digests d;
	size_t n = 0;
	if (q)
		s3_request_query(&req, q, "x");
	s3_digests_compute(c, "body", 4, &d);
	s3_features_headers(c, &req, &d, h, &n, 24);
	return n;
}

START_TEST(feature_headers)
{
	tr_conn *c = calloc(1, sizeof *c);
	s3_features *f = &c->conf.feat;
	f->sse = (char *)"aws:kms";
	f->sse_kms_key_id = (char *)"alias/k";
	f->storage_class = (char *)"STANDARD_IA";
	f->wal_storage_class = (char *)"GLACIER_IR";
	f->wal_prefix = (char *)"p/db/wal/";
	f->requester_pays = 1;
	s3_kv h[24];
	size_t n = headers_for(c, "PUT", "p/db/wal/0000000100000000/000000010000000000000001", NULL, h);
	ck_assert_str_eq(find_hdr(h, n, "x-amz-storage-class"), "GLACIER_IR");
	ck_assert_str_eq(find_hdr(h, n, "x-amz-server-side-encryption"), "aws:kms");
	ck_assert_str_eq(find_hdr(h, n, "x-amz-server-side-encryption-aws-kms-key-id"), "alias/k");
	ck_assert_str_eq(find_hdr(h, n, "Content-Type"), "application/octet-stream");
	ck_assert_ptr_nonnull(find_hdr(h, n, "x-amz-checksum-sha256"));
	ck_assert_str_eq(find_hdr(h, n, "x-amz-sdk-checksum-algorithm"), "SHA256");
	ck_assert_str_eq(find_hdr(h, n, "x-amz-request-payer"), "requester");
	n = headers_for(c, "POST", "p/db/chunks/ab/c1", "uploads", h);
	ck_assert_str_eq(find_hdr(h, n, "x-amz-storage-class"), "STANDARD_IA");
	ck_assert_str_eq(find_hdr(h, n, "x-amz-checksum-algorithm"), "SHA256");
	ck_assert_str_eq(find_hdr(h, n, "Content-Type"), "application/octet-stream");
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-checksum-sha256"));
	/* Parts: checksum, no SSE-KMS or class (S3 refuses them there). */
	n = headers_for(c, "PUT", "p/db/chunks/ab/c1", "partNumber", h);
	ck_assert_ptr_nonnull(find_hdr(h, n, "x-amz-checksum-sha256"));
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-server-side-encryption"));
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-storage-class"));
	n = headers_for(c, "POST", "p/db/chunks/ab/c1", "uploadId", h);
	ck_assert_str_eq(find_hdr(h, n, "Content-Type"), "application/xml");
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-storage-class"));
	n = headers_for(c, "GET", NULL, "list-type", h);
	ck_assert_int_eq(n, 1); /* only x-amz-request-payer on a listing */
	/* SSE-C on every object request but DELETE; nothing else of SSE. */
	f->sse = f->sse_kms_key_id = NULL;
	f->ssec_key = (char *)SSEC_B64;
	snprintf(f->ssec_key_md5, sizeof f->ssec_key_md5, "%s", SSEC_MD5);
	f->requester_pays = 0;
	f->checksum = S3_CHECKSUM_MD5;
	static const struct { const char *method, *q; int ssec; } ops[] = {
		{ "PUT", NULL, 1 }, { "PUT", "partNumber", 1 }, { "POST", "uploads", 1 }, { "POST", "uploadId", 1 },
		{ "GET", NULL, 1 }, { "HEAD", NULL, 1 }, { "DELETE", NULL, 0 }, { "DELETE", "uploadId", 0 },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		n = headers_for(c, ops[i].method, "k", ops[i].q, h);
		ck_assert_int_eq(find_hdr(h, n, "x-amz-server-side-encryption-customer-key") != NULL, ops[i].ssec);
		ck_assert_int_eq(find_hdr(h, n, "x-amz-server-side-encryption-customer-key-MD5") != NULL, ops[i].ssec);
	}
	n = headers_for(c, "PUT", "k", "partNumber", h);
	ck_assert_ptr_nonnull(find_hdr(h, n, "Content-MD5"));
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-checksum-sha256"));
	f->checksum = S3_CHECKSUM_NONE;
	n = headers_for(c, "PUT", "k", NULL, h);
	ck_assert_ptr_null(find_hdr(h, n, "Content-MD5"));
	ck_assert_ptr_null(find_hdr(h, n, "x-amz-checksum-sha256"));
	/* Without a WAL prefix (or class) everything gets the one class. */
	f->wal_prefix = NULL;
	ck_assert_str_eq(s3_storage_class_for(f, "p/db/wal/x"), "STANDARD_IA");
	f->wal_prefix = (char *)"p/db/wal/";
	f->wal_storage_class = NULL;
	ck_assert_str_eq(s3_storage_class_for(f, "p/db/wal/x"), "STANDARD_IA");
	f->storage_class = NULL;
	ck_assert_ptr_null(s3_storage_class_for(f, "p/db/wal/x"));
	free(c);
}
END_TEST

START_TEST(storage_class_names)
{
	char why[300];
	ck_assert_int_eq(s3_storage_class_check("STANDARD_IA", why, sizeof why), 0);
	ck_assert_int_eq(s3_storage_class_check("GLACIER_IR", why, sizeof why), 0);
	ck_assert_int_eq(s3_storage_class_check("INTELLIGENT_TIERING", why, sizeof why), 0);
	ck_assert_int_eq(s3_storage_class_check("GLACIER", why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "restore request"));
	ck_assert_int_eq(s3_storage_class_check("DEEP_ARCHIVE", why, sizeof why), -1);
	ck_assert_int_eq(s3_storage_class_check("standard", why, sizeof why), -1);
	ck_assert_int_eq(s3_storage_class_check("STANDARD IA", why, sizeof why), -1);
	ck_assert_int_eq(s3_storage_class_check("", why, sizeof why), -1);
}
END_TEST

START_TEST(http_dates)
{
	ck_assert_int_eq(s3_http_date("Wed, 01 May 2024 12:00:00 GMT"), 1714564800);
	ck_assert_int_eq(s3_http_date(""), 0);
	ck_assert_int_eq(s3_http_date("yesterday"), 0);
}
END_TEST

/* --- private state-dir files --- */

START_TEST(state_files)
{
	char dir[] = "/tmp/tr-s3-unit.XXXXXX", path[4200], buf[64], why[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	tr_conn *c = calloc(1, sizeof *c);
	char sub[4200];
	snprintf(sub, sizeof sub, "%s/a/b", dir);
	c->conf.state_dir = sub;
	c->rng = 12345;
	s3_state_path(c, "s3-test", "identity", path, sizeof path);
	ck_assert_int_eq(strncmp(path, sub, strlen(sub)), 0);
	ck_assert_int_eq(s3_state_write(c, path, "hello\n", 6, why, sizeof why), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(s3_state_read(path, buf, sizeof buf, why, sizeof why), 6);
	ck_assert_str_eq(buf, "hello\n");
	ck_assert_int_eq(s3_state_read(path, buf, 4, why, sizeof why), -2); /* larger than the cap */
	chmod(path, 0640);
	ck_assert_int_eq(s3_state_read(path, buf, sizeof buf, why, sizeof why), -2);
	ck_assert_ptr_nonnull(strstr(why, "mode 0640"));
	/* A rewrite replaces it whole, private again. */
	ck_assert_int_eq(s3_state_write(c, path, "again\n", 6, why, sizeof why), 0);
	ck_assert_int_eq(s3_state_read(path, buf, sizeof buf, why, sizeof why), 6);
	char link[4300];
	snprintf(link, sizeof link, "%s.link", path);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(s3_state_read(link, buf, sizeof buf, why, sizeof why), -2);
	ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
	ck_assert_int_eq(s3_state_read("/nonexistent/x", buf, sizeof buf, why, sizeof why), -1);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_int_eq(s3_state_read(path, buf, sizeof buf, why, sizeof why), -2);
		ck_assert_ptr_nonnull(strstr(why, "owned by uid 65534"));
	}
	unlink(link);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof sub, "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
	free(c);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("s3-driver");
	TCase *t = tcase_create("profiles");
	tcase_add_test(t, profile_credentials_file);
	tcase_add_test(t, profile_config_file);
	tcase_add_test(t, profile_odd_input);
	suite_add_tcase(s, t);
	t = tcase_create("endpoints");
	tcase_add_test(t, partition_hosts);
	tcase_add_test(t, sts_and_imds_endpoints);
	tcase_add_test(t, container_hosts);
	suite_add_tcase(s, t);
	t = tcase_create("credentials");
	tcase_add_test(t, json_strings);
	tcase_add_test(t, json_malformed);
	tcase_add_test(t, creds_from_json_doc);
	tcase_add_test(t, credcache_round_trip);
	tcase_add_test(t, state_files);
	suite_add_tcase(s, t);
	t = tcase_create("requests");
	tcase_add_test(t, base64_rfc4648);
	tcase_add_loop_test(t, sigv4_token_vectors, 0, sizeof VECTORS / sizeof VECTORS[0]);
	tcase_add_test(t, digests_of_bodies);
	tcase_add_test(t, feature_headers);
	tcase_add_test(t, storage_class_names);
	tcase_add_test(t, http_dates);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
