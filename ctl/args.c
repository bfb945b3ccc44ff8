/* Command-flag parsing for ovrctl. */
#include "args.h"

#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int args_value(int argc, char **argv, int *i, const char *flag, const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(flag);

	if (strncmp(a, flag, n) != 0)
		return 0;
	if (a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		ctl_usage_error("%s needs a value", flag);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

int args_key_value(const char *text, char *key, unsigned key_size, const char **value)
{
	const char *eq = strchr(text, '=');

	if (!eq || eq == text || (unsigned)(eq - text) >= key_size)
		return -1;
	memcpy(key, text, (size_t)(eq - text));
	key[eq - text] = '\0';
	*value = eq + 1;
	return 0;
}

int args_int64(const char *text, long long min, long long *out)
{
	char *end = NULL;
	long long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end || v < min)
		return -1;
	*out = v;
	return 0;
}
