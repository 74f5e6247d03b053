#include "flow_hash.h"

#include "siphash.h"

uint64_t flow_hash(const uint8_t key[16], const void *data, size_t len)
{
    return siphash13(key, data, len);
}
