/* Facts about this node for the hello: hostname, addresses, OS/arch, Docker and Compose versions.
 */
#ifndef OVR_HOSTINFO_H
#define OVR_HOSTINFO_H

#include <stddef.h>

#define HOSTINFO_MAX_ADDRS 16

struct hostinfo {
	char hostname[256];
	char os_arch[160];
	char addresses[HOSTINFO_MAX_ADDRS][64];
	char *address_ptrs[HOSTINFO_MAX_ADDRS];
	size_t n_addresses;
	char docker_version[64];
	char compose_version[80];
};

/* Gathers what it can; missing Docker or Compose leaves their fields "" and logs why. */
void hostinfo_collect(struct hostinfo *h, const char *docker_socket);

#endif
