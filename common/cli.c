#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void usage(const char *process, FILE *out)
{
    fprintf(out,
            "usage: lurker-%s [-c FILE] [--check] [-d]\n"
            "  -c, --config FILE  configuration (default %s)\n"
            "      --check        validate the configuration, print a summary and exit (0 ok, 2 bad)\n"
            "  -d, --debug        log at debug level whatever the configuration says\n"
            "  -h, --help         this text\n",
            process, DEFAULT_CONFIG_PATH);
}

void cli_start(int argc, char **argv, const char *process, struct cli_options *opts, struct lurker_config *cfg)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'C'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(opts, 0, sizeof *opts);
    opts->config_path = DEFAULT_CONFIG_PATH;
    int c;
    while ((c = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opts->config_path = optarg; break;
        case 'C': opts->check_only = 1; break;
        case 'd': opts->foreground_debug = 1; break;
        case 'h': usage(process, stdout); exit(0);
        default: usage(process, stderr); exit(EXIT_CONFIG);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "lurker-%s: unexpected argument '%s'\n", process, argv[optind]);
        usage(process, stderr);
        exit(EXIT_CONFIG);
    }
    char err[CONFIG_ERR_MAX];
    if (config_load(opts->config_path, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(EXIT_CONFIG);
    }
    if (opts->check_only) {
        char summary[512];
        config_summary(cfg, summary, sizeof summary);
        printf("%s: OK: %s\n", opts->config_path, summary);
        exit(0);
    }
    log_init(process, opts->foreground_debug ? LOG_LEVEL_DEBUG : cfg->log_level);
}
