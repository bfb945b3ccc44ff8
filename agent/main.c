/* ovr-agent: enrolls a node and keeps its stream to the server. */
#include "agent.h"

#include "err.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *fp, const struct config *conf)
{
	fprintf(fp, "usage: ovr-agent enroll --server HOST:PORT --token TOKEN [--state-dir DIR] "
	            "[--force]\n"
	            "       ovr-agent run [--state-dir DIR] [--config FILE] [settings...]\n"
	            "       ovr-agent renew [--state-dir DIR]   (renew the node certificate now)\n"
	            "       ovr-agent version\n"
	            "       ovr-agent --check-config [--config FILE] [settings...]\n"
	            "\nsettings (flag, OVR_* variable, or YAML key):\n");
	config_usage(conf, fp);
}

int main(int argc, char **argv)
{
	static struct agent_settings s;
	struct config conf;
	struct sigaction sa;
	const char *command = NULL, *token = NULL, *config_file = getenv("OVR_AGENT_CONFIG");
	int check = 0, force = 0, rc = 0, err, i;

	log_init("ovr-agent", LOG_LEVEL_INFO);
	err = config_init(&conf, agent_options, agent_options_count, &s);
	if (err)
		fatalx("%s", ovr_err_msg(err));
	for (i = 1; i < argc; i++)
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) &&
		    i + 1 < argc)
			config_file = argv[i + 1];
	if (config_file && (err = config_load_file(&conf, config_file)) != 0) {
		fprintf(stderr, "%s\n", ovr_err_msg(err));
		rc = 1;
		goto out;
	}
	if ((err = config_load_env(&conf)) != 0) {
		fprintf(stderr, "ovr-agent: %s\n", ovr_err_msg(err));
		rc = 1;
		goto out;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!command && a[0] != '-') {
			command = a;
		} else if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
			i++;
		} else if (strcmp(a, "--token") == 0 && i + 1 < argc) {
			token = argv[++i];
		} else if (strcmp(a, "--force") == 0) {
			force = 1;
		} else if (strcmp(a, "--check-config") == 0) {
			check = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout, &conf);
			goto out;
		} else if ((err = config_set_arg(&conf, argc, argv, &i)) != 0) {
			if (err == OVR_ERR_NOT_FOUND)
				fprintf(stderr, "ovr-agent: unknown option '%s' (see --help)\n", a);
			else
				fprintf(stderr, "ovr-agent: %s\n", ovr_err_msg(err));
			rc = 2;
			goto out;
		}
	}
	if (log_level_parse(s.log_level) < 0) {
		fprintf(stderr, "ovr-agent: log_level: '%s' is not debug, info, warn or error\n",
		        s.log_level);
		rc = 1;
		goto out;
	}
	i = log_level_parse(s.log_level);
	log_set_level((enum log_level)i);
	if (check) {
		rc = config_print(&conf, stdout) ? 1 : 0;
		goto out;
	}
	if (!command) {
		usage(stderr, &conf);
		rc = 2;
		goto out;
	}
	rpc_init_logging();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(command, "version") == 0) {
		printf("ovr-agent %s\n", OVR_VERSION);
	} else if (strcmp(command, "enroll") == 0) {
		if (!s.server || !token) {
			fprintf(stderr,
			        "ovr-agent: enroll needs --server HOST:PORT and --token TOKEN\n");
			rc = 2;
			goto out;
		}
		err = agent_enroll(&s, s.server, token, force);
		if (err) {
			log_error("enrollment failed: %s", ovr_err_msg(err));
			rc = 1;
		}
	} else if (strcmp(command, "renew") == 0) {
		struct agent_identity id;

		err = agent_identity_load(&id, s.state_dir);
		if (!err)
			err = agent_renew(&s, &id);
		agent_identity_free(&id);
		if (err) {
			log_error("renewal failed: %s", ovr_err_msg(err));
			rc = 1;
		}
	} else if (strcmp(command, "run") == 0) {
		struct agent_metrics_server *metrics = NULL;
		int port = 0;

		if (s.metrics_listen && s.metrics_listen[0]) {
			err = agent_metrics_serve(&metrics, &port, s.metrics_listen);
			if (err) {
				log_error("%s", ovr_err_msg(err));
				rc = 1;
				goto out;
			}
		}
		err = agent_run(&s, &stop_requested);
		agent_metrics_stop(metrics);
		if (err) {
			log_error("%s", ovr_err_msg(err));
			rc = 1;
		}
	} else {
		fprintf(stderr, "ovr-agent: unknown command '%s' (see --help)\n", command);
		rc = 2;
	}
out:
	config_free(&conf);
	return rc;
}
