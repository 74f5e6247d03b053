/* Persona option layouts. The Linux expectations are the kernel's own SYN+ACKs (6.x, MTU 1500, tcp_rmem max 32 MiB:
 * window scale 10) to the same SYNs, captured with tests/helpers/responder_synprobe.py; the integration test
 * test_responder_persona.py compares against a live kernel as well. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../responder/host_profile.h"
#include "../../../responder/persona.h"

static const struct persona_host HOST = {.mss_v4 = 1460, .mss_v6 = 1440, .linux_wscale = 10};

static struct tcp_options offer(bool mss, bool sack, bool ts, bool ws)
{
    struct tcp_options o = {.has_mss = mss, .mss = 1460, .sack_permitted = sack, .has_timestamp = ts,
                          .ts_val = 123456, .has_wscale = ws, .wscale = 7};
    return o;
}

static void expect(const struct tcp_shape *s, const uint8_t *opts, size_t len, uint16_t window)
{
    cr_assert_eq(s->options_len, len, "options length %zu, want %zu", s->options_len, len);
    cr_assert_arr_eq(s->options, opts, len);
    cr_assert_eq(s->window, window, "window %u, want %u", s->window, window);
}

Test(responder_persona, linux_full_offer_like_the_kernel)
{
    struct tcp_options o = offer(true, true, true, true);
    struct tcp_shape s;
    persona_synack(PERSONA_LINUX, &HOST, false, &o, 0x01020304, &s);
    const uint8_t want[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 1, 0xe2, 0x40, 1, 3, 3, 10};
    expect(&s, want, sizeof want, 65160);
    cr_assert_eq(s.ttl, 64);
    cr_assert(s.df);
    cr_assert_not(s.ipid_increments);
    persona_synack(PERSONA_LINUX, &HOST, true, &o, 0x01020304, &s);
    cr_assert_eq(s.window, 64260);
    cr_assert_eq(s.options[2] << 8 | s.options[3], 1440);
}

Test(responder_persona, linux_partial_offers_like_the_kernel)
{
    struct tcp_shape s;
    struct tcp_options o = offer(true, false, false, false); /* nmap -sS */
    persona_synack(PERSONA_LINUX, &HOST, false, &o, 1, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4}, 4, 64240);
    o = offer(false, false, false, false); /* no options at all: the kernel still sends its MSS */
    persona_synack(PERSONA_LINUX, &HOST, true, &o, 1, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xa0}, 4, 64800);
    o = offer(true, true, false, true); /* a Windows client */
    persona_synack(PERSONA_LINUX, &HOST, false, &o, 1, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 10}, 12, 64240);
    o = offer(true, false, true, false);
    persona_synack(PERSONA_LINUX, &HOST, false, &o, 7, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 7, 0, 1, 0xe2, 0x40}, 16, 65160);
}

Test(responder_persona, freebsd_aligns_like_tcp_addoptions)
{
    struct tcp_shape s;
    struct tcp_options o = offer(true, true, true, true);
    persona_synack(PERSONA_FREEBSD, &HOST, false, &o, 5, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 5, 0, 1, 0xe2, 0x40}, 20, 65535);
    o = offer(true, true, false, false);
    persona_synack(PERSONA_FREEBSD, &HOST, false, &o, 5, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 4, 2, 0, 0}, 8, 65535);
    o = offer(true, false, true, true);
    persona_synack(PERSONA_FREEBSD, &HOST, false, &o, 5, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 0, 0, 0, 5, 0, 1, 0xe2, 0x40}, 20, 65535);
    cr_assert_eq(s.ttl, 64);
}

Test(responder_persona, windows_answers_without_timestamps_ttl_128_incrementing_id)
{
    struct tcp_shape s;
    struct tcp_options o = offer(true, true, true, true);
    persona_synack(PERSONA_WINDOWS, &HOST, false, &o, 5, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2}, 12, 65535);
    cr_assert_eq(s.ttl, 128);
    cr_assert(s.ipid_increments);
    o = offer(true, false, false, false);
    persona_synack(PERSONA_WINDOWS, &HOST, false, &o, 5, &s);
    expect(&s, (const uint8_t[]){2, 4, 0x05, 0xb4}, 4, 65535);
}

Test(responder_persona, established_segments_echo_timestamps)
{
    struct tcp_shape s;
    struct tcp_options o = offer(false, false, true, false);
    o.ts_val = 0xaabbccdd;
    persona_established(PERSONA_LINUX, &HOST, false, &o, 0x11223344, &s);
    expect(&s, (const uint8_t[]){1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb, 0xcc, 0xdd}, 12, 65160 >> 10);
    o.has_timestamp = false;
    persona_established(PERSONA_LINUX, &HOST, false, &o, 1, &s);
    cr_assert_eq(s.options_len, 0);
}

Test(responder_persona, window_scale_follows_the_kernel_rule)
{
    cr_assert_eq(linux_wscale_for(6291456, 212992), 7);    /* a stock kernel */
    cr_assert_eq(linux_wscale_for(33554432, 4194304), 10); /* this machine */
    cr_assert_eq(linux_wscale_for(1, 1), 0);
    cr_assert_eq(linux_wscale_for(1ULL << 40, 0), 14);
}
