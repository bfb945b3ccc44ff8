/* Command-flag parsing for ovrctl: "--name VALUE" and "--name=VALUE". */
#ifndef OVR_ARGS_H
#define OVR_ARGS_H

/*
 * If argv[*i] is flag (as "--flag V" or "--flag=V"), sets *value, advances *i past it and
 * returns 1; returns -1 (after printing a usage error) when the value is missing; 0 otherwise.
 */
int args_value(int argc, char **argv, int *i, const char *flag, const char **value);

/* Splits "key=value" into a key and value pointer (key copied into buf). 0 or -1. */
int args_key_value(const char *text, char *key, unsigned key_size, const char **value);

/* Parses a decimal integer of at least min (no sign, no trailing text) into *out. 0 or -1. */
int args_int64(const char *text, long long min, long long *out);

#endif
