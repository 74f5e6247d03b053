/* libFuzzer target: lurker.yaml loader. Any input must give either a config or a "NAME:LINE:COL: ..." message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lurker_config cfg;
    char err[CONFIG_ERR_MAX];
    if (config_load_buffer("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof err) != 0) {
        if (strncmp(err, "fuzz.yaml:", 10) != 0)
            abort();
    } else {
        char summary[512];
        config_summary(&cfg, summary, sizeof summary);
    }
    return 0;
}
