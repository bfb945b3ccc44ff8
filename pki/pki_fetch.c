/*
 * Trust on first use, pinned: fetches the CA a server presents in its TLS handshake and accepts it
 * only if its SHA-256 fingerprint is the one in the join token. Every wait has the one deadline.
 */
#include "pki_internal.h"

#include "err.h"
#include "strutil.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOST_MAX 253
/* Largest certificate list accepted from the server (OpenSSL's default is 100 KiB). */
#define CERT_LIST_MAX (64 * 1024)

struct fetch {
	const char *host;
	int port;
	int timeout_ms;
	int64_t deadline; /* ovr_mono_ms() */
};

/* Waits for fd to be ready; UNAVAILABLE naming the stage once the deadline has passed. */
static int wait_fd(const struct fetch *f, int fd, short events, const char *stage)
{
	struct pollfd pfd;

	for (;;) {
		int64_t left = f->deadline - ovr_mono_ms();
		int rc;

		if (left <= 0)
			return ovr_err_set(OVR_ERR_UNAVAILABLE, "%s:%d: %s timed out after %d ms",
			                   f->host, f->port, stage, f->timeout_ms);
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return ovr_err_set(OVR_ERR_IO, "%s:%d: poll: %s", f->host, f->port,
			                   strerror(errno));
	}
}

/*
 * getaddrinfo() cannot be given a deadline, so names are resolved on a detached thread the
 * caller stops waiting for at the deadline; whichever of the two lets go last frees the job.
 */
struct resolve_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	int done;
	int rc;
	struct addrinfo *res;
	char host[HOST_MAX + 1];
	char port[8];
};

static void resolve_job_put(struct resolve_job *job)
{
	int last;

	pthread_mutex_lock(&job->lock);
	last = --job->refs == 0;
	pthread_mutex_unlock(&job->lock);
	if (!last)
		return;
	if (job->res)
		freeaddrinfo(job->res);
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

static void *resolve_main(void *arg)
{
	struct resolve_job *job = arg;
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(job->host, job->port, &hints, &res);
	pthread_mutex_lock(&job->lock);
	job->rc = rc;
	job->res = rc == 0 ? res : NULL;
	job->done = 1;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	resolve_job_put(job);
	return NULL;
}

static int resolve_job_start(struct resolve_job *job)
{
	pthread_condattr_t cattr;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (pthread_condattr_init(&cattr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&job->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	if (rc != 0)
		return -1;
	if (pthread_mutex_init(&job->lock, NULL) != 0) {
		pthread_cond_destroy(&job->cond);
		return -1;
	}
	rc = pthread_attr_init(&attr);
	if (rc == 0) {
		rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (rc == 0)
			rc = pthread_create(&tid, &attr, resolve_main, job);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		pthread_mutex_destroy(&job->lock);
		pthread_cond_destroy(&job->cond);
		return -1;
	}
	return 0;
}

static int resolve_name(struct addrinfo **res, const struct fetch *f, const char *port)
{
	struct resolve_job *job = calloc(1, sizeof(*job));
	struct timespec until;
	int64_t left;
	int rc = 0;
	int err = 0;

	if (!job)
		return ovr_err_set(OVR_ERR_NOMEM, "resolving %s: out of memory", f->host);
	ovr_strlcpy(job->host, f->host, sizeof(job->host));
	ovr_strlcpy(job->port, port, sizeof(job->port));
	job->refs = 2;
	if (resolve_job_start(job) != 0) {
		free(job);
		return ovr_err_set(OVR_ERR_INTERNAL, "resolving %s: cannot start a thread",
		                   f->host);
	}
	left = f->deadline - ovr_mono_ms();
	if (left < 0)
		left = 0;
	until = ovr_timespec_in(CLOCK_MONOTONIC, left);
	pthread_mutex_lock(&job->lock);
	while (!job->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&job->cond, &job->lock, &until);
	if (!job->done)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot resolve %s within %d ms", f->host,
		                  f->timeout_ms);
	else if (job->rc != 0)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot resolve %s: %s", f->host,
		                  gai_strerror(job->rc));
	else {
		*res = job->res;
		job->res = NULL;
	}
	pthread_mutex_unlock(&job->lock);
	resolve_job_put(job);
	return err;
}

static int resolve(struct addrinfo **res, const struct fetch *f)
{
	struct addrinfo hints;
	char port[8];
	int rc;

	*res = NULL;
	snprintf(port, sizeof(port), "%d", f->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(f->host, port, &hints, res);
	if (rc == 0)
		return 0;
	if (rc != EAI_NONAME)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot resolve %s: %s", f->host,
		                   gai_strerror(rc));
	return resolve_name(res, f, port);
}

static int connect_one(int *out, const struct addrinfo *ai, const struct fetch *f)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	int fd;
	int err;

	*out = -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot connect to %s:%d: socket: %s",
		                   f->host, f->port, strerror(errno));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot connect to %s:%d: %s",
			                  f->host, f->port, strerror(errno));
			goto fail;
		}
		err = wait_fd(f, fd, POLLOUT, "connecting");
		if (err)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot connect to %s:%d: %s",
			                  f->host, f->port, strerror(soerr));
			goto fail;
		}
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return err;
}

static int connect_any(int *out, const struct fetch *f)
{
	struct addrinfo *res = NULL;
	const struct addrinfo *ai;
	int err;

	*out = -1;
	err = resolve(&res, f);
	if (err)
		return err;
	err = ovr_err_set(OVR_ERR_UNAVAILABLE, "cannot resolve %s: no addresses", f->host);
	for (ai = res; ai; ai = ai->ai_next) {
		err = connect_one(out, ai, f);
		if (!err || f->deadline <= ovr_mono_ms())
			break;
	}
	freeaddrinfo(res);
	return err;
}

static int handshake_failed(const struct fetch *f, int ssl_err)
{
	if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		int e = errno;

		return ovr_err_set(OVR_ERR_UNAVAILABLE, "TLS handshake with %s:%d failed: %s",
		                   f->host, f->port,
		                   e ? strerror(e) : "connection closed by the server");
	}
	return pki_ossl_err(OVR_ERR_UNAVAILABLE, "TLS handshake with %s:%d failed", f->host,
	                    f->port);
}

/* The handshake verifies nothing: the pin, checked afterwards, is the only trust. */
static int handshake(SSL **out, SSL_CTX *ctx, int fd, const struct fetch *f)
{
	unsigned char addr[16];
	SSL *ssl = SSL_new(ctx);
	int err = 0;

	*out = NULL;
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "TLS: out of memory");
		goto fail;
	}
	/* SNI carries names only (RFC 6066), never address literals. */
	if (inet_pton(AF_INET, f->host, addr) != 1 && inet_pton(AF_INET6, f->host, addr) != 1 &&
	    !SSL_set_tlsext_host_name(ssl, f->host)) {
		err = pki_ossl_err(OVR_ERR_INVALID, "TLS: cannot send %s as the server name",
		                   f->host);
		goto fail;
	}
	for (;;) {
		short events;
		int rc;

		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(ssl);
		if (rc == 1)
			break;
		rc = SSL_get_error(ssl, rc);
		if (rc == SSL_ERROR_WANT_READ) {
			events = POLLIN;
		} else if (rc == SSL_ERROR_WANT_WRITE) {
			events = POLLOUT;
		} else {
			err = handshake_failed(f, rc);
			goto fail;
		}
		err = wait_fd(f, fd, events, "TLS handshake");
		if (err)
			goto fail;
	}
	*out = ssl;
	return 0;
fail:
	SSL_free(ssl);
	return err;
}

/* The server's certificate must chain to the pinned CA and be meant for a server. */
static int verify_leaf(X509 *leaf, X509 *ca, STACK_OF(X509) * chain, const struct fetch *f)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err = 0;

	if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, chain) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "certificate verification: out of memory");
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_verify_cert(ctx) != 1) {
		err = ovr_err_set(
		        OVR_ERR_PERMISSION,
		        "the certificate of %s:%d does not verify against the pinned CA: %s",
		        f->host, f->port,
		        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

static int find_pinned_ca(X509 **out, SSL *ssl, const unsigned char pin[32], const struct fetch *f)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	unsigned char md[32];
	X509 *ca = NULL;
	int err;
	int i;

	*out = NULL;
	if (!chain || !leaf || sk_X509_num(chain) < 1)
		return ovr_err_set(OVR_ERR_PERMISSION, "%s:%d presented no certificate", f->host,
		                   f->port);
	for (i = 0; i < sk_X509_num(chain) && !ca; i++) {
		X509 *cert = sk_X509_value(chain, i);

		err = pki_x509_sha256(md, cert);
		if (err)
			return err;
		if (CRYPTO_memcmp(md, pin, sizeof(md)) == 0)
			ca = cert;
	}
	if (!ca)
		return ovr_err_set(
		        OVR_ERR_PERMISSION,
		        "none of the %d certificates %s:%d presented matches the pinned CA "
		        "fingerprint: wrong server or wrong join token",
		        sk_X509_num(chain), f->host, f->port);
	if (!pki_x509_is_ca(ca))
		return ovr_err_set(
		        OVR_ERR_PERMISSION,
		        "the certificate of %s:%d matching the pinned fingerprint is not a CA",
		        f->host, f->port);
	err = verify_leaf(leaf, ca, chain, f);
	if (err)
		return err;
	if (!X509_up_ref(ca))
		return pki_ossl_err(OVR_ERR_INTERNAL, "X509_up_ref failed");
	*out = ca;
	return 0;
}

/*
 * A peer that closes mid-handshake makes OpenSSL's next write() raise SIGPIPE, which ends the
 * process unless ignored: block it on this thread meanwhile and discard one raised here.
 */
static int sigpipe_block(sigset_t *old)
{
	sigset_t set;
	sigset_t pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, old);
	sigemptyset(&pending);
	sigpending(&pending);
	return sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(const sigset_t *old, int was_pending)
{
	struct timespec zero = {0, 0};
	sigset_t set;
	sigset_t pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int check_args(unsigned char pin[32], const char *host, int port, const char *fingerprint,
                      int timeout_ms)
{
	if (!host || host[0] == '\0' || strnlen(host, HOST_MAX + 1) > HOST_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "server host: must be 1 to %d characters",
		                   HOST_MAX);
	if (port < 1 || port > 65535)
		return ovr_err_set(OVR_ERR_INVALID, "server port %d: must be 1 to 65535", port);
	if (timeout_ms < 1)
		return ovr_err_set(OVR_ERR_INVALID, "timeout of %d ms: must be positive",
		                   timeout_ms);
	if (!fingerprint || strnlen(fingerprint, PKI_FINGERPRINT_LEN) != PKI_FINGERPRINT_LEN - 1 ||
	    ovr_hex_decode(pin, 32, fingerprint) != 0)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "CA fingerprint: must be 64 hex digits (a SHA-256)");
	return 0;
}

int pki_tls_fetch_ca(char **ca_pem, const char *host, int port, const char *fingerprint_hex,
                     int timeout_ms)
{
	unsigned char pin[32];
	struct fetch f;
	sigset_t old_mask;
	int pipe_pending;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *ca = NULL;
	char *out = NULL;
	int fd = -1;
	int err;

	*ca_pem = NULL;
	err = check_args(pin, host, port, fingerprint_hex, timeout_ms);
	if (err)
		return err;
	f.host = host;
	f.port = port;
	f.timeout_ms = timeout_ms;
	f.deadline = ovr_mono_ms() + timeout_ms;
	pipe_pending = sigpipe_block(&old_mask);

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		err = pki_ossl_err(OVR_ERR_CRYPTO, "TLS: cannot create a client context");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_cert_list(ctx, CERT_LIST_MAX);
	err = connect_any(&fd, &f);
	if (!err)
		err = handshake(&ssl, ctx, fd, &f);
	if (!err)
		err = find_pinned_ca(&ca, ssl, pin, &f);
	if (!err)
		err = pki_pem_append_cert(&out, ca);
	if (err)
		goto out;
	*ca_pem = out;
	out = NULL;
out:
	if (ssl)
		(void)SSL_shutdown(ssl); /* non-blocking: one close_notify, no wait */
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	X509_free(ca);
	free(out);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	sigpipe_restore(&old_mask, pipe_pending);
	return err;
}
