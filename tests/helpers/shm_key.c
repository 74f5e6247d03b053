/* Prints the SYN-cookie key of a running responder (hex, 32 digits) from its shared-memory segment: the tests'
 * independent oracle recomputes ISNs, timestamps and flow labels from it.
 *   shm_key NAME */
#include <stdio.h>

#include "shm.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: shm_key NAME\n");
        return 2;
    }
    struct shm_segment seg;
    char err[512];
    if (shm_attach_readonly(argv[1], &seg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint8_t key[SHM_KEY_BYTES];
    uint64_t generation = 0;
    if (shm_get_key(&seg, key, &generation, err, sizeof err) != 0 || generation == 0) {
        fprintf(stderr, "no key: %s\n", generation ? err : "none set yet");
        return 1;
    }
    for (int i = 0; i < SHM_KEY_BYTES; i++)
        printf("%02x", key[i]);
    printf("\n");
    shm_detach(&seg);
    return 0;
}
