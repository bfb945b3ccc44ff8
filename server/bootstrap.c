/* First-run initialisation: the PKI, the secrets master key and the first admin API token. */
#include "bootstrap.h"

#include "crypto.h"
#include "db.h"
#include "db_token.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "pki.h"
#include "server.h"
#include "strutil.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CA_DAYS          3650
#define SERVER_CERT_DAYS 825
#define MASTER_KEY_BYTES 32
#define PEM_MAX          (64 * 1024)

static int write_pem(const char *path, const char *pem, mode_t mode)
{
	return fs_write_file_atomic(path, pem, strlen(pem), mode);
}

static int create_ca(struct server *srv)
{
	char *cert = NULL, *key = NULL;
	int err;

	err = pki_ca_create(&cert, &key, "Overseer CA", CA_DAYS);
	if (!err)
		err = write_pem(srv->paths.ca_key, key, 0600);
	if (!err)
		err = write_pem(srv->paths.ca_cert, cert, 0644);
	if (!err)
		log_info("created the CA in %s", srv->paths.pki_dir);
	free(cert);
	pki_pem_free(key);
	return err;
}

/* SANs: loopback, this host's name, and the configured server_names. */
static int create_server_cert(struct server *srv)
{
	const struct config_list *extra = &srv->settings.server_names;
	const char *sans[64];
	char host[256] = "localhost";
	char *cert = NULL, *key = NULL;
	size_t n = 0, i;
	int err;

	gethostname(host, sizeof(host) - 1);
	sans[n++] = "localhost";
	sans[n++] = "127.0.0.1";
	sans[n++] = "::1";
	if (strcmp(host, "localhost") != 0)
		sans[n++] = host;
	if (extra->n > sizeof(sans) / sizeof(sans[0]) - n)
		return ovr_err_set(OVR_ERR_CONFIG, "server_names: at most %zu names",
		                   sizeof(sans) / sizeof(sans[0]) - n);
	for (i = 0; i < extra->n; i++)
		sans[n++] = extra->items[i];
	err = pki_server_cert_create(&cert, &key, srv->ca_cert_pem, srv->ca_key_pem, host, sans, n,
	                             SERVER_CERT_DAYS);
	if (!err)
		err = write_pem(srv->paths.server_key, key, 0600);
	if (!err)
		err = write_pem(srv->paths.server_cert, cert, 0644);
	if (!err)
		log_info("created the server certificate for %zu names in %s", n,
		         srv->paths.pki_dir);
	free(cert);
	pki_pem_free(key);
	return err;
}

static int create_master_key(struct server *srv)
{
	char hex[2 * MASTER_KEY_BYTES + 2];
	int err;

	err = crypto_random_hex(hex, MASTER_KEY_BYTES);
	if (err)
		return err;
	strcat(hex, "\n");
	err = fs_write_file_atomic(srv->paths.master_key, hex, strlen(hex), 0600);
	crypto_wipe(hex, sizeof(hex));
	if (!err)
		log_info("created the secrets master key %s", srv->paths.master_key);
	return err;
}

int bootstrap_files(struct server *srv)
{
	int err;

	/*
	 * 0755: operators need ca.crt, and the dev PostgreSQL (run as its own user) keeps its files
	 * inside. Every secret file in here is 0600 on its own and refused at load if it is not.
	 */
	err = fs_mkdir_p(srv->settings.data_dir, 0755);
	if (!err)
		err = fs_mkdir_p(srv->paths.pki_dir, 0755);
	if (!err && !fs_exists(srv->paths.ca_cert))
		err = create_ca(srv);
	if (err)
		return err;
	err = fs_read_file(&srv->ca_cert_pem, NULL, srv->paths.ca_cert, PEM_MAX);
	if (!err)
		err = pki_key_load_file(&srv->ca_key_pem, srv->paths.ca_key);
	if (!err)
		err = pki_fingerprint(srv->ca_fingerprint, srv->ca_cert_pem);
	if (!err && !fs_exists(srv->paths.server_cert))
		err = create_server_cert(srv);
	if (!err)
		err = fs_check_private(srv->paths.server_key);
	if (!err && !fs_exists(srv->paths.master_key))
		err = create_master_key(srv);
	if (!err)
		err = fs_check_private(srv->paths.master_key);
	return err;
}

int bootstrap_admin_token(struct server *srv, struct db *db, int *created)
{
	unsigned char hash[CRYPTO_SHA256_LEN];
	struct token_parts parts;
	char text[TOKEN_API_LEN + 1];
	int64_t admins = 0;
	int err;

	*created = 0;
	err = db_api_token_admins(db, &admins);
	if (err || admins > 0)
		return err;
	err = token_api_new(text, &parts, hash);
	if (err)
		return err;
	err = db_api_token_create(db, parts.id, hash, "admin", "admin", "init", 0);
	/* Another server initialising the same database at the same moment won the race. */
	if (err == OVR_ERR_EXISTS && db_api_token_admins(db, &admins) == 0 && admins > 0) {
		log_info("another server created the first admin token");
		err = 0;
		goto out;
	}
	if (err == OVR_ERR_EXISTS)
		err = ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "a token named 'admin' exists but is revoked or expired; create an "
		        "admin token with another name");
	if (!err) {
		size_t len = strlen(text);

		text[len] = '\n';
		err = fs_write_file_atomic(srv->paths.admin_token, text, len + 1, 0600);
		text[len] = '\0';
	}
	if (!err) {
		printf("Admin API token (shown once; also in %s, mode 0600):\n  %s\n",
		       srv->paths.admin_token, text);
		fflush(stdout);
		*created = 1;
	}
out:
	crypto_wipe(text, sizeof(text));
	token_parts_wipe(&parts);
	return err;
}
