/* Hex digits, for the places that decode %XX and \xNN escapes (config banners, SigV4 query decoding, S3 keys in
 * Lambda events). */
#ifndef LURKER_HEX_H
#define LURKER_HEX_H

/* 0..15, or -1 if c is not a hex digit. */
static inline int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
