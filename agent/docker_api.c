/*
 * Docker Engine API over the unix socket: ping and version negotiation, bounded JSON GETs, and
 * streams of newline-delimited JSON read line by line.
 */
#include "docker_api.h"

#include "err.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define API_MAX_PATH       4096
#define API_MAX_MESSAGE    300         /* bytes of the engine's error message kept in ours */
#define API_MAX_ERROR_BODY (64 * 1024) /* bytes of an HTTP error's body read from a stream */

struct api_stream;

struct docker_api {
	CURL *curl;
	char *socket_path;
	int64_t timeout_ms;
	size_t max_response;
	char prefix[16];         /* "/v1.41" once pinged */
	char engine_version[16]; /* Api-Version of the last ping */
	char hdr_version[16];    /* Api-Version header of the current response */
	char errbuf[CURL_ERROR_SIZE];
	const atomic_int *cancel;  /* borrowed, may be NULL */
	struct api_stream *stream; /* the stream in progress, NULL for a plain GET */
};

/* A response body, bounded by max. */
struct api_body {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	int too_large;
};

/* A stream in progress: the line being read and what ended the transfer, if a callback did. */
struct api_stream {
	const struct docker_api_stream_cb *cb;
	const char *path;
	struct api_body line;  /* bounded by the line limit */
	struct api_body error; /* the body of an HTTP error, cut at API_MAX_ERROR_BODY */
	long status;           /* of the final response, once its headers are read */
	int headers_done;
	int err;               /* set where a callback ended the transfer */
	int timed_out;         /* no headers before open_deadline */
	int64_t open_deadline; /* monotonic ms */
};

static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static CURLcode api_global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe in every libcurl build: run it exactly once. */
static void api_global_init(void)
{
	api_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Appends n bytes to b; -1 if that would pass b->max (too_large set) or without memory. */
static int api_body_append(struct api_body *b, const char *data, size_t n)
{
	if (n > b->max - b->len) {
		b->too_large = 1;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *nb;

		while (cap < b->len + n + 1)
			cap = cap > b->max / 2 ? b->max + 1 : cap * 2;
		nb = realloc(b->buf, cap);
		if (nb == NULL)
			return -1;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

static size_t api_write_cb(char *data, size_t size, size_t nmemb, void *payload)
{
	size_t n = size * nmemb;

	/* 0 makes curl abort the transfer with CURLE_WRITE_ERROR. */
	return api_body_append(payload, data, n) == 0 ? n : 0;
}

static int api_cancelled(const struct docker_api *api)
{
	return api->cancel != NULL && atomic_load(api->cancel) != 0;
}

/* Called about once a second even when nothing moves: the place to notice a cancel. */
static int api_progress_cb(void *payload, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
	struct docker_api *api = payload;
	struct api_stream *st = api->stream;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (api_cancelled(api))
		return 1;
	if (st != NULL && !st->headers_done && ovr_mono_ms() > st->open_deadline) {
		st->timed_out = 1;
		return 1;
	}
	return 0;
}

/* The blank line after a stream's headers: a final 2xx opens it for the caller. */
static size_t api_stream_headers_end(struct docker_api *api, size_t n)
{
	struct api_stream *st = api->stream;
	long status = 0;
	int rc;

	if (st->headers_done)
		return n; /* the end of chunked trailers */
	curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200)
		return n; /* an interim answer (100 Continue): the real one follows */
	st->status = status;
	st->headers_done = 1;
	if (status > 299 || st->cb->opened == NULL)
		return n;
	rc = st->cb->opened(st->cb->payload);
	if (rc != 0) {
		st->err = rc;
		return 0;
	}
	return n;
}

/* Keeps the Api-Version header: "Api-Version: 1.41\r\n"; notes the end of a stream's headers. */
static size_t api_header_cb(char *data, size_t size, size_t nmemb, void *payload)
{
	static const char name[] = "Api-Version:";
	struct docker_api *api = payload;
	size_t n = size * nmemb, i = sizeof(name) - 1, k = 0;

	if (api->stream != NULL && (n == 1 || n == 2) && data[n - 1] == '\n')
		return api_stream_headers_end(api, n);
	if (n < i || strncasecmp(data, name, i) != 0)
		return n;
	while (i < n && (data[i] == ' ' || data[i] == '\t'))
		i++;
	while (i < n && data[i] != '\r' && data[i] != '\n' && k < sizeof(api->hdr_version) - 1)
		api->hdr_version[k++] = data[i++];
	api->hdr_version[k] = '\0';
	return n;
}

/* Copies at most API_MAX_MESSAGE bytes of text, control characters turned into spaces. */
static void api_clean_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, k = 0;

	if (size == 0)
		return;
	for (i = 0; i < len && k + 1 < size && k < API_MAX_MESSAGE; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[k++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	/* Never end in the middle of a UTF-8 sequence. */
	if (i < len)
		while (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0x80)
			k--;
	if (i < len && k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0xC0)
		k--;
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

/* The engine's error text: the "message" of a JSON body, else the body itself. */
static void api_error_text(char *dst, size_t size, const struct api_body *b)
{
	json_t *root, *msg;

	dst[0] = '\0';
	if (b->len == 0)
		return;
	root = json_loadb(b->buf, b->len, 0, NULL);
	msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
	if (json_is_string(msg))
		api_clean_text(dst, size, json_string_value(msg), json_string_length(msg));
	else if (root == NULL)
		api_clean_text(dst, size, b->buf, b->len);
	json_decref(root);
}

/* An HTTP error: 404 is OVR_ERR_NOT_FOUND where it means a missing object, the rest unavailable. */
static int api_status_err(const char *path, long status, const struct api_body *b, int not_found_ok)
{
	char msg[API_MAX_MESSAGE + 1];

	api_error_text(msg, sizeof(msg), b);
	if (status == 404 && not_found_ok)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "docker engine: GET %s: %s", path,
		                   msg[0] ? msg : "not found");
	agent_metrics_docker_error(); /* metrics */
	return ovr_err_set(OVR_ERR_UNAVAILABLE, "docker engine: GET %s: HTTP %ld%s%s", path, status,
	                   msg[0] ? ": " : "", msg);
}

static int api_check_path(const char *path)
{
	size_t i;

	if (path == NULL || path[0] != '/')
		return ovr_err_set(OVR_ERR_INVALID, "docker api: path must start with '/'");
	for (i = 0; path[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)path[i];

		if (i >= API_MAX_PATH)
			return ovr_err_set(OVR_ERR_INVALID, "docker api: path longer than %d bytes",
			                   API_MAX_PATH);
		if (ch <= 0x20 || ch >= 0x7f)
			return ovr_err_set(
			        OVR_ERR_INVALID,
			        "docker api: path has a character that must be URL-encoded");
	}
	return 0;
}

/* Checks path and points the handle at it; the request's per-call state is reset. */
static int api_prepare(struct docker_api *api, const char *path, int versioned)
{
	char url[API_MAX_PATH + 64];
	int err;

	err = api_check_path(path);
	if (err < 0)
		return err;
	if (api_cancelled(api))
		return ovr_err_set(OVR_ERR_CANCELLED, "docker engine: GET %s: cancelled", path);
	snprintf(url, sizeof(url), "http://localhost%s%s", versioned ? api->prefix : "", path);
	api->errbuf[0] = '\0';
	api->hdr_version[0] = '\0';
	curl_easy_setopt(api->curl, CURLOPT_URL, url);
	return 0;
}

/* The error for a failed curl_easy_perform that no callback explains. */
static int api_curl_err(struct docker_api *api, CURLcode rc, const char *path)
{
	const char *sock = api->socket_path;
	long os_errno = 0;

	curl_easy_getinfo(api->curl, CURLINFO_OS_ERRNO, &os_errno);
	if (rc != CURLE_ABORTED_BY_CALLBACK || !api_cancelled(api))
		agent_metrics_docker_error(); /* metrics: every failure but a cancel */
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		if (api_cancelled(api))
			return ovr_err_set(OVR_ERR_CANCELLED, "docker engine: GET %s: cancelled",
			                   path);
		break;
	case CURLE_COULDNT_CONNECT:
		return ovr_err_set(
		        OVR_ERR_UNAVAILABLE,
		        "docker engine not reachable at %s: %s (is dockerd running?)", sock,
		        os_errno ? strerror((int)os_errno)
		                 : (api->errbuf[0] ? api->errbuf : curl_easy_strerror(rc)));
	case CURLE_OPERATION_TIMEDOUT: {
		char dur[32];

		ovr_format_duration(dur, sizeof(dur), api->timeout_ms);
		return ovr_err_set(OVR_ERR_TIMEOUT,
		                   "docker engine at %s: GET %s: no answer within %s", sock, path,
		                   dur);
	}
	default:
		break;
	}
	return ovr_err_set(OVR_ERR_UNAVAILABLE, "docker engine at %s: GET %s: %s", sock, path,
	                   api->errbuf[0] ? api->errbuf : curl_easy_strerror(rc));
}

/* One GET; the body lands in b (which the caller frees), the HTTP status in *status. */
static int api_get(struct docker_api *api, const char *path, int versioned, struct api_body *b,
                   long *status)
{
	CURLcode rc;
	int err;

	*status = 0;
	memset(b, 0, sizeof(*b));
	b->max = api->max_response;
	err = api_prepare(api, path, versioned);
	if (err < 0)
		return err;
	curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(api->curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, status);
		return 0;
	}
	switch (rc) {
	case CURLE_FILESIZE_EXCEEDED:
		b->too_large = 1;
		/* fall through */
	case CURLE_WRITE_ERROR:
		if (b->too_large)
			return ovr_err_set(OVR_ERR_TOO_LARGE,
			                   "docker engine: GET %s: response larger than %zu bytes",
			                   path, api->max_response);
		return ovr_err_set(OVR_ERR_NOMEM, "docker engine: GET %s: out of memory", path);
	default:
		return api_curl_err(api, rc, path);
	}
}

/* Parses "1.NN" into NN; -1 if the text is anything else. */
static int api_parse_minor(const char *v)
{
	int minor = 0, digits = 0;

	if (strncmp(v, "1.", 2) != 0)
		return -1;
	for (v += 2; *v >= '0' && *v <= '9' && digits < 4; v++, digits++)
		minor = minor * 10 + (*v - '0');
	return (digits > 0 && *v == '\0') ? minor : -1;
}

int docker_api_new(struct docker_api **out, const struct docker_api_opts *opts)
{
	static const struct docker_api_opts no_opts;
	struct docker_api *api = NULL;
	const char *sock;
	int err = 0;

	*out = NULL;
	if (opts == NULL)
		opts = &no_opts;
	sock = opts->socket_path ? opts->socket_path : DOCKER_API_DEFAULT_SOCKET;
	if (sock[0] == '\0' || strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ovr_err_set(OVR_ERR_INVALID, "docker socket path is empty or too long: %s",
		                   sock);
	pthread_once(&api_once, api_global_init);
	if (api_global_rc != CURLE_OK)
		return ovr_err_set(OVR_ERR_INTERNAL, "curl_global_init: %s",
		                   curl_easy_strerror(api_global_rc));

	api = calloc(1, sizeof(*api));
	if (api == NULL || (api->socket_path = strdup(sock)) == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	api->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DOCKER_API_DEFAULT_TIMEOUT_MS;
	api->max_response =
	        opts->max_response ? opts->max_response : DOCKER_API_DEFAULT_MAX_RESPONSE;
	api->cancel = opts->cancel;
	api->curl = curl_easy_init();
	if (api->curl == NULL) {
		err = ovr_err_set(OVR_ERR_INTERNAL, "curl_easy_init failed");
		goto out;
	}
	if (curl_easy_setopt(api->curl, CURLOPT_UNIX_SOCKET_PATH, api->socket_path) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(api->curl, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
#endif
	    curl_easy_setopt(api->curl, CURLOPT_TIMEOUT_MS, (long)api->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)api->timeout_ms) !=
	            CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_XFERINFOFUNCTION, api_progress_cb) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_XFERINFODATA, api) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)api->max_response) !=
	            CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, api_write_cb) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_HEADERFUNCTION, api_header_cb) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_HEADERDATA, api) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, api->errbuf) != CURLE_OK ||
	    curl_easy_setopt(api->curl, CURLOPT_USERAGENT, "ovr-agent/" OVR_VERSION) != CURLE_OK) {
		err = ovr_err_set(OVR_ERR_INTERNAL, "curl_easy_setopt failed");
		goto out;
	}
	*out = api;
	api = NULL;
out:
	docker_api_free(api);
	return err;
}

void docker_api_free(struct docker_api *api)
{
	if (api == NULL)
		return;
	if (api->curl != NULL)
		curl_easy_cleanup(api->curl);
	free(api->socket_path);
	free(api);
}

int docker_api_ping(struct docker_api *api)
{
	struct api_body b;
	long status;
	int err, minor;

	err = api_get(api, "/_ping", 0, &b, &status);
	if (err < 0)
		goto out;
	if (status != 200) {
		err = api_status_err("/_ping", status, &b, 0);
		goto out;
	}
	minor = api_parse_minor(api->hdr_version);
	if (minor < 0) {
		/* Not an engine we know, or a proxy in between: speak our own version. */
		log_warnx("docker engine at %s sent no usable Api-Version header, using 1.%d",
		          api->socket_path, DOCKER_API_MAX_VERSION_MINOR);
		minor = DOCKER_API_MAX_VERSION_MINOR;
		ovr_strlcpy(api->engine_version, "unknown", sizeof(api->engine_version));
	} else {
		ovr_strlcpy(api->engine_version, api->hdr_version, sizeof(api->engine_version));
	}
	if (minor > DOCKER_API_MAX_VERSION_MINOR)
		minor = DOCKER_API_MAX_VERSION_MINOR;
	snprintf(api->prefix, sizeof(api->prefix), "/v1.%d", minor);
	log_debug("docker ping ok socket=%s engine_api=%s prefix=%s", api->socket_path,
	          api->engine_version, api->prefix);
out:
	free(b.buf);
	return err;
}

const char *docker_api_prefix(const struct docker_api *api)
{
	return api->prefix;
}

const char *docker_api_engine_version(const struct docker_api *api)
{
	return api->engine_version;
}

int docker_api_get_json(struct docker_api *api, const char *path, json_t **out)
{
	struct api_body b;
	json_error_t jerr;
	long status;
	int err;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	err = api_check_path(path);
	if (err < 0)
		return err;
	if (api->prefix[0] == '\0') {
		err = docker_api_ping(api);
		if (err < 0)
			return err;
	}
	err = api_get(api, path, 1, &b, &status);
	if (err < 0)
		goto out;
	if (status < 200 || status > 299) {
		err = api_status_err(path, status, &b, 1);
		goto out;
	}
	*out = json_loadb(b.buf ? b.buf : "", b.len, 0, &jerr);
	if (*out == NULL)
		/* Position only: jerr.text quotes the input, which may hold secrets (Config.Env).
		 */
		err = ovr_err_set(OVR_ERR_UNAVAILABLE,
		                  "docker engine: GET %s: malformed JSON in the answer (line %d, "
		                  "column %d)",
		                  path, jerr.line, jerr.column);
out:
	free(b.buf);
	return err;
}

int docker_api_version(struct docker_api *api, char *buf, size_t size)
{
	json_t *root = NULL, *v;
	const char *s;
	size_t i, len;
	int err;

	if (size > 0)
		buf[0] = '\0';
	err = docker_api_get_json(api, "/version", &root);
	if (err < 0)
		return err;
	v = json_is_object(root) ? json_object_get(root, "Version") : NULL;
	if (!json_is_string(v)) {
		err = ovr_err_set(OVR_ERR_UNAVAILABLE,
		                  "docker engine: GET /version: answer has no string \"Version\"");
		goto out;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			err = ovr_err_set(
			        OVR_ERR_UNAVAILABLE,
			        "docker engine: GET /version: \"Version\" is not printable");
			goto out;
		}
	}
	if (len == 0 || len >= size) {
		err = ovr_err_set(len == 0 ? OVR_ERR_UNAVAILABLE : OVR_ERR_TOO_LARGE,
		                  "docker engine: GET /version: \"Version\" is %s",
		                  len == 0 ? "empty" : "longer than the buffer");
		goto out;
	}
	memcpy(buf, s, len + 1);
out:
	json_decref(root);
	return err;
}

/* One complete line of a stream: parsed and handed over; blank lines are skipped. */
static int api_stream_line(struct api_stream *st, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *obj;
	int rc;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	obj = json_loadb(line, len, 0, &jerr);
	if (obj == NULL)
		/* Position only, as for docker_api_get_json: the text may hold secrets. */
		return ovr_err_set(
		        OVR_ERR_UNAVAILABLE,
		        "docker engine: GET %s: malformed JSON in the stream (column %d)", st->path,
		        jerr.column);
	rc = st->cb->object(obj, st->cb->payload);
	json_decref(obj);
	return rc;
}

/* Splits what arrives into lines; the body of an HTTP error is kept for its message instead. */
static size_t api_stream_write_cb(char *data, size_t size, size_t nmemb, void *payload)
{
	struct api_stream *st = payload;
	size_t n = size * nmemb, i = 0;

	if (st->status < 200 || st->status > 299) {
		size_t room = st->error.max - st->error.len;

		if (api_body_append(&st->error, data, n < room ? n : room) != 0) {
			st->err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			return 0;
		}
		return n;
	}
	while (i < n) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t seg = nl != NULL ? (size_t)(nl - (data + i)) : n - i;
		int rc;

		if (api_body_append(&st->line, data + i, seg) != 0) {
			st->err =
			        st->line.too_large
			                ? ovr_err_set(
			                          OVR_ERR_TOO_LARGE,
			                          "docker engine: GET %s: a line of the stream is "
			                          "longer than %zu bytes",
			                          st->path, st->line.max)
			                : ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			return 0;
		}
		i += seg;
		if (nl == NULL)
			break;
		i++;
		rc = api_stream_line(st, st->line.buf, st->line.len);
		st->line.len = 0;
		if (rc != 0) {
			st->err = rc;
			return 0;
		}
	}
	return n;
}

/* Runs the stream set up in st on api's handle, then puts the handle back for plain GETs. */
static int api_stream_run(struct docker_api *api, struct api_stream *st)
{
	CURLcode rc;
	int err;

	st->open_deadline = ovr_mono_ms() + api->timeout_ms;
	api->stream = st;
	curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, api_stream_write_cb);
	curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(api->curl, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(api->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
	rc = curl_easy_perform(api->curl);
	api->stream = NULL;
	curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, api_write_cb);
	curl_easy_setopt(api->curl, CURLOPT_TIMEOUT_MS, (long)api->timeout_ms);
	curl_easy_setopt(api->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)api->max_response);

	if (rc == CURLE_OK && (st->status < 200 || st->status > 299))
		return api_status_err(st->path, st->status, &st->error, 1);
	if (rc == CURLE_OK) {
		/* The engine ended the stream; a last line without its newline still counts. */
		err = api_stream_line(st, st->line.buf ? st->line.buf : "", st->line.len);
		return err;
	}
	if (st->err != 0 && (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK))
		return st->err;
	if (rc == CURLE_ABORTED_BY_CALLBACK && st->timed_out) {
		char dur[32];

		ovr_format_duration(dur, sizeof(dur), api->timeout_ms);
		return ovr_err_set(OVR_ERR_TIMEOUT,
		                   "docker engine at %s: GET %s: no answer within %s",
		                   api->socket_path, st->path, dur);
	}
	return api_curl_err(api, rc, st->path);
}

int docker_api_stream_json(struct docker_api *api, const char *path, size_t max_line,
                           const struct docker_api_stream_cb *cb)
{
	struct api_stream st;
	int err;

	memset(&st, 0, sizeof(st));
	st.cb = cb;
	st.path = path;
	st.line.max = max_line ? max_line : DOCKER_API_DEFAULT_MAX_LINE;
	st.error.max = API_MAX_ERROR_BODY;
	err = api_check_path(path);
	if (err == 0 && cb->object == NULL)
		err = ovr_err_set(OVR_ERR_INVALID, "docker api: a stream needs an object callback");
	if (err == 0 && api->prefix[0] == '\0')
		err = docker_api_ping(api);
	if (err == 0)
		err = api_prepare(api, path, 1);
	if (err == 0)
		err = api_stream_run(api, &st);
	free(st.line.buf);
	free(st.error.buf);
	return err;
}
