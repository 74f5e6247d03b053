/* The start-up path every sensor process shares (cli_start), without a process behind it: prints "started" when
 * the configuration would let a process start. Used by test_cli to check --check and the exit codes. */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    static struct lurker_config cfg;
    struct cli_options opts;
    cli_start(argc, argv, "test", &opts, &cfg);
    printf("started %s\n", cfg.interface);
    return 0;
}
