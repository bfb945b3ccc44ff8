/*
 * The agent's side of StreamLogs: on a LogRequest, one thread per request reads the logs of the
 * app's containers from the Docker Engine API and queues LogChunks that the session sends.
 * Also the pure pieces of that reading (frame demultiplexer, line splitter, timestamps), exported
 * for the unit tests.
 */
#ifndef OVR_LOGS_H
#define OVR_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "overseer/v1/agent.pb-c.h"

#define LOGS_LINE_MAX       (16 * 1024) /* bytes of one line as read; longer ones are cut */
#define LOGS_BATCH_LINES    64          /* a LogChunk holds at most this many lines, */
#define LOGS_BATCH_BYTES    (32 * 1024) /* about this many bytes, */
#define LOGS_BATCH_MS       100         /* and waits at most this long for more */
#define LOGS_MAX_STREAMS    32          /* log requests served at once; more are refused */
#define LOGS_MAX_CONTAINERS 64          /* containers one request follows */
#define LOGS_OUTBOX_MAX     64          /* chunks waiting for the session; readers wait past it */
#define LOGS_RELIST_MS      2000 /* follow: how often new or restarted containers are found */
#define LOGS_POLL_MS        50   /* the session's receive wait while a request runs */
#define LOGS_SEND_BURST     16   /* chunks the session sends between other work */
#define LOGS_ID_MAX         64   /* bytes of a request id */
#define LOGS_TRUNCATED      " [truncated]" /* appended to a line cut at LOGS_LINE_MAX */

/* ------------------------------------------------------------------ pure pieces */

/*
 * The Engine API's multiplexed stream (containers without a TTY): frames of an 8-byte header
 * [stream, 0, 0, 0, length as big-endian u32] and length bytes of payload. Zero it to start.
 */
struct logs_demux {
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t left; /* payload bytes of the current frame still to come */
	int stream;    /* of the current frame: 0 stdin, 1 stdout, 2 stderr */
};

/* A piece of a frame's payload; a non-zero return stops logs_demux with that value. */
typedef int (*logs_frame_fn)(int stream, const char *data, size_t len, void *payload);

/*
 * Feeds n bytes of the stream (cut anywhere); calls fn for each run of payload bytes, in order.
 * Returns 0, fn's non-zero return, or OVR_ERR_INVALID (message set) for a header that is not
 * one (stream type above 2, reserved bytes not zero): the stream is not multiplexed.
 */
int logs_demux(struct logs_demux *d, const char *data, size_t n, logs_frame_fn fn, void *payload);

/* Splits one output stream into lines. Zero it to start. */
struct logs_splitter {
	char buf[LOGS_LINE_MAX + 1];
	size_t len;
	int skipping; /* the line was cut at LOGS_LINE_MAX: its rest is skipped up to the newline */
};

/*
 * One line: len bytes at line (no newline, a trailing '\r' removed, NUL bytes as '?', NUL
 * terminated), truncated when it was longer than LOGS_LINE_MAX (then cut at a character
 * boundary). A non-zero return stops the splitter with that value.
 */
typedef int (*logs_line_fn)(const char *line, size_t len, int truncated, void *payload);

/* Feeds n bytes; calls fn for each complete line. 0 or fn's non-zero return. */
int logs_split(struct logs_splitter *sp, const char *data, size_t n, logs_line_fn fn,
               void *payload);

/* The stream ended: a last line without its newline goes out. 0 or fn's non-zero return. */
int logs_split_end(struct logs_splitter *sp, logs_line_fn fn, void *payload);

/*
 * Parses the RFC 3339 timestamp the engine puts before each line with timestamps=1
 * ("2024-05-01T10:00:00.123456789Z ") at the start of s (n bytes). Returns the bytes it takes,
 * its one following space included, or 0 if s does not start with one; *sec and *nsec get the
 * time (unix seconds, nanoseconds).
 */
size_t logs_parse_timestamp(const char *s, size_t n, int64_t *sec, int32_t *nsec);

/* ------------------------------------------------------------------ the requests */

struct logs;

struct logs_opts {
	const char *docker_socket;  /* NULL: the default socket */
	const char *project_prefix; /* NULL: "ovr"; projects are "<prefix>-<app>" */
};

/* *out is the caller's: logs_free. Strings are copied. 0 or OVR_ERR_NOMEM. */
int logs_new(struct logs **out, const struct logs_opts *opts);

/*
 * Stops every request (within about a second), waits for their threads and frees lg. A thread
 * still busy after a few seconds is logged and lg is left to it. NULL is a no-op.
 */
void logs_free(struct logs *lg);

/*
 * A LogRequest from the server (borrowed): starts reading, answering at once with an empty
 * chunk that says the request arrived, or stops the request named (cancel). Never blocks; a
 * request that cannot start is answered with LogChunk{end, error}.
 */
void logs_request(struct logs *lg, const Overseer__V1__LogRequest *req);

/*
 * The stream to the server ended: its requests are over (the server forgets them too). Stops
 * every request without a last chunk and drops the chunks not sent yet.
 */
void logs_cancel_all(struct logs *lg);

/* The next chunk to send, oldest first, or NULL. The caller owns it: logs_chunk_free. */
Overseer__V1__LogChunk *logs_take(struct logs *lg);
void logs_chunk_free(Overseer__V1__LogChunk *chunk);

/* How long the session may wait for the server: 0 with chunks waiting, LOGS_POLL_MS while a
 * request runs, else idle_ms. */
int64_t logs_poll_ms(struct logs *lg, int64_t idle_ms);

#endif
