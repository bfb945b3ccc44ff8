/*
 * The pure pieces of reading container logs (logs.h): the Engine API's frame demultiplexer, the
 * line splitter and the timestamp the engine puts before each line. No I/O, no allocation.
 */
#include "logs.h"

#include "err.h"

#include <string.h>
#include <time.h>

int logs_demux(struct logs_demux *d, const char *data, size_t n, logs_frame_fn fn, void *payload)
{
	size_t i = 0;

	while (i < n) {
		size_t k;
		int rc;

		if (d->left == 0) {
			d->hdr[d->hdr_len++] = (unsigned char)data[i++];
			if (d->hdr_len < sizeof(d->hdr))
				continue;
			d->hdr_len = 0;
			if (d->hdr[0] > 2 || d->hdr[1] != 0 || d->hdr[2] != 0 || d->hdr[3] != 0)
				return ovr_err_set(OVR_ERR_INVALID,
				                   "log stream: bytes that are not a frame header");
			d->stream = d->hdr[0];
			d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
			          (uint32_t)d->hdr[6] << 8 | (uint32_t)d->hdr[7];
			continue;
		}
		k = n - i < d->left ? n - i : d->left;
		d->left -= (uint32_t)k;
		rc = fn(d->stream, data + i, k, payload);
		if (rc != 0)
			return rc;
		i += k;
	}
	return 0;
}

/* len, or less so that s[0..len) does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len)
{
	size_t j = len, need;
	unsigned char c;

	while (j > 0 && len - j < 4 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
		j--;
	if (j == 0)
		return len;
	c = (unsigned char)s[j - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return len - (j - 1) < need ? j - 1 : len;
}

/* Hands the line in sp->buf to fn and empties it. */
static int split_emit(struct logs_splitter *sp, int truncated, logs_line_fn fn, void *payload)
{
	size_t len = sp->len;

	if (truncated)
		len = utf8_cut(sp->buf, len);
	else if (len > 0 && sp->buf[len - 1] == '\r')
		len--;
	sp->buf[len] = '\0';
	sp->len = 0;
	return fn(sp->buf, len, truncated, payload);
}

int logs_split(struct logs_splitter *sp, const char *data, size_t n, logs_line_fn fn, void *payload)
{
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t seg = nl != NULL ? (size_t)(nl - (data + i)) : n - i;
		size_t room = LOGS_LINE_MAX - sp->len, k = seg < room ? seg : room, j;
		int rc = 0;

		if (!sp->skipping) {
			/* A NUL would end the line early for everything downstream. */
			for (j = 0; j < k; j++)
				sp->buf[sp->len + j] = data[i + j] != '\0' ? data[i + j] : '?';
			sp->len += k;
			if (k < seg) {
				rc = split_emit(sp, 1, fn, payload);
				sp->skipping = 1;
			} else if (nl != NULL) {
				rc = split_emit(sp, 0, fn, payload);
			}
			if (rc != 0)
				return rc;
		}
		if (nl != NULL)
			sp->skipping = 0;
		i += seg + (nl != NULL ? 1 : 0);
	}
	return 0;
}

int logs_split_end(struct logs_splitter *sp, logs_line_fn fn, void *payload)
{
	int skipping = sp->skipping;

	sp->skipping = 0;
	if (skipping || sp->len == 0) {
		sp->len = 0;
		return 0;
	}
	return split_emit(sp, 0, fn, payload);
}

/* width decimal digits at s[*i]; advances *i. -1 if they are not there. */
static long digits(const char *s, size_t n, size_t *i, size_t width)
{
	long v = 0;
	size_t k;

	if (n - *i < width)
		return -1;
	for (k = 0; k < width; k++) {
		char c = s[*i + k];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*i += width;
	return v;
}

size_t logs_parse_timestamp(const char *s, size_t n, int64_t *sec, int32_t *nsec)
{
	static const char seps[] = "--T::";
	static const size_t widths[] = {4, 2, 2, 2, 2, 2};
	long v[6], frac = 0, off = 0;
	size_t i = 0, k, nd = 0;
	struct tm tm;
	time_t t;

	for (k = 0; k < 6; k++) {
		if (k > 0 && (i >= n || s[i++] != seps[k - 1]))
			return 0;
		if ((v[k] = digits(s, n, &i, widths[k])) < 0)
			return 0;
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return 0;
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
			if (nd < 9)
				frac = frac * 10 + (s[i] - '0');
		if (nd == 0)
			return 0;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1;
		long hh = digits(s, n, &i, 2), mm;

		if (hh < 0 || i >= n || s[i++] != ':' || (mm = digits(s, n, &i, 2)) < 0)
			return 0;
		off = sign * (hh * 3600 + mm * 60);
	} else {
		return 0;
	}
	if (i < n && s[i] != ' ')
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)v[0] - 1900;
	tm.tm_mon = (int)v[1] - 1;
	tm.tm_mday = (int)v[2];
	tm.tm_hour = (int)v[3];
	tm.tm_min = (int)v[4];
	tm.tm_sec = (int)v[5];
	t = timegm(&tm);
	*sec = (int64_t)t - off;
	*nsec = (int32_t)frac;
	return i < n ? i + 1 : i;
}
