/* ovr-server's configuration table (config.h): names, defaults, bounds. */
#ifndef OVR_SETTINGS_H
#define OVR_SETTINGS_H

#include <stddef.h>

#include "config.h"

extern const struct config_option server_options[];
extern const size_t server_options_count;

#endif
