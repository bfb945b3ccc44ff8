/*
 * docker_api against a fake engine on a unix socket: ping, versions, errors, limits, no daemon;
 * streams of JSON lines, and the events watcher that follows them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "docker_api.h"
#include "err.h"
#include "events.h"
#include "strutil.h"

#define BIG_BODY 4096

/* The fake engine: one request per connection, canned answers chosen by path. */
static struct {
	char dir[64];
	char sock[128];
	int listen_fd;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t lock;
	/* guarded by lock */
	const char *api_version; /* Api-Version header of /_ping, NULL for none */
	const char *version_body;
	char last_path[512];
	int pings;
	int requests;
	int event_streams; /* GET /events so far: odd ones end, even ones stay open */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away: fine, some tests make it */
		data += n;
		len -= (size_t)n;
	}
}

static void send_response(int fd, int status, const char *extra_headers, const char *body)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
	             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
	             "Connection: close\r\n\r\n",
	             status, extra_headers ? extra_headers : "", strlen(body));
	send_all(fd, head, (size_t)n);
	send_all(fd, body, strlen(body));
}

/* A JSON body of exactly BIG_BODY bytes (["xx...x"]), with or without Content-Length. */
static void send_big(int fd, int chunked)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
	char body[BIG_BODY + 1];
	size_t i;

	memset(body, 'x', BIG_BODY);
	memcpy(body, "[\"", 2);
	memcpy(body + BIG_BODY - 2, "\"]", 2);
	body[BIG_BODY] = '\0';
	if (!chunked) {
		send_response(fd, 200, NULL, body);
		return;
	}
	send_all(fd, head, sizeof(head) - 1);
	for (i = 0; i < BIG_BODY; i += 512) { /* 512 bytes: 0x200 */
		send_all(fd, "200\r\n", 5);
		send_all(fd, body + i, 512);
		send_all(fd, "\r\n", 2);
	}
	send_all(fd, "0\r\n\r\n", 5);
}

/* ---- streams ---- */

static void send_stream_head(int fd)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

	send_all(fd, head, sizeof(head) - 1);
}

/* One chunk; the pause makes it arrive in a read of its own. */
static void send_chunk(int fd, const char *data, int pause_ms)
{
	char size[32];

	snprintf(size, sizeof(size), "%zx\r\n", strlen(data));
	send_all(fd, size, strlen(size));
	send_all(fd, data, strlen(data));
	send_all(fd, "\r\n", 2);
	if (pause_ms > 0)
		poll(NULL, 0, pause_ms);
}

static void send_stream_end(int fd)
{
	send_all(fd, "0\r\n\r\n", 5);
}

/* Holds a connection open and silent until the client closes it (or 10 s). */
static void wait_client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	int64_t end = ovr_mono_ms() + 10000;

	while (ovr_mono_ms() < end && poll(&p, 1, 100) >= 0)
		if ((p.revents & (POLLIN | POLLHUP)) && recv(fd, buf, sizeof(buf), 0) <= 0)
			return;
}

/* An object split across reads, several in one read, blank lines, a last one without newline. */
static void send_split_stream(int fd)
{
	send_stream_head(fd);
	send_chunk(fd, "{\"Type\":\"cont", 60);
	send_chunk(fd, "ainer\",\"n\":1}", 60);
	send_chunk(fd, "\n{\"n\":2}\n\n{\"n\":3}\r\n{\"n\"", 60);
	send_chunk(fd, ":4}\n{\"n\":5}", 0);
	send_stream_end(fd);
}

/* A line of 2000 bytes, cut into reads, never ending. */
static void send_long_line(int fd)
{
	char part[501];
	int i;

	memset(part, ' ', 500);
	part[0] = '"';
	part[500] = '\0';
	send_stream_head(fd);
	for (i = 0; i < 4; i++)
		send_chunk(fd, part, 10);
	wait_client_gone(fd);
}

/*
 * /events for the watcher: one event of its project, one of another, one of a prefix that only
 * looks alike; the first stream then ends (the engine went away), the next ones stay open.
 */
static void send_events(int fd)
{
	int n;

	pthread_mutex_lock(&fake.lock);
	n = ++fake.event_streams;
	pthread_mutex_unlock(&fake.lock);
	send_stream_head(fd);
	send_chunk(fd,
	           "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"Attributes\":"
	           "{\"com.docker.compose.project\":\"ovr-shop\",\"name\":\"x\"}}}\n"
	           "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"Attributes\":"
	           "{\"com.docker.compose.project\":\"ovrtx-shop\",\"name\":\"y\"}}}\n",
	           20);
	send_chunk(fd,
	           "{\"Type\":\"container\",\"Action\":\"health_status: unhealthy\",\"Actor\":"
	           "{\"Attributes\":{\"com.docker.compose.project\":\"ovrt-shop\",\"name\":"
	           "\"ovrt-shop-web-1\"}}}\n",
	           0);
	if (n % 2 == 1)
		send_stream_end(fd);
	else
		wait_client_gone(fd);
}

static void fake_answer(int fd, const char *path)
{
	const char *v, *api_version, *version_body;
	char hdr[64];

	pthread_mutex_lock(&fake.lock);
	ovr_strlcpy(fake.last_path, path, sizeof(fake.last_path));
	fake.requests++;
	if (strcmp(path, "/_ping") == 0)
		fake.pings++;
	api_version = fake.api_version;
	version_body = fake.version_body;
	pthread_mutex_unlock(&fake.lock);

	if (strcmp(path, "/_ping") == 0) {
		char head[256];
		int n;

		hdr[0] = '\0';
		if (api_version)
			snprintf(hdr, sizeof(hdr), "Api-Version: %s\r\n", api_version);
		n = snprintf(head, sizeof(head),
		             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%s"
		             "Content-Length: 2\r\nConnection: close\r\n\r\nOK",
		             hdr);
		send_all(fd, head, (size_t)n);
		return;
	}
	/* Everything else is versioned: strip "/v1.NN". */
	if (strncmp(path, "/v1.", 4) != 0 || (v = strchr(path + 1, '/')) == NULL) {
		send_response(fd, 400, NULL, "{\"message\":\"unversioned path\"}");
		return;
	}
	if (strcmp(v, "/version") == 0)
		send_response(fd, 200, NULL, version_body);
	else if (strcmp(v, "/containers/json?all=1") == 0)
		send_response(fd, 200, NULL, "[{\"Id\":\"abc\",\"State\":\"running\"}]");
	else if (strcmp(v, "/containers/nope/json") == 0)
		send_response(fd, 404, NULL, "{\"message\":\"No such container: nope\"}");
	else if (strcmp(v, "/boom") == 0)
		send_response(fd, 500, NULL, "{\"message\":\"boom\\nsecond line\\u0007\"}");
	else if (strcmp(v, "/plain-error") == 0)
		send_response(fd, 503, NULL, "service\r\nunavailable");
	else if (strcmp(v, "/big") == 0)
		send_big(fd, 0);
	else if (strcmp(v, "/big-chunked") == 0)
		send_big(fd, 1);
	else if (strcmp(v, "/malformed") == 0)
		send_response(fd, 200, NULL, "{\"Env\": [\"TOKEN=supersecret\" \"x\"");
	else if (strcmp(v, "/empty") == 0)
		send_response(fd, 200, NULL, "");
	else if (strcmp(v, "/stream/split") == 0)
		send_split_stream(fd);
	else if (strcmp(v, "/stream/long") == 0)
		send_long_line(fd);
	else if (strcmp(v, "/stream/idle") == 0) {
		send_stream_head(fd);
		send_chunk(fd, "{\"n\":1}\n", 0);
		wait_client_gone(fd);
	} else if (strcmp(v, "/stream/malformed") == 0) {
		send_stream_head(fd);
		send_chunk(fd, "{\"n\":1}\n{\"TOKEN\":supersecret}\n", 0);
		send_stream_end(fd);
	} else if (strncmp(v, "/events?", 8) == 0)
		send_events(fd);
	else if (strcmp(v, "/hang") == 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		poll(&p, 1, 5000); /* until the client gives up and closes */
	} else
		send_response(fd, 404, NULL, "{\"message\":\"page not found\"}");
}

static void fake_serve_one(int fd)
{
	char req[8192], method[16], path[512];
	size_t len = 0;

	while (len < sizeof(req) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			return;
		n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (sscanf(req, "%15s %511s", method, path) != 2 || strcmp(method, "GET") != 0) {
		send_response(fd, 405, NULL, "{\"message\":\"GET only\"}");
		return;
	}
	fake_answer(fd, path);
}

static void *fake_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = fake.listen_fd, .events = POLLIN},
		                      {.fd = fake.wake[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept(fake.listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve_one(fd);
		close(fd);
	}
	return NULL;
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	ovr_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void fake_config(const char *api_version)
{
	pthread_mutex_lock(&fake.lock);
	fake.api_version = api_version;
	fake.version_body = "{\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\"}";
	fake.last_path[0] = '\0';
	fake.pings = 0;
	fake.requests = 0;
	pthread_mutex_unlock(&fake.lock);
}

static void fake_last_path(char *buf, size_t size, int *pings)
{
	pthread_mutex_lock(&fake.lock);
	ovr_strlcpy(buf, fake.last_path, size);
	if (pings)
		*pings = fake.pings;
	pthread_mutex_unlock(&fake.lock);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(fake.dir, sizeof(fake.dir), "/tmp/ovr-test-docker-XXXXXX");
	if (mkdtemp(fake.dir) == NULL)
		return -1;
	snprintf(fake.sock, sizeof(fake.sock), "%s/docker.sock", fake.dir);
	fake.listen_fd = bind_unix(fake.sock);
	if (fake.listen_fd < 0 || listen(fake.listen_fd, 16) != 0 || pipe(fake.wake) != 0)
		return -1;
	fake_config("1.41");
	return pthread_create(&fake.thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	if (write(fake.wake[1], "x", 1) != 1)
		return -1;
	pthread_join(fake.thread, NULL);
	close(fake.listen_fd);
	close(fake.wake[0]);
	close(fake.wake[1]);
	unlink(fake.sock);
	return rmdir(fake.dir);
}

static struct docker_api *new_api(const char *sock, int64_t timeout_ms, size_t max)
{
	struct docker_api_opts opts = {
	        .socket_path = sock, .timeout_ms = timeout_ms, .max_response = max};
	struct docker_api *api = NULL;

	assert_int_equal(docker_api_new(&api, &opts), 0);
	assert_non_null(api);
	return api;
}

/* A newer engine: requests use our 1.41. */
static void test_ping_and_version(void **state)
{
	struct docker_api *api;
	char version[64], path[512];

	(void)state;
	fake_config("1.43");
	api = new_api(fake.sock, 0, 0);
	assert_string_equal(docker_api_prefix(api), "");
	assert_int_equal(docker_api_ping(api), 0);
	assert_string_equal(docker_api_engine_version(api), "1.43");
	assert_string_equal(docker_api_prefix(api), "/v1.41");
	assert_int_equal(docker_api_version(api, version, sizeof(version)), 0);
	assert_string_equal(version, "20.10.24+dfsg1");
	fake_last_path(path, sizeof(path), NULL);
	assert_string_equal(path, "/v1.41/version");
	docker_api_free(api);
}

/* An older engine: its version wins. */
static void test_ping_older_engine(void **state)
{
	struct docker_api *api;
	char version[64], path[512];

	(void)state;
	fake_config("1.40");
	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_ping(api), 0);
	assert_string_equal(docker_api_prefix(api), "/v1.40");
	assert_int_equal(docker_api_version(api, version, sizeof(version)), 0);
	fake_last_path(path, sizeof(path), NULL);
	assert_string_equal(path, "/v1.40/version");
	docker_api_free(api);
}

/* No usable header: the client falls back to its own version. */
static void test_ping_without_header(void **state)
{
	struct docker_api *api;

	(void)state;
	fake_config(NULL);
	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_ping(api), 0);
	assert_string_equal(docker_api_prefix(api), "/v1.41");
	docker_api_free(api);
	fake_config("1.x41");
	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_ping(api), 0);
	assert_string_equal(docker_api_prefix(api), "/v1.41");
	docker_api_free(api);
}

static void test_get_json_pings_first(void **state)
{
	struct docker_api *api;
	json_t *root = NULL, *id;
	char path[512];
	int pings;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_get_json(api, "/containers/json?all=1", &root), 0);
	assert_true(json_is_array(root));
	assert_int_equal(json_array_size(root), 1);
	id = json_object_get(json_array_get(root, 0), "Id");
	assert_string_equal(json_string_value(id), "abc");
	json_decref(root);
	fake_last_path(path, sizeof(path), &pings);
	assert_string_equal(path, "/v1.41/containers/json?all=1");
	assert_int_equal(pings, 1);
	/* Once negotiated, no more pings. */
	assert_int_equal(docker_api_get_json(api, "/containers/json?all=1", &root), 0);
	json_decref(root);
	fake_last_path(path, sizeof(path), &pings);
	assert_int_equal(pings, 1);
	docker_api_free(api);
}

static void test_404_is_not_found(void **state)
{
	struct docker_api *api;
	json_t *root = (json_t *)1;
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	err = docker_api_get_json(api, "/containers/nope/json", &root);
	assert_int_equal(err, OVR_ERR_NOT_FOUND);
	assert_null(root);
	assert_non_null(strstr(ovr_err_msg(err), "No such container: nope"));
	docker_api_free(api);
}

static void test_other_http_errors_unavailable(void **state)
{
	struct docker_api *api;
	json_t *root = NULL;
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	err = docker_api_get_json(api, "/boom", &root);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_null(root);
	assert_non_null(strstr(ovr_err_msg(err), "HTTP 500"));
	/* The engine's message, control characters flattened. */
	assert_non_null(strstr(ovr_err_msg(err), "boom second line"));
	assert_null(strchr(ovr_err_msg(err), '\n'));
	assert_null(strchr(ovr_err_msg(err), '\a'));

	err = docker_api_get_json(api, "/plain-error", &root);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_non_null(strstr(ovr_err_msg(err), "HTTP 503: service  unavailable"));
	docker_api_free(api);
}

/* Over the limit with a Content-Length and without one (chunked). */
static void test_oversized_body_refused(void **state)
{
	struct docker_api *api;
	json_t *root = NULL;
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 1024);
	err = docker_api_get_json(api, "/big", &root);
	assert_int_equal(err, OVR_ERR_TOO_LARGE);
	assert_null(root);
	assert_non_null(strstr(ovr_err_msg(err), "larger than 1024 bytes"));
	err = docker_api_get_json(api, "/big-chunked", &root);
	assert_int_equal(err, OVR_ERR_TOO_LARGE);
	assert_null(root);
	/* The handle still works afterwards. */
	assert_int_equal(docker_api_get_json(api, "/containers/json?all=1", &root), 0);
	json_decref(root);
	docker_api_free(api);

	/* Just under a limit is fine. */
	api = new_api(fake.sock, 0, BIG_BODY);
	assert_int_equal(docker_api_get_json(api, "/big", &root), 0);
	assert_true(json_is_array(root));
	assert_int_equal(json_string_length(json_array_get(root, 0)), BIG_BODY - 4);
	json_decref(root);
	assert_int_equal(docker_api_get_json(api, "/big-chunked", &root), 0);
	json_decref(root);
	docker_api_free(api);
}

/* Refused, and the message gives the position only: never the content, which may be secret. */
static void test_malformed_json_refused(void **state)
{
	struct docker_api *api;
	json_t *root = NULL;
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	err = docker_api_get_json(api, "/malformed", &root);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_null(root);
	assert_non_null(strstr(ovr_err_msg(err), "malformed JSON"));
	assert_null(strstr(ovr_err_msg(err), "supersecret"));
	err = docker_api_get_json(api, "/empty", &root);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_null(root);
	docker_api_free(api);
}

/* /version answers that are JSON but not what we expect. */
static void test_version_validated(void **state)
{
	struct docker_api *api;
	char version[64];
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_version(api, version, 8), OVR_ERR_TOO_LARGE);

	pthread_mutex_lock(&fake.lock);
	fake.version_body = "{\"Version\":12}";
	pthread_mutex_unlock(&fake.lock);
	err = docker_api_version(api, version, sizeof(version));
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_string_equal(version, "");

	pthread_mutex_lock(&fake.lock);
	fake.version_body = "[\"Version\"]";
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(docker_api_version(api, version, sizeof(version)), OVR_ERR_UNAVAILABLE);

	pthread_mutex_lock(&fake.lock);
	fake.version_body = "{\"Version\":\"20.10\\n1\"}";
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(docker_api_version(api, version, sizeof(version)), OVR_ERR_UNAVAILABLE);
	docker_api_free(api);
}

static void test_daemon_not_running(void **state)
{
	struct docker_api *api;
	char missing[192], stale[192], want[256];
	json_t *root = NULL;
	int err, fd;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.sock", fake.dir);
	api = new_api(missing, 2000, 0);
	err = docker_api_ping(api);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	snprintf(want, sizeof(want), "docker engine not reachable at %s: ", missing);
	assert_non_null(strstr(ovr_err_msg(err), want));
	assert_non_null(strstr(ovr_err_msg(err), "No such file or directory"));
	assert_int_equal(docker_api_get_json(api, "/version", &root), OVR_ERR_UNAVAILABLE);
	assert_null(root);
	docker_api_free(api);

	/* A socket file left by a dead daemon: nobody listens. */
	snprintf(stale, sizeof(stale), "%s/stale.sock", fake.dir);
	fd = bind_unix(stale);
	assert_true(fd >= 0);
	close(fd);
	api = new_api(stale, 2000, 0);
	err = docker_api_ping(api);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_non_null(strstr(ovr_err_msg(err), "Connection refused"));
	docker_api_free(api);
	unlink(stale);
}

static void test_bad_arguments(void **state)
{
	struct docker_api_opts opts = {.socket_path = ""};
	struct docker_api *api = NULL;
	json_t *root = NULL;
	char long_path[200];

	(void)state;
	assert_int_equal(docker_api_new(&api, &opts), OVR_ERR_INVALID);
	assert_null(api);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	opts.socket_path = long_path;
	assert_int_equal(docker_api_new(&api, &opts), OVR_ERR_INVALID);

	api = new_api(fake.sock, 0, 0);
	assert_int_equal(docker_api_get_json(api, "version", &root), OVR_ERR_INVALID);
	assert_int_equal(docker_api_get_json(api, "/containers/a b/json", &root), OVR_ERR_INVALID);
	assert_int_equal(docker_api_get_json(api, "/x\r\nHost: evil", &root), OVR_ERR_INVALID);
	assert_null(root);
	docker_api_free(api);
	docker_api_free(NULL);
}

/* ---- streams ---- */

/* What a stream handed over: the "n" of each object, and how often it opened. */
struct seen {
	int opened;
	int n[16];
	int count;
	int stop_after; /* objects before the callback says stop (0: never) */
};

static int seen_opened(void *payload)
{
	struct seen *s = payload;

	s->opened++;
	return 0;
}

static int seen_object(json_t *obj, void *payload)
{
	struct seen *s = payload;

	assert_true(s->opened == 1);
	if (s->count < 16)
		s->n[s->count] = (int)json_integer_value(json_object_get(obj, "n"));
	s->count++;
	if (s->stop_after > 0 && s->count >= s->stop_after)
		return ovr_err_set(OVR_ERR_CANCELLED, "seen enough");
	return 0;
}

static int stream(struct docker_api *api, const char *path, size_t max_line, struct seen *s)
{
	struct docker_api_stream_cb cb = {
	        .opened = seen_opened, .object = seen_object, .payload = s};

	return docker_api_stream_json(api, path, max_line, &cb);
}

static void test_stream_lines(void **state)
{
	struct docker_api *api;
	struct seen s;
	char path[512];
	int i;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 64); /* the body limit of plain GETs does not apply */
	memset(&s, 0, sizeof(s));
	assert_int_equal(stream(api, "/stream/split", 0, &s), 0);
	assert_int_equal(s.opened, 1);
	assert_int_equal(s.count, 5);
	assert_int_equal(s.n[0], 1); /* {"Type":"container","n":1}, in two reads */
	for (i = 1; i < 5; i++)
		assert_int_equal(s.n[i], i + 1);
	fake_last_path(path, sizeof(path), NULL);
	assert_string_equal(path, "/v1.41/stream/split");

	/* A callback's non-zero return ends the stream and comes back as is. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(stream(api, "/stream/split", 0, &s), OVR_ERR_CANCELLED);
	assert_int_equal(s.count, 2);
	assert_string_equal(ovr_err_msg(OVR_ERR_CANCELLED), "seen enough");

	/* Plain GETs work as before on the same handle. */
	pthread_mutex_lock(&fake.lock);
	fake.version_body = "{\"Version\":\"20.10\"}";
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(docker_api_version(api, path, sizeof(path)), 0);
	docker_api_free(api);
}

static void test_stream_errors(void **state)
{
	struct docker_api *api;
	struct seen s;
	char missing[192];
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 0, 0);
	memset(&s, 0, sizeof(s));
	err = stream(api, "/stream/long", 1024, &s);
	assert_int_equal(err, OVR_ERR_TOO_LARGE);
	assert_non_null(strstr(ovr_err_msg(err), "a line of the stream is longer than 1024 bytes"));

	memset(&s, 0, sizeof(s));
	err = stream(api, "/stream/malformed", 0, &s);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_int_equal(s.count, 1);
	assert_non_null(strstr(ovr_err_msg(err), "malformed JSON in the stream"));
	assert_null(strstr(ovr_err_msg(err), "supersecret"));

	/* HTTP errors: never opened, the engine's message in ours. */
	memset(&s, 0, sizeof(s));
	err = stream(api, "/boom", 0, &s);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_non_null(strstr(ovr_err_msg(err), "GET /boom: HTTP 500: boom second line"));
	err = stream(api, "/containers/nope/json", 0, &s);
	assert_int_equal(err, OVR_ERR_NOT_FOUND);
	assert_non_null(strstr(ovr_err_msg(err), "No such container: nope"));
	assert_int_equal(s.opened, 0);
	assert_int_equal(s.count, 0);
	docker_api_free(api);

	snprintf(missing, sizeof(missing), "%s/missing.sock", fake.dir);
	api = new_api(missing, 2000, 0);
	err = stream(api, "/events", 0, &s);
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_non_null(strstr(ovr_err_msg(err), "docker engine not reachable at"));
	docker_api_free(api);
}

/* An engine that takes the request and never answers: the client's timeout, not forever. */
static void test_timeouts(void **state)
{
	struct docker_api *api;
	json_t *root = NULL;
	struct seen s;
	int64_t start;
	int err;

	(void)state;
	fake_config("1.41");
	api = new_api(fake.sock, 300, 0);
	assert_int_equal(docker_api_ping(api), 0);
	start = ovr_mono_ms();
	err = docker_api_get_json(api, "/hang", &root);
	assert_int_equal(err, OVR_ERR_TIMEOUT);
	assert_null(root);
	assert_true(ovr_mono_ms() - start < 3000);

	/* A stream has no deadline once open, but one to open. */
	memset(&s, 0, sizeof(s));
	start = ovr_mono_ms();
	err = stream(api, "/hang", 0, &s);
	assert_int_equal(err, OVR_ERR_TIMEOUT);
	assert_true(ovr_mono_ms() - start < 3000);
	assert_int_equal(s.opened, 0);
	docker_api_free(api);
}

struct canceller {
	atomic_int *flag;
	int delay_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	poll(NULL, 0, c->delay_ms);
	atomic_store(c->flag, 1);
	return NULL;
}

/* A silent stream ends within about a second of the cancel flag, set from another thread. */
static void test_stream_cancel(void **state)
{
	struct docker_api_opts opts = {.socket_path = fake.sock};
	struct docker_api *api = NULL;
	atomic_int flag = 0;
	struct canceller c = {.flag = &flag, .delay_ms = 300};
	struct seen s;
	pthread_t t;
	int64_t start, took;
	int err;

	(void)state;
	fake_config("1.41");
	opts.cancel = &flag;
	assert_int_equal(docker_api_new(&api, &opts), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
	start = ovr_mono_ms();
	err = stream(api, "/stream/idle", 0, &s);
	took = ovr_mono_ms() - start;
	pthread_join(t, NULL);
	assert_int_equal(err, OVR_ERR_CANCELLED);
	assert_int_equal(s.count, 1);
	assert_true(took >= 300);
	assert_true(took < 2500);
	/* Once cancelled, later requests end at once. */
	assert_int_equal(stream(api, "/stream/split", 0, &s), OVR_ERR_CANCELLED);
	assert_int_equal(docker_api_ping(api), OVR_ERR_CANCELLED);
	docker_api_free(api);
}

/* ---- the events watcher ---- */

static void test_events_relevant(void **state)
{
	static const struct {
		const char *type, *action, *project, *prefix;
		int want;
	} cases[] = {
	        {"container", "die", "ovr-shop", "ovr", 1},
	        {"container", "die", "ovr-shop", "ov", 0},    /* "ov-" is not its prefix */
	        {"container", "die", "ovr-shop", "ovr-s", 0}, /* nor is "ovr-s-" */
	        {"container", "health_status: unhealthy", "ovr-shop", "ovr", 1},
	        {"container", "health_statusx", "ovr-shop", "ovr", 0},
	        {"container", "exec_start: wget -q localhost", "ovr-shop", "ovr", 0},
	        {"network", "connect", "ovr-shop", "ovr", 0},
	        {"container", "start", "ovr-", "ovr", 0},
	        {"container", "start", NULL, "ovr", 0}, /* no project label */
	};
	size_t i;
	json_t *ev;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev = json_pack("{s:s, s:s, s:{s:{s:s*}}}", "Type", cases[i].type, "Action",
		               cases[i].action, "Actor", "Attributes", "com.docker.compose.project",
		               cases[i].project);
		assert_non_null(ev);
		if (events_relevant(ev, cases[i].prefix) != cases[i].want)
			fail_msg("case %zu: %s %s of %s with prefix %s", i, cases[i].type,
			         cases[i].action, cases[i].project ? cases[i].project : "(none)",
			         cases[i].prefix);
		json_decref(ev);
	}
	assert_false(events_relevant(NULL, "ovr"));
}

static atomic_int changes;

static void count_change(void *payload)
{
	(void)payload;
	atomic_fetch_add(&changes, 1);
}

/*
 * Against the fake: a report asked for on opening and for the one event of its project; when the
 * stream ends it reconnects and asks again; it stops promptly while the stream is silent.
 */
static void test_events_watcher(void **state)
{
	struct events_opts opts = {
	        .docker_socket = fake.sock, .project_prefix = "ovrt", .changed = count_change};
	struct events_watcher *w = NULL;
	char path[512];
	int64_t start;
	int streams, i;

	(void)state;
	fake_config("1.41");
	pthread_mutex_lock(&fake.lock);
	fake.event_streams = 0;
	pthread_mutex_unlock(&fake.lock);
	atomic_store(&changes, 0);
	assert_int_equal(events_start(&w, &opts), 0);
	/* Open, event, (stream ends) open again, event. */
	for (i = 0; i < 100 && atomic_load(&changes) < 4; i++)
		poll(NULL, 0, 50);
	assert_int_equal(atomic_load(&changes), 4);
	pthread_mutex_lock(&fake.lock);
	streams = fake.event_streams;
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(streams, 2);
	fake_last_path(path, sizeof(path), NULL);
	assert_non_null(
	        strstr(path, "/v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D"));
	assert_non_null(strstr(path, "%22health_status%22"));
	assert_null(strstr(path, "exec"));

	start = ovr_mono_ms();
	events_stop(w);
	assert_true(ovr_mono_ms() - start < 2500);
	assert_int_equal(atomic_load(&changes), 4);
	events_stop(NULL);
}

/* No engine at all: it keeps retrying quietly and still stops at once. */
static void test_events_watcher_no_engine(void **state)
{
	char missing[192];
	struct events_opts opts = {.docker_socket = missing, .changed = count_change};
	struct events_watcher *w = NULL;
	int64_t start;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.sock", fake.dir);
	atomic_store(&changes, 0);
	assert_int_equal(events_start(&w, &opts), 0);
	poll(NULL, 0, 300);
	start = ovr_mono_ms();
	events_stop(w);
	assert_true(ovr_mono_ms() - start < 1000);
	assert_int_equal(atomic_load(&changes), 0);

	opts.changed = NULL;
	assert_int_equal(events_start(&w, &opts), OVR_ERR_INVALID);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ping_and_version),
	        cmocka_unit_test(test_ping_older_engine),
	        cmocka_unit_test(test_ping_without_header),
	        cmocka_unit_test(test_get_json_pings_first),
	        cmocka_unit_test(test_404_is_not_found),
	        cmocka_unit_test(test_other_http_errors_unavailable),
	        cmocka_unit_test(test_oversized_body_refused),
	        cmocka_unit_test(test_malformed_json_refused),
	        cmocka_unit_test(test_version_validated),
	        cmocka_unit_test(test_daemon_not_running),
	        cmocka_unit_test(test_bad_arguments),
	        cmocka_unit_test(test_stream_lines),
	        cmocka_unit_test(test_stream_errors),
	        cmocka_unit_test(test_timeouts),
	        cmocka_unit_test(test_stream_cancel),
	        cmocka_unit_test(test_events_relevant),
	        cmocka_unit_test(test_events_watcher),
	        cmocka_unit_test(test_events_watcher_no_engine),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
