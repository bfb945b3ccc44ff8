/*
 * server/secret_box: sealed secret values open only as the row they were sealed for, every kind
 * of tampering fails without plaintext, re-wrapping moves a data key to a new master key, and the
 * keyring refuses unsafe files and follows a rotation done by another process.
 */
#include "secret_box.h"

#include "err.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define KEY_LEN   32
#define NONCE_LEN 12
#define TAG_LEN   16

/* Each test works in its own directory holding master.key (and .next/.prev when it says so). */
struct fixture {
	char dir[64];
	char master[128];
	char next[128];
	unsigned char key_a[KEY_LEN];
	unsigned char key_b[KEY_LEN];
	char id_a[SECRET_KEY_ID_LEN + 1];
	char id_b[SECRET_KEY_ID_LEN + 1];
	struct secret_keyring *kr;
};

/* The id as the header defines it, computed here with OpenSSL directly. */
static void expected_id(char out[SECRET_KEY_ID_LEN + 1], const unsigned char key[KEY_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int i;

	assert_int_equal(EVP_Digest(key, KEY_LEN, md, &n, EVP_sha256(), NULL), 1);
	for (i = 0; i < SECRET_KEY_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Writes a key file the way `ovr-server init` does (64 hex + newline), replacing atomically. */
static void write_key(const char *path, const unsigned char key[KEY_LEN], mode_t mode)
{
	char tmp[160], hex[2 * KEY_LEN + 2];
	FILE *f;
	int i;

	for (i = 0; i < KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	strcat(hex, "\n");
	snprintf(tmp, sizeof(tmp), "%s.test-tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(hex, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(tmp, mode), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/ovr-secret-box.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->master, sizeof(fx->master), "%s/master.key", fx->dir);
	snprintf(fx->next, sizeof(fx->next), "%s/master.key.next", fx->dir);
	assert_int_equal(RAND_bytes(fx->key_a, KEY_LEN), 1);
	assert_int_equal(RAND_bytes(fx->key_b, KEY_LEN), 1);
	expected_id(fx->id_a, fx->key_a);
	expected_id(fx->id_b, fx->key_b);
	write_key(fx->master, fx->key_a, 0600);
	assert_int_equal(secret_keyring_load(&fx->kr, fx->master), 0);
	*state = fx;
	return 0;
}

/* Removes a flat directory and its files. */
static void rm_dir(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	secret_keyring_free(fx->kr);
	rm_dir(fx->dir);
	free(fx);
	return 0;
}

/* 1 if the n bytes at p contain the m bytes of needle. */
static int contains(const void *p, size_t n, const void *needle, size_t m)
{
	size_t i;

	for (i = 0; m <= n && i + m <= n; i++)
		if (memcmp((const char *)p + i, needle, m) == 0)
			return 1;
	return 0;
}

static void seal_ok(struct fixture *fx, const char *name, int32_t version, const char *value,
                    struct secret_sealed *out)
{
	assert_int_equal(secret_seal(fx->kr, name, version, value, strlen(value), out), 0);
}

/* Opening must fail with OVR_ERR_CRYPTO, hand out nothing, and name the row but no bytes. */
static void assert_open_fails(struct secret_keyring *kr, const char *name, int32_t version,
                              const struct secret_sealed *in, const char *value)
{
	char *out = (char *)1;
	size_t len = 99;
	char want[64];
	const char *msg;

	assert_int_equal(secret_open(kr, name, version, in, &out, &len), OVR_ERR_CRYPTO);
	assert_null(out);
	assert_int_equal(len, 0);
	msg = ovr_err_msg(OVR_ERR_CRYPTO);
	snprintf(want, sizeof(want), "secret %s version %d", name, (int)version);
	assert_non_null(strstr(msg, want));
	assert_false(contains(msg, strlen(msg), value, strlen(value)));
}

static void assert_opens_to(struct secret_keyring *kr, const char *name, int32_t version,
                            const struct secret_sealed *in, const void *value, size_t len)
{
	char *out = NULL;
	size_t out_len = 0;

	assert_int_equal(secret_open(kr, name, version, in, &out, &out_len), 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, value, len);
	assert_int_equal(out[len], '\0');
	secret_value_free(out, out_len);
}

/* A copy of s whose buffers the test may alter. */
static void copy_sealed(struct secret_sealed *dst, const struct secret_sealed *s)
{
	*dst = *s;
	dst->wrapped_key = malloc(s->wrapped_len);
	dst->ciphertext = malloc(s->ciphertext_len);
	assert_non_null(dst->wrapped_key);
	assert_non_null(dst->ciphertext);
	memcpy(dst->wrapped_key, s->wrapped_key, s->wrapped_len);
	memcpy(dst->ciphertext, s->ciphertext, s->ciphertext_len);
}

static void test_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed s;
	const char *value = "postgres://app:hunter2@db/app";

	seal_ok(fx, "db-url", 3, value, &s);
	assert_string_equal(s.key_id, fx->id_a);
	assert_string_equal(secret_keyring_current_id(fx->kr), fx->id_a);
	/* nonce || data key || tag, and nonce || value || tag */
	assert_int_equal(s.wrapped_len, NONCE_LEN + KEY_LEN + TAG_LEN);
	assert_int_equal(s.ciphertext_len, NONCE_LEN + strlen(value) + TAG_LEN);
	assert_false(contains(s.ciphertext, s.ciphertext_len, value, strlen(value)));
	assert_false(contains(s.wrapped_key, s.wrapped_len, fx->key_a, KEY_LEN));
	assert_opens_to(fx->kr, "db-url", 3, &s, value, strlen(value));
	secret_sealed_free(&s);
	assert_null(s.ciphertext);
	assert_null(s.wrapped_key);
	/* The id outlives the buffers: a caller may still bind it as a parameter. */
	assert_string_equal(s.key_id, fx->id_a);
	secret_sealed_free(NULL);
	secret_value_free(NULL, 0);
}

static void test_same_value_seals_differently(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed a, b;

	seal_ok(fx, "x", 1, "same", &a);
	seal_ok(fx, "x", 1, "same", &b);
	assert_memory_not_equal(a.ciphertext, b.ciphertext, a.ciphertext_len);
	assert_memory_not_equal(a.wrapped_key, b.wrapped_key, a.wrapped_len);
	secret_sealed_free(&a);
	secret_sealed_free(&b);
}

static void test_value_sizes(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed s;
	unsigned char *big = malloc(SECRET_VALUE_MAX + 1);

	assert_non_null(big);
	assert_int_equal(RAND_bytes(big, SECRET_VALUE_MAX + 1), 1);
	/* Binary values with NUL bytes come back whole. */
	big[10] = '\0';
	assert_int_equal(secret_seal(fx->kr, "big", 1, big, SECRET_VALUE_MAX, &s), 0);
	assert_opens_to(fx->kr, "big", 1, &s, big, SECRET_VALUE_MAX);
	secret_sealed_free(&s);

	assert_int_equal(secret_seal(fx->kr, "one", 1, "x", 1, &s), 0);
	assert_opens_to(fx->kr, "one", 1, &s, "x", 1);
	secret_sealed_free(&s);

	assert_int_equal(secret_seal(fx->kr, "big", 1, big, SECRET_VALUE_MAX + 1, &s),
	                 OVR_ERR_INVALID);
	assert_null(s.ciphertext);
	assert_int_equal(secret_seal(fx->kr, "empty", 1, "", 0, &s), OVR_ERR_INVALID);
	assert_int_equal(secret_seal(fx->kr, "v0", 0, "x", 1, &s), OVR_ERR_INVALID);
	assert_int_equal(secret_seal(fx->kr, "", 1, "x", 1, &s), OVR_ERR_INVALID);
	free(big);
}

static void test_tampering_fails(void **state)
{
	struct fixture *fx = *state;
	const char *value = "tamper-me-not";
	struct secret_sealed s, t;
	size_t i;
	/* Byte positions to flip: nonce, body, tag, for both buffers. */
	const size_t ct_at[] = {0, NONCE_LEN + 3, NONCE_LEN + strlen(value) + TAG_LEN - 1};
	const size_t wk_at[] = {0, NONCE_LEN + 5, NONCE_LEN + KEY_LEN + TAG_LEN - 1};

	seal_ok(fx, "api-key", 2, value, &s);
	for (i = 0; i < 3; i++) {
		copy_sealed(&t, &s);
		t.ciphertext[ct_at[i]] ^= 0x01;
		assert_open_fails(fx->kr, "api-key", 2, &t, value);
		secret_sealed_free(&t);

		copy_sealed(&t, &s);
		t.wrapped_key[wk_at[i]] ^= 0x80;
		assert_open_fails(fx->kr, "api-key", 2, &t, value);
		secret_sealed_free(&t);
	}
	/* Truncated buffers. */
	copy_sealed(&t, &s);
	t.ciphertext_len = NONCE_LEN + TAG_LEN;
	assert_open_fails(fx->kr, "api-key", 2, &t, value);
	t.ciphertext_len = s.ciphertext_len;
	t.wrapped_len--;
	assert_open_fails(fx->kr, "api-key", 2, &t, value);
	secret_sealed_free(&t);

	/* The same bytes read as another row. */
	assert_open_fails(fx->kr, "api-keY", 2, &s, value);
	assert_open_fails(fx->kr, "api-key", 3, &s, value);
	assert_open_fails(fx->kr, "api-key", 1, &s, value);

	/* Another key id: one the keyring holds, one it does not, one that is not an id. */
	write_key(fx->next, fx->key_b, 0600);
	assert_int_equal(secret_keyring_refresh(fx->kr), 0);
	copy_sealed(&t, &s);
	memcpy(t.key_id, fx->id_b, sizeof(t.key_id));
	assert_open_fails(fx->kr, "api-key", 2, &t, value);
	memcpy(t.key_id, "0000000000000000", sizeof(t.key_id));
	assert_open_fails(fx->kr, "api-key", 2, &t, value);
	memcpy(t.key_id, "not-a-key-id-!!!", sizeof(t.key_id));
	assert_open_fails(fx->kr, "api-key", 2, &t, value);
	secret_sealed_free(&t);

	assert_opens_to(fx->kr, "api-key", 2, &s, value, strlen(value));
	secret_sealed_free(&s);
}

/* A ciphertext or wrapped key moved between rows of the same keyring does not open. */
static void test_moved_between_rows_fails(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed a, b, mix;

	seal_ok(fx, "alpha", 1, "value-of-alpha", &a);
	seal_ok(fx, "beta", 1, "value-of-beta", &b);
	/* beta's wrapped key (valid for beta) with alpha's ciphertext, read as either row */
	mix = a;
	mix.wrapped_key = b.wrapped_key;
	assert_open_fails(fx->kr, "alpha", 1, &mix, "value-of-alpha");
	assert_open_fails(fx->kr, "beta", 1, &mix, "value-of-alpha");
	/* the whole of alpha read as beta */
	assert_open_fails(fx->kr, "beta", 1, &a, "value-of-alpha");
	secret_sealed_free(&a);
	secret_sealed_free(&b);
}

/* The stored format, checked with OpenSSL directly: existing databases depend on it. */
static int gcm_decrypt(unsigned char *out, const unsigned char *key, const void *aad,
                       size_t aad_len, const unsigned char *in, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char tag[TAG_LEN];
	int n = 0, ok;

	memcpy(tag, in + len - TAG_LEN, TAG_LEN);
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
	     EVP_DecryptUpdate(ctx, out, &n, in + NONCE_LEN, (int)(len - NONCE_LEN - TAG_LEN)) ==
	             1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
	     EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static void test_stored_format(void **state)
{
	struct fixture *fx = *state;
	static const char wrap_aad[] = "overseer-secret-v1\0wrap\0db-pass\0"
	                               "12\0";
	static const char value_aad[] = "overseer-secret-v1\0value\0db-pass\0"
	                                "12";
	char aad[128];
	unsigned char data_key[KEY_LEN], value[32];
	struct secret_sealed s;

	seal_ok(fx, "db-pass", 12, "s3cret", &s);
	memcpy(aad, wrap_aad, sizeof(wrap_aad) - 1);
	memcpy(aad + sizeof(wrap_aad) - 1, fx->id_a, SECRET_KEY_ID_LEN);
	assert_true(gcm_decrypt(data_key, fx->key_a, aad, sizeof(wrap_aad) - 1 + SECRET_KEY_ID_LEN,
	                        s.wrapped_key, s.wrapped_len));
	assert_true(gcm_decrypt(value, data_key, value_aad, sizeof(value_aad) - 1, s.ciphertext,
	                        s.ciphertext_len));
	assert_memory_equal(value, "s3cret", 6);
	secret_sealed_free(&s);
}

static void test_rewrap(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed s, r, bad;
	struct secret_keyring *old_only = NULL;
	char dir_b[64], path_b[128];
	struct secret_keyring *new_only = NULL;

	seal_ok(fx, "token", 7, "abc123", &s);
	/* A key id the keyring does not hold is refused. */
	assert_int_equal(secret_rewrap(fx->kr, "token", 7, &s, fx->id_b, &r), OVR_ERR_INVALID);
	assert_null(r.wrapped_key);

	write_key(fx->next, fx->key_b, 0600);
	assert_int_equal(secret_keyring_refresh(fx->kr), 0);
	assert_true(secret_keyring_has(fx->kr, fx->id_b));
	/* .next does not become current: only master.key seals. */
	assert_string_equal(secret_keyring_current_id(fx->kr), fx->id_a);

	assert_int_equal(secret_rewrap(fx->kr, "token", 7, &s, fx->id_b, &r), 0);
	assert_string_equal(r.key_id, fx->id_b);
	assert_int_equal(r.ciphertext_len, s.ciphertext_len);
	assert_memory_equal(r.ciphertext, s.ciphertext, s.ciphertext_len);
	assert_memory_not_equal(r.wrapped_key, s.wrapped_key, s.wrapped_len);
	assert_opens_to(fx->kr, "token", 7, &r, "abc123", 6);

	/* Only key B: the re-wrapped row opens, the original does not. */
	strcpy(dir_b, "/tmp/ovr-secret-box-b.XXXXXX");
	assert_non_null(mkdtemp(dir_b));
	snprintf(path_b, sizeof(path_b), "%s/master.key", dir_b);
	write_key(path_b, fx->key_b, 0600);
	assert_int_equal(secret_keyring_load(&new_only, path_b), 0);
	assert_opens_to(new_only, "token", 7, &r, "abc123", 6);
	assert_open_fails(new_only, "token", 7, &s, "abc123");

	/* Only key A (the old keyring after the key files were swapped): the re-wrapped row fails.
	 */
	assert_int_equal(unlink(fx->next), 0);
	assert_int_equal(secret_keyring_load(&old_only, fx->master), 0);
	assert_open_fails(old_only, "token", 7, &r, "abc123");
	assert_opens_to(old_only, "token", 7, &s, "abc123", 6);

	/* Re-wrapping for another row's name does not open either. */
	assert_int_equal(secret_rewrap(fx->kr, "token", 8, &s, fx->id_b, &bad), OVR_ERR_CRYPTO);

	/* Without a ciphertext (what a rotation reads), only the wrapped key is produced. */
	{
		struct secret_sealed in = s, w;

		in.ciphertext = NULL;
		in.ciphertext_len = 0;
		assert_int_equal(secret_rewrap(fx->kr, "token", 7, &in, fx->id_b, &w), 0);
		assert_null(w.ciphertext);
		w.ciphertext = s.ciphertext; /* borrowed for the check */
		w.ciphertext_len = s.ciphertext_len;
		assert_opens_to(new_only, "token", 7, &w, "abc123", 6);
		w.ciphertext = NULL;
		secret_sealed_free(&w);
	}

	secret_keyring_free(old_only);
	secret_keyring_free(new_only);
	rm_dir(dir_b);
	secret_sealed_free(&s);
	secret_sealed_free(&r);
}

static void test_keyring_refuses_bad_files(void **state)
{
	struct fixture *fx = *state;
	struct secret_keyring *kr = (struct secret_keyring *)1;
	char hex[80];

	/* Readable by others. */
	write_key(fx->master, fx->key_a, 0644);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_PERMISSION);
	assert_null(kr);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_PERMISSION), "0644"));
	write_key(fx->master, fx->key_a, 0640);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_PERMISSION);

	/* Malformed: short, not hex, too long, empty. */
	memset(hex, 'a', 63);
	hex[63] = '\n';
	hex[64] = '\0';
	write_text(fx->master, hex, 0600);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_CRYPTO);
	assert_null(kr);
	memset(hex, 'a', 64);
	hex[10] = 'g';
	hex[64] = '\n';
	hex[65] = '\0';
	write_text(fx->master, hex, 0600);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_CRYPTO);
	assert_null(strstr(ovr_err_msg(OVR_ERR_CRYPTO), "aaaa"));
	memset(hex, 'a', 66);
	hex[66] = '\0';
	write_text(fx->master, hex, 0600);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_CRYPTO);
	write_text(fx->master, "", 0600);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_CRYPTO);

	/* Missing, and a bad .next next to a good master.key. */
	unlink(fx->master);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_NOT_FOUND);
	write_key(fx->master, fx->key_a, 0600);
	write_key(fx->next, fx->key_b, 0604);
	assert_int_equal(secret_keyring_load(&kr, fx->master), OVR_ERR_PERMISSION);
	write_key(fx->next, fx->key_b, 0600);
	assert_int_equal(secret_keyring_load(&kr, fx->master), 0);
	assert_string_equal(secret_keyring_current_id(kr), fx->id_a);
	assert_true(secret_keyring_has(kr, fx->id_b));
	secret_keyring_free(kr);
}

/* Another process swaps master.key: refresh (and seal, which refreshes) follow it. */
static void test_keyring_refresh(void **state)
{
	struct fixture *fx = *state;
	struct secret_sealed before, after;
	const char *id_ptr;
	char id[SECRET_KEY_ID_LEN + 1];

	seal_ok(fx, "s", 1, "under-a", &before);
	id_ptr = secret_keyring_current_id(fx->kr);
	assert_int_equal(secret_keyring_refresh(fx->kr), 0); /* nothing changed */
	assert_string_equal(secret_keyring_current_id(fx->kr), fx->id_a);

	write_key(fx->master, fx->key_b, 0600);
	assert_int_equal(secret_keyring_refresh(fx->kr), 0);
	assert_string_equal(secret_keyring_current_id(fx->kr), fx->id_b);
	/* A string handed out earlier still reads the id it was. */
	assert_string_equal(id_ptr, fx->id_a);
	/* Key A has no file any more but stays usable in this process. */
	assert_opens_to(fx->kr, "s", 1, &before, "under-a", 7);

	/* seal picks up a swap without an explicit refresh. */
	write_key(fx->master, fx->key_a, 0600);
	seal_ok(fx, "s", 2, "under-a-again", &after);
	assert_string_equal(after.key_id, fx->id_a);
	secret_sealed_free(&after);

	/* A broken file fails the refresh and leaves the keyring as it was. */
	write_key(fx->master, fx->key_b, 0644);
	assert_int_equal(secret_keyring_refresh(fx->kr), OVR_ERR_PERMISSION);
	assert_string_equal(secret_keyring_current_id(fx->kr), fx->id_a);
	assert_int_equal(secret_seal(fx->kr, "s", 3, "x", 1, &after), OVR_ERR_PERMISSION);

	/* secret_key_file_create / _id agree with the keyring. */
	assert_int_equal(secret_key_file_create(id, fx->next), 0);
	{
		struct stat st;

		assert_int_equal(stat(fx->next, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_size, 65);
	}
	{
		char again[SECRET_KEY_ID_LEN + 1];

		assert_int_equal(secret_key_file_id(again, fx->next), 0);
		assert_string_equal(again, id);
	}
	write_key(fx->master, fx->key_a, 0600);
	assert_int_equal(secret_keyring_refresh(fx->kr), 0);
	assert_true(secret_keyring_has(fx->kr, id));
	secret_sealed_free(&before);
}

/* Sealing and opening from several threads while another process keeps rotating the file. */
#define THREADS 4
#define ROUNDS  200

static void *seal_open_loop(void *arg)
{
	struct fixture *fx = arg;
	struct secret_sealed s;
	char *out;
	size_t len;
	long bad = 0;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (secret_seal(fx->kr, "race", i + 1, "value", 5, &s) != 0) {
			bad++;
			continue;
		}
		if (secret_open(fx->kr, "race", i + 1, &s, &out, &len) != 0 || len != 5)
			bad++;
		else
			secret_value_free(out, len);
		secret_sealed_free(&s);
	}
	return (void *)bad;
}

static void test_threads_during_rotation(void **state)
{
	struct fixture *fx = *state;
	pthread_t t[THREADS];
	unsigned char key[KEY_LEN];
	void *bad;
	int i;

	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, seal_open_loop, fx), 0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(RAND_bytes(key, KEY_LEN), 1);
		write_key(fx->master, key, 0600);
		usleep(1000);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_same_value_seals_differently, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_value_sizes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tampering_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_moved_between_rows_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stored_format, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rewrap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_keyring_refuses_bad_files, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_keyring_refresh, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_threads_during_rotation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
