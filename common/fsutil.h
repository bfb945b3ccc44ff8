/* Bounded file reads, atomic writes with fsync, directory creation and key-file permission checks.
 */
#ifndef OVR_FSUTIL_H
#define OVR_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads a whole file of at most max bytes into a NUL-terminated buffer the caller frees.
 * OVR_ERR_NOT_FOUND when missing, OVR_ERR_TOO_LARGE past max, OVR_ERR_IO otherwise.
 */
int fs_read_file(char **out, size_t *out_len, const char *path, size_t max);

/*
 * Writes data to path atomically: a temporary file in the same directory with the given mode,
 * fsync, rename, fsync of the directory. Readers see the old or the new file, never a mix.
 */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Creates path and its missing parents with mode. Existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode);

/*
 * Refuses a private-key file that group or others can read or write (like ssh and OpenSMTPD):
 * OVR_ERR_PERMISSION with a message naming the file and its mode.
 */
int fs_check_private(const char *path);

/* 1 if path exists (any type), 0 if not. */
int fs_exists(const char *path);

#endif
