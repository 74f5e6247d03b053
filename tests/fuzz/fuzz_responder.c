/* libFuzzer target: the responder's whole path for one captured frame, as an attacker controls it: parse (each
 * link type), rate limits, cookie check, persona, packet build. The raw sockets are /dev/null, so every packet is
 * built into the batch and the send fails harmlessly. The first input byte picks the link type and persona. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../responder/answer.h"
#include "../../responder/raw_sender.h"

static struct lurker_config cfg[3];
static struct responder responders[3];
static struct raw_sender sender;

static void setup(void)
{
    static const char *const yaml[3] = {
        "interface: lo\naddresses: [203.0.113.10, 2001:db8::/64]\nresponder:\n  persona: linux\n"
        "  banners:\n    - port: 21\n      text: \"220 ftp\\r\\n\"\n",
        "interface: lo\naddresses: [203.0.113.0/24, 2001:db8::10]\nresponder:\n  persona: windows\n"
        "  source_rate_limit: 3\n  source_burst: 3\n",
        "interface: lo\naddresses: [203.0.113.10]\nresponder:\n  persona: freebsd\n  exclude_ports: [22]\n"
        "  banners:\n    - port: 2222\n      text: \"SSH-2.0-x\\r\\n\"\n",
    };
    struct persona_host host = {.mss_v4 = 1460, .mss_v6 = 1440, .linux_wscale = 7};
    uint8_t key[SYNCOOKIE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    memset(&sender, 0, sizeof sender);
    sender.v4.fd = open("/dev/null", O_WRONLY);
    sender.v6.fd = open("/dev/null", O_WRONLY);
    for (int i = 0; i < 3; i++) {
        char err[CONFIG_ERR_MAX];
        if (config_load_buffer("fuzz.yaml", yaml[i], strlen(yaml[i]), &cfg[i], err, sizeof err) != 0 ||
            responder_init(&responders[i], &cfg[i], &host, key, &sender, 1000000000ULL) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint64_t now = 2000000000ULL;
    static const int linktypes[] = {1 /* EN10MB */, 113 /* LINUX_SLL */, 276 /* LINUX_SLL2 */, 101 /* RAW */};
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    int linktype = linktypes[data[0] & 3];
    struct responder *r = &responders[(data[0] >> 2) % 3];
    now += 1000000; /* 1 ms per input: buckets refill, cookies age */
    responder_handle(r, data + 1, size - 1, linktype, now / 1000u, now, (uint32_t)(now / 64000000000ULL));
    return 0;
}
