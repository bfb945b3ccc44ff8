/* Envelope encryption of secret values: per-version data keys wrapped by the master key file. */
#ifndef OVR_SECRET_BOX_H
#define OVR_SECRET_BOX_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_VALUE_MAX  (64 * 1024)
#define SECRET_KEY_ID_LEN 16 /* hex characters of a key id */

/*
 * The master keys this process can use, by id. The current key (the one in `path`) seals; every
 * loaded key opens. Keys found in path + ".next" (a rotation in progress) and path + ".prev" (the
 * key before the last rotation) are loaded too. A key once loaded stays usable until
 * secret_keyring_free, even after its file is gone, so a row sealed during a rotation stays
 * readable by the process that sealed it. All functions are thread-safe (internal mutex).
 */
struct secret_keyring;

/*
 * Loads the master key file at path and, if present, path.next and path.prev. Each must be 64
 * hex characters (an optional newline) and private to its owner (fs_check_private). *out is
 * owned by the caller: secret_keyring_free.
 */
int secret_keyring_load(struct secret_keyring **out, const char *path);

/* Wipes every key and frees kr. NULL is a no-op. */
void secret_keyring_free(struct secret_keyring *kr);

/*
 * The id of the current key: the first 16 hex characters of SHA-256 over its 32 bytes. The
 * string is owned by kr and stays valid (and unchanged) until secret_keyring_free, also after a
 * refresh makes another key current.
 */
const char *secret_keyring_current_id(const struct secret_keyring *kr);

/*
 * Re-reads the three files if any of them changed since the last load (device, inode, size,
 * mtime, or appearing/disappearing), so a running server picks up a rotation done by another
 * process without a restart. On failure the keyring stays as it was. secret_seal calls it
 * before sealing, secret_open when a key id is unknown.
 */
int secret_keyring_refresh(struct secret_keyring *kr);

/* What one secret_versions row stores. */
struct secret_sealed {
	char key_id[SECRET_KEY_ID_LEN + 1];
	unsigned char *wrapped_key; /* nonce || AES-256-GCM(master key, data key) || tag */
	size_t wrapped_len;
	unsigned char *ciphertext; /* nonce || AES-256-GCM(data key, value) || tag */
	size_t ciphertext_len;
};

/* Frees the buffers (not s) and sets them to NULL; key_id stays. NULL is a no-op. */
void secret_sealed_free(struct secret_sealed *s);

/*
 * Seals value (len bytes, 1..SECRET_VALUE_MAX) as version `version` (> 0) of secret `name` under
 * the current key, after a secret_keyring_refresh. A fresh random data key encrypts the value,
 * the master key wraps the data key, both AES-256-GCM with a random 12-byte nonce. The value's
 * AAD binds name and version; the wrapped key's AAD binds name, version and key id, so a
 * ciphertext or wrapped key moved to another row fails to open. out's buffers are the caller's:
 * secret_sealed_free (also after a failure).
 */
int secret_seal(struct secret_keyring *kr, const char *name, int32_t version, const void *value,
                size_t len, struct secret_sealed *out);

/*
 * Opens a sealed value: *value_out is malloc'd and NUL-terminated, *len_out its length; the
 * caller frees it with secret_value_free. An unknown key id first tries secret_keyring_refresh.
 * Any tampering (ciphertext, tag, nonce, wrapped key, name, version, key id) gives
 * OVR_ERR_CRYPTO with a message naming the secret and version, never key or value bytes.
 */
int secret_open(struct secret_keyring *kr, const char *name, int32_t version,
                const struct secret_sealed *in, char **value_out, size_t *len_out);

/* OPENSSL_cleanse then free. NULL is a no-op. */
void secret_value_free(char *value, size_t len);

/*
 * Re-wraps in's data key (under in->key_id) with the keyring's key new_key_id into out: key_id
 * and wrapped_key set, ciphertext copied (or left NULL when in->ciphertext is NULL: a rotation
 * reads and writes only the wrapped keys). The value is never decrypted. out is the caller's:
 * secret_sealed_free.
 */
int secret_rewrap(struct secret_keyring *kr, const char *name, int32_t version,
                  const struct secret_sealed *in, const char *new_key_id,
                  struct secret_sealed *out);

/*
 * Master key files, for `ovr-server rotate-master-key`. secret_key_file_id reads and checks a key
 * file as secret_keyring_load does and gives its id; secret_key_file_create writes 32 fresh
 * random bytes as hex to path (mode 0600, atomically, fsync'd) and gives its id.
 */
int secret_key_file_id(char id[SECRET_KEY_ID_LEN + 1], const char *path);
int secret_key_file_create(char id[SECRET_KEY_ID_LEN + 1], const char *path);

/* 1 if the keyring holds a key with this id. */
int secret_keyring_has(struct secret_keyring *kr, const char *key_id);

#endif
