/*
 * The agent's log reading without an engine: the Engine API's frame demultiplexer, the line
 * splitter (cut lines, CRLF, NUL bytes, a last line without newline) and the engine's timestamp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "logs.h"

/* What the callbacks saw: "1:abc|2:de|" for frames, "line|line+T|" for lines. */
struct seen {
	char text[4 * LOGS_LINE_MAX];
	size_t len;
	int calls;
	int stop_after; /* a non-zero return after this many calls (0: never) */
};

static void seen_add(struct seen *s, const char *data, size_t len)
{
	assert_true(s->len + len < sizeof(s->text));
	memcpy(s->text + s->len, data, len);
	s->len += len;
	s->text[s->len] = '\0';
}

static int on_frame(int stream, const char *data, size_t len, void *payload)
{
	struct seen *s = payload;
	char tag[8];

	snprintf(tag, sizeof(tag), "%d:", stream);
	seen_add(s, tag, strlen(tag));
	seen_add(s, data, len);
	seen_add(s, "|", 1);
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after ? 42 : 0;
}

static int on_line(const char *line, size_t len, int truncated, void *payload)
{
	struct seen *s = payload;

	assert_int_equal(strlen(line), len); /* NUL terminated, no NUL inside */
	seen_add(s, line, len);
	seen_add(s, truncated ? "+T|" : "|", truncated ? 3 : 1);
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after ? 42 : 0;
}

/* A frame: header [stream,0,0,0,len BE] and payload, appended to buf at *n. */
static void frame(char *buf, size_t *n, int stream, const char *payload, uint32_t len)
{
	buf[(*n)++] = (char)stream;
	buf[(*n)++] = 0;
	buf[(*n)++] = 0;
	buf[(*n)++] = 0;
	buf[(*n)++] = (char)(len >> 24);
	buf[(*n)++] = (char)(len >> 16);
	buf[(*n)++] = (char)(len >> 8);
	buf[(*n)++] = (char)len;
	memcpy(buf + *n, payload, len);
	*n += len;
}

static void test_demux_whole_frames(void **state)
{
	struct logs_demux d;
	struct seen s;
	char buf[256];
	size_t n = 0;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	frame(buf, &n, 1, "hello\n", 6);
	frame(buf, &n, 2, "oops\n", 5);
	frame(buf, &n, 1, "", 0); /* an empty frame is nothing */
	frame(buf, &n, 1, "bye\n", 4);
	assert_int_equal(logs_demux(&d, buf, n, on_frame, &s), 0);
	assert_string_equal(s.text, "1:hello\n|2:oops\n|1:bye\n|");
}

/* The payload bytes per stream, however the frames came in pieces. */
struct streams {
	char bytes[3][256];
	size_t len[3];
};

static int collect(int stream, const char *data, size_t len, void *payload)
{
	struct streams *st = payload;

	assert_true(stream >= 0 && stream <= 2);
	assert_true(st->len[stream] + len < sizeof(st->bytes[stream]));
	memcpy(st->bytes[stream] + st->len[stream], data, len);
	st->len[stream] += len;
	return 0;
}

static void test_demux_any_cut(void **state)
{
	char buf[256];
	size_t n = 0, cut;

	(void)state;
	frame(buf, &n, 1, "first line\n", 11);
	frame(buf, &n, 2, "err", 3);
	frame(buf, &n, 1, "x", 1);
	/* Cut in two at every point, headers included: the same bytes on the same streams. */
	for (cut = 0; cut <= n; cut++) {
		struct logs_demux d;
		struct streams st;

		memset(&d, 0, sizeof(d));
		memset(&st, 0, sizeof(st));
		assert_int_equal(logs_demux(&d, buf, cut, collect, &st), 0);
		assert_int_equal(logs_demux(&d, buf + cut, n - cut, collect, &st), 0);
		assert_int_equal(st.len[0], 0);
		assert_int_equal(st.len[1], 12);
		assert_memory_equal(st.bytes[1], "first line\nx", 12);
		assert_int_equal(st.len[2], 3);
		assert_memory_equal(st.bytes[2], "err", 3);
		assert_int_equal(d.left, 0);
		assert_int_equal(d.hdr_len, 0);
	}
}

static void test_demux_byte_by_byte(void **state)
{
	struct logs_demux d;
	struct seen s;
	char buf[256];
	size_t n = 0, i;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	frame(buf, &n, 2, "ab", 2);
	frame(buf, &n, 1, "c", 1);
	for (i = 0; i < n; i++)
		assert_int_equal(logs_demux(&d, buf + i, 1, on_frame, &s), 0);
	assert_string_equal(s.text, "2:a|2:b|1:c|");
}

static int count_bytes(int stream, const char *data, size_t len, void *payload)
{
	size_t *n = payload;

	assert_int_equal(stream, 1);
	assert_int_equal(data[0], 'x');
	*n += len;
	return 0;
}

static void test_demux_large_length(void **state)
{
	static char buf[70000 + 8];
	struct logs_demux d;
	struct seen s;
	size_t n = 0;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	memset(buf + 8, 'x', 70000);
	buf[0] = 1;
	/* 70000 = 0x00011170: every byte of the big-endian length matters. */
	buf[4] = 0;
	buf[5] = 0x01;
	buf[6] = 0x11;
	buf[7] = 0x70;
	n = 8 + 70000;
	assert_int_equal(logs_demux(&d, buf, 8 + 100, count_bytes, &s.len), 0);
	assert_int_equal(d.left, 70000 - 100);
	assert_int_equal(logs_demux(&d, buf + 108, n - 108, count_bytes, &s.len), 0);
	assert_int_equal(d.left, 0);
	assert_int_equal(s.len, 70000);
}

static void test_demux_not_a_header(void **state)
{
	const char tty[] = "plain text from a container with a TTY\n";
	const char bad_reserved[8] = {1, 0, 1, 0, 0, 0, 0, 1};
	struct logs_demux d;
	struct seen s;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	assert_int_equal(logs_demux(&d, tty, sizeof(tty) - 1, on_frame, &s), OVR_ERR_INVALID);
	assert_int_equal(s.calls, 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(logs_demux(&d, bad_reserved, 8, on_frame, &s), OVR_ERR_INVALID);
}

static void test_demux_callback_stops(void **state)
{
	struct logs_demux d;
	struct seen s;
	char buf[64];
	size_t n = 0;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	frame(buf, &n, 1, "a", 1);
	frame(buf, &n, 1, "b", 1);
	assert_int_equal(logs_demux(&d, buf, n, on_frame, &s), 42);
	assert_string_equal(s.text, "1:a|");
}

static void test_split_lines(void **state)
{
	struct logs_splitter *sp = calloc(1, sizeof(*sp));
	struct seen s;
	const char in[] = "one\ntwo\r\n\nthr";

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(logs_split(sp, in, sizeof(in) - 1, on_line, &s), 0);
	assert_string_equal(s.text, "one|two||");
	assert_int_equal(logs_split(sp, "ee\nfour", 7, on_line, &s), 0);
	assert_string_equal(s.text, "one|two||three|");
	/* The end: the last line without its newline still counts, once. */
	assert_int_equal(logs_split_end(sp, on_line, &s), 0);
	assert_int_equal(logs_split_end(sp, on_line, &s), 0);
	assert_string_equal(s.text, "one|two||three|four|");
	free(sp);
}

static void test_split_nul_and_cr(void **state)
{
	struct logs_splitter *sp = calloc(1, sizeof(*sp));
	struct seen s;
	const char in[] = "a\0b\rc\r\n";

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(logs_split(sp, in, sizeof(in) - 1, on_line, &s), 0);
	/* A NUL would end the line early: it shows as '?'; only a trailing CR goes. */
	assert_string_equal(s.text, "a?b\rc|");
	free(sp);
}

static void test_split_long_line_truncated(void **state)
{
	struct logs_splitter *sp = calloc(1, sizeof(*sp));
	static char big[LOGS_LINE_MAX + 5000];
	struct seen *s = calloc(1, sizeof(*s));
	size_t i;

	(void)state;
	memset(big, 'y', sizeof(big));
	/* In pieces: the first LOGS_LINE_MAX bytes go out marked, the rest up to \n is skipped. */
	for (i = 0; i < sizeof(big); i += 1000) {
		size_t k = sizeof(big) - i < 1000 ? sizeof(big) - i : 1000;

		assert_int_equal(logs_split(sp, big + i, k, on_line, s), 0);
	}
	assert_int_equal(s->calls, 1);
	assert_int_equal(s->len, LOGS_LINE_MAX + 3);
	assert_memory_equal(s->text + LOGS_LINE_MAX, "+T|", 3);
	assert_int_equal(logs_split(sp, "yyy\nnext\n", 9, on_line, s), 0);
	assert_int_equal(s->calls, 2);
	assert_string_equal(s->text + LOGS_LINE_MAX + 3, "next|");
	/* A line of exactly LOGS_LINE_MAX bytes is whole. */
	s->len = 0;
	s->calls = 0;
	assert_int_equal(logs_split(sp, big, LOGS_LINE_MAX, on_line, s), 0);
	assert_int_equal(logs_split(sp, "\n", 1, on_line, s), 0);
	assert_int_equal(s->calls, 1);
	assert_memory_equal(s->text + LOGS_LINE_MAX, "|", 1);
	/* A cut never splits a UTF-8 character: "é" straddling the limit goes whole to the skip. */
	s->len = 0;
	s->calls = 0;
	big[LOGS_LINE_MAX - 1] = (char)0xc3;
	big[LOGS_LINE_MAX] = (char)0xa9;
	assert_int_equal(logs_split(sp, big, LOGS_LINE_MAX + 10, on_line, s), 0);
	assert_int_equal(s->calls, 1);
	assert_int_equal(s->len, LOGS_LINE_MAX - 1 + 3);
	free(s);
	free(sp);
}

static void test_split_stops(void **state)
{
	struct logs_splitter *sp = calloc(1, sizeof(*sp));
	struct seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(logs_split(sp, "a\nb\nc\n", 6, on_line, &s), 42);
	assert_string_equal(s.text, "a|b|");
	free(sp);
}

static void test_timestamp(void **state)
{
	const char *line = "2024-05-01T10:00:00.123456789Z hello";
	int64_t sec = 0;
	int32_t nsec = 0;

	(void)state;
	assert_int_equal(logs_parse_timestamp(line, strlen(line), &sec, &nsec), 31);
	assert_int_equal(sec, 1714557600);
	assert_int_equal(nsec, 123456789);
	/* Fewer digits, an offset, nothing after it. */
	line = "2024-05-01T12:00:00.5+02:00";
	assert_int_equal(logs_parse_timestamp(line, strlen(line), &sec, &nsec), strlen(line));
	assert_int_equal(sec, 1714557600);
	assert_int_equal(nsec, 500000000);
	line = "2024-05-01T10:00:00Z ";
	assert_int_equal(logs_parse_timestamp(line, strlen(line), &sec, &nsec), 21);
	assert_int_equal(nsec, 0);
	/* Not timestamps: the line is kept as it is. */
	assert_int_equal(logs_parse_timestamp("hello world", 11, &sec, &nsec), 0);
	assert_int_equal(logs_parse_timestamp("2024-13-01T10:00:00Z x", 22, &sec, &nsec), 0);
	assert_int_equal(logs_parse_timestamp("2024-05-01T10:00:00Zx", 21, &sec, &nsec), 0);
	assert_int_equal(logs_parse_timestamp("2024-05-01T10:00:00.Z", 21, &sec, &nsec), 0);
	assert_int_equal(logs_parse_timestamp("2024-05-01T10:00", 16, &sec, &nsec), 0);
	/* n bounds the read: no peeking past it. */
	assert_int_equal(logs_parse_timestamp("2024-05-01T10:00:00Z", 19, &sec, &nsec), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_demux_whole_frames),
	        cmocka_unit_test(test_demux_any_cut),
	        cmocka_unit_test(test_demux_byte_by_byte),
	        cmocka_unit_test(test_demux_large_length),
	        cmocka_unit_test(test_demux_not_a_header),
	        cmocka_unit_test(test_demux_callback_stops),
	        cmocka_unit_test(test_split_lines),
	        cmocka_unit_test(test_split_nul_and_cr),
	        cmocka_unit_test(test_split_long_line_truncated),
	        cmocka_unit_test(test_split_stops),
	        cmocka_unit_test(test_timestamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
