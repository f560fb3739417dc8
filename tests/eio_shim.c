#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static long long served;

ssize_t read(int fd, void *buf, size_t count) {
    if (!real_read) real_read = dlsym(RTLD_NEXT, "read");
    const char *path = getenv("EIO_PATH");
    if (path) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = 0;
            if (strcmp(target, path) == 0) {
                long long after = atoll(getenv("EIO_AFTER") ? getenv("EIO_AFTER") : "0");
                if (served >= after) { errno = EIO; return -1; }
                ssize_t got = real_read(fd, buf, count);
                if (got > 0) served += got;
                return got;
            }
        }
    }
    return real_read(fd, buf, count);
}
