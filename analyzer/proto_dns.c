/* A DNS query: exactly one question, no answers, names without compression pointers (a query has nothing to
 * point back to). Strict on purpose, so arbitrary UDP payloads are not mistaken for DNS. */
#include "recognise.h"

#include <stdio.h>
#include <string.h>

bool recognise_dns(const uint8_t *b, size_t n, struct recognised *out)
{
    if (n < 17)
        return false;
    unsigned flags = (unsigned)(b[2] << 8 | b[3]);
    unsigned qd = (unsigned)(b[4] << 8 | b[5]), an = (unsigned)(b[6] << 8 | b[7]);
    unsigned ns = (unsigned)(b[8] << 8 | b[9]), ar = (unsigned)(b[10] << 8 | b[11]);
    if ((flags & 0x8000) || ((flags >> 11) & 0xf) > 2 || qd != 1 || an != 0 || ns != 0 || ar > 1)
        return false;
    char name[256];
    size_t at = 12, w = 0;
    for (;;) {
        if (at >= n)
            return false;
        size_t label = b[at++];
        if (label == 0)
            break;
        if (label > 63 || n - at < label || w + label + 2 > sizeof name)
            return false;
        if (w > 0)
            name[w++] = '.';
        recognise_copy_printable(name + w, label + 1, b + at, label);
        w += label;
        at += label;
    }
    if (n - at < 4)
        return false;
    name[w] = '\0';
    snprintf(out->dns_qname, sizeof out->dns_qname, "%s", w ? name : ".");
    out->dns_qtype = b[at] << 8 | b[at + 1];
    return true;
}
