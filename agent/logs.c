/*
 * StreamLogs on the agent. Each LogRequest gets a thread that lists the app's containers, holds
 * one Engine API logs stream per container (a curl multi handle, so one thread serves them all),
 * turns frames into lines and lines into bounded LogChunks, and queues them in the outbox the
 * session sends from. A full outbox makes the readers wait (the engine keeps the logs), never the
 * session; a cancel is seen within LOGS_WAIT_MS (or docker_api's second while listing).
 *
 * Ownership: lg->mu guards the request list, the outbox and each request's cancel flag being
 * set; a request's thread owns everything else of it and frees it on its way out.
 */
#include "logs.h"

#include "applied.h"
#include "arena.h"
#include "docker_api.h"
#include "err.h"
#include "log.h"
#include "strutil.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGS_SERVICE_LABEL "com.docker.compose.service"
#define LOGS_WAIT_MS       100  /* poll and outbox waits: how soon a cancel is seen */
#define LOGS_FREE_WAIT_MS  5000 /* logs_free waits this long for the threads */
#define LOGS_ERROR_BODY    512  /* bytes of an HTTP error's body kept for its message */
#define LOGS_PATH_MAX      1024
#define LOGS_CONNECT_MS    10000
#define LOGS_LINE_OVERHEAD 16 /* bytes a line costs in a chunk besides its strings */
#define LOGS_SERVICE_MAX   127

#define LOGS_XSTR(x) #x
#define LOGS_STR(x)  LOGS_XSTR(x)

/* ================================================================== outbox */

/* A chunk in the outbox, or being filled by a request; everything in it lives in arena. */
struct logs_out {
	struct logs_out *next;
	struct arena arena;
	Overseer__V1__LogChunk chunk;
	size_t bytes;
};

struct req;

struct logs {
	char *socket;
	char *prefix;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: outbox room, a thread gone */
	struct req *reqs;
	size_t n_reqs; /* threads running */
	struct logs_out *out_head, *out_tail;
	size_t n_out;
};

static struct logs_out *out_new(const char *request_id)
{
	struct logs_out *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	overseer__v1__log_chunk__init(&o->chunk);
	o->chunk.request_id = arena_strdup(&o->arena, request_id);
	o->chunk.lines = arena_calloc(&o->arena, LOGS_BATCH_LINES, sizeof(*o->chunk.lines));
	return o;
}

static void out_free(struct logs_out *o)
{
	if (o == NULL)
		return;
	arena_free(&o->arena);
	free(o);
}

void logs_chunk_free(Overseer__V1__LogChunk *chunk)
{
	if (chunk != NULL)
		out_free((struct logs_out *)(void *)((char *)chunk -
		                                     offsetof(struct logs_out, chunk)));
}

/* Under lg->mu: appends o to the outbox (taking it). */
static void out_append_locked(struct logs *lg, struct logs_out *o)
{
	if (lg->out_tail != NULL)
		lg->out_tail->next = o;
	else
		lg->out_head = o;
	lg->out_tail = o;
	lg->n_out++;
}

/*
 * Queues o (taking it). With wait, waits for room while *cancel stays 0. A cancelled request's
 * chunk is dropped (OVR_ERR_CANCELLED): the server no longer wants it, and after the stream to
 * the server ended it must not reach the next one.
 */
static int out_push(struct logs *lg, struct logs_out *o, const atomic_int *cancel, int wait)
{
	int err = 0;

	pthread_mutex_lock(&lg->mu);
	while (wait && lg->n_out >= LOGS_OUTBOX_MAX && !atomic_load(cancel)) {
		struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, LOGS_WAIT_MS);

		pthread_cond_timedwait(&lg->cond, &lg->mu, &ts);
	}
	if (atomic_load(cancel)) {
		err = ovr_err_set(OVR_ERR_CANCELLED, "log request cancelled");
	} else {
		out_append_locked(lg, o);
		o = NULL;
	}
	pthread_mutex_unlock(&lg->mu);
	out_free(o);
	return err;
}

/* A chunk without lines: the arrival of a request, or its end (with error, if not ""). */
static struct logs_out *out_answer(const char *request_id, int end, const char *error)
{
	struct logs_out *o = out_new(request_id);

	if (o != NULL) {
		o->chunk.end = end ? 1 : 0;
		o->chunk.error = arena_strdup(&o->arena, error);
	}
	return o;
}

/* A request that cannot start is answered with its end at once. */
static void out_refuse(struct logs *lg, const char *request_id, const char *why)
{
	struct logs_out *o = out_answer(request_id, 1, why);

	if (o == NULL)
		return;
	pthread_mutex_lock(&lg->mu);
	out_append_locked(lg, o);
	pthread_mutex_unlock(&lg->mu);
}

Overseer__V1__LogChunk *logs_take(struct logs *lg)
{
	struct logs_out *o;

	if (lg == NULL)
		return NULL;
	pthread_mutex_lock(&lg->mu);
	o = lg->out_head;
	if (o != NULL) {
		lg->out_head = o->next;
		if (lg->out_head == NULL)
			lg->out_tail = NULL;
		lg->n_out--;
		o->next = NULL;
		pthread_cond_broadcast(&lg->cond);
	}
	pthread_mutex_unlock(&lg->mu);
	return o != NULL ? &o->chunk : NULL;
}

int64_t logs_poll_ms(struct logs *lg, int64_t idle_ms)
{
	int64_t ms = idle_ms;

	if (lg == NULL)
		return idle_ms;
	pthread_mutex_lock(&lg->mu);
	if (lg->n_out > 0)
		ms = 0;
	else if (lg->n_reqs > 0 && idle_ms > LOGS_POLL_MS)
		ms = LOGS_POLL_MS;
	pthread_mutex_unlock(&lg->mu);
	return ms;
}

/* ================================================================== one request */

/* One container's logs stream. */
struct reader {
	struct req *rq;
	CURL *curl;
	char id[72];
	char name[256];
	char service[LOGS_SERVICE_MAX + 1];
	int tty;
	int active; /* its transfer is in the multi handle */
	int listed; /* in the last listing */
	/* Where a restarted container resumes: the newest line's time, or when it was attached. */
	int64_t last_sec;
	int32_t last_nsec;
	long status; /* of the response, once it started; 0 before */
	char errbody[LOGS_ERROR_BODY + 1];
	size_t errlen;
	int err; /* what stopped the transfer from inside, with errmsg */
	char errmsg[256];
	struct logs_demux dm;
	struct logs_splitter sp[2]; /* stdout, stderr */
};

struct req {
	struct req *next;
	struct logs *lg;
	char id[LOGS_ID_MAX + 1];
	char app[64];
	char service[LOGS_SERVICE_MAX + 1];
	int follow;
	int timestamps;
	int32_t tail;
	int64_t since_ms;
	atomic_int cancel; /* also the docker_api client's */
	struct docker_api *api;
	CURLM *multi;
	struct reader *readers[LOGS_MAX_CONTAINERS];
	size_t n_readers;
	int full_noted;         /* "more containers than LOGS_MAX_CONTAINERS" was said */
	struct logs_out *batch; /* being filled */
	int64_t batch_ms;       /* when its first line came (monotonic) */
	size_t n_lines;         /* sent, for the log */
};

/* The batch goes to the outbox (waiting for room). */
static int req_flush(struct req *rq)
{
	struct logs_out *o = rq->batch;

	if (o == NULL)
		return 0;
	rq->batch = NULL;
	return out_push(rq->lg, o, &rq->cancel, 1);
}

/* One line into the batch; text is NUL terminated at len. Flushes a full batch. */
static int req_add(struct req *rq, const char *service, const char *container, const char *stream,
                   const char *text, size_t len, int truncated, int64_t unix_ms)
{
	Overseer__V1__LogLine *ll;
	struct logs_out *o;
	char *line;

	if (rq->batch == NULL) {
		rq->batch = out_new(rq->id);
		if (rq->batch == NULL)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		rq->batch_ms = ovr_mono_ms();
	}
	o = rq->batch;
	ll = arena_alloc(&o->arena, sizeof(*ll));
	overseer__v1__log_line__init(ll);
	ll->node = (char *)(uintptr_t) "";
	ll->service = arena_strdup(&o->arena, service);
	ll->container = arena_strdup(&o->arena, container);
	ll->stream = (char *)(uintptr_t)stream;
	line = arena_alloc(&o->arena, len + sizeof(LOGS_TRUNCATED));
	applied_utf8_copy(line, len + 1, text);
	if (truncated)
		memcpy(line + strlen(line), LOGS_TRUNCATED, sizeof(LOGS_TRUNCATED));
	ll->line = line;
	ll->unix_ms = unix_ms;
	o->chunk.lines[o->chunk.n_lines++] = ll;
	o->bytes += strlen(line) + strlen(service) + strlen(container) + LOGS_LINE_OVERHEAD;
	rq->n_lines++;
	if (o->chunk.n_lines >= LOGS_BATCH_LINES || o->bytes >= LOGS_BATCH_BYTES)
		return req_flush(rq);
	return 0;
}

/* A "system" line of this request: something the reader of the logs should know. */
static int req_note(struct req *rq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int req_note(struct req *rq, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return req_add(rq, "", "", "system", text, strlen(text), 0, ovr_now_ms());
}

/* A line of container r's output, with the engine's timestamp in front. */
static int reader_line(struct reader *r, const char *stream, const char *line, size_t len,
                       int truncated)
{
	int64_t sec = 0, unix_ms = 0;
	int32_t nsec = 0;
	size_t ts = logs_parse_timestamp(line, len, &sec, &nsec);

	if (ts > 0) {
		r->last_sec = sec;
		r->last_nsec = nsec;
		unix_ms = sec * 1000 + nsec / 1000000;
		if (!r->rq->timestamps) {
			line += ts;
			len -= ts;
		}
	}
	return req_add(r->rq, r->service, r->name, stream, line, len, truncated, unix_ms);
}

static int stdout_line(const char *line, size_t len, int truncated, void *payload)
{
	return reader_line(payload, "stdout", line, len, truncated);
}

static int stderr_line(const char *line, size_t len, int truncated, void *payload)
{
	return reader_line(payload, "stderr", line, len, truncated);
}

static int on_frame(int stream, const char *data, size_t len, void *payload)
{
	struct reader *r = payload;

	if (stream == 2)
		return logs_split(&r->sp[1], data, len, stderr_line, r);
	if (stream == 1)
		return logs_split(&r->sp[0], data, len, stdout_line, r);
	return 0; /* stdin: never asked for */
}

static size_t reader_write(char *data, size_t size, size_t nmemb, void *payload)
{
	struct reader *r = payload;
	size_t n = size * nmemb;
	int rc;

	if (r->status == 0)
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status < 200 || r->status > 299) {
		size_t k = LOGS_ERROR_BODY - r->errlen;

		k = n < k ? n : k;
		memcpy(r->errbody + r->errlen, data, k);
		r->errlen += k;
		r->errbody[r->errlen] = '\0';
		return n;
	}
	rc = r->tty ? logs_split(&r->sp[0], data, n, stdout_line, r)
	            : logs_demux(&r->dm, data, n, on_frame, r);
	if (rc != 0) {
		r->err = rc;
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", ovr_err_msg(rc));
		return 0; /* curl aborts the transfer */
	}
	return n;
}

/* Starts (again) reading r's logs: tail lines (0: all) since sec.nsec (0: the start). */
static int reader_start(struct reader *r, int32_t tail, int64_t sec, int32_t nsec)
{
	struct req *rq = r->rq;
	char url[LOGS_PATH_MAX + 64], tail_s[16] = "all", since_s[48] = "";

	if (tail > 0)
		snprintf(tail_s, sizeof(tail_s), "%" PRId32, tail);
	if (sec > 0)
		snprintf(since_s, sizeof(since_s), "&since=%" PRId64 ".%09" PRId32, sec, nsec);
	snprintf(url, sizeof(url),
	         "http://localhost%s/containers/%s/logs?stdout=1&stderr=1&timestamps=1&follow=%d"
	         "&tail=%s%s",
	         docker_api_prefix(rq->api), r->id, rq->follow, tail_s, since_s);
	r->status = 0;
	r->errlen = 0;
	r->err = 0;
	memset(&r->dm, 0, sizeof(r->dm));
	r->sp[0].len = r->sp[1].len = 0;
	r->sp[0].skipping = r->sp[1].skipping = 0;
	if (curl_easy_setopt(r->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_multi_add_handle(rq->multi, r->curl) != CURLM_OK)
		return ovr_err_set(OVR_ERR_INTERNAL, "curl: cannot start reading logs of %s",
		                   r->name);
	r->active = 1;
	return 0;
}

static void reader_free(struct reader *r)
{
	if (r == NULL)
		return;
	if (r->active)
		curl_multi_remove_handle(r->rq->multi, r->curl);
	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	free(r);
}

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* A reader for the container item of a listing; NULL (with *err) when it cannot be read. */
static struct reader *reader_new(struct req *rq, json_t *item, const char *id, int *err)
{
	json_t *insp = NULL, *names = json_object_get(item, "Names");
	const char *name = json_string_value(json_array_get(names, 0));
	char path[LOGS_PATH_MAX];
	struct reader *r;

	snprintf(path, sizeof(path), "/containers/%s/json", id);
	*err = docker_api_get_json(rq->api, path, &insp);
	if (*err != 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->curl = curl_easy_init()) == NULL) {
		free(r);
		json_decref(insp);
		*err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		return NULL;
	}
	r->rq = rq;
	ovr_strlcpy(r->id, id, sizeof(r->id));
	applied_utf8_copy(r->name, sizeof(r->name),
	                  name != NULL ? (name[0] == '/' ? name + 1 : name) : id);
	applied_utf8_copy(r->service, sizeof(r->service),
	                  jstr(json_object_get(item, "Labels"), LOGS_SERVICE_LABEL));
	r->tty = json_is_true(json_object_get(json_object_get(insp, "Config"), "Tty"));
	json_decref(insp);
	curl_easy_setopt(r->curl, CURLOPT_UNIX_SOCKET_PATH, rq->lg->socket);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http");
#endif
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)LOGS_CONNECT_MS);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, reader_write);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->curl, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "ovr-agent/" OVR_VERSION);
	return r;
}

/* The engine's error text of a failed logs request (its JSON "message"), cleaned up. */
static void reader_error_text(struct reader *r, char *buf, size_t size)
{
	json_t *root = json_loadb(r->errbody, r->errlen, 0, NULL);
	const char *msg = json_string_value(json_object_get(root, "message"));
	char *p;

	applied_utf8_copy(buf, size, msg != NULL ? msg : r->errbody);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(root);
}

/* r's transfer is over: what is left goes out, and a failure becomes a system line. */
static int reader_done(struct reader *r, CURLcode res)
{
	struct req *rq = r->rq;
	char text[LOGS_ERROR_BODY + 1];
	int err;

	curl_multi_remove_handle(rq->multi, r->curl);
	r->active = 0;
	if (atomic_load(&rq->cancel))
		return ovr_err_set(OVR_ERR_CANCELLED, "log request cancelled");
	if (r->err != 0 && r->err != OVR_ERR_CANCELLED)
		return req_note(rq, "container %s: %s", r->name, r->errmsg);
	if (r->err != 0)
		return r->err;
	if (res != CURLE_OK)
		return req_note(rq, "container %s: the engine's log stream broke: %s", r->name,
		                curl_easy_strerror(res));
	if (r->status == 0)
		/* The engine closed the stream before answering: the container went away. */
		return req_note(rq,
		                "container %s: its log stream ended (the container was stopped "
		                "or removed)",
		                r->name);
	if (r->status < 200 || r->status > 299) {
		reader_error_text(r, text, sizeof(text));
		return req_note(rq, "container %s: docker engine: HTTP %ld%s%s", r->name, r->status,
		                text[0] ? ": " : "", text);
	}
	err = logs_split_end(&r->sp[0], stdout_line, r);
	if (err == 0)
		err = logs_split_end(&r->sp[1], stderr_line, r);
	return err;
}

static struct reader *req_find(struct req *rq, const char *id)
{
	size_t i;

	for (i = 0; i < rq->n_readers; i++)
		if (strcmp(rq->readers[i]->id, id) == 0)
			return rq->readers[i];
	return NULL;
}

/* Forgets readers whose container is gone (no longer listed, transfer over). */
static void req_compact(struct req *rq)
{
	size_t i, k = 0;

	for (i = 0; i < rq->n_readers; i++) {
		struct reader *r = rq->readers[i];

		if (!r->listed && !r->active)
			reader_free(r);
		else
			rq->readers[k++] = r;
	}
	rq->n_readers = k;
}

/* A container of the listing: a reader for it if it is new, a restart if it runs again. */
static int req_consider(struct req *rq, json_t *item, int first)
{
	const char *id = jstr(item, "Id");
	const char *service = jstr(json_object_get(item, "Labels"), LOGS_SERVICE_LABEL);
	struct reader *r;
	size_t k;
	int err;

	for (k = 0; id[k] != '\0'; k++)
		if (!((id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'f')))
			return 0;
	if (k == 0 || k > 64 || (rq->service[0] && strcmp(service, rq->service) != 0))
		return 0;
	r = req_find(rq, id);
	if (r != NULL) {
		r->listed = 1;
		/* Restarted: on from the newest line read (its time plus a nanosecond). */
		if (!r->active && strcmp(jstr(item, "State"), "running") == 0) {
			int64_t sec = r->last_sec;
			int32_t nsec = r->last_nsec + 1;

			if (nsec >= 1000000000) {
				sec++;
				nsec = 0;
			}
			return reader_start(r, 0, sec, nsec);
		}
		return 0;
	}
	if (rq->n_readers >= LOGS_MAX_CONTAINERS) {
		if (rq->full_noted++)
			return 0;
		return req_note(rq, "more than %d containers: only %d are followed",
		                LOGS_MAX_CONTAINERS, LOGS_MAX_CONTAINERS);
	}
	r = reader_new(rq, item, id, &err);
	if (r == NULL)
		return err == OVR_ERR_NOT_FOUND ? 0 : err; /* removed since the listing */
	r->listed = 1;
	rq->readers[rq->n_readers++] = r;
	/* Attached now: a container without lines yet resumes from here after a restart. */
	r->last_sec = ovr_now_ms() / 1000;
	/* Found later while following: new since the request, so all of its output. */
	return reader_start(r, first ? rq->tail : 0, rq->since_ms / 1000,
	                    (int32_t)(rq->since_ms % 1000) * 1000000);
}

/* Lists the app's containers and starts readers (first: the request's start). */
static int req_list(struct req *rq, int first)
{
	char path[LOGS_PATH_MAX];
	json_t *list = NULL, *item;
	size_t i;
	int err;

	/* filters={"label":["com.docker.compose.project=PREFIX-APP"]}, URL-encoded. */
	snprintf(path, sizeof(path),
	         "/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22"
	         "com.docker.compose.project%%3D%s-%s%%22%%5D%%7D",
	         rq->lg->prefix, rq->app);
	err = docker_api_get_json(rq->api, path, &list);
	if (err == 0 && !json_is_array(list))
		err = ovr_err_set(OVR_ERR_UNAVAILABLE,
		                  "docker engine: container list is not an array");
	for (i = 0; i < rq->n_readers; i++)
		rq->readers[i]->listed = 0;
	json_array_foreach(list, i, item)
	{
		if (err != 0)
			break;
		err = req_consider(rq, item, first);
	}
	json_decref(list);
	if (err == 0 && !first)
		req_compact(rq);
	return err;
}

/* Transfers that are over. */
static int req_collect(struct req *rq)
{
	struct CURLMsg *m;
	int left, err = 0;

	while (err == 0 && (m = curl_multi_info_read(rq->multi, &left)) != NULL) {
		char *priv = NULL;
		struct reader *r;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct reader *)(void *)priv;
		if (r != NULL)
			err = reader_done(r, m->data.result);
	}
	return err;
}

static int req_run(struct req *rq)
{
	struct docker_api_opts ao;
	int64_t next_list;
	int err, listing_failed = 0;

	memset(&ao, 0, sizeof(ao));
	ao.socket_path = rq->lg->socket;
	ao.cancel = &rq->cancel;
	err = docker_api_new(&rq->api, &ao);
	if (err != 0)
		return err;
	rq->multi = curl_multi_init();
	if (rq->multi == NULL)
		return ovr_err_set(OVR_ERR_INTERNAL, "curl_multi_init failed");
	err = req_list(rq, 1);
	if (err != 0)
		return err;
	if (rq->n_readers == 0) {
		if (!rq->follow)
			return ovr_err_set(OVR_ERR_NOT_FOUND,
			                   "no container of app %s%s%s on this node", rq->app,
			                   rq->service[0] ? " service " : "", rq->service);
		err = req_note(rq, "no container of app %s%s%s here yet: waiting for one", rq->app,
		               rq->service[0] ? " service " : "", rq->service);
	}
	next_list = ovr_mono_ms() + LOGS_RELIST_MS;
	while (err == 0) {
		int running = 0;

		if (atomic_load(&rq->cancel))
			return ovr_err_set(OVR_ERR_CANCELLED, "log request cancelled");
		curl_multi_perform(rq->multi, &running);
		err = req_collect(rq);
		if (err != 0 || (!rq->follow && running == 0))
			break;
		if (rq->follow && ovr_mono_ms() >= next_list) {
			err = req_list(rq, 0);
			if (err != 0 && err != OVR_ERR_CANCELLED) {
				/* The engine restarting: said once, and tried again. */
				err = listing_failed++
				              ? 0
				              : req_note(rq, "cannot list the containers: %s",
				                         ovr_err_msg(err));
			} else if (err == 0) {
				listing_failed = 0;
			}
			next_list = ovr_mono_ms() + LOGS_RELIST_MS;
		}
		if (err == 0 && rq->batch != NULL && ovr_mono_ms() - rq->batch_ms >= LOGS_BATCH_MS)
			err = req_flush(rq);
		if (err == 0)
			curl_multi_poll(rq->multi, NULL, 0, LOGS_WAIT_MS, NULL);
	}
	return err != 0 ? err : req_flush(rq);
}

static void req_free(struct req *rq)
{
	size_t i;

	for (i = 0; i < rq->n_readers; i++)
		reader_free(rq->readers[i]);
	if (rq->multi != NULL)
		curl_multi_cleanup(rq->multi);
	docker_api_free(rq->api);
	out_free(rq->batch);
	free(rq);
}

static void *req_main(void *arg)
{
	struct req *rq = arg;
	struct logs *lg = rq->lg;
	struct req **pp;
	int err = req_run(rq);

	if (err != OVR_ERR_CANCELLED && !atomic_load(&rq->cancel)) {
		char msg[512];
		struct logs_out *o;

		snprintf(msg, sizeof(msg), "%s", err != 0 ? ovr_err_msg(err) : "");
		/* The last chunk; a failure is its error, which the server shows as a marker. */
		o = out_answer(rq->id, 1, msg);
		if (o != NULL)
			out_push(lg, o, &rq->cancel, 0);
		log_debug("log request %s ended app=%s lines=%zu%s%s", rq->id, rq->app, rq->n_lines,
		          msg[0] ? ": " : "", msg);
	} else {
		log_debug("log request %s cancelled app=%s lines=%zu", rq->id, rq->app,
		          rq->n_lines);
	}
	pthread_mutex_lock(&lg->mu);
	for (pp = &lg->reqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rq) {
			*pp = rq->next;
			break;
		}
	}
	lg->n_reqs--;
	pthread_cond_broadcast(&lg->cond);
	pthread_mutex_unlock(&lg->mu);
	req_free(rq);
	return NULL;
}

/* ================================================================== requests */

int logs_new(struct logs **out, const struct logs_opts *opts)
{
	struct logs *lg = calloc(1, sizeof(*lg));
	pthread_condattr_t ca;

	*out = NULL;
	if (lg == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	lg->socket = strdup(opts->docker_socket != NULL ? opts->docker_socket
	                                                : DOCKER_API_DEFAULT_SOCKET);
	lg->prefix = strdup(opts->project_prefix != NULL ? opts->project_prefix : "ovr");
	if (lg->socket == NULL || lg->prefix == NULL) {
		free(lg->socket);
		free(lg->prefix);
		free(lg);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&lg->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lg->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = lg;
	return 0;
}

/* Under lg->mu: every request stops, and what they queued is dropped. */
static void cancel_all_locked(struct logs *lg)
{
	struct req *rq;
	struct logs_out *o;

	for (rq = lg->reqs; rq != NULL; rq = rq->next)
		atomic_store(&rq->cancel, 1);
	while ((o = lg->out_head) != NULL) {
		lg->out_head = o->next;
		out_free(o);
	}
	lg->out_tail = NULL;
	lg->n_out = 0;
	pthread_cond_broadcast(&lg->cond);
}

void logs_cancel_all(struct logs *lg)
{
	if (lg == NULL)
		return;
	pthread_mutex_lock(&lg->mu);
	if (lg->n_reqs > 0)
		log_debug("log requests cancelled: the stream to the server ended");
	cancel_all_locked(lg);
	pthread_mutex_unlock(&lg->mu);
}

void logs_free(struct logs *lg)
{
	int64_t deadline = ovr_mono_ms() + LOGS_FREE_WAIT_MS;
	size_t left;

	if (lg == NULL)
		return;
	pthread_mutex_lock(&lg->mu);
	cancel_all_locked(lg);
	while (lg->n_reqs > 0 && ovr_mono_ms() < deadline) {
		struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, LOGS_WAIT_MS);

		pthread_cond_timedwait(&lg->cond, &lg->mu, &ts);
	}
	left = lg->n_reqs;
	pthread_mutex_unlock(&lg->mu);
	if (left > 0) {
		log_warnx("%zu log request(s) still busy after %d ms; leaving them", left,
		          LOGS_FREE_WAIT_MS);
		return;
	}
	pthread_cond_destroy(&lg->cond);
	pthread_mutex_destroy(&lg->mu);
	free(lg->socket);
	free(lg->prefix);
	free(lg);
}

/* 1 if s has at most max bytes, each an ASCII letter, digit or one of extra. */
static int plain(const char *s, size_t max, const char *extra)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

	while (s[n] != '\0' && strchr(extra, s[n]) != NULL)
		n += 1 + strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                           "0123456789");
	return s[n] == '\0' && n <= max;
}

/* The request to start, or the reason it cannot (a message for the end chunk). */
static const char *check_request(const Overseer__V1__StreamLogsRequest *r)
{
	if (r == NULL)
		return "log request without its parameters";
	if (!ovr_name_valid(r->app))
		return "app: not a valid app name";
	/* Compose service names. */
	if (!plain(r->service, LOGS_SERVICE_MAX, "._-"))
		return "service: not a valid compose service name";
	if (r->tail < 0 || r->since_unix_ms < 0)
		return "tail and since must not be negative";
	return NULL;
}

/* Under lg->mu: a request with this id runs already (the server asked twice). */
static int running_locked(struct logs *lg, const char *id)
{
	struct req *rq;

	for (rq = lg->reqs; rq != NULL; rq = rq->next)
		if (strcmp(rq->id, id) == 0)
			return 1;
	return 0;
}

static void start_request(struct logs *lg, const char *id, const Overseer__V1__StreamLogsRequest *r)
{
	struct logs_out *ack = out_answer(id, 0, "");
	struct req *rq = calloc(1, sizeof(*rq));
	const char *why = NULL;
	pthread_attr_t attr;
	pthread_t thread;

	if (rq == NULL || ack == NULL) {
		free(rq);
		out_free(ack);
		out_refuse(lg, id, "out of memory");
		return;
	}
	rq->lg = lg;
	ovr_strlcpy(rq->id, id, sizeof(rq->id));
	ovr_strlcpy(rq->app, r->app, sizeof(rq->app));
	ovr_strlcpy(rq->service, r->service, sizeof(rq->service));
	rq->follow = r->follow ? 1 : 0;
	rq->timestamps = r->timestamps ? 1 : 0;
	rq->tail = r->tail;
	rq->since_ms = r->since_unix_ms;
	atomic_init(&rq->cancel, 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

	pthread_mutex_lock(&lg->mu);
	if (running_locked(lg, id)) {
		why = ""; /* nothing to say: the first one answers */
	} else if (lg->n_reqs >= LOGS_MAX_STREAMS) {
		why = "this node already serves " LOGS_STR(
		        LOGS_MAX_STREAMS) " log streams, the most it "
		                          "does at once; try again later";
	} else {
		/* The arrival is queued before the thread can queue any line. */
		out_append_locked(lg, ack);
		ack = NULL;
		if (pthread_create(&thread, &attr, req_main, rq) == 0) {
			rq->next = lg->reqs;
			lg->reqs = rq;
			lg->n_reqs++;
			rq = NULL;
		} else {
			why = "cannot start a thread for the log stream";
		}
	}
	pthread_mutex_unlock(&lg->mu);
	pthread_attr_destroy(&attr);
	out_free(ack);
	free(rq);
	if (why != NULL && why[0] != '\0')
		out_refuse(lg, id, why);
	else if (why == NULL)
		log_debug("log request %s started app=%s service=%s follow=%d tail=%" PRId32, id,
		          r->app, r->service, r->follow ? 1 : 0, r->tail);
}

void logs_request(struct logs *lg, const Overseer__V1__LogRequest *lr)
{
	const char *why;
	struct req *rq;

	if (lg == NULL)
		return;
	/* Request ids come from the server: short, and plain enough to log. */
	if (!lr->request_id[0] || !plain(lr->request_id, LOGS_ID_MAX, "_-")) {
		log_warnx("log request ignored: its request_id is empty, too long or not plain");
		return;
	}
	if (lr->cancel) {
		pthread_mutex_lock(&lg->mu);
		for (rq = lg->reqs; rq != NULL; rq = rq->next)
			if (strcmp(rq->id, lr->request_id) == 0)
				atomic_store(&rq->cancel, 1);
		pthread_cond_broadcast(&lg->cond);
		pthread_mutex_unlock(&lg->mu);
		return;
	}
	why = check_request(lr->request);
	if (why != NULL) {
		out_refuse(lg, lr->request_id, why);
		return;
	}
	start_request(lg, lr->request_id, lr->request);
}
