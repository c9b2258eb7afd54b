/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-snapshot.c: the whole replicated state as one byte string, for
 * bringing a member that is behind up to the sync winner's state.
 *
 *   u32 magic "CLDS" | u32 schema | u64 epoch | u64 version | u64 hash
 *   u32 table count, then per table:
 *     str name | u32 columns | u64 rows | rows of typed values
 *   value: u8 type (0 null, 1 integer, 2 real, 3 text, 4 blob)
 *          integer/real: 8 bytes; text/blob: u32 length + bytes
 *
 * Tables travel in a fixed order and are checked on arrival against the
 * installed schema, so a snapshot from a node with another schema is
 * refused rather than half-applied.
 */
#include <math.h>
#include <sqlite3.h>

#include "clusterd/db-int.h"

#define SNAPSHOT_MAGIC UINT32_C(0x53444c43) /* "CLDS" */
#define SNAPSHOT_VALUE_MAX (16u * 1024 * 1024)

/* Every replicated table. The position row is local and travels in the
 * header instead. */
static const char *const tables[] = { "meta",    "nodes",    "settings", "events",    "api_tokens",
                                      "origins", "refusals", "roles",    "node_props" };

enum {
        V_NULL = 0,
        V_INTEGER = 1,
        V_REAL = 2,
        V_TEXT = 3,
        V_BLOB = 4,
};

static int dump_table(struct db *db, struct msg_buf *b, const char *table) {
        _cleanup_free_ char *sql = xasprintf("SELECT * FROM %s ORDER BY rowid", table);
        sqlite3_stmt *st;
        uint64_t rows = 0;
        size_t rows_at;
        int rc, ncols;

        rc = sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(db, rc);
        ncols = sqlite3_column_count(st);
        msg_buf_put_str(b, table, strlen(table));
        msg_buf_put_le(b, (uint64_t)ncols, 4);
        rows_at = b->size;
        msg_buf_put_le(b, 0, 8); /* row count, filled in below */

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                for (int c = 0; c < ncols; c++) {
                        double d;
                        uint64_t u;
                        switch (sqlite3_column_type(st, c)) {
                        case SQLITE_INTEGER:
                                msg_buf_put_le(b, V_INTEGER, 1);
                                msg_buf_put_le(b, (uint64_t)sqlite3_column_int64(st, c), 8);
                                break;
                        case SQLITE_FLOAT:
                                d = sqlite3_column_double(st, c);
                                memcpy(&u, &d, sizeof(u));
                                msg_buf_put_le(b, V_REAL, 1);
                                msg_buf_put_le(b, u, 8);
                                break;
                        case SQLITE_TEXT:
                                msg_buf_put_le(b, V_TEXT, 1);
                                msg_buf_put_str(b, (const char *)sqlite3_column_text(st, c),
                                                (size_t)sqlite3_column_bytes(st, c));
                                break;
                        case SQLITE_BLOB:
                                msg_buf_put_le(b, V_BLOB, 1);
                                msg_buf_put_str(b, sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c));
                                break;
                        default:
                                msg_buf_put_le(b, V_NULL, 1);
                                break;
                        }
                }
                rows++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_errno(db, rc);
        for (size_t i = 0; i < 8; i++)
                b->data[rows_at + i] = (uint8_t)(rows >> (8 * i));
        return 0;
}

int db_snapshot_create(struct db *db, void **ret, size_t *ret_size, struct err *e) {
        const struct db_position *pos = db_position(db);
        struct msg_buf b = {};
        bool own = !db_in_transaction(db);
        int r = 0;

        /* One read transaction makes the tables consistent with each other
         * and with the position. */
        if (own && (r = db_begin(db)) < 0)
                return err_set(e, r, "cannot start a transaction: %s", db_last_error(db));

        msg_buf_put_le(&b, SNAPSHOT_MAGIC, 4);
        msg_buf_put_le(&b, DB_SCHEMA_VERSION, 4);
        msg_buf_put_le(&b, pos->epoch, 8);
        msg_buf_put_le(&b, pos->version, 8);
        msg_buf_put_le(&b, pos->hash, 8);
        msg_buf_put_le(&b, ELEMENTSOF(tables), 4);
        for (size_t i = 0; i < ELEMENTSOF(tables) && r >= 0; i++)
                r = dump_table(db, &b, tables[i]);
        if (own)
                db_rollback(db);
        if (r < 0) {
                msg_buf_done(&b);
                return err_set(e, r, "cannot read the database: %s", db_last_error(db));
        }
        *ret = b.data;
        *ret_size = b.size;
        return 0;
}

/* The live table's column count, and which of its columns (bit i = column
 * i) belong to the primary key. SQLite lets a TEXT PRIMARY KEY hold NULL
 * (and gives a NULL INTEGER PRIMARY KEY a fresh rowid), but every reader
 * relies on keys being there, so a snapshot may not carry NULL keys. */
static int table_columns(struct db *db, const char *table, int *ret, uint64_t *ret_keys) {
        _cleanup_free_ char *sql = xasprintf("PRAGMA table_info(%s)", table);
        sqlite3_stmt *st;
        uint64_t keys = 0;
        int n = 0;
        int rc = sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(db, rc);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sqlite3_column_int(st, 5) > 0 && n < 64)
                        keys |= UINT64_C(1) << n;
                n++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_errno(db, rc);
        *ret = n;
        *ret_keys = keys;
        return 0;
}

static int bind_value(struct msg_reader *rd, sqlite3_stmt *st, int col, bool key) {
        uint64_t type = 0, u = 0;
        const uint8_t *p = NULL;
        size_t n = 0;
        double d;
        int r;

        rd->what = "value type";
        if ((r = msg_read_le(rd, 1, &type)) < 0)
                return r;
        rd->what = "value";
        switch (type) {
        case V_NULL:
                if (key)
                        return err_set(rd->e, -EBADMSG, "key column %d is NULL", col);
                sqlite3_bind_null(st, col);
                return 0;
        case V_INTEGER:
                if ((r = msg_read_le(rd, 8, &u)) < 0)
                        return r;
                sqlite3_bind_int64(st, col, (sqlite3_int64)u);
                return 0;
        case V_REAL:
                if ((r = msg_read_le(rd, 8, &u)) < 0)
                        return r;
                memcpy(&d, &u, sizeof(d));
                /* SQLite stores no NaN (it binds one as NULL), so no dump
                 * holds one; letting it through would put a NULL where the
                 * key check above does not look. */
                if (isnan(d))
                        return err_set(rd->e, -EBADMSG, "value is not a number (NaN)");
                sqlite3_bind_double(st, col, d);
                return 0;
        case V_TEXT:
        case V_BLOB:
                if ((r = msg_read_blob(rd, SNAPSHOT_VALUE_MAX, &p, &n)) < 0)
                        return r;
                if (type == V_TEXT)
                        sqlite3_bind_text(st, col, (const char *)p, (int)n, SQLITE_STATIC);
                else
                        sqlite3_bind_blob(st, col, p, (int)n, SQLITE_STATIC);
                return 0;
        default:
                return err_set(rd->e, -EBADMSG, "unknown value type %" PRIu64, type);
        }
}

static int load_table(struct db *db, struct msg_reader *rd, const char *expected) {
        _cleanup_free_ char *del = NULL, *ins = NULL;
        const uint8_t *name = NULL;
        size_t name_len = 0;
        uint64_t ncols = 0, nrows = 0, keys = 0;
        sqlite3_stmt *st = NULL;
        int live_cols = 0, rc, r;

        rd->what = "table name";
        if ((r = msg_read_blob(rd, 64, &name, &name_len)) < 0)
                return r;
        if (name_len != strlen(expected) || memcmp(name, expected, name_len) != 0)
                return err_set(rd->e, -EBADMSG, "expected table '%s', found '%.*s'", expected, (int)name_len,
                               (const char *)name);
        rd->what = "column count";
        if ((r = msg_read_le(rd, 4, &ncols)) < 0)
                return r;
        rd->what = "row count";
        if ((r = msg_read_le(rd, 8, &nrows)) < 0)
                return r;
        if ((r = table_columns(db, expected, &live_cols, &keys)) < 0)
                return err_set(rd->e, r, "table '%s': %s", expected, db_last_error(db));
        if (ncols != (uint64_t)live_cols)
                return err_set(rd->e, -EBADMSG, "table '%s' has %" PRIu64 " columns in the snapshot but %d here",
                               expected, ncols, live_cols);

        del = xasprintf("DELETE FROM %s", expected);
        /* db_errno() records the message: call it before db_last_error(). */
        if ((rc = sqlite3_exec(db_sqlite(db), del, NULL, NULL, NULL)) != SQLITE_OK) {
                r = db_errno(db, rc);
                return err_set(rd->e, r, "table '%s': %s", expected, db_last_error(db));
        }

        /* ncols is at most the live table's column count, checked above. */
        size_t off;
        ins = xmalloc(strlen(expected) + 32 + 3 * (size_t)ncols);
        off = (size_t)sprintf(ins, "INSERT INTO %s VALUES (?", expected);
        for (uint64_t c = 1; c < ncols; c++)
                off += (size_t)sprintf(ins + off, ", ?");
        strcpy(ins + off, ")");
        if ((rc = sqlite3_prepare_v2(db_sqlite(db), ins, -1, &st, NULL)) != SQLITE_OK) {
                r = db_errno(db, rc);
                return err_set(rd->e, r, "table '%s': %s", expected, db_last_error(db));
        }
        for (uint64_t row = 0; row < nrows; row++) {
                for (uint64_t c = 0; c < ncols; c++)
                        if ((r = bind_value(rd, st, (int)c + 1, c < 64 && (keys >> c & 1))) < 0) {
                                err_set(rd->e, r, "table '%s' row %" PRIu64, expected, row);
                                goto out;
                        }
                rc = sqlite3_step(st);
                if (rc != SQLITE_DONE) {
                        /* A row the schema rejects (a duplicate key, NULL in
                         * a NOT NULL column, text in an integer key) is a
                         * malformed snapshot, not a storage failure. */
                        r = db_errno(db, rc);
                        if ((rc & 0xff) == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_MISMATCH ||
                            (rc & 0xff) == SQLITE_TOOBIG)
                                r = -EBADMSG;
                        r = err_set(rd->e, r, "table '%s' row %" PRIu64 ": %s", expected, row, db_last_error(db));
                        goto out;
                }
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
        }
        r = 0;
out:
        sqlite3_finalize(st);
        return r;
}

int db_snapshot_install(struct db *db, const void *data, size_t size, struct err *e) {
        struct msg_reader rd = { data, size, "header", e };
        uint64_t magic = 0, schema = 0, ntables = 0;
        struct db_position pos = {};
        int r;

        if ((r = msg_read_le(&rd, 4, &magic)) < 0 || (r = msg_read_le(&rd, 4, &schema)) < 0 ||
            (r = msg_read_le(&rd, 8, &pos.epoch)) < 0 || (r = msg_read_le(&rd, 8, &pos.version)) < 0 ||
            (r = msg_read_le(&rd, 8, &pos.hash)) < 0 || (r = msg_read_le(&rd, 4, &ntables)) < 0)
                return err_set(e, -EBADMSG, "snapshot header");
        if (magic != SNAPSHOT_MAGIC)
                return err_set(e, -EBADMSG, "not a snapshot (bad magic)");
        if (schema != DB_SCHEMA_VERSION)
                return err_set(e, -EBADMSG, "snapshot has schema version %" PRIu64 ", this node has %d", schema,
                               DB_SCHEMA_VERSION);
        if (ntables != ELEMENTSOF(tables))
                return err_set(e, -EBADMSG, "snapshot has %" PRIu64 " tables, expected %zu", ntables,
                               ELEMENTSOF(tables));

        if ((r = db_begin(db)) < 0)
                return err_set(e, r, "cannot start a transaction: %s", db_last_error(db));
        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                if ((r = load_table(db, &rd, tables[i])) < 0)
                        goto fail;
        if (rd.left != 0) {
                r = err_set(e, -EBADMSG, "%zu unexpected bytes at the end of the snapshot", rd.left);
                goto fail;
        }
        if ((r = db_store_position(db, &pos)) < 0 || (r = db_commit(db)) < 0) {
                err_set(e, r, "%s", db_last_error(db));
                goto fail;
        }
        return 0;
fail:
        db_rollback(db);
        if (r != -EBADMSG && e && e->code == 0)
                err_set(e, r, "installing the snapshot failed");
        return r;
}
