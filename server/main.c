/* ovr-server: the control plane. Parses the command line, initialises, serves until a signal. */
#include "audit.h"
#include "auth.h"
#include "bootstrap.h"
#include "crypto.h"
#include "db.h"
#include "devpg.h"
#include "err.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "orchestrator.h"
#include "methods.h"
#include "rest.h"
#include "revoked.h"
#include "rotate_key.h"
#include "rpc.h"
#include "server.h"
#include "settings.h"
#include "strutil.h"
#include "svc_logs.h"
#include "svc_watch.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 10000

enum command { CMD_RUN, CMD_INIT, CMD_ROTATE_KEY, CMD_VERSION };

struct options {
	enum command command;
	int dev;
	int check_config;
	const char *config_file;
};

static void usage(FILE *fp, const struct config *conf)
{
	fprintf(fp,
	        "usage: ovr-server [--dev] [--config FILE] [--check-config] [settings...]\n"
	        "       ovr-server init [--config FILE] [settings...]\n"
	        "       ovr-server rotate-master-key [--dev] [--config FILE] [settings...]\n"
	        "       ovr-server version\n"
	        "\n"
	        "  --dev             run with an embedded PostgreSQL in data_dir (default "
	        "./ovr-data)\n"
	        "  --config FILE     YAML settings file (also OVR_CONFIG)\n"
	        "  --check-config    print the effective settings, or the error, and exit\n"
	        "  init              create the PKI, master key and first admin token, then exit\n"
	        "  rotate-master-key new secrets master key, every data key re-wrapped; then exit\n"
	        "\nsettings (flag, OVR_* variable, or YAML key):\n");
	config_usage(conf, fp);
}

/* Exit codes: 0 ok, 1 failure, 2 usage. */
static int parse_args(struct options *o, struct config *conf, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "init") == 0 && i == 1) {
			o->command = CMD_INIT;
		} else if (strcmp(a, "rotate-master-key") == 0 && i == 1) {
			o->command = CMD_ROTATE_KEY;
		} else if (strcmp(a, "version") == 0 && i == 1) {
			o->command = CMD_VERSION;
		} else if (strcmp(a, "--dev") == 0) {
			o->dev = 1;
		} else if (strcmp(a, "--check-config") == 0 || strcmp(a, "-n") == 0) {
			o->check_config = 1;
		} else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "ovr-server: --config needs a file\n");
				return 2;
			}
			o->config_file = argv[i];
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout, conf);
			exit(0);
		}
	}
	return 0;
}

/* Flags are applied after the file and environment, so they win. */
static int apply_flags(struct config *conf, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int err;

		if ((i == 1 && (strcmp(a, "init") == 0 || strcmp(a, "version") == 0 ||
		                strcmp(a, "rotate-master-key") == 0)) ||
		    strcmp(a, "--dev") == 0 || strcmp(a, "--check-config") == 0 ||
		    strcmp(a, "-n") == 0) {
			continue;
		}
		if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
			i++;
			continue;
		}
		err = config_set_arg(conf, argc, argv, &i);
		if (err == OVR_ERR_NOT_FOUND) {
			fprintf(stderr, "ovr-server: unknown option '%s' (see --help)\n", a);
			return 2;
		}
		if (err) {
			fprintf(stderr, "ovr-server: %s\n", ovr_err_msg(err));
			return 2;
		}
	}
	return 0;
}

static int load_settings(struct server *srv, struct options *o, int argc, char **argv)
{
	struct config *conf = &srv->conf;
	int err, rc;

	err = config_init(conf, server_options, server_options_count, &srv->settings);
	if (err) {
		fprintf(stderr, "ovr-server: %s\n", ovr_err_msg(err));
		return 1;
	}
	rc = parse_args(o, conf, argc, argv);
	if (rc)
		return rc;
	if (!o->config_file)
		o->config_file = getenv("OVR_CONFIG");
	if (o->config_file) {
		err = config_load_file(conf, o->config_file);
		if (err) {
			fprintf(stderr, "%s\n", ovr_err_msg(err));
			return 1;
		}
	}
	err = config_load_env(conf);
	if (err) {
		fprintf(stderr, "ovr-server: %s\n", ovr_err_msg(err));
		return 1;
	}
	rc = apply_flags(conf, argc, argv);
	if (rc)
		return rc;
	if (log_level_parse(srv->settings.log_level) < 0) {
		fprintf(stderr, "ovr-server: log_level: '%s' is not debug, info, warn or error\n",
		        srv->settings.log_level);
		return 1;
	}
	if (!srv->settings.data_dir)
		config_set(conf, "data_dir", o->dev ? "./ovr-data" : "/var/lib/overseer",
		           CONFIG_ORIGIN_DEFAULT);
	if (!o->dev && !srv->settings.database_url && !o->check_config &&
	    o->command != CMD_VERSION) {
		fprintf(stderr, "ovr-server: database_url is not set (flag --database-url, "
		                "OVR_DATABASE_URL or the config file), or run with --dev\n");
		return 1;
	}
	return 0;
}

/* Makes data_dir absolute, so PostgreSQL and messages see one unambiguous path. */
static int absolute_data_dir(struct server *srv)
{
	char cwd[PATH_MAX], abs[PATH_MAX];
	const char *dir = srv->settings.data_dir;

	if (dir[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return ovr_err_set(OVR_ERR_IO, "cannot read the current directory");
	if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd,
	                     strncmp(dir, "./", 2) == 0 ? dir + 2 : dir) >= sizeof(abs))
		return ovr_err_set(OVR_ERR_CONFIG, "data_dir: path too long");
	return config_set(&srv->conf, "data_dir", abs,
	                  srv->conf.sources[config_find(&srv->conf, "data_dir")].origin);
}

/* Database, schema, files, first token: everything both `init` and a start need. */
static int initialise(struct server *srv, int dev)
{
	struct db *db = NULL;
	int created = 0;
	int err;

	err = absolute_data_dir(srv);
	if (!err)
		err = server_paths_init(srv);
	if (!err)
		err = bootstrap_files(srv);
	if (err)
		return err;
	if (dev) {
		err = devpg_start(&srv->devpg, srv->settings.data_dir, srv->conninfo,
		                  sizeof(srv->conninfo));
		if (err)
			return err;
	} else {
		ovr_strlcpy(srv->conninfo, srv->settings.database_url, sizeof(srv->conninfo));
	}
	err = db_open(&db, srv->conninfo);
	if (!err)
		err = db_migrate(db);
	if (!err)
		err = bootstrap_admin_token(srv, db, &created);
	if (!err)
		err = revoked_load(db);
	db_close(db);
	return err;
}

static void print_dev_banner(struct server *srv)
{
	char host[300];
	int port;

	if (ovr_parse_hostport(host, sizeof(host), &port, srv->settings.grpc_listen) != 0)
		return;
	printf("\nOverseer is running (dev mode). To use ovrctl from this machine:\n"
	       "  export OVR_SERVER=127.0.0.1:%d\n"
	       "  export OVR_CA_FILE=%s\n"
	       "  export OVR_TOKEN=$(cat %s)\n"
	       "  ovrctl node token create --name node-1\n\n",
	       srv->grpc_port, srv->paths.ca_cert, srv->paths.admin_token);
	fflush(stdout);
}

/*
 * The hooks both transports share, counted for the metrics' database pool: the threads that hold
 * a connection, and the ones running a unary call (from authentication to its call_done).
 */
static int authenticate_counted(struct rpc_call *call, struct rpc_identity *id)
{
	metrics_call_begin(rpc_call_method(call));
	return auth_authenticate(call, id);
}

static void *worker_init_counted(void *arg)
{
	void *state = server_worker_init(arg);

	if (state)
		metrics_worker_started();
	return state;
}

static void worker_fini_counted(void *state)
{
	if (state)
		metrics_worker_stopped();
	server_worker_fini(state);
}

static int serve(struct server *srv, int dev)
{
	struct rpc_server_opts ro;
	struct rest_opts rest_o;
	struct rest *rest = NULL;
	struct orchestrator *orch = NULL;
	sigset_t set;
	int rest_port = 0;
	int sig = 0;
	int err;

	/*
	 * Requests run on worker connections opened from here on: bound every statement so a stuck
	 * query cannot hold a worker forever (an operator's own PGOPTIONS wins). Migrations, which
	 * may legitimately run long, ran before this.
	 */
	setenv("PGOPTIONS", "-c statement_timeout=30s", 0);
	metrics_init(server_methods, server_methods_count);
	memset(&ro, 0, sizeof(ro));
	ro.listen = srv->settings.grpc_listen;
	ro.cert_file = srv->paths.server_cert;
	ro.key_file = srv->paths.server_key;
	ro.ca_file = srv->paths.ca_cert;
	ro.workers = (size_t)srv->settings.workers;
	ro.methods = server_methods;
	ro.n_methods = server_methods_count;
	ro.hooks.authenticate = authenticate_counted;
	ro.hooks.invoke = audit_invoke;
	ro.hooks.verify_peer_cert = revoked_verify_cert;
	ro.hooks.worker_init = worker_init_counted;
	ro.hooks.worker_fini = worker_fini_counted;
	ro.hooks.call_done = metrics_grpc_call_done;
	err = rpc_server_start(&srv->rpc, &srv->grpc_port, &ro);
	if (err)
		return err;
	metrics_set_rpc_server(srv->rpc);
	log_info("serving gRPC on %s (port %d) instance=%s data_dir=%s", srv->settings.grpc_listen,
	         srv->grpc_port, srv->instance_id, srv->settings.data_dir);
	memset(&rest_o, 0, sizeof(rest_o));
	rest_o.cert_file = srv->paths.server_cert;
	rest_o.key_file = srv->paths.server_key;
	rest_o.methods = server_methods;
	rest_o.n_methods = server_methods_count;
	rest_o.authenticate = authenticate_counted;
	rest_o.invoke = audit_invoke;
	rest_o.worker_init = worker_init_counted;
	rest_o.worker_fini = worker_fini_counted;
	err = rest_start(&rest, &rest_port, srv->settings.rest_listen, &rest_o);
	if (err) {
		rpc_server_stop(srv->rpc, 0);
		srv->rpc = NULL;
		hub_clear();
		return err;
	}
	log_info("serving REST on %s (port %d)", srv->settings.rest_listen, rest_port);
	err = orchestrator_start(&orch, srv->conninfo);
	if (err) {
		rest_stop(rest);
		rpc_server_stop(srv->rpc, 0);
		srv->rpc = NULL;
		hub_clear();
		return err;
	}
	if (dev)
		print_dev_banner(srv);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
	log_info("received %s: shutting down (in-flight calls get %d s)", strsignal(sig),
	         SHUTDOWN_GRACE_MS / 1000);
	orchestrator_stop(orch);
	/* Watches end with "server shutting down" while their transports can still say so. */
	svc_watch_stop();
	svc_logs_stop();
	rest_stop(rest);
	metrics_set_rpc_server(NULL);
	rpc_server_stop(srv->rpc, SHUTDOWN_GRACE_MS);
	srv->rpc = NULL;
	hub_clear();
	return 0;
}

int main(int argc, char **argv)
{
	static struct server srv;
	struct options o;
	sigset_t set;
	int rc, err;

	/* Signals are taken by sigwait in main; every thread started later inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&o, 0, sizeof(o));
	log_init("ovr-server", LOG_LEVEL_INFO);
	server_set(&srv);
	rc = load_settings(&srv, &o, argc, argv);
	if (rc)
		goto out;
	rc = log_level_parse(srv.settings.log_level);
	log_set_level((enum log_level)rc);
	rc = 0;
	if (o.command == CMD_VERSION) {
		printf("ovr-server %s\n", OVR_VERSION);
		goto out;
	}
	if (o.check_config) {
		rc = config_print(&srv.conf, stdout) ? 1 : 0;
		goto out;
	}
	rpc_init_logging();
	if (crypto_random_hex(srv.instance_id, 8) != 0)
		fatalx("no randomness");

	if (o.command == CMD_ROTATE_KEY) {
		err = absolute_data_dir(&srv);
		if (!err)
			err = server_paths_init(&srv);
		if (!err)
			err = rotate_key_run(&srv, o.dev);
	} else {
		err = initialise(&srv, o.dev);
	}
	if (!err && o.command == CMD_RUN)
		err = serve(&srv, o.dev);
	if (err) {
		log_error("%s", ovr_err_msg(err));
		rc = 1;
	} else if (o.command == CMD_INIT) {
		printf("Initialised %s\n", srv.settings.data_dir);
	}
	if (srv.devpg)
		devpg_stop(srv.devpg);
	free(srv.ca_cert_pem);
	pki_pem_free(srv.ca_key_pem);
	revoked_clear();
out:
	config_free(&srv.conf);
	return rc;
}
