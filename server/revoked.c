/* The in-memory deny-list of revoked certificate serials: a sorted array under a rwlock. */
#include "revoked.h"

#include "db_node.h"
#include "err.h"
#include "log.h"
#include "pki.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_rwlock_t revoked_lock = PTHREAD_RWLOCK_INITIALIZER;
static char **revoked_serials;
static size_t revoked_n, revoked_cap;

static int cmp_serial(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t lower_bound(const char *serial)
{
	size_t lo = 0, hi = revoked_n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(revoked_serials[mid], serial) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void revoked_add(const char *serial)
{
	size_t pos;
	char *copy;

	if (!serial || !serial[0])
		return;
	pthread_rwlock_wrlock(&revoked_lock);
	pos = lower_bound(serial);
	if (pos < revoked_n && strcmp(revoked_serials[pos], serial) == 0)
		goto out;
	if (revoked_n == revoked_cap) {
		size_t cap = revoked_cap ? revoked_cap * 2 : 64;
		char **grown = realloc(revoked_serials, cap * sizeof(*grown));

		if (!grown)
			fatalx("revoked: out of memory");
		revoked_serials = grown;
		revoked_cap = cap;
	}
	copy = strdup(serial);
	if (!copy)
		fatalx("revoked: out of memory");
	memmove(&revoked_serials[pos + 1], &revoked_serials[pos],
	        (revoked_n - pos) * sizeof(*revoked_serials));
	revoked_serials[pos] = copy;
	revoked_n++;
out:
	pthread_rwlock_unlock(&revoked_lock);
}

int revoked_contains(const char *serial)
{
	int found;

	pthread_rwlock_rdlock(&revoked_lock);
	found = revoked_n &&
	        bsearch(&serial, revoked_serials, revoked_n, sizeof(*revoked_serials), cmp_serial);
	pthread_rwlock_unlock(&revoked_lock);
	return found;
}

static void add_cb(const char *serial, void *arg)
{
	(void)arg;
	revoked_add(serial);
}

int revoked_load(struct db *db)
{
	return db_revoked_serials(db, add_cb, NULL);
}

int revoked_verify_cert(const char *cert_pem, void *arg)
{
	struct pki_cert_info info;

	(void)arg;
	if (pki_cert_info(&info, cert_pem) != 0)
		return -1;
	if (revoked_contains(info.serial)) {
		log_warnx("refused a revoked certificate node=%s serial=%s", info.common_name,
		          info.serial);
		return -1;
	}
	return 0;
}

void revoked_clear(void)
{
	size_t i;

	pthread_rwlock_wrlock(&revoked_lock);
	for (i = 0; i < revoked_n; i++)
		free(revoked_serials[i]);
	free(revoked_serials);
	revoked_serials = NULL;
	revoked_n = revoked_cap = 0;
	pthread_rwlock_unlock(&revoked_lock);
}
