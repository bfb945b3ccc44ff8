/*
 * A small Docker Engine API client over the engine's unix socket (libcurl), GET requests only:
 * JSON answers, and streams of newline-delimited JSON objects such as /events.
 */
#ifndef OVR_DOCKER_API_H
#define OVR_DOCKER_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DOCKER_API_DEFAULT_SOCKET       "/var/run/docker.sock"
#define DOCKER_API_DEFAULT_TIMEOUT_MS   30000
#define DOCKER_API_DEFAULT_MAX_RESPONSE (8 * 1024 * 1024)
#define DOCKER_API_MAX_VERSION_MINOR    41          /* the client speaks API 1.41 (engine 20.10) */
#define DOCKER_API_DEFAULT_MAX_LINE     (64 * 1024) /* bytes of one object of a stream */

/* Every field is optional: a zeroed struct (or NULL) gives the defaults. Strings are copied. */
struct docker_api_opts {
	const char *socket_path; /* NULL: DOCKER_API_DEFAULT_SOCKET */
	int64_t timeout_ms;      /* whole request, connect included; 0: the default */
	size_t max_response;     /* body size limit; 0: DOCKER_API_DEFAULT_MAX_RESPONSE */
	/*
	 * Borrowed, may be NULL: once *cancel is non-zero, the request in progress (a stream
	 * included) ends with OVR_ERR_CANCELLED within about a second, and so does every later one.
	 */
	const atomic_int *cancel;
};

/*
 * One client with its own curl handle: use it from one thread at a time (each thread that talks
 * to the engine makes its own). Creating it does not connect.
 */
struct docker_api;

/* *out is owned by the caller: docker_api_free. 0, OVR_ERR_NOMEM or OVR_ERR_INTERNAL. */
int docker_api_new(struct docker_api **out, const struct docker_api_opts *opts);

/* NULL is a no-op. */
void docker_api_free(struct docker_api *api);

/*
 * GET /_ping. On success records the engine's Api-Version and chooses the version every later
 * path is prefixed with: the lower of the engine's and 1.41. Engine unreachable:
 * OVR_ERR_UNAVAILABLE ("docker engine not reachable at SOCKET: ..."); no answer in time:
 * OVR_ERR_TIMEOUT.
 */
int docker_api_ping(struct docker_api *api);

/* The version prefix in use ("/v1.41"), or "" before a successful ping. Owned by api. */
const char *docker_api_prefix(const struct docker_api *api);

/* The engine's Api-Version header from the last ping ("1.41"), "" before one. Owned by api. */
const char *docker_api_engine_version(const struct docker_api *api);

/*
 * GET PREFIX+path (path starts with '/', query string URL-encoded by the caller, e.g.
 * "/containers/json?all=1"), pinging first if that has not been done. On success *out is a new
 * reference (an object or an array) the caller releases with json_decref. Errors: OVR_ERR_NOT_FOUND
 * for HTTP 404 and OVR_ERR_UNAVAILABLE for other HTTP errors (message with the engine's "message"),
 * OVR_ERR_TOO_LARGE for a body over the limit, OVR_ERR_UNAVAILABLE for a body that is not
 * JSON, plus the errors of docker_api_ping. *out is NULL on error.
 */
int docker_api_get_json(struct docker_api *api, const char *path, json_t **out);

/*
 * GET /version and copies .Version (the engine's version, "20.10.24+dfsg1") into buf.
 * OVR_ERR_UNAVAILABLE if the answer has no string Version, OVR_ERR_TOO_LARGE if buf is too small.
 */
int docker_api_version(struct docker_api *api, char *buf, size_t size);

/*
 * What a stream hands its caller; payload is passed to both. A non-zero return from either ends
 * the stream and is what docker_api_stream_json returns (a negative enum ovr_err with its message
 * set, by convention).
 */
struct docker_api_stream_cb {
	/* Optional: the engine accepted the request (2xx, headers read); before any object. */
	int (*opened)(void *payload);
	/* Each non-empty line of the body, parsed; obj is borrowed for the call. */
	int (*object)(json_t *obj, void *payload);
	void *payload;
};

/*
 * GET PREFIX+path (as docker_api_get_json, pinging first if needed) whose body is a stream of
 * JSON values, one a line ("/events?filters=..."), handing each to cb as it completes. There is
 * no limit on the whole body and, once connected, no deadline: it runs until the engine ends the
 * stream (0), a callback returns non-zero (that value), opts.cancel is set (OVR_ERR_CANCELLED), or
 * an error: OVR_ERR_TOO_LARGE for a line longer than max_line bytes (0:
 * DOCKER_API_DEFAULT_MAX_LINE), OVR_ERR_UNAVAILABLE for a line that is not JSON, a broken
 * connection, or an HTTP error (with the engine's message; 404 is OVR_ERR_NOT_FOUND), and
 * OVR_ERR_TIMEOUT when the engine does not answer within the client's timeout.
 */
int docker_api_stream_json(struct docker_api *api, const char *path, size_t max_line,
                           const struct docker_api_stream_cb *cb);

#endif
