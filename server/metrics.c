/*
 * ovr-server's metrics: lock-free counters indexed by the method table, gauges read from the
 * agent hub and the gRPC runtime when scraped, and the /readyz check of the schema version.
 */
#include "metrics.h"

#include "db.h"
#include "db_row.h"
#include "err.h"
#include "hub.h"
#include "log.h"
#include "overseer/v1/apps.pb-c.h"
#include "prom.h"
#include "rpc.h"
#include "strutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_CODES    (OVR_GRPC_UNAUTHENTICATED + 1)
#define N_KINDS    (OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_REMOVE + 1)
#define N_STATES   (OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_SUPERSEDED + 1)
#define FIRST_KIND OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY
#define FIRST_END  OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_SUCCEEDED
#define AGENT_PATH "/overseer.v1.AgentService/Connect"

/* Unary latency, seconds: a few ms for reads up to seconds for a deploy under load. */
static const double rpc_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
/* Deployments wait for health gates (min_healthy_time 10 s, healthy_deadline 5 min). */
static const double deploy_bounds[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};

/* Index 0 (unspecified) collects anything out of range and is shown only when non-zero. */
static const char *const kind_names[N_KINDS] = {"unknown", "deploy", "rollback", "auto_rollback",
                                                "remove"};
static const char *const state_names[N_STATES] = {"unknown", "in_progress", "succeeded",
                                                  "failed",  "rolled_back", "superseded"};
static const char *const transport_names[METRICS_TRANSPORTS] = {"grpc", "rest"};

static const struct rpc_method *methods;
static size_t n_methods;
static atomic_uint_fast64_t requests[METRICS_MAX_METHODS][METRICS_TRANSPORTS][N_CODES];
static struct prom_histogram latency[METRICS_MAX_METHODS][METRICS_TRANSPORTS];
static atomic_uint_fast64_t deploys_started[N_KINDS];
static atomic_uint_fast64_t deploys_ended[N_KINDS][N_STATES];
static struct prom_histogram deploy_duration[N_STATES];
static atomic_int workers, busy;
static _Thread_local int busy_here;
static _Atomic(struct rpc_server *) rpc_srv;
static double start_time_s;

void metrics_init(const struct rpc_method *table, size_t n)
{
	int64_t now_ms = ovr_now_ms();
	size_t i, t;

	methods = table;
	n_methods = n > METRICS_MAX_METHODS ? METRICS_MAX_METHODS : n;
	if (n > METRICS_MAX_METHODS)
		log_warnx("metrics: %zu methods, only the first %d are counted", n,
		          METRICS_MAX_METHODS);
	for (i = 0; i < METRICS_MAX_METHODS; i++)
		for (t = 0; t < METRICS_TRANSPORTS; t++)
			prom_histogram_init(&latency[i][t], rpc_bounds,
			                    sizeof(rpc_bounds) / sizeof(rpc_bounds[0]));
	for (i = 0; i < N_STATES; i++)
		prom_histogram_init(&deploy_duration[i], deploy_bounds,
		                    sizeof(deploy_bounds) / sizeof(deploy_bounds[0]));
	start_time_s = (double)now_ms / 1000.0;
}

void metrics_set_rpc_server(struct rpc_server *rpc)
{
	atomic_store(&rpc_srv, rpc);
}

/* m's row in the table, or -1 (not ours, or past METRICS_MAX_METHODS). */
static int method_index(const struct rpc_method *m)
{
	uintptr_t p = (uintptr_t)m, base = (uintptr_t)methods;

	if (!methods || p < base || p >= base + n_methods * sizeof(*m))
		return -1;
	return (int)((p - base) / sizeof(*m));
}

void metrics_rpc_done(const struct rpc_method *m, int grpc_code, int64_t micros,
                      enum metrics_transport t)
{
	int i = method_index(m);

	if (busy_here) {
		busy_here = 0;
		atomic_fetch_sub(&busy, 1);
	}
	if (i < 0 || (unsigned)t >= METRICS_TRANSPORTS)
		return;
	if (grpc_code < 0 || grpc_code >= N_CODES)
		grpc_code = OVR_GRPC_UNKNOWN;
	atomic_fetch_add_explicit(&requests[i][t][grpc_code], 1, memory_order_relaxed);
	if (m->kind == RPC_UNARY)
		prom_histogram_observe_us(&latency[i][t], micros);
}

int64_t metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void metrics_grpc_call_done(const struct rpc_method *m, int grpc_code, int64_t micros, void *arg)
{
	(void)arg;
	metrics_rpc_done(m, grpc_code, micros, METRICS_GRPC);
}

void metrics_call_begin(const struct rpc_method *m)
{
	if (!m || m->kind != RPC_UNARY || busy_here)
		return;
	busy_here = 1;
	atomic_fetch_add(&busy, 1);
}

void metrics_worker_started(void)
{
	atomic_fetch_add(&workers, 1);
}

void metrics_worker_stopped(void)
{
	atomic_fetch_sub(&workers, 1);
}

void metrics_deploy_started(int kind)
{
	if (kind < 0 || kind >= N_KINDS)
		kind = 0;
	atomic_fetch_add_explicit(&deploys_started[kind], 1, memory_order_relaxed);
}

void metrics_deploy_ended(int kind, int state, double seconds)
{
	if (kind < 0 || kind >= N_KINDS)
		kind = 0;
	if (state < 0 || state >= N_STATES)
		state = 0;
	atomic_fetch_add_explicit(&deploys_ended[kind][state], 1, memory_order_relaxed);
	prom_histogram_observe_us(&deploy_duration[state],
	                          seconds > 0 ? (int64_t)(seconds * 1e6) : 0);
}

/* ------------------------------------------------------------------ rendering */

static uint64_t load(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_rpc(struct prom_text *t)
{
	struct prom_label l[3];
	size_t i, tr;
	int code;

	prom_family(t, "ovr_rpc_requests_total", "counter",
	            "Calls that ended (unary and streams), gRPC and REST, by method and gRPC code. "
	            "Series appear on first use.");
	for (i = 0; i < n_methods; i++)
		for (tr = 0; tr < METRICS_TRANSPORTS; tr++)
			for (code = 0; code < N_CODES; code++) {
				uint64_t v = load(&requests[i][tr][code]);

				if (!v)
					continue;
				l[0] = (struct prom_label){"method", methods[i].path + 1};
				l[1] = (struct prom_label){"code", ovr_grpc_code_name(code)};
				l[2] = (struct prom_label){"transport", transport_names[tr]};
				prom_sample_u64(t, "ovr_rpc_requests_total", l, 3, v);
			}
	prom_family(t, "ovr_rpc_duration_seconds", "histogram",
	            "Latency of unary calls from arrival to reply, by method and transport.");
	for (i = 0; i < n_methods; i++)
		for (tr = 0; tr < METRICS_TRANSPORTS; tr++) {
			const struct prom_histogram *h = &latency[i][tr];
			uint64_t n = 0;
			size_t b;

			for (b = 0; b <= h->n_bounds; b++)
				n += load(&h->counts[b]);
			if (!n)
				continue;
			l[0] = (struct prom_label){"method", methods[i].path + 1};
			l[1] = (struct prom_label){"transport", transport_names[tr]};
			prom_histogram_write(t, "ovr_rpc_duration_seconds", l, 2, h);
		}
}

static void render_deploys(struct prom_text *t)
{
	struct prom_label l[2];
	int k, s;

	prom_family(t, "ovr_deployments_started_total", "counter",
	            "Deployments created by this server, by kind.");
	for (k = 0; k < N_KINDS; k++) {
		uint64_t v = load(&deploys_started[k]);

		if (k < FIRST_KIND && !v)
			continue;
		l[0] = (struct prom_label){"kind", kind_names[k]};
		prom_sample_u64(t, "ovr_deployments_started_total", l, 1, v);
	}
	prom_family(t, "ovr_deployments_finished_total", "counter",
	            "Deployments that ended on this server, by kind and outcome.");
	for (k = 0; k < N_KINDS; k++)
		for (s = 0; s < N_STATES; s++) {
			uint64_t v = load(&deploys_ended[k][s]);

			if ((k < FIRST_KIND || s < FIRST_END) && !v)
				continue;
			l[0] = (struct prom_label){"kind", kind_names[k]};
			l[1] = (struct prom_label){"outcome", state_names[s]};
			prom_sample_u64(t, "ovr_deployments_finished_total", l, 2, v);
		}
	prom_family(t, "ovr_deployment_duration_seconds", "histogram",
	            "Time from a deployment's creation to its end, by outcome.");
	for (s = FIRST_END; s < N_STATES; s++) {
		l[0] = (struct prom_label){"outcome", state_names[s]};
		prom_histogram_write(t, "ovr_deployment_duration_seconds", l, 1,
		                     &deploy_duration[s]);
	}
}

static void render_gauges(struct prom_text *t)
{
	struct rpc_server *rpc = atomic_load(&rpc_srv);
	size_t sum = 0, max = 0;

	if (rpc)
		rpc_server_stream_queues(rpc, AGENT_PATH, &sum, &max);
	prom_family(t, "ovr_agents_connected", "gauge",
	            "Agents whose stream is connected to this server.");
	prom_sample_u64(t, "ovr_agents_connected", NULL, 0, hub_count());
	prom_family(t, "ovr_agent_stream_queue_messages", "gauge",
	            "Messages waiting to be written to agent streams, summed over the streams.");
	prom_sample_u64(t, "ovr_agent_stream_queue_messages", NULL, 0, sum);
	prom_family(t, "ovr_agent_stream_queue_max_messages", "gauge",
	            "Messages waiting on the fullest agent stream.");
	prom_sample_u64(t, "ovr_agent_stream_queue_max_messages", NULL, 0, max);
	prom_family(t, "ovr_db_pool_workers", "gauge",
	            "Threads holding a database connection (gRPC workers and REST threads).");
	prom_sample(t, "ovr_db_pool_workers", NULL, 0, atomic_load(&workers));
	prom_family(t, "ovr_db_pool_busy_workers", "gauge",
	            "Of those, the ones running a unary call now.");
	prom_sample(t, "ovr_db_pool_busy_workers", NULL, 0, atomic_load(&busy));
	prom_family(t, "process_start_time_seconds", "gauge",
	            "Start time of the process since the Unix epoch in seconds.");
	prom_sample(t, "process_start_time_seconds", NULL, 0, start_time_s);
}

char *metrics_render(size_t *len)
{
	struct prom_text t;

	memset(&t, 0, sizeof(t));
	render_gauges(&t);
	render_rpc(&t);
	render_deploys(&t);
	return prom_text_finish(&t, len);
}

/* ------------------------------------------------------------------ readiness */

int metrics_ready(struct db *db)
{
	int latest = db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
	PGresult *res;
	char why[512];
	int version, err;

	if (!db)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "no database connection");
	/* Answers only when the database does: it is the SELECT 1 too. */
	res = db_query(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
	if (!res) {
		err = db_last_error(db);
		ovr_strlcpy(why, ovr_err_msg(err), sizeof(why));
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "%s: %s",
		                   err == OVR_ERR_UNAVAILABLE || err == OVR_ERR_TIMEOUT
		                           ? "database unavailable"
		                           : "cannot read the schema version",
		                   why);
	}
	version = db_cell_int(res, 0, 0);
	PQclear(res);
	if (version != latest)
		return ovr_err_set(OVR_ERR_UNAVAILABLE,
		                   "database schema is at migration %d, this server needs %d",
		                   version, latest);
	return 0;
}
