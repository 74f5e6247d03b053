/* A mapped input that another process truncates while it is read: the reads past the new end see zeros instead of
 * killing the analyzer with SIGBUS, the loss is flagged, and the bytes before the cut are intact. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../analyzer/mapped_file.h"

Test(mapped_file, truncated_while_mapped)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 3 * page;
    char path[] = "/tmp/lurker-mapped-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    uint8_t *bytes = malloc(len);
    memset(bytes, 0xab, len);
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    free(bytes);

    const uint8_t *data = mapped_file_open(fd, len);
    cr_assert(data);
    cr_assert_eq(data[len - 1], 0xab);
    cr_assert_eq(mapped_file_shrank, 0);

    cr_assert_eq(ftruncate(fd, (off_t)page), 0); /* as another process would */
    volatile uint8_t past_end = data[2 * page + 5];
    cr_assert_eq(past_end, 0, "zeros where the file was cut");
    cr_assert_eq(mapped_file_shrank, 1);
    cr_assert_eq(data[page - 1], 0xab, "the bytes before the cut are intact");
    cr_assert_eq(data[len - 1], 0);

    mapped_file_close(data, len);
    cr_assert_eq(mapped_file_shrank, 0, "the next input starts unflagged");
    close(fd);
}
