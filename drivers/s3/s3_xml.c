/* s3_xml.c - minimal XML reading for S3 responses (see s3_xml.h). */
#include "config.h"
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0 || hlen < nlen)
		return NULL;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

const char *s3_xml_element(const char *xml, size_t len, const char *tag, size_t *inner_len,
			   const char **after)
{
	char open[80], close[84];
	size_t olen = (size_t)snprintf(open, sizeof open, "<%s", tag);
	size_t clen = (size_t)snprintf(close, sizeof close, "</%s>", tag);
	const char *end = xml + len, *p = xml;

	while (p < end) {
		const char *s = find_bytes(p, (size_t)(end - p), open, olen);
		if (!s)
			return NULL;
		const char *q = s + olen;
		/* "<Key" must not match "<KeyCount>". */
		if (q >= end || (*q != '>' && *q != ' ' && *q != '/' && *q != '\t' && *q != '\n')) {
			p = q;
			continue;
		}
		const char *gt = memchr(q, '>', (size_t)(end - q));
		if (!gt)
			return NULL;
		if (gt[-1] == '/') { /* <tag/> : empty */
			*inner_len = 0;
			*after = gt + 1;
			return gt + 1;
		}
		const char *inner = gt + 1;
		const char *c = find_bytes(inner, (size_t)(end - inner), close, clen);
		if (!c)
			return NULL;
		*inner_len = (size_t)(c - inner);
		*after = c + clen;
		return inner;
	}
	return NULL;
}

/* Appends code point cp as UTF-8; -1 when it does not fit or is invalid. */
static int put_utf8(unsigned long cp, char *out, size_t outlen, size_t *o)
{
	unsigned char b[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*o + n >= outlen)
		return -1;
	memcpy(out + *o, b, n);
	*o += n;
	return 0;
}

static int decode_entity(const char *e, size_t elen, char *out, size_t outlen, size_t *o)
{
	static const struct { const char *name; char c; } named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	};
	if (elen >= 2 && e[0] == '#') {
		char num[16];
		if (elen - 1 >= sizeof num)
			return -1;
		memcpy(num, e + 1, elen - 1);
		num[elen - 1] = '\0';
		char *endp;
		int hex = num[0] == 'x' || num[0] == 'X';
		unsigned long cp = strtoul(num + hex, &endp, hex ? 16 : 10);
		if (*endp || endp == num + hex)
			return -1;
		return put_utf8(cp, out, outlen, o);
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (strlen(named[i].name) == elen && memcmp(named[i].name, e, elen) == 0) {
			if (*o + 1 >= outlen)
				return -1;
			out[(*o)++] = named[i].c;
			return 0;
		}
	}
	return -1;
}

long s3_xml_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '&') {
			if (o + 1 >= outlen)
				goto bad;
			out[o++] = in[i];
			continue;
		}
		const char *semi = memchr(in + i, ';', len - i);
		if (!semi || semi - (in + i) > 12)
			goto bad;
		if (decode_entity(in + i + 1, (size_t)(semi - (in + i + 1)), out, outlen, &o) != 0)
			goto bad;
		i = (size_t)(semi - in);
	}
	out[o] = '\0';
	return (long)o;
bad:
	out[0] = '\0';
	return -1;
}

int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
	size_t ilen;
	const char *after;
	const char *inner = s3_xml_element(xml, len, tag, &ilen, &after);
	if (!inner) {
		if (outlen)
			out[0] = '\0';
		return 0;
	}
	return s3_xml_decode(inner, ilen, out, outlen) < 0 ? -1 : 1;
}

int s3_xml_parse_error(const char *xml, size_t len, s3_xml_error *e)
{
	size_t ilen;
	const char *after;
	memset(e, 0, sizeof *e);
	const char *inner = s3_xml_element(xml, len, "Error", &ilen, &after);
	if (!inner)
		return 0;
	/* A message too long for the buffer is cut, not dropped. */
	if (s3_xml_text(inner, ilen, "Code", e->code, sizeof e->code) < 0)
		snprintf(e->code, sizeof e->code, "(unreadable)");
	if (s3_xml_text(inner, ilen, "Message", e->message, sizeof e->message) < 0)
		e->message[0] = '\0';
	if (s3_xml_text(inner, ilen, "Region", e->region, sizeof e->region) < 0)
		e->region[0] = '\0';
	return 1;
}

int64_t s3_xml_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;
	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

static int parse_entry(const char *c, size_t clen, tr_object_info *info)
{
	char num[32], when[64];
	memset(info, 0, sizeof *info);
	if (s3_xml_text(c, clen, "Key", info->key, sizeof info->key) != 1)
		return -1;
	if (s3_xml_text(c, clen, "Size", num, sizeof num) == 1) {
		char *endp;
		long long v = strtoll(num, &endp, 10);
		if (*endp || v < 0)
			return -1;
		info->size = v;
	}
	if (s3_xml_text(c, clen, "LastModified", when, sizeof when) == 1)
		info->mtime = s3_xml_time(when);
	return 0;
}

static int parse_trailer(const char *xml, size_t len, s3_list_page *page)
{
	char flag[16];
	size_t ilen;
	const char *after;
	s3_xml_text(xml, len, "IsTruncated", flag, sizeof flag);
	page->truncated = strcmp(flag, "true") == 0;
	if (!page->truncated)
		return 0;
	const char *tok = s3_xml_element(xml, len, "NextContinuationToken", &ilen, &after);
	if (!tok || ilen == 0)
		return -1; /* truncated without a token: we could never go on */
	page->next_token = malloc(ilen + 1);
	if (!page->next_token)
		return -2;
	if (s3_xml_decode(tok, ilen, page->next_token, ilen + 1) < 0)
		return -1;
	return 0;
}

int s3_xml_parse_list(const char *xml, size_t len, tr_list_fn fn, void *ctx,
		      s3_list_page *page)
{
	const char *p = xml, *end = xml + len, *after;
	size_t clen;
	tr_object_info *info = malloc(sizeof *info);

	memset(page, 0, sizeof *page);
	if (!info)
		return -2;
	if (!s3_xml_element(xml, len, "ListBucketResult", &clen, &after)) {
		free(info);
		return -1;
	}
	int rc = parse_trailer(xml, len, page);
	for (const char *c; rc == 0 && (c = s3_xml_element(p, (size_t)(end - p), "Contents", &clen, &after)); p = after) {
		if (parse_entry(c, clen, info) != 0) {
			rc = -1;
			break;
		}
		page->count++;
		if (fn(ctx, info) != 0)
			rc = 1;
	}
	free(info);
	if (rc < 0) {
		free(page->next_token);
		page->next_token = NULL;
	}
	return rc;
}
