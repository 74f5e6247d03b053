/* Stands in for the sensor processes in lurker-ctl's tests: attaches to a segment, registers in the named slots,
 * sets counters, and keeps beating until killed.
 *   shm_fixture NAME PROCESS[,PROCESS...] [COUNTER=VALUE ...] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: shm_fixture NAME PROCESS[,PROCESS...] [COUNTER=VALUE ...]\n");
        return 2;
    }
    struct shm_segment seg;
    char err[512];
    if (shm_attach(argv[1], 64, &seg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bool slots[PROC_COUNT] = {false};
    char list[256];
    snprintf(list, sizeof list, "%s", argv[2]);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        for (int p = 0; p < PROC_COUNT; p++)
            if (strcmp(name, process_name((enum lurker_process)p)) == 0)
                slots[p] = true;
    }
    for (int p = 0; p < PROC_COUNT; p++)
        if (slots[p] && shm_register(&seg, (enum lurker_process)p, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return 2;
        *eq = '\0';
        int found = 0;
        for (int c = 0; c < CNT_COUNT; c++)
            if (strcmp(argv[i], counter_table[c].name) == 0) {
                counter_set(&seg, (enum lurker_counter)c, strtoull(eq + 1, NULL, 10));
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "unknown counter %s\n", argv[i]);
            return 2;
        }
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        for (int p = 0; p < PROC_COUNT; p++)
            if (slots[p])
                shm_heartbeat(&seg, (enum lurker_process)p);
        usleep(200000);
    }
}
