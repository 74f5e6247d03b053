/* Addresses and prefixes: parsed and formatted as the C library's inet_pton/inet_ntop do (the oracle), prefixes
 * contain exactly their addresses, and hostile text is refused with a reason. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static const char *const ADDRESSES[] = {
    "203.0.113.10", "0.0.0.0", "255.255.255.255", "198.51.100.1", "2001:db8::1", "::", "::1",
    "2001:db8:0:1:2:3:4:5", "fe80::1:2", "2001:db8::ffff:0:1", "ff02::1:ff00:1", "2001:DB8::A", "::ffff:192.0.2.1",
};

static struct ip_addr parsed(const char *text)
{
    struct prefix p;
    const char *why = NULL;
    cr_assert_eq(prefix_parse(text, &p, &why), 0, "%s: %s", text, why);
    return p.addr;
}

Test(common_addr, parse_and_format_agree_with_inet_pton_and_inet_ntop)
{
    for (size_t i = 0; i < sizeof ADDRESSES / sizeof ADDRESSES[0]; i++) {
        const char *text = ADDRESSES[i];
        struct ip_addr a = parsed(text);
        uint8_t raw[16];
        int family = strchr(text, ':') ? AF_INET6 : AF_INET;
        cr_assert_eq(inet_pton(family, text, raw), 1);
        cr_assert_eq(a.family, family, "%s", text);
        if (family == AF_INET)
            cr_assert_arr_eq(ip_addr_v4(&a), raw, 4, "%s", text);
        else
            cr_assert_arr_eq(a.bytes, raw, 16, "%s", text);
        char want[INET6_ADDRSTRLEN], got[INET6_ADDRSTRLEN], safe[INET6_ADDRSTRLEN];
        cr_assert_not_null(inet_ntop(family, raw, want, sizeof want));
        ip_addr_format(&a, got, sizeof got);
        cr_assert_str_eq(got, want);
        /* the key-safe form: the same text with every ':' as '-' */
        ip_addr_format_safe(&a, safe, sizeof safe);
        for (char *c = want; *c; c++)
            if (*c == ':')
                *c = '-';
        cr_assert_str_eq(safe, want);
        cr_assert_null(strpbrk(safe, ":/ "), "%s", safe);
    }
}

Test(common_addr, ipv4_is_held_mapped_and_apart_from_ipv6)
{
    struct ip_addr v4 = parsed("192.0.2.1"), mapped = parsed("::ffff:192.0.2.1");
    static const uint8_t want[16] = {[10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 1};
    cr_assert_arr_eq(v4.bytes, want, 16);
    cr_assert_arr_eq(mapped.bytes, want, 16);
    /* same bytes, but an IPv6 address written as mapped is not the IPv4 address: families differ */
    cr_assert_not(ip_addr_equal(&v4, &mapped));
    struct ip_addr again;
    ip_addr_from_v4(&again, (const uint8_t[]){192, 0, 2, 1});
    cr_assert(ip_addr_equal(&v4, &again));
    struct prefix net;
    const char *why;
    cr_assert_eq(prefix_parse("192.0.2.0/24", &net, &why), 0);
    cr_assert(prefix_contains(&net, &v4));
    cr_assert_not(prefix_contains(&net, &mapped));
}

/* prefix_contains against the definition: the first len bits equal, computed bit by bit */
static bool contains_by_bits(const char *net, unsigned len, const char *host)
{
    int family = strchr(net, ':') ? AF_INET6 : AF_INET;
    uint8_t n[16], h[16];
    if (inet_pton(family, net, n) != 1 || inet_pton(family, host, h) != 1)
        return false;
    for (unsigned bit = 0; bit < len; bit++)
        if ((n[bit / 8] ^ h[bit / 8]) & (0x80 >> (bit % 8)))
            return false;
    return true;
}

Test(common_addr, prefixes_contain_exactly_their_addresses)
{
    static const struct {
        const char *net;
        unsigned len;
    } nets[] = {{"0.0.0.0", 0}, {"198.51.100.0", 24}, {"198.51.100.128", 25}, {"203.0.113.10", 32},
                {"10.0.0.0", 7}, {"::", 0}, {"2001:db8::", 32}, {"2001:db8:1000::", 36}, {"2001:db8::1", 128},
                {"2001:db8::", 63}};
    static const char *const hosts[] = {"198.51.100.1", "198.51.100.200", "198.51.101.1", "203.0.113.10",
                                        "203.0.113.11", "11.255.0.1", "2001:db8::1", "2001:db8:1fff::1",
                                        "2001:db8:2000::1", "2001:db9::", "2001:db8::1:0:0:1", "::1"};
    struct prefix all[sizeof nets / sizeof nets[0]];
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s/%u", nets[i].net, nets[i].len);
        const char *why = NULL;
        cr_assert_eq(prefix_parse(text, &all[i], &why), 0, "%s: %s", text, why);
        cr_assert_eq(all[i].len, nets[i].len);
        for (size_t j = 0; j < sizeof hosts / sizeof hosts[0]; j++) {
            struct ip_addr h = parsed(hosts[j]);
            bool same_family = (strchr(hosts[j], ':') != NULL) == (strchr(nets[i].net, ':') != NULL);
            bool want = same_family && contains_by_bits(nets[i].net, nets[i].len, hosts[j]);
            cr_assert_eq(prefix_contains(&all[i], &h), want, "%s contains %s", text, hosts[j]);
        }
    }
    struct ip_addr outside = parsed("192.0.2.1"), inside = parsed("2001:db8:1fff::1");
    cr_assert_not(prefixes_contain(all + 1, 4, &outside));
    cr_assert(prefixes_contain(all + 1, 7, &inside));
    cr_assert_not(prefixes_contain(all, 0, &inside));
}

Test(common_addr, hostile_text_is_refused_with_a_reason)
{
    char long_text[300];
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    static const char *const bad[] = {
        "", "junk", "203.0.113", "203.0.113.256", "203.0.113.1.1", " 203.0.113.1", "203.0.113.1 ", "2001:db8:::1",
        "2001:db8::g", "203.0.113.0/", "203.0.113.0/33", "2001:db8::/129", "203.0.113.0/-1", "203.0.113.0/2x",
        "203.0.113.0/0024", "203.0.113.1/24", "2001:db8::1/64", "203.0.113.0/24/8", "/24", "203.0.113.0\n",
        "2001:db8::/64\0ignored", "198.51.100.0/99999999999",
        "2001:0db8:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/64",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
        const char *text = i < sizeof bad / sizeof bad[0] ? bad[i] : long_text;
        struct prefix p;
        const char *why = NULL;
        int rc = prefix_parse(text, &p, &why);
        if (strcmp(text, "2001:db8::/64") == 0) { /* the NUL ends the text: what is after it is not read */
            cr_assert_eq(rc, 0);
            continue;
        }
        cr_assert_eq(rc, -1, "accepted \"%s\"", text);
        cr_assert_not_null(why, "no reason for \"%s\"", text);
        cr_assert_gt(strlen(why), 0);
    }
}

Test(common_addr, formatting_is_bounded_by_the_buffer)
{
    struct ip_addr a = parsed("2001:db8:1:2:3:4:5:6");
    char small[8];
    memset(small, 'x', sizeof small);
    ip_addr_format(&a, small, sizeof small);
    cr_assert_eq(small[0], '\0', "too small a buffer gives the empty string");
    ip_addr_format_safe(&a, small, sizeof small);
    cr_assert_eq(small[0], '\0');
}
