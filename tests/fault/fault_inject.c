/* LD_PRELOAD library for the fault tests (test_faults.py): makes one write-side system
 * call of a real edgeclr process fail, on the files whose path contains a given string,
 * as a full disk, a failing disk or a disk that fills up mid-write would. Every path
 * through which edgeclr writes (its atomic file writer, SQLite) ends in these calls, so
 * the real binaries are tested unchanged. A stand-in for a broken disk, nothing else.
 *
 *   EDGECLR_FAULT_PATH   substring of the file's path (a descriptor's /proc/self/fd link,
 *                        rename's target); unset: the library does nothing
 *   EDGECLR_FAULT_CALL   write (write, pwrite, pwrite64), fsync (fsync, fdatasync), rename, or
 *                        fork (any path matches: the process cannot start a child, as
 *                        when a phone or container is at its process limit)
 *   EDGECLR_FAULT_NTH    fail the Nth matching call (1-based); 0: only count them
 *   EDGECLR_FAULT_ERRNO  ENOSPC, EIO, EAGAIN or SHORT (that write stores half of what it was
 *                        asked, at least 1 byte, and the next matching write fails with ENOSPC)
 *   EDGECLR_FAULT_COUNT  a file that receives, at exit, how many matching calls came
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum kind { kNone, kWrite, kFsync, kRename, kFork };

static const char* g_path;
static enum kind g_call = kNone;
static long g_nth;
static int g_errno;     /* 0: SHORT */
static long g_seen;

__attribute__((constructor)) static void configure(void) {
  g_path = getenv("EDGECLR_FAULT_PATH");
  const char* call = getenv("EDGECLR_FAULT_CALL");
  const char* nth = getenv("EDGECLR_FAULT_NTH");
  const char* err = getenv("EDGECLR_FAULT_ERRNO");
  if (g_path == NULL || call == NULL) return;
  g_call = strcmp(call, "write") == 0 ? kWrite : strcmp(call, "fsync") == 0 ? kFsync
         : strcmp(call, "rename") == 0 ? kRename : strcmp(call, "fork") == 0 ? kFork : kNone;
  g_nth = nth ? atol(nth) : 0;
  g_errno = err == NULL || strcmp(err, "ENOSPC") == 0 ? ENOSPC : strcmp(err, "EIO") == 0 ? EIO
          : strcmp(err, "EAGAIN") == 0 ? EAGAIN : 0;
}

__attribute__((destructor)) static void report(void) {
  const char* count = getenv("EDGECLR_FAULT_COUNT");
  if (count == NULL || g_call == kNone) return;
  FILE* f = fopen(count, "w");
  if (f != NULL) {
    fprintf(f, "%ld\n", g_seen);
    fclose(f);
  }
}

static int path_matches(const char* path) { return path != NULL && strstr(path, g_path) != NULL; }

static int fd_matches(int fd) {
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return path_matches(target);
}

/* For a matching call: 0 to let it run, -1 to fail it (errno set), or for SHORT writes
 * 1 to let it store half. */
static int decide(enum kind call, int matches) {
  if (g_call != call || !matches) return 0;
  const long seen = ++g_seen;
  if (g_nth == 0) return 0;
  if (g_errno == 0 && call == kWrite) {
    if (seen == g_nth) return 1;
    if (seen == g_nth + 1) {
      errno = ENOSPC;
      return -1;
    }
    return 0;
  }
  if (seen != g_nth) return 0;
  errno = g_errno != 0 ? g_errno : ENOSPC;
  return -1;
}

typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void*, size_t, off64_t);
typedef int (*sync_fn)(int);
typedef int (*rename_fn)(const char*, const char*);
typedef pid_t (*fork_fn)(void);

/* The next definition of `name` (libc's, or a sanitizer's interceptor), looked up once. */
#define REAL(name, type) \
  static type real_##name; \
  if (real_##name == NULL) real_##name = (type)dlsym(RTLD_NEXT, #name)

static size_t halved(size_t n) { return n > 1 ? n / 2 : n; }

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write, write_fn);
  const int d = n > 0 ? decide(kWrite, fd_matches(fd)) : 0;
  if (d < 0) return -1;
  return real_write(fd, buf, d ? halved(n) : n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  REAL(pwrite, pwrite_fn);
  const int d = n > 0 ? decide(kWrite, fd_matches(fd)) : 0;
  if (d < 0) return -1;
  return real_pwrite(fd, buf, d ? halved(n) : n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  REAL(pwrite64, pwrite64_fn);
  const int d = n > 0 ? decide(kWrite, fd_matches(fd)) : 0;
  if (d < 0) return -1;
  return real_pwrite64(fd, buf, d ? halved(n) : n, offset);
}

int fsync(int fd) {
  REAL(fsync, sync_fn);
  return decide(kFsync, fd_matches(fd)) < 0 ? -1 : real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync, sync_fn);
  return decide(kFsync, fd_matches(fd)) < 0 ? -1 : real_fdatasync(fd);
}

int rename(const char* from, const char* to) {
  REAL(rename, rename_fn);
  return decide(kRename, path_matches(to)) < 0 ? -1 : real_rename(from, to);
}

pid_t fork(void) {
  REAL(fork, fork_fn);
  return decide(kFork, 1) < 0 ? -1 : real_fork();
}
