#ifndef CBCRYPTLANES_H
#define CBCRYPTLANES_H

#include <stddef.h>

/* bcrypt ($2b$) for several independent passwords at once, interleaved round by round.
 *
 * One bcrypt is a long chain of dependent S-box lookups: each Blowfish round waits for the one
 * before it, and a core mostly waits on its loads. Hashes that do not depend on each other (other
 * passwords, other salts, the same cost) fill those waits: each lane keeps its own key, salt,
 * P-array and S-boxes, and the lanes' rounds are issued together. The result of each lane is
 * exactly what a bcrypt of that lane alone gives (libxcrypt's `crypt_rn` with a `$2b$` setting).
 *
 * Written from the published algorithm (Provos and Mazieres, "A Future-Adaptable Password
 * Scheme", 1999; Blowfish, Schneier 1993), with its constants computed from pi
 * (blowfish_pi.py). */

/* Lanes one call may hash together. */
#define FL_BCRYPT_MAX_LANES 4
/* bcrypt reads at most this many bytes of a password. */
#define FL_BCRYPT_MAX_PASSWORD 72
/* "$2b$" cost "$" 22 characters of salt, 31 of hash; and a NUL. */
#define FL_BCRYPT_OUTPUT_SIZE 61

typedef struct fl_bcrypt_lane {
    /* In: the password, without a NUL inside, at most FL_BCRYPT_MAX_PASSWORD bytes. */
    const unsigned char *password;
    size_t password_length;
    /* In: the salt's 16 bytes. */
    unsigned char salt[16];
    /* Out: the `$2b$` hash, NUL-terminated. */
    char output[FL_BCRYPT_OUTPUT_SIZE];
} fl_bcrypt_lane;

/* Hashes `count` lanes (1...FL_BCRYPT_MAX_LANES) at `cost` (4...31) together. Returns 0, or -1
 * for arguments out of range (then no output is written). Every copy of a key and every
 * Blowfish state it made is wiped before it returns. */
int fl_bcrypt_hash_lanes(fl_bcrypt_lane *lanes, int count, int cost);

/* The 16 salt bytes of the 22 characters at `encoded` (bcrypt's base-64 alphabet). Returns 0,
 * or -1 if a character is outside the alphabet. */
int fl_bcrypt_decode_salt(const char *encoded, unsigned char salt[16]);

#endif
