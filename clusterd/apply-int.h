/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apply-int.h: shared by the files that apply operations to the database
 * (clusterd-apply.c, clusterd-apply-roles.c). Applying must be
 * deterministic: only the database and the operation are read.
 */
#pragma once

#include "clusterd/db-int.h"

struct apply {
        struct db *db;
        const struct op *op;
        uint64_t version;
        char origin[OP_NAME_MAX + 16]; /* origin node's name */
        struct op_result *res;
};

/* Refuses the op: it is applied as a no-op, with r and the message as its
 * result. Returns 0 (storage is fine). */
int apply_refuse(struct apply *a, int r, const char *fmt, ...) _printf_(3, 4);

/* Adds an event (id = the op's version). */
int apply_add_event(struct apply *a, const char *kind, const char *object, const char *fmt, ...) _printf_(4, 5);

/* 1 when the query (one parameter: text, or number when text is NULL)
 * returns a row, 0 when not, -errno on failure. */
int apply_exists(struct apply *a, const char *sql, const char *text, int64_t number);

/* clusterd-apply-roles.c */
int apply_role_put(struct apply *a);
int apply_role_delete(struct apply *a);
int apply_role_admin(struct apply *a);
int apply_role_place(struct apply *a);
int apply_role_status(struct apply *a);
int apply_node_props(struct apply *a);
int apply_node_pause(struct apply *a);
int apply_node_fenced(struct apply *a);
int apply_node_fence_set(struct apply *a);
