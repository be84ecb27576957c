#define _DEFAULT_SOURCE
#include "CBcryptLanes.h"

#include <stdint.h>
#include <string.h>

#include "blowfish_pi.h"

/* One lane's Blowfish state: the four S-boxes one after the other, and the P-array. */
typedef struct {
    uint32_t s[4 * 256];
    uint32_t p[18];
} blowfish_state;

/* Everything one call derives from its keys: wiped before it returns. */
typedef struct {
    blowfish_state state[FL_BCRYPT_MAX_LANES];
    uint32_t key[FL_BCRYPT_MAX_LANES][18];
    uint32_t salt[FL_BCRYPT_MAX_LANES][4];
} lanes_work;

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE uint32_t feistel(const blowfish_state *state, uint32_t x) {
    return ((state->s[x >> 24] + state->s[0x100 | ((x >> 16) & 0xff)]) ^ state->s[0x200 | ((x >> 8) & 0xff)]) +
           state->s[0x300 | (x & 0xff)];
}

/* One Blowfish encryption of each lane's block (left[lane], right[lane]), the lanes' rounds side
 * by side. Inlined everywhere with `lanes` a constant and the blocks in the caller's locals, so
 * that the loops unroll and the blocks stay in registers. */
ALWAYS_INLINE void encrypt(const blowfish_state *restrict state, uint32_t *restrict left, uint32_t *restrict right,
                           const int lanes) {
    for (int lane = 0; lane < lanes; lane++) left[lane] ^= state[lane].p[0];
    for (int round = 1; round < 17; round += 2) {
        for (int lane = 0; lane < lanes; lane++)
            right[lane] ^= feistel(&state[lane], left[lane]) ^ state[lane].p[round];
        for (int lane = 0; lane < lanes; lane++)
            left[lane] ^= feistel(&state[lane], right[lane]) ^ state[lane].p[round + 1];
    }
    for (int lane = 0; lane < lanes; lane++) {
        uint32_t last = right[lane];
        right[lane] = left[lane];
        left[lane] = last ^ state[lane].p[17];
    }
}

/* Blowfish's key schedule over the current state: the P-array, then the S-boxes, each block the
 * encryption of the one before (from a zero block), with the salt XORed in first (its halves in
 * turn, across both) when `salted`. */
ALWAYS_INLINE void expand(lanes_work *work, const int lanes, const int salted) {
    blowfish_state *restrict state = work->state;
    uint32_t left[FL_BCRYPT_MAX_LANES] = {0}, right[FL_BCRYPT_MAX_LANES] = {0};
    for (int index = 0; index < 18 + 4 * 256; index += 2) {
        if (salted) {
            for (int lane = 0; lane < lanes; lane++) {
                left[lane] ^= work->salt[lane][index & 2];
                right[lane] ^= work->salt[lane][(index & 2) + 1];
            }
        }
        encrypt(state, left, right, lanes);
        for (int lane = 0; lane < lanes; lane++) {
            if (index < 18) {
                state[lane].p[index] = left[lane];
                state[lane].p[index + 1] = right[lane];
            } else {
                state[lane].s[index - 18] = left[lane];
                state[lane].s[index - 17] = right[lane];
            }
        }
    }
}

ALWAYS_INLINE void xor_key(lanes_work *work, const int lanes) {
    for (int lane = 0; lane < lanes; lane++)
        for (int i = 0; i < 18; i++) work->state[lane].p[i] ^= work->key[lane][i];
}

ALWAYS_INLINE void xor_salt(lanes_work *work, const int lanes) {
    for (int lane = 0; lane < lanes; lane++)
        for (int i = 0; i < 18; i++) work->state[lane].p[i] ^= work->salt[lane][i & 3];
}

/* EksBlowfishSetup and the 64 encryptions of "OrpheanBeholderScryDoubt", for `lanes` lanes. */
ALWAYS_INLINE void eks_blowfish(lanes_work *work, const int lanes, int cost, uint32_t digest[][6]) {
    for (int lane = 0; lane < lanes; lane++) {
        _Static_assert(sizeof work->state[lane].s == sizeof fl_blowfish_initial_s, "four S-boxes");
        memcpy(work->state[lane].s, fl_blowfish_initial_s, sizeof work->state[lane].s);
        memcpy(work->state[lane].p, fl_blowfish_initial_p, sizeof work->state[lane].p);
    }
    xor_key(work, lanes);
    expand(work, lanes, 1);
    for (uint64_t rounds = (uint64_t)1 << cost; rounds > 0; rounds--) {
        xor_key(work, lanes);
        expand(work, lanes, 0);
        xor_salt(work, lanes);
        expand(work, lanes, 0);
    }
    static const uint32_t magic[6] = {0x4f727068, 0x65616e42, 0x65686f6c, 0x64657253, 0x63727944, 0x6f756274};
    for (int block = 0; block < 6; block += 2) {
        uint32_t left[FL_BCRYPT_MAX_LANES], right[FL_BCRYPT_MAX_LANES];
        for (int lane = 0; lane < lanes; lane++) {
            left[lane] = magic[block];
            right[lane] = magic[block + 1];
        }
        for (int i = 0; i < 64; i++) encrypt(work->state, left, right, lanes);
        for (int lane = 0; lane < lanes; lane++) {
            digest[lane][block] = left[lane];
            digest[lane][block + 1] = right[lane];
        }
    }
}

/* Overwrites the stack below the caller's frame, where the hashing's blocks were kept (locals,
 * so that they stay in registers; wiping them in place would keep them in memory). */
static __attribute__((noinline)) void wipe_stack_below(void) {
    unsigned char area[4096];
    explicit_bzero(area, sizeof area);
}

/* One function per lane count, so that each is compiled with its count a constant. */
static void eks_blowfish_1(lanes_work *work, int cost, uint32_t digest[][6]) { eks_blowfish(work, 1, cost, digest); }
static void eks_blowfish_2(lanes_work *work, int cost, uint32_t digest[][6]) { eks_blowfish(work, 2, cost, digest); }
static void eks_blowfish_3(lanes_work *work, int cost, uint32_t digest[][6]) { eks_blowfish(work, 3, cost, digest); }
static void eks_blowfish_4(lanes_work *work, int cost, uint32_t digest[][6]) { eks_blowfish(work, 4, cost, digest); }

static const char alphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* bcrypt's base 64: big-endian bit order, no padding. Writes ceil(4 * count / 3) characters. */
static char *encode(char *out, const unsigned char *bytes, size_t count) {
    const unsigned char *end = bytes + count;
    while (bytes < end) {
        unsigned int first = *bytes++;
        *out++ = alphabet[first >> 2];
        unsigned int carry = (first & 0x03) << 4;
        if (bytes >= end) {
            *out++ = alphabet[carry];
            break;
        }
        unsigned int second = *bytes++;
        *out++ = alphabet[carry | (second >> 4)];
        carry = (second & 0x0f) << 2;
        if (bytes >= end) {
            *out++ = alphabet[carry];
            break;
        }
        unsigned int third = *bytes++;
        *out++ = alphabet[carry | (third >> 6)];
        *out++ = alphabet[third & 0x3f];
    }
    return out;
}

static int decode_character(char character) {
    const char *found = character ? strchr(alphabet, character) : NULL;
    return found ? (int)(found - alphabet) : -1;
}

int fl_bcrypt_decode_salt(const char *encoded, unsigned char salt[16]) {
    int values[24] = {0};
    for (int i = 0; i < 22; i++) {
        values[i] = decode_character(encoded[i]);
        if (values[i] < 0) return -1;
    }
    /* 22 characters carry 132 bits; the salt is the first 128 (the last character's low four
     * bits are dropped, as every bcrypt does). */
    for (int group = 0, out = 0; out < 16; group += 4) {
        const int *c = &values[group];
        salt[out++] = (unsigned char)((c[0] << 2) | (c[1] >> 4));
        if (out == 16) break;
        salt[out++] = (unsigned char)(((c[1] & 0x0f) << 4) | (c[2] >> 2));
        salt[out++] = (unsigned char)(((c[2] & 0x03) << 6) | c[3]);
    }
    return 0;
}

/* The key as $2b$ reads it: the password and its NUL, repeated, as 18 big-endian words. */
static void expand_key(uint32_t key[18], const unsigned char *password, size_t length) {
    size_t position = 0;
    for (int i = 0; i < 18; i++) {
        uint32_t word = 0;
        for (int j = 0; j < 4; j++) {
            word = (word << 8) | (position < length ? password[position] : 0);
            position = position < length ? position + 1 : 0;
        }
        key[i] = word;
    }
}

int fl_bcrypt_hash_lanes(fl_bcrypt_lane *lanes, int count, int cost) {
    if (!lanes || count < 1 || count > FL_BCRYPT_MAX_LANES || cost < 4 || cost > 31) return -1;
    for (int lane = 0; lane < count; lane++) {
        if (lanes[lane].password_length > FL_BCRYPT_MAX_PASSWORD) return -1;
        if (lanes[lane].password_length && !lanes[lane].password) return -1;
        if (memchr(lanes[lane].password ? (const void *)lanes[lane].password : "", 0, lanes[lane].password_length))
            return -1;
    }
    lanes_work work;
    uint32_t digest[FL_BCRYPT_MAX_LANES][6];
    for (int lane = 0; lane < count; lane++) {
        expand_key(work.key[lane], lanes[lane].password, lanes[lane].password_length);
        for (int i = 0; i < 4; i++) {
            const unsigned char *b = &lanes[lane].salt[4 * i];
            work.salt[lane][i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        }
    }
    switch (count) {
    case 1: eks_blowfish_1(&work, cost, digest); break;
    case 2: eks_blowfish_2(&work, cost, digest); break;
    case 3: eks_blowfish_3(&work, cost, digest); break;
    default: eks_blowfish_4(&work, cost, digest); break;
    }
    wipe_stack_below();
    for (int lane = 0; lane < count; lane++) {
        unsigned char bytes[24];
        for (int i = 0; i < 6; i++) {
            bytes[4 * i] = (unsigned char)(digest[lane][i] >> 24);
            bytes[4 * i + 1] = (unsigned char)(digest[lane][i] >> 16);
            bytes[4 * i + 2] = (unsigned char)(digest[lane][i] >> 8);
            bytes[4 * i + 3] = (unsigned char)digest[lane][i];
        }
        char *out = lanes[lane].output;
        memcpy(out, "$2b$", 4);
        out[4] = (char)('0' + cost / 10);
        out[5] = (char)('0' + cost % 10);
        out[6] = '$';
        out = encode(out + 7, lanes[lane].salt, 16);
        /* bcrypt keeps 23 of the 24 bytes. */
        out = encode(out, bytes, 23);
        *out = 0;
        explicit_bzero(bytes, sizeof bytes);
    }
    explicit_bzero(&work, sizeof work);
    explicit_bzero(digest, sizeof digest);
    return 0;
}
