/* ovrctl's health and rollout flags for app create and app update. */
#include "appsettings.h"

#include "args.h"
#include "strutil.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The same bounds as the server's, so a typo gets a usage error before any call. */
#define ROLLOUT_MAX 10000

int settings_target_arg(struct settings_targets *t, const struct ctl *ctl, int argc, char **argv,
                        int *i)
{
	const char *v;
	int r;

	if ((r = args_value(argc, argv, i, "--target", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		if (t->n_nodes >= SETTINGS_TARGETS_MAX) {
			ctl_usage(ctl, "--target: at most %d nodes", SETTINGS_TARGETS_MAX);
			return -1;
		}
		t->nodes[t->n_nodes++] = (char *)(uintptr_t)v;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "--selector", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		t->selector = v;
		return 1;
	}
	return 0;
}

Overseer__V1__Targets *settings_targets_fill(Overseer__V1__Targets *out,
                                             const struct settings_targets *t)
{
	if (!t->n_nodes && !t->selector)
		return NULL;
	overseer__v1__targets__init(out);
	out->n_nodes = t->n_nodes;
	out->nodes = (char **)(uintptr_t)t->nodes;
	out->selector = (char *)(uintptr_t)(t->selector ? t->selector : "");
	return out;
}

void settings_args_init(struct settings_args *s)
{
	s->given = 0;
	s->min_healthy_ms = -1;
	s->deadline_ms = -1;
	s->auto_rollback = -1;
	s->strategy = -1;
	s->max_parallel = -1;
	s->max_failures = -1;
}

static int duration_arg(const struct ctl *ctl, const char *flag, const char *v, int64_t *out)
{
	if (ovr_parse_duration(out, v) != 0 || *out < 0) {
		ctl_usage(ctl, "%s: '%s' is not a duration (e.g. 10s, 5m)", flag, v);
		return -1;
	}
	return 1;
}

static int count_arg(const struct ctl *ctl, const char *flag, const char *v, long long min,
                     int *out)
{
	long long n;

	if (args_int64(v, min, &n) != 0 || n > ROLLOUT_MAX) {
		ctl_usage(ctl, "%s: '%s' is not a number from %lld to %d", flag, v, min,
		          ROLLOUT_MAX);
		return -1;
	}
	*out = (int)n;
	return 1;
}

static int strategy_arg(const struct ctl *ctl, const char *v, int *out)
{
	if (strcmp(v, "all-at-once") == 0 || strcmp(v, "all_at_once") == 0) {
		*out = OVERSEER__V1__STRATEGY__STRATEGY_ALL_AT_ONCE;
		return 1;
	}
	if (strcmp(v, "rolling") == 0) {
		*out = OVERSEER__V1__STRATEGY__STRATEGY_ROLLING;
		return 1;
	}
	ctl_usage(ctl, "--strategy: '%s' is not all-at-once or rolling", v);
	return -1;
}

int settings_arg(struct settings_args *s, const struct ctl *ctl, int argc, char **argv, int *i)
{
	const char *flag = argv[*i], *v;
	int r;

	if (strcmp(flag, "--auto-rollback=true") == 0 || strcmp(flag, "--auto-rollback") == 0 ||
	    strcmp(flag, "--auto-rollback=false") == 0) {
		s->auto_rollback = strcmp(flag, "--auto-rollback=false") != 0;
		s->given = 1;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "--min-healthy-time", &v)) > 0)
		r = duration_arg(ctl, "--min-healthy-time", v, &s->min_healthy_ms);
	else if (!r && (r = args_value(argc, argv, i, "--healthy-deadline", &v)) > 0)
		r = duration_arg(ctl, "--healthy-deadline", v, &s->deadline_ms);
	else if (!r && (r = args_value(argc, argv, i, "--strategy", &v)) > 0)
		r = strategy_arg(ctl, v, &s->strategy);
	else if (!r && (r = args_value(argc, argv, i, "--max-parallel", &v)) > 0)
		r = count_arg(ctl, "--max-parallel", v, 1, &s->max_parallel);
	else if (!r && (r = args_value(argc, argv, i, "--max-failures", &v)) > 0)
		r = count_arg(ctl, "--max-failures", v, 0, &s->max_failures);
	else if (r < 0)
		ctl_usage_line(ctl); /* a flag without its value */
	if (r > 0)
		s->given = 1;
	return r;
}

void settings_fill(Overseer__V1__HealthSettings *health, Overseer__V1__RolloutSettings *rollout,
                   const Overseer__V1__App *base, const struct settings_args *s)
{
	overseer__v1__health_settings__init(health);
	overseer__v1__rollout_settings__init(rollout);
	if (base && base->health)
		*health = *base->health;
	if (base && base->rollout)
		*rollout = *base->rollout;
	/* The copies point at base's unknown fields, if any: never send those back. */
	health->base.n_unknown_fields = 0;
	health->base.unknown_fields = NULL;
	rollout->base.n_unknown_fields = 0;
	rollout->base.unknown_fields = NULL;
	if (s->min_healthy_ms >= 0)
		health->min_healthy_time_ms = s->min_healthy_ms;
	if (s->deadline_ms >= 0)
		health->healthy_deadline_ms = s->deadline_ms;
	if (s->auto_rollback >= 0)
		health->auto_rollback_disabled = !s->auto_rollback;
	if (s->strategy >= 0)
		rollout->strategy = s->strategy;
	if (s->max_parallel >= 0)
		rollout->max_parallel = s->max_parallel;
	if (s->max_failures >= 0)
		rollout->max_failures = s->max_failures;
}

const char *settings_describe(char *buf, size_t size, const Overseer__V1__App *app)
{
	const Overseer__V1__HealthSettings *h = app->health;
	const Overseer__V1__RolloutSettings *r = app->rollout;
	char min[32] = "-", deadline[32] = "-", rollout[96] = "all at once";

	if (h) {
		ovr_format_duration(min, sizeof(min), h->min_healthy_time_ms);
		ovr_format_duration(deadline, sizeof(deadline), h->healthy_deadline_ms);
	}
	if (r && r->strategy == OVERSEER__V1__STRATEGY__STRATEGY_ROLLING)
		snprintf(rollout, sizeof(rollout), "rolling, %d node(s) at a time",
		         r->max_parallel);
	snprintf(buf, size,
	         "healthy for %s within %s, auto-rollback %s; rollout %s, %d failed node(s) "
	         "tolerated",
	         min, deadline, h && h->auto_rollback_disabled ? "off" : "on", rollout,
	         r ? r->max_failures : 0);
	return buf;
}
