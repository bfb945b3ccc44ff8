/* Bounded file reads, atomic writes with fsync, directory creation and key-file permission checks.
 */
#include "fsutil.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(char **out, size_t *out_len, const char *path, size_t max)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;
	int err = 0;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return ovr_err_set(OVR_ERR_NOT_FOUND, "%s: no such file", path);
		return ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = ovr_err_set(OVR_ERR_IO, "%s: is a directory", path);
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		err = ovr_err_set(OVR_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			err = ovr_err_set(OVR_ERR_TOO_LARGE,
			                  "%s: larger than the limit of %zu bytes", path, max);
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (out_len)
		*out_len = len;
out:
	/* The file may hold a key: never leave its bytes in freed memory. */
	if (buf)
		explicit_bzero(buf, max + 1);
	free(buf);
	close(fd);
	return err;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(dir))
		return 0;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	(void)fsync(fd);
	close(fd);
	return 0;
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;
	int err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return ovr_err_set(OVR_ERR_INVALID, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", tmp, strerror(errno));
	/* open() applies the umask; the mode asked for is the mode wanted. */
	if (fchmod(fd, mode) < 0) {
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = ovr_err_set(OVR_ERR_IO, "%s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		err = ovr_err_set(OVR_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return fsync_parent(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i;

	if (strlen(path) >= sizeof(buf))
		return ovr_err_set(OVR_ERR_INVALID, "%s: path too long", path);
	strcpy(buf, path);
	for (i = 1; buf[i] != '\0'; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return ovr_err_set(OVR_ERR_IO, "%s: %s", buf, strerror(errno));
		buf[i] = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", buf, strerror(errno));
	return 0;
}

int fs_check_private(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return ovr_err_set(OVR_ERR_NOT_FOUND, "%s: no such file", path);
		return ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return ovr_err_set(
		        OVR_ERR_PERMISSION,
		        "%s: private key file is accessible by group or others (mode %04o); "
		        "run chmod 600 %s",
		        path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int fs_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}
