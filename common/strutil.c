/* Small string helpers: bounded copy, hex, durations, host:port, name validation, clocks. */
#include "strutil.h"

#include "err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t ovr_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void ovr_hex_encode(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ovr_hex_decode(unsigned char *out, size_t out_len, const char *hex)
{
	size_t i;

	if (strlen(hex) != 2 * out_len)
		return ovr_err_set(OVR_ERR_INVALID, "hex string must be %zu characters",
		                   2 * out_len);
	for (i = 0; i < out_len; i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return ovr_err_set(OVR_ERR_INVALID, "not a hex string");
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int ovr_parse_duration(int64_t *out_ms, const char *text)
{
	const char *p = text;
	int64_t total = 0;

	if (*p == '\0')
		goto bad;
	while (*p) {
		int64_t value = 0;
		int64_t unit;
		int digits = 0;

		while (isdigit((unsigned char)*p)) {
			if (value > INT64_MAX / 10 - 10)
				goto bad;
			value = value * 10 + (*p - '0');
			p++;
			digits++;
		}
		if (digits == 0)
			goto bad;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == '\0') {
			unit = 1000;
			if (*p)
				p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 24 * 3600 * 1000;
			p++;
		} else {
			goto bad;
		}
		if (value > (INT64_MAX / 4) / unit || total > INT64_MAX / 4 - value * unit)
			goto bad;
		total += value * unit;
	}
	*out_ms = total;
	return 0;
bad:
	return ovr_err_set(OVR_ERR_INVALID,
	                   "'%s' is not a duration (examples: 30s, 15m, 2h, 7d, 1h30m)", text);
}

void ovr_format_duration(char *buf, size_t size, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, size, "%lldms", (long long)ms);
	else if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, size, "%lldh%lldm", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else
		snprintf(buf, size, "%lldd%lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
}

static int parse_hostport(char *host, size_t host_size, int *port, const char *text, long min_port)
{
	const char *colon;
	const char *h = text;
	size_t hlen;
	char *end;
	long p;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			goto bad;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= host_size)
		goto bad;
	if (!isdigit((unsigned char)colon[1]))
		goto bad;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < min_port || p > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
bad:
	return ovr_err_set(OVR_ERR_INVALID,
	                   "'%s' is not HOST:PORT (examples: 127.0.0.1:7443, [::1]:7443)", text);
}

int ovr_parse_hostport(char *host, size_t host_size, int *port, const char *text)
{
	return parse_hostport(host, host_size, port, text, 1);
}

int ovr_parse_listen(char *host, size_t host_size, int *port, const char *text)
{
	return parse_hostport(host, host_size, port, text, 0);
}

int ovr_name_valid(const char *name)
{
	size_t i;

	if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
		return 0;
	for (i = 1; name[i]; i++) {
		char c = name[i];

		if (i > 62)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int ovr_label_valid(const char *key, const char *value)
{
	size_t n = strlen(key);
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = key[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && ((i == 0 || i == n - 1) || !(c == '.' || c == '_' || c == '-')))
			return 0;
	}
	if (strlen(value) > 63)
		return 0;
	for (i = 0; value[i]; i++)
		if (!isgraph((unsigned char)value[i]))
			return 0;
	return 1;
}

int64_t ovr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ovr_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec ovr_timespec_in(clockid_t clock, int64_t ms)
{
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	clock_gettime(clock, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void ovr_format_time(char *buf, size_t size, int64_t unix_ms)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms <= 0) {
		ovr_strlcpy(buf, "-", size);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
