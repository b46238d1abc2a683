/*
 * keyresolve.h - which keyring to believe when its copies disagree.
 *
 * A repository keeps its keyring in several objects (keyring,
 * keyring-copy, backups/<label>/keyring; see README, "Repository
 * layout"), and this host may have a snapshot in its cache.  After a lost
 * object, a damaged one, an interrupted rotation or a replacement, they
 * differ.  The rules, applied to the copies found:
 *
 *  1. The chosen keyring is, among those the passphrase opens (MAC
 *     verified, every key unwrapped), the one of the highest generation;
 *     on a tie, the first candidate (the main keyring before its copy).
 *  2. Nothing opens: WRONG_KEY if any copy parses, NONE otherwise.
 *  3. A copy that does not open but has the chosen one's salt is that
 *     generation, damaged: it will be rewritten.
 *  4. A copy that does not open, with another salt and a higher
 *     generation, is a rotation to a passphrase we do not have: NEWER.
 *     Rolling back to an older generation would give the old passphrase
 *     back its power, so this is refused, never repaired.
 *  5. A copy holding a key the chosen one lacks (rotations only ever add
 *     keys) is another keyring: CONFLICT, a replaced keyring.  So is a key
 *     this host has used that the chosen keyring lacks (a replacement that
 *     happens to open with the same passphrase).
 *  6. Any other copy is absent, damaged, or an older generation of the
 *     chosen one holding no key it lacks: stale, and rewritten with the
 *     chosen text (nothing is lost: the keys are the same).
 */
#ifndef TR_KEYRESOLVE_H
#define TR_KEYRESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include "format/keyring.h"

typedef struct tr_ring_cand {
	const char *name;   /* for messages: "keyring", "keyring-copy", ... */
	int present;        /* the object exists */
	int parsed;         /* and is a well-formed keyring of this repository */
	int opens;          /* and the passphrase opens it */
	tr_keyring ring;    /* when parsed */
	uint8_t hash[32];   /* SHA-256 of its text, when present */
} tr_ring_cand;

enum tr_resolve {
	TR_RESOLVE_OK = 0,
	TR_RESOLVE_NONE,       /* no candidate parses */
	TR_RESOLVE_WRONG_KEY,  /* some parse, none opens with this passphrase */
	TR_RESOLVE_NEWER,      /* a newer generation this passphrase does not open */
	TR_RESOLVE_CONFLICT    /* keyrings that cannot be one repository's */
};

/* Applies the rules to c[0..n-1]; known[0..nknown-1] are the key ids this
 * host has cached for the repository.  Returns a TR_RESOLVE_*; on OK
 * *chosen is an index into c, otherwise why says what is wrong in one
 * line. */
int tr_ring_resolve(const tr_ring_cand *c, int n, const uint8_t (*known)[8], int nknown, int *chosen, char *why,
		    size_t whylen);

/* 1 if candidate i is not byte for byte the chosen keyring (absent,
 * damaged or older): it is to be rewritten. */
int tr_ring_stale(const tr_ring_cand *c, int i, int chosen);

#endif
