/*
 * drv_kv.h - the name/value pairs of an HTTP request (query parameters,
 * extra headers), unencoded, in a fixed array the request owns: the s3
 * signer and both HTTP drivers use this one type.  Header only, so the
 * signer's unit test and each driver compile it in without a library.
 */
#ifndef TR_DRV_KV_H
#define TR_DRV_KV_H

#include <stddef.h>

typedef struct drv_kv {
	const char *name;
	const char *value;
} drv_kv;

/* Appends name=value to v (holding *n of max); a full array keeps its
 * pairs: the callers' maxima are sized for their largest request. */
static inline void drv_kv_add(drv_kv *v, size_t *n, size_t max, const char *name, const char *value)
{
	if (*n < max)
		v[(*n)++] = (drv_kv){ name, value };
}

#endif
