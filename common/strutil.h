/* Small string helpers: bounded copy, hex, durations, host:port, name validation. */
#ifndef OVR_STRUTIL_H
#define OVR_STRUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Copies at most size-1 bytes and always terminates. Returns strlen(src) (truncated if >= size). */
size_t ovr_strlcpy(char *dst, const char *src, size_t size);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void ovr_hex_encode(char *out, const unsigned char *in, size_t len);

/* Decodes exactly out_len bytes from hex (either case). 0 or OVR_ERR_INVALID. */
int ovr_hex_decode(unsigned char *out, size_t out_len, const char *hex);

/*
 * Parses a duration such as "500ms", "15s", "15m", "2h", "7d" or a combination ("1h30m") into
 * milliseconds. A bare number is seconds. OVR_ERR_INVALID naming the text on anything else.
 */
int ovr_parse_duration(int64_t *out_ms, const char *text);

/* Formats ms as "1h30m", "15s", "250ms" into buf. */
void ovr_format_duration(char *buf, size_t size, int64_t ms);

/*
 * Splits "host:port", "[v6]:port" into host (without brackets) and port 1-65535.
 * OVR_ERR_INVALID with a message naming the text otherwise.
 */
int ovr_parse_hostport(char *host, size_t host_size, int *port, const char *text);

/* As ovr_parse_hostport, for listen addresses: port 0 (pick a free one) is allowed. */
int ovr_parse_listen(char *host, size_t host_size, int *port, const char *text);

/* 1 if name matches ^[a-z][a-z0-9-]{0,62}$ (apps, nodes, tokens, secrets). */
int ovr_name_valid(const char *name);

/* 1 if label key matches ^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$ and the value is 0-63 printable
 * non-space characters. */
int ovr_label_valid(const char *key, const char *value);

/* Wall clock and monotonic clock in milliseconds. */
int64_t ovr_now_ms(void);
int64_t ovr_mono_ms(void);

/* The time ms milliseconds from now on clock, for pthread_cond_timedwait (ms < 0 counts as 0). */
struct timespec ovr_timespec_in(clockid_t clock, int64_t ms);

/* Formats a unix time in ms as RFC 3339 UTC ("2026-11-23T10:00:00Z"); "-" for 0. */
void ovr_format_time(char *buf, size_t size, int64_t unix_ms);

#endif
