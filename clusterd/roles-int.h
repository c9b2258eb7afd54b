/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * roles-int.h: a role's definition (what an operator writes) — parsing and
 * validating it from JSON, and its canonical JSON form, which is what the
 * replicated database stores. Pure: no I/O, no logging.
 *
 * A role is an ordered group of resources that fails over as a unit. Its
 * resources start in order and stop in reverse order.
 */
#pragma once

#include "clusterd/placement-int.h"
#include "common/common.h"

#define ROLE_RESOURCES_MAX 32     /* resources per role */
#define ROLE_PARAMS_MAX 64        /* parameters per resource */
#define ROLE_PARAM_VALUE_MAX 1024 /* bytes of one parameter value */
#define ROLE_OWNERS_MAX 64        /* entries in preferred/possible owner lists */
#define ROLE_CLASSES_MAX 16       /* anti-affinity class names */
#define ROLE_DOC_MAX (64 * 1024)  /* canonical JSON of one role */
#define ROLES_MAX 10000           /* roles per cluster */
#define ROLE_DESCRIPTION_MAX 256

struct role_param {
        char *name;  /* owned; [a-z0-9_]; becomes OCF_RESKEY_<name> */
        char *value; /* owned */
};

struct role_resource {
        char *name;                /* owned; unique within the role */
        char *agent;               /* owned; "vm", "ipaddr", "dummy" (ours) or "ocf:PROVIDER:TYPE" */
        struct role_param *params; /* owned */
        size_t n_params;
};

struct role_def {
        char *name;           /* owned */
        char *description;    /* owned, "" when none */
        char **preferred;     /* owned strv, ordered */
        char **possible;      /* owned strv; empty = every node */
        char **anti_affinity; /* owned strv */
        enum pl_priority priority;
        uint32_t failover_threshold; /* failures within the period before the role stays failed; 0 = no limit */
        uint64_t failover_period_usec;
        uint32_t restart_threshold; /* local restarts before failing over */
        uint64_t restart_period_usec;
        enum pl_failback failback;
        uint32_t failback_start_min; /* window, minutes after midnight */
        uint32_t failback_end_min;
        uint64_t monitor_interval_usec;
        uint64_t start_timeout_usec;
        uint64_t stop_timeout_usec;
        uint64_t monitor_timeout_usec;
        struct role_resource *resources; /* owned, in start order */
        size_t n_resources;
};

void role_def_done(struct role_def *d);

/* Parses a role definition from a JSON object: the body of POST /v1/roles,
 * or a stored canonical document. Unknown keys, wrong types and bad values
 * are refused with -EINVAL and a message naming the field and the value
 * ("failover.period: '5x' is not a duration"). Omitted fields get their
 * defaults. When name is not NULL it overrides the object's "name". */
int role_def_from_json(json_object *o, const char *name, struct role_def *ret, struct err *e);

/* The canonical JSON of d (every field present, stable key order). */
json_object *role_def_to_json(const struct role_def *d);

/* Applies a partial update (the body of PATCH /v1/roles/NAME: any of the
 * top-level fields except name and resources) to d, validating it as a
 * whole. d is unchanged on error. */
int role_def_patch(struct role_def *d, json_object *patch, struct err *e);

/* Adds, replaces (same name) or removes a resource, validating. Resource
 * JSON: {"name": ..., "agent": ..., "params": {"k": "v", ...}}. */
int role_def_add_resource(struct role_def *d, json_object *resource, struct err *e);
int role_def_set_resource_params(struct role_def *d, const char *resource, json_object *params, struct err *e);
int role_def_remove_resource(struct role_def *d, const char *resource, struct err *e);

/* What the role needs of a node: the sum of its VM resources' memory (MiB)
 * and vCPUs. */
void role_def_demand(const struct role_def *d, uint64_t *ret_memory_mib, uint32_t *ret_cpus);

const char *role_priority_to_string(enum pl_priority p);
const char *role_failback_to_string(enum pl_failback f);

/* The parameter's value, or NULL. */
const char *role_resource_param(const struct role_resource *r, const char *name);
