/* Envelope encryption of secret values (AES-256-GCM) and the keyring of master key files. */
#include "secret_box.h"

#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "strutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define KEY_LEN       32
#define NONCE_LEN     12
#define TAG_LEN       16
#define SEAL_OVERHEAD (NONCE_LEN + TAG_LEN)
#define WRAPPED_LEN   (SEAL_OVERHEAD + KEY_LEN)
#define KEY_FILE_MAX  128
#define KEYRING_MAX   64  /* keys one process keeps; a restart forgets the ones without a file */
#define NAME_MAX_LEN  255 /* AAD bound; the service validates names far tighter */
#define AAD_MAX       (64 + NAME_MAX_LEN)
#define AAD_LABEL     "overseer-secret-v1"

/* The files of a keyring, in this order; FILE_CURRENT's key seals. */
enum { FILE_CURRENT, FILE_NEXT, FILE_PREV, FILE_COUNT };
static const char *const file_suffix[FILE_COUNT] = {"", ".next", ".prev"};

struct key_slot {
	unsigned char key[KEY_LEN];
	char id[SECRET_KEY_ID_LEN + 1]; /* written once, never changed: current_id hands it out */
};

/* What a file looked like when it was read: a change of any field means a reload. */
struct file_stamp {
	int present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct secret_keyring {
	pthread_mutex_t lock;
	char path[FILE_COUNT][PATH_MAX];
	struct file_stamp stamp[FILE_COUNT];
	struct key_slot slot[KEYRING_MAX];
	size_t n;
	size_t current; /* index into slot; read without the lock by current_id (atomic) */
};

/* ---- key files ---- */

static void key_id_of(char id[SECRET_KEY_ID_LEN + 1], const unsigned char key[KEY_LEN])
{
	unsigned char md[CRYPTO_SHA256_LEN];

	crypto_sha256(md, key, KEY_LEN);
	ovr_hex_encode(id, md, SECRET_KEY_ID_LEN / 2);
}

static int key_id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < SECRET_KEY_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[SECRET_KEY_ID_LEN] == '\0';
}

static void stamp_of(struct file_stamp *st, const struct stat *sb)
{
	memset(st, 0, sizeof(*st));
	st->present = 1;
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	st->size = sb->st_size;
	st->mtime = sb->st_mtim;
}

static int stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	if (a->present != b->present)
		return 0;
	return !a->present ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	        a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec);
}

/* stat of path into st; a missing file is st->present == 0, not an error. */
static int stamp_read(struct file_stamp *st, const char *path)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) == 0) {
		stamp_of(st, &sb);
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	return ovr_err_set(OVR_ERR_IO, "%s: %s", path, strerror(errno));
}

/*
 * Reads one master key file: private to its owner, 64 hex characters and an optional newline.
 * The stamp is taken before the read, so a file replaced meanwhile only causes one more reload.
 */
static int key_file_read(unsigned char key[KEY_LEN], struct file_stamp *st, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	if ((err = stamp_read(st, path)) < 0)
		return err;
	if (!st->present)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "%s: no such file", path);
	if ((err = fs_check_private(path)) < 0)
		return err;
	if ((err = fs_read_file(&text, &len, path, KEY_FILE_MAX)) < 0)
		return err;
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len != 2 * KEY_LEN || ovr_hex_decode(key, KEY_LEN, text) < 0)
		err = ovr_err_set(OVR_ERR_CRYPTO,
		                  "%s: not a master key (64 hex characters and a newline expected)",
		                  path);
	crypto_wipe(text, len);
	free(text);
	if (err < 0)
		crypto_wipe(key, KEY_LEN);
	return err;
}

int secret_key_file_id(char id[SECRET_KEY_ID_LEN + 1], const char *path)
{
	unsigned char key[KEY_LEN];
	struct file_stamp st;
	int err;

	err = key_file_read(key, &st, path);
	if (err == 0)
		key_id_of(id, key);
	crypto_wipe(key, sizeof(key));
	return err;
}

int secret_key_file_create(char id[SECRET_KEY_ID_LEN + 1], const char *path)
{
	unsigned char key[KEY_LEN];
	char hex[2 * KEY_LEN + 2];
	int err;

	err = crypto_random(key, sizeof(key));
	if (err == 0) {
		ovr_hex_encode(hex, key, sizeof(key));
		hex[2 * KEY_LEN] = '\n';
		err = fs_write_file_atomic(path, hex, 2 * KEY_LEN + 1, 0600);
	}
	if (err == 0)
		key_id_of(id, key);
	crypto_wipe(key, sizeof(key));
	crypto_wipe(hex, sizeof(hex));
	return err;
}

/* ---- the keyring ---- */

/* The slot holding id, or -1. Called with the lock held (or before the keyring is shared). */
static int slot_find(const struct secret_keyring *kr, const char *id)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->slot[i].id, id) == 0)
			return (int)i;
	return -1;
}

/*
 * Reads every file and merges their keys into kr, all or nothing: on any failure kr is as it
 * was. Keys already loaded stay. Called with the lock held.
 */
static int keyring_read_files(struct secret_keyring *kr)
{
	unsigned char key[FILE_COUNT][KEY_LEN];
	char id[FILE_COUNT][SECRET_KEY_ID_LEN + 1];
	struct file_stamp stamp[FILE_COUNT];
	size_t i, j, added = 0;
	int err = 0, slot;

	memset(stamp, 0, sizeof(stamp));
	for (i = 0; i < FILE_COUNT && err == 0; i++) {
		err = key_file_read(key[i], &stamp[i], kr->path[i]);
		if (err == OVR_ERR_NOT_FOUND && i != FILE_CURRENT) {
			stamp[i].present = 0;
			err = 0;
		}
		if (err == 0 && stamp[i].present)
			key_id_of(id[i], key[i]);
	}
	for (i = 0; i < FILE_COUNT && err == 0; i++) {
		int seen = !stamp[i].present || slot_find(kr, id[i]) >= 0;

		for (j = 0; j < i && !seen; j++)
			seen = stamp[j].present && strcmp(id[i], id[j]) == 0;
		added += !seen;
	}
	if (err == 0 && kr->n + added > KEYRING_MAX)
		err = ovr_err_set(OVR_ERR_TOO_LARGE,
		                  "%s: more than %d master keys since this process started; "
		                  "restart it to forget the retired ones",
		                  kr->path[FILE_CURRENT], KEYRING_MAX);
	for (i = 0; i < FILE_COUNT && err == 0; i++) {
		if (!stamp[i].present)
			continue;
		slot = slot_find(kr, id[i]);
		if (slot < 0) {
			slot = (int)kr->n;
			memcpy(kr->slot[slot].key, key[i], KEY_LEN);
			memcpy(kr->slot[slot].id, id[i], sizeof(id[i]));
			kr->n++;
		}
		if (i == FILE_CURRENT)
			__atomic_store_n(&kr->current, (size_t)slot, __ATOMIC_RELEASE);
	}
	if (err == 0)
		memcpy(kr->stamp, stamp, sizeof(stamp));
	crypto_wipe(key, sizeof(key));
	return err;
}

int secret_keyring_load(struct secret_keyring **out, const char *path)
{
	struct secret_keyring *kr;
	size_t i;
	int err = 0;

	*out = NULL;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < FILE_COUNT && err == 0; i++)
		if ((size_t)snprintf(kr->path[i], sizeof(kr->path[i]), "%s%s", path,
		                     file_suffix[i]) >= sizeof(kr->path[i]))
			err = ovr_err_set(OVR_ERR_INVALID, "%s: path too long", path);
	if (err == 0)
		err = keyring_read_files(kr);
	if (err == 0 && pthread_mutex_init(&kr->lock, NULL) != 0)
		err = ovr_err_set(OVR_ERR_INTERNAL, "keyring: mutex init failed");
	if (err < 0) {
		crypto_wipe(kr, sizeof(*kr));
		free(kr);
		return err;
	}
	*out = kr;
	return 0;
}

void secret_keyring_free(struct secret_keyring *kr)
{
	if (kr == NULL)
		return;
	pthread_mutex_destroy(&kr->lock);
	crypto_wipe(kr, sizeof(*kr));
	free(kr);
}

const char *secret_keyring_current_id(const struct secret_keyring *kr)
{
	return kr->slot[__atomic_load_n(&kr->current, __ATOMIC_ACQUIRE)].id;
}

int secret_keyring_refresh(struct secret_keyring *kr)
{
	struct file_stamp now;
	size_t i;
	int err = 0, changed = 0;

	pthread_mutex_lock(&kr->lock);
	for (i = 0; i < FILE_COUNT && err == 0 && !changed; i++) {
		err = stamp_read(&now, kr->path[i]);
		changed = err == 0 && !stamp_equal(&now, &kr->stamp[i]);
	}
	if (err == 0 && changed)
		err = keyring_read_files(kr);
	pthread_mutex_unlock(&kr->lock);
	return err;
}

int secret_keyring_has(struct secret_keyring *kr, const char *key_id)
{
	int found;

	pthread_mutex_lock(&kr->lock);
	found = slot_find(kr, key_id) >= 0;
	pthread_mutex_unlock(&kr->lock);
	return found;
}

/* Copies the key with this id out of the keyring (so no lock is held while it is used). */
static int keyring_copy(unsigned char key[KEY_LEN], struct secret_keyring *kr, const char *id)
{
	int slot;

	pthread_mutex_lock(&kr->lock);
	slot = slot_find(kr, id);
	if (slot >= 0)
		memcpy(key, kr->slot[slot].key, KEY_LEN);
	pthread_mutex_unlock(&kr->lock);
	return slot >= 0;
}

/* ---- AES-256-GCM: out = nonce || ciphertext || tag ---- */

/* 0, or -1 when OpenSSL fails (the caller names what it was doing). */
static int gcm_seal(unsigned char *out, const unsigned char key[KEY_LEN], const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	ok = ctx != NULL && crypto_random(out, NONCE_LEN) == 0 &&
	     EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
	     EVP_EncryptUpdate(ctx, out + NONCE_LEN, &n, in, (int)len) == 1 && (size_t)n == len &&
	     EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + len, &n) == 1 && n == 0 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* 0, or -1 when the tag does not verify (or OpenSSL fails); out gets len - SEAL_OVERHEAD bytes,
 * wiped on failure. */
static int gcm_open(unsigned char *out, const unsigned char key[KEY_LEN], const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len)
{
	EVP_CIPHER_CTX *ctx;
	size_t ct_len;
	unsigned char tag[TAG_LEN];
	int n = 0, ok;

	if (len < SEAL_OVERHEAD)
		return -1;
	ct_len = len - SEAL_OVERHEAD;
	memcpy(tag, in + NONCE_LEN + ct_len, TAG_LEN);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
	     EVP_DecryptUpdate(ctx, out, &n, in + NONCE_LEN, (int)ct_len) == 1 &&
	     (size_t)n == ct_len &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
	     EVP_DecryptFinal_ex(ctx, out + ct_len, &n) == 1 && n == 0;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, ct_len);
	return ok ? 0 : -1;
}

/*
 * The AAD: "overseer-secret-v1\0" purpose "\0" name "\0" version [ "\0" key_id ]. Names and ids
 * hold no NUL and the version is decimal, so two different rows never share an AAD. The value's
 * AAD has no key id: a rotation re-wraps the data key without touching the value.
 */
static size_t aad_build(unsigned char *buf, const char *purpose, const char *name, int32_t version,
                        const char *key_id)
{
	char ver[16];
	const char *part[5] = {AAD_LABEL, purpose, name, ver, key_id};
	size_t i, len = 0, n;

	snprintf(ver, sizeof(ver), "%d", (int)version);
	for (i = 0; i < 5 && part[i] != NULL; i++) {
		n = strlen(part[i]);
		if (i > 0)
			buf[len++] = '\0';
		memcpy(buf + len, part[i], n);
		len += n;
	}
	return len;
}

static int check_row(const char *name, int32_t version)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return ovr_err_set(OVR_ERR_INVALID, "secret name: 1 to %d characters",
		                   NAME_MAX_LEN);
	if (version <= 0)
		return ovr_err_set(OVR_ERR_INVALID, "secret %s: version %d is not positive", name,
		                   (int)version);
	return 0;
}

/* Wraps data_key under master key key_id into out->key_id/wrapped_key. */
static int wrap_key(struct secret_keyring *kr, const char *name, int32_t version,
                    const unsigned char data_key[KEY_LEN], const char *key_id,
                    struct secret_sealed *out)
{
	unsigned char master[KEY_LEN], aad[AAD_MAX];
	size_t aad_len;
	int err = 0;

	if (!key_id_valid(key_id) || !keyring_copy(master, kr, key_id))
		return ovr_err_set(OVR_ERR_INVALID, "master key id %.16s is not loaded", key_id);
	out->wrapped_key = malloc(WRAPPED_LEN);
	if (out->wrapped_key == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	aad_len = aad_build(aad, "wrap", name, version, key_id);
	if (gcm_seal(out->wrapped_key, master, aad, aad_len, data_key, KEY_LEN) < 0) {
		err = ovr_err_set(OVR_ERR_CRYPTO,
		                  "secret %s version %d: wrapping the data key failed", name,
		                  (int)version);
		goto out;
	}
	out->wrapped_len = WRAPPED_LEN;
	memcpy(out->key_id, key_id, SECRET_KEY_ID_LEN + 1);
out:
	crypto_wipe(master, sizeof(master));
	return err;
}

/* Unwraps in's data key. An unknown key id first refreshes the keyring. */
static int unwrap_key(unsigned char data_key[KEY_LEN], struct secret_keyring *kr, const char *name,
                      int32_t version, const struct secret_sealed *in)
{
	unsigned char master[KEY_LEN], aad[AAD_MAX];
	size_t aad_len;
	int err = 0;

	if (!key_id_valid(in->key_id))
		return ovr_err_set(OVR_ERR_CRYPTO, "secret %s version %d: malformed master key id",
		                   name, (int)version);
	if (!keyring_copy(master, kr, in->key_id) &&
	    (secret_keyring_refresh(kr) < 0 || !keyring_copy(master, kr, in->key_id)))
		return ovr_err_set(OVR_ERR_CRYPTO,
		                   "secret %s version %d: sealed under master key id %s, which no "
		                   "loaded key file holds",
		                   name, (int)version, in->key_id);
	aad_len = aad_build(aad, "wrap", name, version, in->key_id);
	if (in->wrapped_key == NULL || in->wrapped_len != WRAPPED_LEN ||
	    gcm_open(data_key, master, aad, aad_len, in->wrapped_key, in->wrapped_len) < 0)
		err = ovr_err_set(OVR_ERR_CRYPTO,
		                  "secret %s version %d: the data key does not open under master "
		                  "key %s (altered, or moved from another secret or version)",
		                  name, (int)version, in->key_id);
	crypto_wipe(master, sizeof(master));
	return err;
}

void secret_sealed_free(struct secret_sealed *s)
{
	if (s == NULL)
		return;
	free(s->wrapped_key);
	free(s->ciphertext);
	s->wrapped_key = NULL;
	s->wrapped_len = 0;
	s->ciphertext = NULL;
	s->ciphertext_len = 0;
}

void secret_value_free(char *value, size_t len)
{
	if (value == NULL)
		return;
	OPENSSL_cleanse(value, len);
	free(value);
}

int secret_seal(struct secret_keyring *kr, const char *name, int32_t version, const void *value,
                size_t len, struct secret_sealed *out)
{
	unsigned char data_key[KEY_LEN], aad[AAD_MAX];
	char key_id[SECRET_KEY_ID_LEN + 1];
	size_t aad_len;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_row(name, version)) < 0)
		return err;
	if (len == 0 || len > SECRET_VALUE_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "secret %s: the value must be 1 to %d bytes",
		                   name, SECRET_VALUE_MAX);
	/* A rotation by another process must not leave new rows under a retiring key. */
	if ((err = secret_keyring_refresh(kr)) < 0)
		return err;
	ovr_strlcpy(key_id, secret_keyring_current_id(kr), sizeof(key_id));
	if ((err = crypto_random(data_key, sizeof(data_key))) < 0)
		goto out;
	out->ciphertext = malloc(len + SEAL_OVERHEAD);
	if (out->ciphertext == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	aad_len = aad_build(aad, "value", name, version, NULL);
	if (gcm_seal(out->ciphertext, data_key, aad, aad_len, value, len) < 0) {
		err = ovr_err_set(OVR_ERR_CRYPTO, "secret %s version %d: encryption failed", name,
		                  (int)version);
		goto out;
	}
	out->ciphertext_len = len + SEAL_OVERHEAD;
	err = wrap_key(kr, name, version, data_key, key_id, out);
out:
	crypto_wipe(data_key, sizeof(data_key));
	if (err < 0)
		secret_sealed_free(out);
	return err;
}

int secret_open(struct secret_keyring *kr, const char *name, int32_t version,
                const struct secret_sealed *in, char **value_out, size_t *len_out)
{
	unsigned char data_key[KEY_LEN], aad[AAD_MAX];
	unsigned char *value = NULL;
	size_t aad_len, len = 0;
	int err;

	*value_out = NULL;
	*len_out = 0;
	if ((err = check_row(name, version)) < 0)
		return err;
	if ((err = unwrap_key(data_key, kr, name, version, in)) < 0)
		return err;
	if (in->ciphertext == NULL || in->ciphertext_len <= SEAL_OVERHEAD ||
	    in->ciphertext_len > SEAL_OVERHEAD + SECRET_VALUE_MAX) {
		err = ovr_err_set(OVR_ERR_CRYPTO,
		                  "secret %s version %d: the stored value is %zu bytes", name,
		                  (int)version, in->ciphertext_len);
		goto out;
	}
	len = in->ciphertext_len - SEAL_OVERHEAD;
	value = malloc(len + 1);
	if (value == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	aad_len = aad_build(aad, "value", name, version, NULL);
	if (gcm_open(value, data_key, aad, aad_len, in->ciphertext, in->ciphertext_len) < 0) {
		err = ovr_err_set(
		        OVR_ERR_CRYPTO,
		        "secret %s version %d: the value does not open under its data key "
		        "(altered, or moved from another secret or version)",
		        name, (int)version);
		goto out;
	}
	value[len] = '\0';
	*value_out = (char *)value;
	*len_out = len;
	value = NULL;
out:
	crypto_wipe(data_key, sizeof(data_key));
	free(value); /* gcm_open wiped it */
	return err;
}

int secret_rewrap(struct secret_keyring *kr, const char *name, int32_t version,
                  const struct secret_sealed *in, const char *new_key_id, struct secret_sealed *out)
{
	unsigned char data_key[KEY_LEN];
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_row(name, version)) < 0)
		return err;
	if ((err = unwrap_key(data_key, kr, name, version, in)) < 0)
		return err;
	err = wrap_key(kr, name, version, data_key, new_key_id, out);
	if (err == 0 && in->ciphertext != NULL) {
		out->ciphertext = malloc(in->ciphertext_len);
		if (out->ciphertext == NULL)
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		else
			memcpy(out->ciphertext, in->ciphertext, in->ciphertext_len);
		out->ciphertext_len = in->ciphertext_len;
	}
	crypto_wipe(data_key, sizeof(data_key));
	if (err < 0)
		secret_sealed_free(out);
	return err;
}
