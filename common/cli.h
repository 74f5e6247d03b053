/* What every sensor process does first: parse -c FILE / --check / -h, load lurker.yaml, set up logging.
 * Exit codes: 0 ok (and --check printed its summary), 1 runtime failure, 2 bad configuration or usage. */
#ifndef LURKER_CLI_H
#define LURKER_CLI_H

#include "config.h"

#define DEFAULT_CONFIG_PATH "/etc/lurker/lurker.yaml"
#define EXIT_CONFIG 2

struct cli_options {
    const char *config_path;
    int check_only;
    int foreground_debug; /* -d: log level debug regardless of config */
};

/* Parses argv, loads the config into *cfg and initialises logging for PROCESS. On --check prints
 * "PATH: OK: <summary>" and exits 0; on a bad file prints the error and exits 2; on bad usage prints usage and
 * exits 2. Returns only when the process should start. */
void cli_start(int argc, char **argv, const char *process, struct cli_options *opts, struct lurker_config *cfg);

#endif
