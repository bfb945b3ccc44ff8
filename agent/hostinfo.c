/* Facts about this node for the hello. */
#include "hostinfo.h"

#include "compose.h"
#include "docker_api.h"
#include "err.h"
#include "log.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void collect_addresses(struct hostinfo *h)
{
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i && h->n_addresses < HOSTINFO_MAX_ADDRS; i = i->ifa_next) {
		const void *addr;
		char buf[INET6_ADDRSTRLEN];

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			addr = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			addr = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(i->ifa_addr->sa_family, addr, buf, sizeof(buf)) ||
		    strncmp(buf, "fe80", 4) == 0)
			continue;
		ovr_strlcpy(h->addresses[h->n_addresses], buf, sizeof(h->addresses[0]));
		h->address_ptrs[h->n_addresses] = h->addresses[h->n_addresses];
		h->n_addresses++;
	}
	freeifaddrs(ifs);
}

void hostinfo_collect(struct hostinfo *h, const char *docker_socket)
{
	struct docker_api_opts o;
	struct docker_api *api = NULL;
	struct compose_cli cli;
	struct utsname u;

	memset(h, 0, sizeof(*h));
	gethostname(h->hostname, sizeof(h->hostname) - 1);
	if (uname(&u) == 0)
		snprintf(h->os_arch, sizeof(h->os_arch), "%s/%s", u.sysname, u.machine);
	collect_addresses(h);
	memset(&o, 0, sizeof(o));
	o.socket_path = docker_socket;
	o.timeout_ms = 5000;
	if (docker_api_new(&api, &o) == 0 &&
	    docker_api_version(api, h->docker_version, sizeof(h->docker_version)) != 0)
		log_warnx("docker engine: %s", ovr_err_msg(OVR_ERR_UNAVAILABLE));
	docker_api_free(api);
	if (compose_detect(&cli) == 0)
		snprintf(h->compose_version, sizeof(h->compose_version), "%s (%s)", cli.version,
		         cli.v2 ? "v2" : "v1");
	else
		log_warnx("compose: %s", ovr_err_msg(OVR_ERR_NOT_FOUND));
}
