#include "ephemeral_ports.h"

#include <stdio.h>
#include <stdlib.h>

static bool port_at(const char **p, unsigned long *out)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return false;
    char *end;
    *out = strtoul(*p, &end, 10);
    *p = end;
    return *out >= 1 && *out <= 65535;
}

bool ephemeral_ports_parse(const char *text, struct port_range *out)
{
    unsigned long lo, hi;
    const char *p = text;
    if (!port_at(&p, &lo) || !port_at(&p, &hi) || lo > hi)
        return false;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p != '\0')
        return false;
    out->lo = (uint16_t)lo;
    out->hi = (uint16_t)hi;
    return true;
}

struct port_range ephemeral_ports_read(void)
{
    struct port_range r = EPHEMERAL_PORTS_DEFAULT;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    if (f == NULL)
        return r;
    char line[64];
    if (fgets(line, sizeof line, f) != NULL)
        ephemeral_ports_parse(line, &r);
    fclose(f);
    return r;
}
