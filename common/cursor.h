/* A bounds-checked reader over attacker-controlled bytes. A read past the end yields NULL or 0 and marks the cursor
 * bad, so a parser can read field after field and check once; nothing is ever read past n. */
#ifndef LURKER_CURSOR_H
#define LURKER_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct cursor {
    const uint8_t *b;
    size_t n, at;
    bool bad;
};

static inline struct cursor cursor_of(const uint8_t *b, size_t n)
{
    return (struct cursor){.b = b, .n = n, .at = 0, .bad = false};
}

static inline size_t cursor_left(const struct cursor *c)
{
    return c->n - c->at;
}

/* The k bytes at the cursor, without moving; NULL (and bad) if fewer are left. */
static inline const uint8_t *cursor_peek(struct cursor *c, size_t k)
{
    if (c->bad || c->n - c->at < k) {
        c->bad = true;
        return NULL;
    }
    return c->b + c->at;
}

/* The k bytes at the cursor, moving past them; NULL (and bad) if fewer are left. */
static inline const uint8_t *cursor_take(struct cursor *c, size_t k)
{
    const uint8_t *p = cursor_peek(c, k);
    if (p)
        c->at += k;
    return p;
}

/* Ends the cursor k bytes from here, if it reaches further (a length field may only shorten what was read). */
static inline void cursor_limit(struct cursor *c, size_t k)
{
    if (c->n - c->at > k)
        c->n = c->at + k;
}

static inline unsigned cursor_u8(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 1);
    return p ? p[0] : 0;
}

static inline unsigned cursor_u16(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 2);
    return p ? be16(p) : 0;
}

/* The next len bytes as a cursor of their own (empty and bad if fewer are left); c moves past them. */
static inline struct cursor cursor_sub(struct cursor *c, size_t len)
{
    const uint8_t *p = cursor_take(c, len);
    struct cursor s = {.b = p, .n = p ? len : 0, .at = 0, .bad = p == NULL};
    return s;
}

#endif
