/* Flow-table fixtures for the capturer's unit tests: a fixed hash key and the n-th distinct IPv4 TCP flow key. */
#ifndef LURKER_TESTS_CAPTURER_FLOW_KEYS_H
#define LURKER_TESTS_CAPTURER_FLOW_KEYS_H

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../../capturer/flow_table.h"

static const uint8_t test_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static inline struct flow_key key_n(uint32_t n)
{
    struct flow_key k;
    memset(&k, 0, sizeof k);
    k.family = AF_INET;
    k.proto = IPPROTO_TCP;
    memcpy(k.remote + 12, &n, 4);
    k.remote_port = (uint16_t)n;
    k.local_port = 80;
    return k;
}

#endif
