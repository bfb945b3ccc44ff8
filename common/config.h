/* Table-driven settings for ovr-server and ovr-agent: defaults < YAML file < OVR_* env < flags. */
#ifndef OVR_CONFIG_H
#define OVR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The C type written at config_option.offset inside the caller's settings struct. */
enum config_type {
	CONFIG_STRING,      /* char *, owned by the config (NULL when unset and no default) */
	CONFIG_INT,         /* int64_t */
	CONFIG_BOOL,        /* int: true/false, yes/no, 1/0 (any case) */
	CONFIG_DURATION,    /* int64_t milliseconds, written as ovr_parse_duration accepts */
	CONFIG_STRING_LIST, /* struct config_list; a YAML sequence, comma-separated in env/flags */
};

struct config_list {
	char **items; /* owned by the config */
	size_t n;
};

/*
 * One row per setting. name is the snake_case YAML key ("grpc_listen"); the flag is
 * "--grpc-listen" and the environment variable "OVR_GRPC_LISTEN". default_value is text parsed
 * like a flag value (NULL: NULL string, 0, false, empty list). min/max bound CONFIG_INT and
 * CONFIG_DURATION (in ms), inclusive; min == max == 0 means unbounded. A secret value is never
 * printed nor put in an error message.
 */
struct config_option {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *default_value;
	int64_t min, max;
	int secret;
	const char *help;
};

enum config_origin {
	CONFIG_ORIGIN_DEFAULT = 0,
	CONFIG_ORIGIN_FILE,
	CONFIG_ORIGIN_ENV,
	CONFIG_ORIGIN_FLAG,
};

/* Where an option's effective value came from. */
struct config_source {
	enum config_origin origin;
	char *file; /* CONFIG_ORIGIN_FILE: the file's path (owned) */
	int line;   /* CONFIG_ORIGIN_FILE: 1-based line of the value */
};

/*
 * A loaded configuration: the table, the caller's settings struct it fills, and one source per
 * table row (sources[i] describes table[i]; allocated by config_init, freed by config_free).
 */
struct config {
	const struct config_option *table;
	size_t n;
	void *values;
	struct config_source *sources;
};

/* Most a config file may weigh. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Binds conf to table and the settings struct values (which it zeroes at each option's offset)
 * and applies the defaults. A default that does not parse is a bug: OVR_ERR_INTERNAL. conf must
 * be released with config_free, even when this fails.
 */
int config_init(struct config *conf, const struct config_option *table, size_t n, void *values);

/*
 * Applies a YAML file whose top level is a mapping of known keys. OVR_ERR_NOT_FOUND if the file
 * does not exist (a caller with an optional default path may ignore it); every other problem
 * (unknown or duplicate key, wrong type, out of bounds, aliases, syntax, more than
 * CONFIG_FILE_MAX bytes, several documents) is OVR_ERR_CONFIG with the message
 * "path:line: message". After a failure some values may already have been applied.
 */
int config_load_file(struct config *conf, const char *path);

/* Applies the OVR_<NAME> environment variables that are set. OVR_ERR_CONFIG naming the variable. */
int config_load_env(struct config *conf);

/*
 * Sets one option from text, as a flag or environment variable would. name may be "grpc_listen",
 * "grpc-listen" or "--grpc-listen". value NULL means "true" for a CONFIG_BOOL and is an error
 * otherwise. origin is recorded as given: CONFIG_ORIGIN_FLAG for argv, CONFIG_ORIGIN_DEFAULT for
 * a default the program computes, CONFIG_ORIGIN_FILE to rewrite a value read from the file
 * (keeping its file:line). Returns OVR_ERR_NOT_FOUND (with a message) for a name not in the
 * table, so the caller can try its own flags; OVR_ERR_CONFIG naming the variable (origin
 * CONFIG_ORIGIN_ENV) or else the flag ("--grpc-port: ...") when the value is wrong, leaving the
 * current value unchanged.
 */
int config_set(struct config *conf, const char *name, const char *value, enum config_origin origin);

/*
 * For argv loops: if argv[*i] is one of the table's flags ("--name value", "--name=value", or a
 * bare "--name" for a CONFIG_BOOL), applies it as CONFIG_ORIGIN_FLAG and advances *i past the
 * value it consumed. OVR_ERR_NOT_FOUND when argv[*i] is not a table flag (nothing consumed).
 */
int config_set_arg(struct config *conf, int argc, char **argv, int *i);

/*
 * Prints the effective configuration as YAML that config_load_file accepts, each value followed
 * by a comment naming its source: "# default", "# path:line", "# env OVR_X", "# flag --x".
 * A secret that is set prints as "<redacted>". 0 or OVR_ERR_IO.
 */
int config_print(const struct config *conf, FILE *fp);

/* Prints one line per flag with its default and help, for usage messages. */
void config_usage(const struct config *conf, FILE *fp);

/* Index of the option called name (any spelling config_set accepts), or -1. */
int config_find(const struct config *conf, const char *name);

/* Frees the strings and lists in values and the sources. NULL or already freed: no-op. */
void config_free(struct config *conf);

#endif
