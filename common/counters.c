#include "counters.h"

const struct counter_info counter_table[CNT_COUNT] = {
#define LURKER_COUNTER_INFO(proc, name, desc) {PROC_##proc, #name, desc},
    LURKER_COUNTERS(LURKER_COUNTER_INFO)
#undef LURKER_COUNTER_INFO
};

const char *process_name(enum lurker_process p)
{
    switch (p) {
    case PROC_RESPONDER: return "responder";
    case PROC_CAPTURER: return "capturer";
    case PROC_SHIPPER: return "shipper";
    default: return "?";
    }
}
