/* conformance.c - see conformance.h.  Each group of checks names the rule
 * of driver.h it tests; every check can fail, and one that does not apply
 * to a connection (batching without TR_CAP_BATCH, say) is not counted. */
#include "config.h"
#include "conformance.h"
#include "bodygen.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KNOWN_CAPS (TR_CAP_PUT_IF_ABSENT | TR_CAP_CHECKSUM | TR_CAP_RANGE_RESUME | TR_CAP_BATCH | TR_CAP_REMOTE)
#define RM_PRESENT 300  /* remove_many: keys put (Azure's batches take 256) */
#define THREADS 4

typedef struct suite {
	const tr_loaded_driver *ld;
	const tr_driver *d;
	const tr_driver_env *env;
	tr_conn *c;            /* the connection most checks use */
	tr_conn *c2;           /* another one, to see what c wrote */
	unsigned caps;
	char prefix[256];
	int pass, fail;
} suite;

static void report(suite *s, int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(suite *s, int ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		s->pass++;
		printf("ok   %s\n", name);
	} else {
		va_list ap;
		s->fail++;
		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static const char *status_name(int rc)
{
	static const char *const names[] = { "TR_OK", "TR_ENOENT", "TR_EEXIST", "TR_EIO", "TR_EAUTH", "TR_EINVAL",
					     "TR_ENOMEM", "TR_ECALLBACK", "TR_ECORRUPT", "TR_ENOSPACE",
					     "TR_ETRANSIENT", "TR_EPERM", "TR_ENOTSUP" };
	return rc <= 0 && rc >= TR_STATUS_MIN ? names[-rc] : "an undefined status";
}

/* errmsg() after a failure: one line, not empty. */
static int message_ok(suite *s, tr_conn *c)
{
	const char *m = s->d->errmsg(c);
	return m && *m && !strchr(m, '\n');
}

/* rc must be want; after a failure the connection's message must be one
 * line (driver.h: "a one-line human-readable message"). */
static int expect(suite *s, tr_conn *c, const char *name, int rc, int want)
{
	int ok = rc == want && (want == TR_OK || message_ok(s, c));
	report(s, ok, name, "%s (%d) where %s was due; message: %s", status_name(rc), rc, status_name(want),
	       rc != TR_OK ? s->d->errmsg(c) : "-");
	return ok;
}

static void key_of(const suite *s, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s%s", s->prefix, rel);
}

/* --- bodies in memory --- */

struct memsrc {
	const char *p;
	size_t len, off;
	size_t step;       /* most bytes per read, 0: as asked */
	long fail_at;      /* fail once this many bytes were given, -1: never */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct memsrc *m = ctx;
	if (m->fail_at >= 0 && m->off >= (size_t)m->fail_at)
		return -1;
	size_t n = m->len - m->off < len ? m->len - m->off : len;
	if (m->step && n > m->step)
		n = m->step;
	if (m->fail_at >= 0 && n > (size_t)m->fail_at - m->off)
		n = (size_t)m->fail_at - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

struct memsink {
	char buf[4096];
	size_t len;
	int calls;
	int fail;          /* refuse the first call */
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct memsink *m = ctx;
	m->calls++;
	if (m->fail || len > sizeof m->buf - 1 - m->len)
		return -1;
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	m->buf[m->len] = '\0';
	return 0;
}

static int put_mem(suite *s, tr_conn *c, const char *key, const char *body, unsigned flags, const char *sum)
{
	struct memsrc m = { body, strlen(body), 0, 0, -1 };
	tr_put_args a = { mem_read, &m, (int64_t)m.len, flags, sum };
	return s->d->put(c, key, &a);
}

static int get_mem(suite *s, tr_conn *c, const char *key, struct memsink *m)
{
	memset(m, 0, sizeof *m);
	return s->d->get(c, key, mem_write, m);
}

/* The body under key is body, read through connection c. */
static void expect_body(suite *s, tr_conn *c, const char *name, const char *key, const char *body)
{
	struct memsink m;
	int rc = get_mem(s, c, key, &m);
	report(s, rc == TR_OK && m.len == strlen(body) && memcmp(m.buf, body, m.len) == 0, name,
	       "%s, %zu bytes \"%.40s\" where \"%.40s\" was due", status_name(rc), m.len, m.buf, body);
}

static int head_rc(suite *s, tr_conn *c, const char *key)
{
	tr_object_info info;
	return s->d->head(c, key, &info);
}

/* --- generated bodies --- */

struct gensrc {
	tr_bodygen g;
	int64_t fail_after;   /* -1: never */
	uint64_t given;
};

static ssize_t gen_read(void *ctx, void *buf, size_t len)
{
	struct gensrc *src = ctx;
	if (src->fail_after >= 0 && src->given + len > (uint64_t)src->fail_after) {
		if (src->given >= (uint64_t)src->fail_after)
			return -1;
		len = (size_t)((uint64_t)src->fail_after - src->given);
	}
	ssize_t n = tr_bodygen_read(&src->g, buf, len);
	src->given += (uint64_t)n;
	return n;
}

/* A sink that compares what arrives with the generated body. */
struct gencheck {
	tr_bodygen g;
	uint64_t got;
	int bad;
};

static int gen_check(void *ctx, const void *buf, size_t len)
{
	struct gencheck *k = ctx;
	unsigned char want[65536];
	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof want ? len - off : sizeof want;
		if (n > k->g.left) {
			k->bad = 1;
			return -1;
		}
		tr_bodygen_bytes(&k->g, want, n);
		if (memcmp(want, (const unsigned char *)buf + off, n) != 0) {
			k->bad = 1;
			return -1;
		}
		off += n;
	}
	k->got += len;
	return 0;
}

static int put_gen(suite *s, tr_conn *c, const char *key, uint64_t size, uint64_t seed, int64_t hint,
		   unsigned flags, int64_t fail_after)
{
	struct gensrc src = { .fail_after = fail_after };
	tr_bodygen_init(&src.g, size, seed);
	tr_put_args a = { gen_read, &src, hint, flags, NULL };
	return s->d->put(c, key, &a);
}

/* The body under key is generated body seed of size bytes. */
static void expect_gen(suite *s, const char *name, const char *key, uint64_t size, uint64_t seed)
{
	struct gencheck k = { .bad = 0 };
	tr_bodygen_init(&k.g, size, seed);
	int rc = s->d->get(s->c, key, gen_check, &k);
	report(s, rc == TR_OK && !k.bad && k.got == size, name, "%s, %" PRIu64 " of %" PRIu64 " bytes%s",
	       status_name(rc), k.got, size, k.bad ? ", not the bytes put" : "");
}

/* --- listing --- */

struct entry {
	char *key;
	int64_t size, mtime;
};

struct listing {
	struct entry *v;
	int n, cap;
	int stop_after;    /* return non-zero at this call, 0: never */
	int calls;
	int oom;
};

static int collect(void *ctx, const tr_object_info *info)
{
	struct listing *l = ctx;
	l->calls++;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		struct entry *v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v) {
			l->oom = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	struct entry *e = &l->v[l->n];
	if (!(e->key = strdup(info->key))) {
		l->oom = 1;
		return 1;
	}
	e->size = info->size;
	e->mtime = info->mtime;
	l->n++;
	return l->stop_after && l->calls >= l->stop_after;
}

static void listing_free(struct listing *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int list_into(suite *s, tr_conn *c, const char *prefix, struct listing *l)
{
	memset(l, 0, sizeof *l);
	return s->d->list(c, prefix, collect, l);
}

/* The listing holds exactly want[0..n-1] (full keys), in this order. */
static void expect_keys(suite *s, const char *name, int rc, const struct listing *l, char want[][TR_KEY_MAX + 1],
			int n)
{
	int same = rc == TR_OK && l->n == n && !l->oom;
	int at = -1;
	for (int i = 0; same && i < n; i++)
		if (strcmp(l->v[i].key, want[i]) != 0) {
			same = 0;
			at = i;
		}
	report(s, same, name, "%s, %d keys where %d were due%s%s%s%s%s", status_name(rc), l->n, n,
	       at >= 0 ? "; first difference: \"" : "", at >= 0 ? l->v[at].key : "", at >= 0 ? "\" where due \"" : "",
	       at >= 0 ? want[at] : "", at >= 0 ? "\"" : "");
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(a, b);  /* strcmp compares as unsigned char: byte order */
}

/* --- the checks --- */

/* driver.h: name, version, caps() per connection, describe(). */
static void check_meta(suite *s)
{
	report(s, s->d->name && s->d->version && *s->d->version, "name and version are set", "name %s, version %s",
	       s->d->name ? s->d->name : "(null)", s->d->version ? s->d->version : "(null)");
	report(s, (s->caps & ~KNOWN_CAPS) == 0, "caps() are known TR_CAP_* flags", "caps 0x%x", s->caps);
	unsigned again = s->d->caps(s->c), other = s->d->caps(s->c2);
	report(s, again == s->caps && other == s->caps, "caps() are stable, and the same on a second connection",
	       "0x%x, then 0x%x, and 0x%x on the other", s->caps, again, other);
	report(s, !(s->caps & TR_CAP_BATCH) || s->d->sync, "TR_CAP_BATCH comes with sync()", "sync() is NULL");
	const char *line = s->d->describe ? s->d->describe(s->c) : NULL;
	report(s, !line || (*line && !strchr(line, '\n')), "describe() is NULL or one line", "\"%s\"", line ? line : "");
}

/* driver.h: TR_ENOENT for an absent key; removing one is TR_OK. */
static void check_absent(suite *s)
{
	char key[TR_KEY_MAX + 1];
	struct memsink m;
	struct listing l;
	key_of(s, "absent/never-put", key, sizeof key);
	if (expect(s, s->c, "head of an absent key: TR_ENOENT", head_rc(s, s->c, key), TR_ENOENT))
		report(s, strstr(s->d->errmsg(s->c), "never-put") != NULL, "the message names the object", "\"%s\"",
		       s->d->errmsg(s->c));
	int rc = get_mem(s, s->c, key, &m);
	expect(s, s->c, "get of an absent key: TR_ENOENT", rc, TR_ENOENT);
	report(s, m.calls == 0, "get of an absent key writes nothing", "%d calls", m.calls);
	expect(s, s->c, "remove of an absent key: TR_OK", s->d->remove(s->c, key), TR_OK);
	key_of(s, "absent/", key, sizeof key);
	rc = list_into(s, s->c, key, &l);
	report(s, rc == TR_OK && l.calls == 0, "list of a prefix nothing starts with: TR_OK, no call", "%s, %d calls",
	       status_name(rc), l.calls);
	listing_free(&l);
}

static int mtime_plausible(int64_t mtime)
{
	int64_t now = (int64_t)time(NULL);
	return mtime == 0 || (mtime > now - 3600 && mtime < now + 3600);
}

/* driver.h: put, get and head of one object, seen by another connection. */
static void check_round_trip(suite *s)
{
	char key[TR_KEY_MAX + 1];
	const char *body = "hello, conformance\n", *sum = "sha256:conform-1";
	tr_object_info info;
	key_of(s, "rt/one", key, sizeof key);
	expect(s, s->c, "put", put_mem(s, s->c, key, body, 0, sum), TR_OK);
	expect_body(s, s->c, "get returns the body", key, body);
	expect_body(s, s->c2, "another connection gets the body", key, body);
	memset(&info, 0x55, sizeof info);
	int rc = s->d->head(s->c, key, &info);
	expect(s, s->c, "head", rc, TR_OK);
	report(s, rc == TR_OK && info.size == (int64_t)strlen(body), "head: size", "%" PRId64, info.size);
	report(s, rc == TR_OK && mtime_plausible(info.mtime), "head: mtime is 0 (unknown) or within an hour of now",
	       "%" PRId64, info.mtime);
	const char *want = (s->caps & TR_CAP_CHECKSUM) ? sum : "";
	report(s, rc == TR_OK && strcmp(info.checksum, want) == 0, "head: the checksum put (\"\" without TR_CAP_CHECKSUM)",
	       "\"%.*s\" where \"%s\" was due", TR_CHECKSUM_MAX, info.checksum, want);

	expect(s, s->c, "put replaces", put_mem(s, s->c, key, "replaced", 0, NULL), TR_OK);
	expect_body(s, s->c2, "... and the new body is read", key, "replaced");

	key_of(s, "rt/empty", key, sizeof key);
	expect(s, s->c, "put of an empty body", put_mem(s, s->c, key, "", 0, NULL), TR_OK);
	expect_body(s, s->c, "get of an empty body", key, "");
	rc = s->d->head(s->c, key, &info);
	report(s, rc == TR_OK && info.size == 0, "head of an empty body: size 0", "%s, %" PRId64, status_name(rc),
	       info.size);

	/* tr_read_fn may return fewer bytes than asked, any number of times. */
	char big[3001];
	for (int i = 0; i < 3000; i++)
		big[i] = (char)('a' + i % 26);
	big[3000] = '\0';
	struct memsrc m = { big, 3000, 0, 7, -1 };
	tr_put_args a = { mem_read, &m, -1, 0, NULL };
	key_of(s, "rt/short-reads", key, sizeof key);
	expect(s, s->c, "put through short reads (7 bytes each)", s->d->put(s->c, key, &a), TR_OK);
	expect_body(s, s->c, "... the body is whole", key, big);
}

struct racer {
	suite *s;
	const char *key;
	char body[32];
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	tr_conn *c = NULL;
	r->rc = tr_driver_open(r->s->ld, r->s->env, &c);
	if (r->rc == TR_OK)
		r->rc = put_mem(r->s, c, r->key, r->body, TR_PUT_IF_ABSENT, NULL);
	r->s->d->close(c);
	return NULL;
}

/* Writers on connections of their own, one thread each, put-if-absent
 * the same key: one wins, the others get TR_EEXIST, the winner's body
 * stays. */
static void check_race(suite *s, int round)
{
	char key[TR_KEY_MAX + 1], rel[64], name[128];
	struct racer r[THREADS];
	pthread_t t[THREADS];
	snprintf(rel, sizeof rel, "race/%d", round);
	key_of(s, rel, key, sizeof key);
	int started = 0;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){ s, key, "", TR_EIO };
		snprintf(r[i].body, sizeof r[i].body, "writer %d of round %d", i, round);
		if (pthread_create(&t[i], NULL, race, &r[i]) == 0)
			started++;
		else
			break;
	}
	int won = -1, winners = 0, others = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == TR_OK) {
			won = i;
			winners++;
		} else if (r[i].rc == TR_EEXIST) {
			others++;
		}
	}
	snprintf(name, sizeof name, "race %d: %d writers put-if-absent one key, exactly one wins", round, THREADS);
	report(s, started == THREADS && winners == 1 && others == THREADS - 1, name, "%d started, %d won, %d got TR_EEXIST",
	       started, winners, others);
	if (won >= 0) {
		snprintf(name, sizeof name, "race %d: the winner's body stays", round);
		expect_body(s, s->c, name, key, r[won].body);
	}
}

/* driver.h: TR_PUT_IF_ABSENT, TR_EEXIST; atomic with TR_CAP_PUT_IF_ABSENT. */
static void check_if_absent(suite *s)
{
	char key[TR_KEY_MAX + 1];
	key_of(s, "cond/k", key, sizeof key);
	expect(s, s->c, "put-if-absent of a new key", put_mem(s, s->c, key, "first", TR_PUT_IF_ABSENT, NULL), TR_OK);
	expect(s, s->c, "put-if-absent of an existing key: TR_EEXIST",
	       put_mem(s, s->c, key, "second", TR_PUT_IF_ABSENT, NULL), TR_EEXIST);
	expect(s, s->c2, "... also from another connection",
	       put_mem(s, s->c2, key, "third", TR_PUT_IF_ABSENT, NULL), TR_EEXIST);
	expect_body(s, s->c, "... and the first body stays", key, "first");
	if (!(s->caps & TR_CAP_PUT_IF_ABSENT)) {
		printf("note no TR_CAP_PUT_IF_ABSENT on this connection: racing writers are not checked\n");
		return;
	}
	for (int round = 1; round <= 3; round++)
		check_race(s, round);
}

/* driver.h: list() in ascending byte order, each key once, by prefix. */
static void check_list(suite *s, int plain_keys)
{
	static const char *const all[] = { "a-b", "a.b", "a/b", "a/c/d", "a0", "aa", "B", "b", "caf\xc3\xa9", "z~",
					   "sp ace+plus=eq@at", "m~-_.!*'()&$,;:%2F" };
	const char *const *rels = plain_keys ? all + 2 : all;
	const int N = (int)(sizeof all / sizeof all[0]) - (plain_keys ? 2 : 0);
	char (*want)[TR_KEY_MAX + 1] = calloc(N, sizeof *want);
	char key[TR_KEY_MAX + 1], prefix[TR_KEY_MAX + 1];
	struct listing l;
	if (!want) {
		report(s, 0, "list", "out of memory");
		return;
	}
	int put_ok = 1;
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "%sls/%s", s->prefix, rels[i]);
		snprintf(want[i], sizeof want[i], "%s", key);
		put_ok &= put_mem(s, s->c, key, rels[i], 0, NULL) == TR_OK;
	}
	report(s, put_ok, "put of keys that sort tellingly ('-' '.' '/' '0', upper case, UTF-8, URL specials)",
	       "a put failed: %s",
	       s->d->errmsg(s->c));
	qsort(want, N, sizeof *want, cmp_keys);
	key_of(s, "ls/", prefix, sizeof prefix);
	int rc = list_into(s, s->c, prefix, &l);
	expect_keys(s, "list: every key once, in ascending byte order", rc, &l, want, N);
	int sizes = l.n == N;
	for (int i = 0; sizes && i < N; i++)
		sizes = l.v[i].size == (int64_t)strlen(l.v[i].key + strlen(prefix));
	report(s, sizes, "list: sizes", "a size differs from the body's");
	tr_object_info info;
	int hrc = l.n > 0 ? s->d->head(s->c, l.v[0].key, &info) : TR_EIO;
	report(s, hrc == TR_OK && (l.v[0].mtime == info.mtime || (l.v[0].mtime > 0 && info.mtime > 0 &&
								  llabs(l.v[0].mtime - info.mtime) <= 1)),
	       "list: mtime as head() tells it", "%s; listed %" PRId64 ", head %" PRId64, status_name(hrc),
	       l.n > 0 ? l.v[0].mtime : 0, info.mtime);
	listing_free(&l);
	rc = list_into(s, s->c2, prefix, &l);
	expect_keys(s, "list from another connection", rc, &l, want, N);
	listing_free(&l);

	/* A prefix is bytes, not a path: "ls/a" takes a-b, a.b, a/..., a0, aa. */
	key_of(s, "ls/a", prefix, sizeof prefix);
	rc = list_into(s, s->c, prefix, &l);
	int first = 0;
	while (first < N && strncmp(want[first], prefix, strlen(prefix)) != 0)
		first++;
	int n = 0;
	if (plain_keys)
		printf("note plain keys: \"a-b\" and \"a.b\" beside \"a/b\" are left out\n");
	while (first + n < N && strncmp(want[first + n], prefix, strlen(prefix)) == 0)
		n++;
	expect_keys(s, "list of a prefix that ends inside a segment", rc, &l, want + first, n);
	listing_free(&l);
	key_of(s, "ls/a/", prefix, sizeof prefix);
	rc = list_into(s, s->c, prefix, &l);
	first = 0;
	while (first < N && strncmp(want[first], prefix, strlen(prefix)) != 0)
		first++;
	expect_keys(s, "list of a prefix ending in '/'", rc, &l, want + first, 2);
	listing_free(&l);

	key_of(s, "ls/", prefix, sizeof prefix);
	memset(&l, 0, sizeof l);
	l.stop_after = 2;
	rc = s->d->list(s->c, prefix, collect, &l);
	report(s, rc == TR_OK && l.calls == 2, "list stops when the callback says so, with TR_OK", "%s after %d calls",
	       status_name(rc), l.calls);
	listing_free(&l);
	free(want);
}

/* driver.h: remove(). */
static void check_remove(suite *s)
{
	char key[TR_KEY_MAX + 1], prefix[TR_KEY_MAX + 1];
	struct memsink m;
	struct listing l;
	key_of(s, "rm/k", key, sizeof key);
	put_mem(s, s->c, key, "to be removed", 0, NULL);
	expect(s, s->c, "remove", s->d->remove(s->c, key), TR_OK);
	expect(s, s->c2, "a removed key is absent to head (another connection)", head_rc(s, s->c2, key), TR_ENOENT);
	expect(s, s->c, "... and to get", get_mem(s, s->c, key, &m), TR_ENOENT);
	key_of(s, "rm/", prefix, sizeof prefix);
	int rc = list_into(s, s->c, prefix, &l);
	report(s, rc == TR_OK && l.n == 0, "... and to list", "%s, %d keys", status_name(rc), l.n);
	listing_free(&l);
	expect(s, s->c, "removing it again: TR_OK", s->d->remove(s->c, key), TR_OK);
}

/* Keys "<prefix>rmm/<i>" for i < n, each in its own TR_KEY_MAX + 1 bytes,
 * and the pointers remove_many() takes. */
static char *rmm_keys(suite *s, size_t n, const char ***v)
{
	char *keys = malloc(n * (TR_KEY_MAX + 1));
	*v = malloc(n * sizeof **v);
	for (size_t i = 0; keys && *v && i < n; i++) {
		char rel[32];
		snprintf(rel, sizeof rel, "rmm/%05zu", i);
		key_of(s, rel, keys + i * (TR_KEY_MAX + 1), TR_KEY_MAX + 1);
		(*v)[i] = keys + i * (TR_KEY_MAX + 1);
	}
	return keys;
}

/* driver.h: remove_many(), where the driver has it: absent keys count as
 * removed, the most keys a call takes, and a failure names a key it
 * reports by index, the others removed or untouched. */
static void check_remove_many(suite *s)
{
	const char **v = NULL;
	char keep[TR_KEY_MAX + 1], bad[TR_KEY_MAX + 1], prefix[TR_KEY_MAX + 1];
	size_t failed = TR_REMOVE_MANY_MAX, n = TR_REMOVE_MANY_MAX;
	struct listing l;
	if (!TR_DRIVER_HAS(s->d, remove_many)) {
		printf("note remove_many() is NULL: the core removes one key at a time\n");
		return;
	}
	char *keys = rmm_keys(s, n, &v);
	if (!keys || !v) {
		report(s, 0, "remove_many", "out of memory");
		free(keys);
		free(v);
		return;
	}
	const char *absent[] = { v[0], v[1], v[2] };
	expect(s, s->c, "remove_many of 3 absent keys: TR_OK", s->d->remove_many(s->c, absent, 3, &failed), TR_OK);
	int put_ok = 1;
	for (size_t i = 0; i < RM_PRESENT; i++)
		put_ok &= put_mem(s, s->c, v[i * (n / RM_PRESENT)], "rm", 0, NULL) == TR_OK;
	key_of(s, "rmm-keep", keep, sizeof keep);
	put_ok &= put_mem(s, s->c, keep, "kept", 0, NULL) == TR_OK;
	report(s, put_ok, "put 300 keys among 1,000 names, and one to keep", "%s", s->d->errmsg(s->c));
	expect(s, s->c, "remove_many of TR_REMOVE_MANY_MAX keys (700 absent): TR_OK",
	       s->d->remove_many(s->c, v, n, &failed), TR_OK);
	key_of(s, "rmm/", prefix, sizeof prefix);
	int rc = list_into(s, s->c2, prefix, &l);
	report(s, rc == TR_OK && l.n == 0, "... all gone (list, another connection)", "%s, %d keys left",
	       status_name(rc), l.n);
	listing_free(&l);
	expect_body(s, s->c2, "... a key not named is untouched", keep, "kept");

	/* One key the ABI refuses, between keys that exist. */
	key_of(s, "rmm/bad//key", bad, sizeof bad);
	for (size_t i = 0; i < 3; i++)
		put_mem(s, s->c, v[i], "rm", 0, NULL);
	const char *mixed[] = { v[0], v[1], bad, v[2] };
	failed = 99;
	rc = s->d->remove_many(s->c, mixed, 4, &failed);
	expect(s, s->c, "remove_many with an invalid key among them: TR_EINVAL", rc, TR_EINVAL);
	const char *msg = s->d->errmsg(s->c);
	report(s, failed < 4 && (failed == 2 || head_rc(s, s->c2, mixed[failed]) == TR_OK),
	       "... *failed is a key still there (or the invalid one)", "failed = %zu", failed);
	report(s, failed < 4 && strstr(msg, tr_key_ok(mixed[failed]) ? mixed[failed] : "bad//key") != NULL,
	       "... and the message names it", "\"%s\"", msg);
	int each = 1;
	for (size_t i = 0; i < 4; i++) {
		struct memsink m;
		int g = i == 2 ? TR_ENOENT : get_mem(s, s->c2, mixed[i], &m);
		each &= g == TR_ENOENT || (g == TR_OK && m.len == 2 && memcmp(m.buf, "rm", 2) == 0);
	}
	report(s, each, "... each other key removed or untouched", "a key holds something else");
	failed = 99;
	rc = s->d->remove_many(s->c, v, 3, &failed);
	expect(s, s->c, "remove_many of 1 to 3 keys", rc, TR_OK);
	s->d->remove(s->c, keep);
	free(keys);
	free(v);
}

/* driver.h: tr_read_fn and tr_write_fn failures are TR_ECALLBACK, and a
 * failed put leaves nothing. */
static void check_callbacks(suite *s, int64_t large)
{
	char key[TR_KEY_MAX + 1];
	struct memsink m;
	const char *body = "0123456789abcdef0123456789abcdef";
	struct memsrc src = { body, strlen(body), 0, 0, 0 };
	tr_put_args a = { mem_read, &src, -1, 0, NULL };
	key_of(s, "cb/at-once", key, sizeof key);
	expect(s, s->c, "a read callback failing at once: TR_ECALLBACK", s->d->put(s->c, key, &a), TR_ECALLBACK);
	expect(s, s->c, "... and nothing is stored", head_rc(s, s->c, key), TR_ENOENT);
	src = (struct memsrc){ body, strlen(body), 0, 5, 12 };
	key_of(s, "cb/mid-body", key, sizeof key);
	expect(s, s->c, "a read callback failing mid-body: TR_ECALLBACK", s->d->put(s->c, key, &a), TR_ECALLBACK);
	expect(s, s->c, "... and nothing is stored", head_rc(s, s->c, key), TR_ENOENT);
	if (large > 0) {
		key_of(s, "cb/large", key, sizeof key);
		expect(s, s->c, "a read callback failing after half of a large body: TR_ECALLBACK",
		       put_gen(s, s->c, key, (uint64_t)large, 3, -1, 0, large / 2), TR_ECALLBACK);
		expect(s, s->c, "... and nothing is stored", head_rc(s, s->c, key), TR_ENOENT);
	}
	key_of(s, "cb/readable", key, sizeof key);
	put_mem(s, s->c, key, body, 0, NULL);
	memset(&m, 0, sizeof m);
	m.fail = 1;
	expect(s, s->c, "a write callback failing: TR_ECALLBACK", s->d->get(s->c, key, mem_write, &m), TR_ECALLBACK);
	expect_body(s, s->c, "... and the connection goes on", key, body);
}

/* driver.h: bodies stream; one larger than any part or block. */
static void check_large(suite *s, int64_t large)
{
	char key[TR_KEY_MAX + 1];
	tr_object_info info;
	key_of(s, "large/a", key, sizeof key);
	expect(s, s->c, "put of a large body, size unknown", put_gen(s, s->c, key, (uint64_t)large, 1, -1, 0, -1), TR_OK);
	int rc = s->d->head(s->c, key, &info);
	report(s, rc == TR_OK && info.size == large, "head of the large body: size", "%s, %" PRId64, status_name(rc),
	       info.size);
	expect_gen(s, "get of the large body: every byte", key, (uint64_t)large, 1);
	expect(s, s->c, "put-if-absent of a large body over it: TR_EEXIST",
	       put_gen(s, s->c, key, (uint64_t)large, 2, large, TR_PUT_IF_ABSENT, -1), TR_EEXIST);
	expect_gen(s, "... and the first large body stays", key, (uint64_t)large, 1);
	key_of(s, "large/b", key, sizeof key);
	expect(s, s->c, "put of a large body with its size given, put-if-absent",
	       put_gen(s, s->c, key, (uint64_t)large + 1, 4, large + 1, TR_PUT_IF_ABSENT, -1), TR_OK);
	expect_gen(s, "... every byte", key, (uint64_t)large + 1, 4);
}

/* driver.h: keys of 1 to TR_KEY_MAX bytes; others refused with TR_EINVAL. */
static void check_keys(suite *s)
{
	static const char *const bad[] = { "", "/lead", "a//b", "a/./b", "a/../b", "trail/", "..", "." };
	char key[TR_KEY_MAX + 2], name[160];
	struct listing l;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (bad[i][0] && bad[i][0] != '/')
			key_of(s, bad[i], key, sizeof key);
		else
			snprintf(key, sizeof key, "%s", bad[i]);
		snprintf(name, sizeof name, "put of key \"%s\": TR_EINVAL", key);
		expect(s, s->c, name, put_mem(s, s->c, key, "x", 0, NULL), TR_EINVAL);
		snprintf(name, sizeof name, "head of key \"%s\": TR_EINVAL", key);
		expect(s, s->c, name, head_rc(s, s->c, key), TR_EINVAL);
	}
	/* The longest key: segments of 200 bytes. */
	size_t n = (size_t)snprintf(key, sizeof key, "%slong/", s->prefix);
	while (n < TR_KEY_MAX) {
		key[n] = (n + 1) % 201 == 0 && n + 1 < TR_KEY_MAX ? '/' : 'k';
		n++;
	}
	key[TR_KEY_MAX] = '\0';
	expect(s, s->c, "put of a key of TR_KEY_MAX bytes", put_mem(s, s->c, key, "longest", 0, NULL), TR_OK);
	expect_body(s, s->c, "... get", key, "longest");
	char prefix[TR_KEY_MAX + 1];
	key_of(s, "long/", prefix, sizeof prefix);
	int rc = list_into(s, s->c, prefix, &l);
	report(s, rc == TR_OK && l.n == 1 && strcmp(l.v[0].key, key) == 0, "... list returns it whole",
	       "%s, %d keys", status_name(rc), l.n);
	listing_free(&l);
	key[TR_KEY_MAX] = 'k';
	key[TR_KEY_MAX + 1] = '\0';
	expect(s, s->c, "put of a key of TR_KEY_MAX + 1 bytes: TR_EINVAL", put_mem(s, s->c, key, "x", 0, NULL), TR_EINVAL);
	struct memsink m;
	expect(s, s->c, "get of it: TR_EINVAL", get_mem(s, s->c, key, &m), TR_EINVAL);
	expect(s, s->c, "remove of it: TR_EINVAL", s->d->remove(s->c, key), TR_EINVAL);
}

/* driver.h: a flag the driver does not know, or cannot honour, is
 * TR_ENOTSUP, never ignored. */
static void check_flags(suite *s)
{
	char key[TR_KEY_MAX + 1];
	key_of(s, "flags/unknown", key, sizeof key);
	expect(s, s->c, "put with an unknown flag (0x100): TR_ENOTSUP", put_mem(s, s->c, key, "x", 0x100u, NULL),
	       TR_ENOTSUP);
	expect(s, s->c, "... and nothing is stored", head_rc(s, s->c, key), TR_ENOENT);
	if (s->caps & TR_CAP_BATCH)
		return;
	key_of(s, "flags/batch", key, sizeof key);
	expect(s, s->c, "TR_PUT_BATCH without TR_CAP_BATCH: TR_ENOTSUP", put_mem(s, s->c, key, "x", TR_PUT_BATCH, NULL),
	       TR_ENOTSUP);
	if (s->d->sync)
		expect(s, s->c, "sync() without TR_CAP_BATCH: TR_ENOTSUP", s->d->sync(s->c), TR_ENOTSUP);
}

/* driver.h: TR_PUT_BATCH and sync(), where the connection batches. */
static void check_batch(suite *s)
{
	static const char *const rels[] = { "batch/x1", "batch/y/x2", "batch/x3" };
	char key[TR_KEY_MAX + 1];
	int ok = 1;
	if (!(s->caps & TR_CAP_BATCH))
		return;
	for (int i = 0; i < 3; i++) {
		key_of(s, rels[i], key, sizeof key);
		ok &= put_mem(s, s->c, key, rels[i], TR_PUT_BATCH | TR_PUT_IF_ABSENT, NULL) == TR_OK;
	}
	report(s, ok, "three batched puts", "%s", s->d->errmsg(s->c));
	expect(s, s->c, "sync()", s->d->sync(s->c), TR_OK);
	for (int i = 0; i < 3; i++) {
		key_of(s, rels[i], key, sizeof key);
		expect_body(s, s->c2, "... a batched object is there after sync() (another connection)", key, rels[i]);
	}
	key_of(s, rels[0], key, sizeof key);
	expect(s, s->c, "a batched put-if-absent of an existing key: TR_EEXIST",
	       put_mem(s, s->c, key, "other", TR_PUT_BATCH | TR_PUT_IF_ABSENT, NULL), TR_EEXIST);
	tr_conn *c3 = NULL;
	int rc = tr_driver_open(s->ld, s->env, &c3);
	key_of(s, "batch/never-synced", key, sizeof key);
	if (rc == TR_OK)
		rc = put_mem(s, c3, key, "lost", TR_PUT_BATCH | TR_PUT_IF_ABSENT, NULL);
	s->d->close(c3);
	expect(s, s->c, "a batched put on a connection closed before sync()", rc, TR_OK);
	expect(s, s->c, "... never appears", head_rc(s, s->c, key), TR_ENOENT);
}

struct worker {
	suite *s;
	int id;
	int failures;
	char why[256];
};

static void *work(void *arg)
{
	struct worker *w = arg;
	tr_conn *c = NULL;
	char key[TR_KEY_MAX + 1], body[64], rel[64];
	int rc = tr_driver_open(w->s->ld, w->s->env, &c);
	for (int i = 0; rc == TR_OK && i < 10; i++) {
		struct memsink m;
		snprintf(rel, sizeof rel, "threads/%d/%d", w->id, i);
		key_of(w->s, rel, key, sizeof key);
		snprintf(body, sizeof body, "thread %d, object %d", w->id, i);
		rc = put_mem(w->s, c, key, body, i % 2 ? TR_PUT_IF_ABSENT : 0, NULL);
		if (rc == TR_OK)
			rc = get_mem(w->s, c, key, &m);
		if (rc == TR_OK && strcmp(m.buf, body) != 0)
			rc = TR_ECORRUPT;
		if (rc == TR_OK)
			rc = w->s->d->remove(c, key);
	}
	if (rc != TR_OK) {
		w->failures++;
		snprintf(w->why, sizeof w->why, "%s: %s", status_name(rc), c ? w->s->d->errmsg(c) : "open failed");
	}
	w->s->d->close(c);
	return NULL;
}

/* driver.h, "Threads": connections of one driver used by several
 * threads at once. */
static void check_threads(suite *s)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int started = 0, failures = 0;
	const char *why = "";
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ s, i, 0, "" };
		if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		failures += w[i].failures;
		if (w[i].failures)
			why = w[i].why;
	}
	report(s, started == THREADS && failures == 0, "4 threads, a connection each: put, get, remove 10 objects",
	       "%d started, %d failed: %s", started, failures, why);
}

/* Everything the suite wrote goes (list first, remove after: a callback
 * never calls its own connection). */
static void cleanup(suite *s)
{
	struct listing l;
	memset(&l, 0, sizeof l);
	int rc = s->d->list(s->c, s->prefix, collect, &l);
	int failed = 0;
	for (int i = 0; rc == TR_OK && i < l.n; i++)
		failed += s->d->remove(s->c, l.v[i].key) != TR_OK;
	listing_free(&l);
	int left = rc == TR_OK ? list_into(s, s->c2, s->prefix, &l) : rc;
	report(s, rc == TR_OK && !failed && left == TR_OK && l.n == 0, "clean-up: everything removed",
	       "%s, %d removals failed, %d keys left", status_name(rc), failed, l.n);
	listing_free(&l);
}

/* --- error-class mode --- */

static int class_of(const char *name)
{
	if (strcmp(name, "transient") == 0)
		return TR_ETRANSIENT;
	if (strcmp(name, "auth") == 0)
		return TR_EAUTH;
	if (strcmp(name, "perm") == 0)
		return TR_EPERM;
	if (strcmp(name, "io") == 0)
		return TR_EIO;
	return TR_OK;
}

static int wants_op(const char *ops, const char *op)
{
	size_t n = strlen(op);
	for (const char *p = ops; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, op, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Each operation fails with the class the caller's settings provoke. */
static void run_expect(suite *s, const tr_conform_opts *o)
{
	char key[TR_KEY_MAX + 1], name[160];
	int want = class_of(o->expect);
	const char *ops = o->ops ? o->ops : "put,get,head,list,remove";
	struct memsink m;
	struct listing l;
	if (want == TR_OK) {
		report(s, 0, "error class", "unknown class \"%s\" (transient, auth, perm, io)", o->expect);
		return;
	}
	key_of(s, "class/k", key, sizeof key);
	if (wants_op(ops, "put")) {
		snprintf(name, sizeof name, "put fails with %s", status_name(want));
		expect(s, s->c, name, put_mem(s, s->c, key, "x", TR_PUT_IF_ABSENT, NULL), want);
	}
	if (wants_op(ops, "get")) {
		snprintf(name, sizeof name, "get fails with %s", status_name(want));
		expect(s, s->c, name, get_mem(s, s->c, key, &m), want);
	}
	if (wants_op(ops, "head")) {
		snprintf(name, sizeof name, "head fails with %s", status_name(want));
		expect(s, s->c, name, head_rc(s, s->c, key), want);
	}
	if (wants_op(ops, "list")) {
		snprintf(name, sizeof name, "list fails with %s", status_name(want));
		expect(s, s->c, name, list_into(s, s->c, s->prefix, &l), want);
		listing_free(&l);
	}
	if (wants_op(ops, "remove")) {
		snprintf(name, sizeof name, "remove fails with %s", status_name(want));
		expect(s, s->c, name, s->d->remove(s->c, key), want);
	}
}

static int open_both(suite *s, const tr_conform_opts *o)
{
	char name[128];
	int rc = tr_driver_open(s->ld, s->env, &s->c);
	if (rc == TR_OK)
		rc = tr_driver_open(s->ld, s->env, &s->c2);
	if (rc == TR_OK)
		return 0;
	tr_conn *c = s->c2 ? s->c2 : s->c;
	int want = o->expect ? class_of(o->expect) : TR_OK;
	snprintf(name, sizeof name, "open%s%s", want ? " fails with " : "", want ? status_name(want) : "");
	if (c)
		expect(s, c, name, rc, want);
	else
		report(s, 0, name, "%s, and no connection to tell why", status_name(rc));
	return -1;
}

int tr_conform_run(const tr_loaded_driver *ld, const tr_driver_env *env, const tr_conform_opts *o)
{
	suite s = { .ld = ld, .d = ld->drv, .env = env };
	if (o->prefix)
		snprintf(s.prefix, sizeof s.prefix, "%s", o->prefix);
	else
		snprintf(s.prefix, sizeof s.prefix, "conform-%ld-%ld/", (long)getpid(), (long)time(NULL));
	if (open_both(&s, o) == 0 && o->expect) {
		run_expect(&s, o);
	} else if (s.c2) {
		s.caps = s.d->caps(s.c);
		printf("note driver %s %s, ABI version %d, caps 0x%x, keys under \"%s\"\n", s.d->name, s.d->version,
		       ld->abi_version, s.caps, s.prefix);
		check_meta(&s);
		check_absent(&s);
		check_round_trip(&s);
		check_if_absent(&s);
		check_list(&s, o->plain_keys);
		check_remove(&s);
		check_remove_many(&s);
		check_callbacks(&s, o->large);
		if (o->large > 0)
			check_large(&s, o->large);
		check_keys(&s);
		check_flags(&s);
		check_batch(&s);
		check_threads(&s);
		cleanup(&s);
	}
	s.d->close(s.c2);
	s.d->close(s.c);
	printf("conformance %s: %d passed, %d failed\n", ld->drv->name, s.pass, s.fail);
	return s.fail;
}
