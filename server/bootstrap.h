/* First-run initialisation: the PKI, the secrets master key and the first admin API token. */
#ifndef OVR_BOOTSTRAP_H
#define OVR_BOOTSTRAP_H

struct server;
struct db;

/* Creates what is missing under data_dir (CA, server certificate, master key), then loads the CA.
 */
int bootstrap_files(struct server *srv);

/*
 * Creates the first admin API token if the database has no active admin token: writes it 0600
 * to data_dir/admin.token and prints it once on stdout. *created says whether it did.
 */
int bootstrap_admin_token(struct server *srv, struct db *db, int *created);

#endif
