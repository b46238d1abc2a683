/* keyresolve.c - which keyring to believe (see keyresolve.h). */
#include "config.h"
#include "repo/keyresolve.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Every key of a is in b. */
static int keys_within(const tr_keyring *a, const tr_keyring *b)
{
	for (int i = 0; i < a->nkeys; i++)
		if (!tr_keyring_has(b, a->keys[i].id))
			return 0;
	return 1;
}

static int same_kdf(const tr_keyring *a, const tr_keyring *b)
{
	return a->iterations == b->iterations && memcmp(a->salt, b->salt, 16) == 0;
}

static int pick(const tr_ring_cand *c, int n)
{
	int best = -1;
	for (int i = 0; i < n; i++)
		if (c[i].parsed && c[i].opens && (best < 0 || c[i].ring.generation > c[best].ring.generation))
			best = i;
	return best;
}

/* Judges copy j against the chosen keyring ch (rules 3 to 6). */
static int judge(const tr_ring_cand *j, const tr_ring_cand *ch, char *why, size_t whylen)
{
	const tr_keyring *a = &j->ring, *b = &ch->ring;
	int within = keys_within(a, b);
	if (j->opens && !within) {
		snprintf(why, whylen, "%s and %s hold different keys: the keyring was replaced", j->name, ch->name);
		return TR_RESOLVE_CONFLICT;
	}
	if (j->opens || same_kdf(a, b))
		return TR_RESOLVE_OK;  /* older, or damaged: the salt says it is ours */
	if (a->generation > b->generation) {
		snprintf(why, whylen, "%s is generation %" PRIu64 ", newer than the generation %" PRIu64 " this "
			 "passphrase opens (%s): the keyring was rotated to another passphrase", j->name, a->generation,
			 b->generation, ch->name);
		return TR_RESOLVE_NEWER;
	}
	if (!within) {
		snprintf(why, whylen, "%s holds keys that %s lacks, and this passphrase does not open it: the keyring "
			 "was replaced", j->name, ch->name);
		return TR_RESOLVE_CONFLICT;
	}
	/* An older generation, or this one with a damaged salt: the same keys
	 * either way, so rewriting it loses nothing. */
	return TR_RESOLVE_OK;
}

static int check_known(const tr_ring_cand *ch, const uint8_t (*known)[8], int nknown, char *why, size_t whylen)
{
	for (int i = 0; i < nknown; i++) {
		if (tr_keyring_has(&ch->ring, known[i]))
			continue;
		char id[17];
		tr_hex(known[i], 8, id);
		snprintf(why, whylen, "%s lacks key %s, which this host has used for the repository: the keyring "
			 "was replaced", ch->name, id);
		return TR_RESOLVE_CONFLICT;
	}
	return TR_RESOLVE_OK;
}

int tr_ring_resolve(const tr_ring_cand *c, int n, const uint8_t (*known)[8], int nknown, int *chosen, char *why,
		    size_t whylen)
{
	int best = pick(c, n);
	*chosen = best;
	if (best < 0) {
		for (int i = 0; i < n; i++)
			if (c[i].parsed) {
				snprintf(why, whylen, "%s does not open with this passphrase", c[i].name);
				return TR_RESOLVE_WRONG_KEY;
			}
		snprintf(why, whylen, "no keyring found");
		return TR_RESOLVE_NONE;
	}
	for (int i = 0; i < n; i++) {
		if (i == best || !c[i].parsed)
			continue;
		int rc = judge(&c[i], &c[best], why, whylen);
		if (rc != TR_RESOLVE_OK)
			return rc;
	}
	return check_known(&c[best], known, nknown, why, whylen);
}

int tr_ring_stale(const tr_ring_cand *c, int i, int chosen)
{
	return !c[i].present || !c[i].parsed || memcmp(c[i].hash, c[chosen].hash, 32) != 0;
}
