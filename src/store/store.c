/* SQLite results database. Schema version 1 (PRAGMA user_version = 1,
 * PRAGMA application_id = 0x62647266 "bdrf"); docs/database.md has the
 * user-facing description. Kept in sync with SCHEMA_V1 below:
 *
 *   runs(id, model_digest, model, accel, bench, dataset_sha256, template_mode,
 *        decoding, seed, compute, version,          -- the run key (UNIQUE)
 *        status 'running'|'complete', created_at, updated_at, completed_at,
 *        meta JSON object)
 *   items(id, run_id, item_key, prompt_sha256, status 'ok'|'skipped', skip_reason,
 *         output, answer, scores JSON, labels JSON, seconds, created_at,
 *         UNIQUE(run_id, item_key))
 *   metrics(run_id, name, grp, value, n, spec JSON, updated_at,
 *           PRIMARY KEY(run_id, name, grp))
 *
 * Crash safety: WAL journal, synchronous=NORMAL. Every item is one
 * autocommit INSERT OR IGNORE, so after SIGKILL the database holds exactly the
 * items whose insert returned (WAL commits survive a killed process; only an
 * OS crash/power loss can lose the last few with NORMAL), and a resumed run
 * re-inserting a key is a no-op. */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#define APP_ID 0x62647266

struct bd_store {
    sqlite3 *db;
    char *path;
    int readonly;
};

static const char SCHEMA_V1[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " model_digest TEXT NOT NULL, model TEXT NOT NULL, accel TEXT NOT NULL,"
    " bench TEXT NOT NULL, dataset_sha256 TEXT NOT NULL, template_mode TEXT NOT NULL,"
    " decoding TEXT NOT NULL, seed INTEGER NOT NULL, compute TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','complete')),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, completed_at TEXT NOT NULL DEFAULT '',"
    " meta TEXT NOT NULL DEFAULT '{}',"
    " UNIQUE (model_digest, model, accel, bench, dataset_sha256, template_mode, decoding,"
    "         seed, compute, version));"
    "CREATE TABLE items ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " item_key TEXT NOT NULL,"
    " prompt_sha256 TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL CHECK (status IN ('ok','skipped')),"
    " skip_reason TEXT NOT NULL DEFAULT '',"
    " output TEXT, answer TEXT,"
    " scores TEXT NOT NULL DEFAULT '{}', labels TEXT NOT NULL DEFAULT '{}',"
    " seconds REAL, created_at TEXT NOT NULL,"
    " UNIQUE (run_id, item_key));"
    "CREATE TABLE metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " name TEXT NOT NULL, grp TEXT NOT NULL DEFAULT '',"
    " value REAL, n INTEGER NOT NULL DEFAULT 0, spec TEXT NOT NULL DEFAULT '',"
    " updated_at TEXT NOT NULL,"
    " PRIMARY KEY (run_id, name, grp));";

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static int sqlfail(bd_store *s, bd_err *err, const char *what)
{
    int rc = sqlite3_errcode(s->db);
    int code = (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) ? BD_EINPUT : BD_EIO;
    return bd_fail(err, code, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int prep(bd_store *s, sqlite3_stmt **st, const char *sql, const char *what, bd_err *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sqlfail(s, err, what);
    }
    return 0;
}

/* Binds text; NULL is bound as '' or SQL NULL per want_null. */
static int bind_text(sqlite3_stmt *st, int i, const char *v, int want_null)
{
    if (!v) return want_null ? sqlite3_bind_null(st, i) : sqlite3_bind_text(st, i, "", 0, SQLITE_STATIC);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static int exec(bd_store *s, const char *sql, const char *what, bd_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(s->db) == SQLITE_NOTADB ? BD_EINPUT : BD_EIO;
        bd_fail(err, code, "%s: %s: %s", s->path, what, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static int pragma_int(bd_store *s, const char *sql, long long *out, bd_err *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, &st, sql, "reading database header", err);
    if (rc) return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = sqlfail(s, err, "reading database header");
        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int migrate(bd_store *s, bd_err *err)
{
    long long ver, app, ntab;
    int rc;
    if ((rc = pragma_int(s, "PRAGMA user_version", &ver, err))) return rc;
    if ((rc = pragma_int(s, "PRAGMA application_id", &app, err))) return rc;
    if ((rc = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &ntab, err))) return rc;
    if (ver > BD_STORE_SCHEMA_VERSION)
        return bd_fail(err, BD_EINPUT,
                       "%s: database schema version %lld is newer than this biasdrift supports "
                       "(%d); use a newer biasdrift", s->path, ver, BD_STORE_SCHEMA_VERSION);
    if (ntab > 0 && app != APP_ID)
        return bd_fail(err, BD_EINPUT, "%s: not a biasdrift results database (it has other tables)",
                       s->path);
    if (ver == BD_STORE_SCHEMA_VERSION) return 0;
    if (s->readonly)
        return bd_fail(err, BD_EINPUT, "%s: database is empty or has schema version %lld; "
                       "open it with 'biasdrift run' to create/upgrade it", s->path, ver);
    /* Fresh file (version 0). Future versions add "if (ver == 1) { ALTER ... }"
     * steps here, each in the same transaction as the user_version bump. */
    if ((rc = exec(s, "BEGIN IMMEDIATE", "starting schema creation", err))) return rc;
    char sql[sizeof SCHEMA_V1 + 128];
    snprintf(sql, sizeof sql, "%sPRAGMA application_id = %d; PRAGMA user_version = %d;", SCHEMA_V1,
             APP_ID, BD_STORE_SCHEMA_VERSION);
    if ((rc = exec(s, sql, "creating schema", err))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(s, "COMMIT", "committing schema", err);
}

int bd_store_open(bd_store **out, const char *path, int flags, bd_err *err)
{
    *out = NULL;
    if (!path || !*path) return bd_fail(err, BD_EINPUT, "no database file given (--db FILE)");
    bd_store *s = calloc(1, sizeof *s);
    if (!s) return bd_oom(err, "database handle");
    s->path = strdup(path);
    if (!s->path) { free(s); return bd_oom(err, "database path"); }
    s->readonly = (flags & BD_STORE_READONLY) != 0;
    struct stat sb;
    if (s->readonly && stat(path, &sb) != 0) {
        int e = errno;
        free(s->path);
        free(s);
        return bd_fail(err, BD_EINPUT, "%s: cannot open database: %s", path, strerror(e));
    }
    int oflags = s->readonly ? SQLITE_OPEN_READONLY
                             : (SQLITE_OPEN_READWRITE | ((flags & BD_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0));
    int rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        bd_fail(err, BD_EIO, "%s: cannot open database: %s", path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        bd_store_close(s);
        return BD_EIO;
    }
    sqlite3_extended_result_codes(s->db, 0);
    if (sqlite3_busy_timeout(s->db, 10000) != SQLITE_OK ||
        (rc = exec(s, "PRAGMA foreign_keys = ON", "configuring", err))) {
        if (!rc) rc = sqlfail(s, err, "configuring");
        bd_store_close(s);
        return rc;
    }
    if (!s->readonly) {
        /* journal_mode returns a row; exec ignores it. WAL + NORMAL: see the
         * file comment for what that guarantees. */
        if ((rc = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
                       "setting WAL mode", err))) {
            bd_store_close(s);
            return rc;
        }
    }
    if ((rc = migrate(s, err))) { bd_store_close(s); return rc; }
    *out = s;
    return 0;
}

void bd_store_close(bd_store *s)
{
    if (!s) return;
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

const char *bd_store_path(const bd_store *s) { return s->path; }

/* ---- runs ---------------------------------------------------------------- */

static const char *nz(const char *s) { return s ? s : ""; }

/* Runs sql (the select or the insert) with the key bound. For the select,
 * *found says whether a row came back and *run_id holds it. */
static int run_key_step(bd_store *s, const char *sql, const bd_run_key *k, long long *run_id,
                        int *found, bd_err *err)
{
    const char *f[10] = {nz(k->model_digest), nz(k->model), k->accel, k->bench,
                         nz(k->dataset_sha256), nz(k->template_mode), nz(k->decoding), NULL,
                         nz(k->compute), nz(k->version)};
    sqlite3_stmt *st;
    int rc = prep(s, &st, sql, "preparing run lookup", err);
    if (rc) return rc;
    for (int i = 0; i < 10; i++) {
        int b = i == 7 ? sqlite3_bind_int64(st, 8, k->seed) : bind_text(st, i + 1, f[i], 0);
        if (b != SQLITE_OK) { rc = sqlfail(s, err, "binding run key"); sqlite3_finalize(st); return rc; }
    }
    int step = sqlite3_step(st);
    *found = step == SQLITE_ROW;
    if (*found) *run_id = sqlite3_column_int64(st, 0);
    else if (step != SQLITE_DONE) rc = sqlfail(s, err, "looking up or creating run");
    sqlite3_finalize(st);
    return rc;
}

int bd_store_run_get_or_create(bd_store *s, const bd_run_key *k, long long *run_id, int *created,
                               bd_err *err)
{
    if (created) *created = 0;
    if (!k->bench || !*k->bench) return bd_fail(err, BD_EINPUT, "%s: run key without a benchmark name", s->path);
    if (!k->accel || !*k->accel) return bd_fail(err, BD_EINPUT, "%s: run key without an accel spec", s->path);
    static const char SQL_INS[] =
        "INSERT OR IGNORE INTO runs (model_digest, model, accel, bench, dataset_sha256,"
        " template_mode, decoding, seed, compute, version, created_at, updated_at)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10," NOW "," NOW ")";
    static const char SQL_SEL[] =
        "SELECT id FROM runs WHERE model_digest=?1 AND model=?2 AND accel=?3 AND bench=?4"
        " AND dataset_sha256=?5 AND template_mode=?6 AND decoding=?7 AND seed=?8"
        " AND compute=?9 AND version=?10";
    int found, rc;
    if ((rc = run_key_step(s, SQL_SEL, k, run_id, &found, err))) return rc;
    if (found) return 0;
    if ((rc = run_key_step(s, SQL_INS, k, run_id, &found, err))) return rc;
    if (sqlite3_changes(s->db) > 0) {
        *run_id = sqlite3_last_insert_rowid(s->db);
        if (created) *created = 1;
        return 0;
    }
    /* another writer created it between our select and insert */
    if ((rc = run_key_step(s, SQL_SEL, k, run_id, &found, err))) return rc;
    return found ? 0 : bd_fail(err, BD_EFAIL, "%s: could not find or create run", s->path);
}

static int meta_set(bd_store *s, long long run_id, const char *key, int is_num, double num,
                    const char *str, bd_err *err)
{
    if (!key || !*key) return bd_fail(err, BD_EINPUT, "%s: empty run metadata key", s->path);
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return bd_fail(err, BD_EINPUT, "%s: run metadata key '%s': only letters, digits and _",
                           s->path, key);
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "UPDATE runs SET meta = json_set(meta, '$.' || ?2, ?3), updated_at = " NOW
                  " WHERE id = ?1", "preparing run metadata update", err);
    if (rc) return rc;
    int b = sqlite3_bind_int64(st, 1, run_id) | sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
    /* whole numbers (byte counts) stay integers in the JSON */
    if (is_num && isfinite(num) && num == floor(num) && fabs(num) < 9e15)
        b |= sqlite3_bind_int64(st, 3, (sqlite3_int64)num);
    else if (is_num) b |= isfinite(num) ? sqlite3_bind_double(st, 3, num) : sqlite3_bind_null(st, 3);
    else b |= bind_text(st, 3, str, 1);
    if (b != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        rc = sqlfail(s, err, "setting run metadata");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (sqlite3_changes(s->db) == 0)
        return bd_fail(err, BD_EINPUT, "%s: no run with id %lld", s->path, run_id);
    return 0;
}

int bd_store_run_meta_set_num(bd_store *s, long long run_id, const char *key, double value, bd_err *err)
{
    return meta_set(s, run_id, key, 1, value, NULL, err);
}

int bd_store_run_meta_set_str(bd_store *s, long long run_id, const char *key, const char *value,
                              bd_err *err)
{
    return meta_set(s, run_id, key, 0, 0, value, err);
}

int bd_store_run_complete(bd_store *s, long long run_id, bd_err *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "UPDATE runs SET status = 'complete', completed_at = " NOW ", updated_at = " NOW
                  " WHERE id = ?1", "preparing run completion", err);
    if (rc) return rc;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        rc = sqlfail(s, err, "marking run complete");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (sqlite3_changes(s->db) == 0)
        return bd_fail(err, BD_EINPUT, "%s: no run with id %lld", s->path, run_id);
    return 0;
}

/* Copies column i (NULL -> "" unless keep_null). Returns 0 or -1 on OOM. */
static int col_dup(sqlite3_stmt *st, int i, char **out, int keep_null)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) {
        if (keep_null && sqlite3_column_type(st, i) == SQLITE_NULL) { *out = NULL; return 0; }
        if (sqlite3_column_type(st, i) != SQLITE_NULL) return -1;  /* OOM inside sqlite */
        t = (const unsigned char *)"";
    }
    *out = strdup((const char *)t);
    return *out ? 0 : -1;
}

void bd_run_info_clear(bd_run_info *r)
{
    char **f[] = {&r->model_digest, &r->model, &r->accel, &r->bench, &r->dataset_sha256,
                  &r->template_mode, &r->decoding, &r->compute, &r->version, &r->status,
                  &r->created_at, &r->updated_at, &r->completed_at, &r->meta};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) { free(*f[i]); *f[i] = NULL; }
}

void bd_store_runs_free(bd_run_info *runs, size_t n)
{
    if (!runs) return;
    for (size_t i = 0; i < n; i++) bd_run_info_clear(&runs[i]);
    free(runs);
}

#define RUN_COLS \
    "SELECT r.id, r.model_digest, r.model, r.accel, r.bench, r.dataset_sha256, r.template_mode," \
    " r.decoding, r.compute, r.version, r.status, r.created_at, r.updated_at, r.completed_at," \
    " r.meta, r.seed," \
    " (SELECT count(*) FROM items i WHERE i.run_id = r.id)," \
    " (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.status = 'ok')" \
    " FROM runs r"

static int read_run(sqlite3_stmt *st, bd_run_info *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    char **f[] = {&r->model_digest, &r->model, &r->accel, &r->bench, &r->dataset_sha256,
                  &r->template_mode, &r->decoding, &r->compute, &r->version, &r->status,
                  &r->created_at, &r->updated_at, &r->completed_at, &r->meta};
    for (int i = 0; i < 14; i++)
        if (col_dup(st, i + 1, f[i], 0)) { bd_run_info_clear(r); return -1; }
    r->seed = sqlite3_column_int64(st, 15);
    r->n_items = sqlite3_column_int64(st, 16);
    r->n_ok = sqlite3_column_int64(st, 17);
    r->n_skipped = r->n_items - r->n_ok;
    return 0;
}

int bd_store_runs(bd_store *s, bd_run_info **runs, size_t *n, bd_err *err)
{
    *runs = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prep(s, &st, RUN_COLS " ORDER BY r.id", "preparing run list", err);
    if (rc) return rc;
    size_t cap = 0;
    bd_run_info *v = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            bd_run_info *nv = realloc(v, nc * sizeof *nv);
            if (!nv) { rc = bd_oom(err, "run list"); goto fail; }
            v = nv;
            cap = nc;
        }
        if (read_run(st, &v[*n])) { rc = bd_oom(err, "run list"); goto fail; }
        (*n)++;
    }
    if (step != SQLITE_DONE) { rc = sqlfail(s, err, "listing runs"); goto fail; }
    sqlite3_finalize(st);
    *runs = v;
    return 0;
fail:
    sqlite3_finalize(st);
    bd_store_runs_free(v, *n);
    *n = 0;
    return rc;
}

int bd_store_run_get(bd_store *s, long long run_id, bd_run_info *out, bd_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = prep(s, &st, RUN_COLS " WHERE r.id = ?1", "preparing run lookup", err);
    if (rc) return rc;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) {
        rc = sqlfail(s, err, "binding run id");
    } else {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) rc = read_run(st, out) ? bd_oom(err, "run") : 0;
        else if (step == SQLITE_DONE) rc = bd_fail(err, BD_EINPUT, "%s: no run with id %lld", s->path, run_id);
        else rc = sqlfail(s, err, "reading run");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- items --------------------------------------------------------------- */

static int check_json_object(bd_store *s, const char *what, const char *key, const char *text,
                             bd_err *err)
{
    if (!text) return 0;
    json_tokener *tok = json_tokener_new();
    if (!tok) return bd_oom(err, "JSON parser");
    json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    enum json_tokener_error je = json_tokener_get_error(tok);
    int bad = je != json_tokener_success || !json_object_is_type(o, json_type_object) ||
              (size_t)json_tokener_get_parse_end(tok) != strlen(text);
    json_object_put(o);
    json_tokener_free(tok);
    if (bad)
        return bd_fail(err, BD_EINPUT, "%s: item '%s': %s is not a JSON object: %.80s", s->path, key,
                       what, text);
    return 0;
}

static int insert_item(bd_store *s, sqlite3_stmt *st, long long run_id, const bd_item_in *it,
                       int *inserted, bd_err *err)
{
    if (!it->key || !*it->key) return bd_fail(err, BD_EINPUT, "%s: item without a key", s->path);
    if (it->skipped && (!it->skip_reason || !*it->skip_reason))
        return bd_fail(err, BD_EINPUT, "%s: skipped item '%s' without a reason", s->path, it->key);
    int rc;
    if ((rc = check_json_object(s, "scores", it->key, it->scores, err)) ||
        (rc = check_json_object(s, "groups", it->key, it->groups, err)))
        return rc;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int b = sqlite3_bind_int64(st, 1, run_id);
    b |= bind_text(st, 2, it->key, 0);
    b |= bind_text(st, 3, it->prompt_sha256, 0);
    b |= bind_text(st, 4, it->skipped ? "skipped" : "ok", 0);
    b |= bind_text(st, 5, it->skipped ? it->skip_reason : "", 0);
    b |= bind_text(st, 6, it->output, 1);
    b |= bind_text(st, 7, it->answer, 1);
    b |= bind_text(st, 8, it->scores ? it->scores : "{}", 0);
    b |= bind_text(st, 9, it->groups ? it->groups : "{}", 0);
    b |= isfinite(it->seconds) ? sqlite3_bind_double(st, 10, it->seconds) : sqlite3_bind_null(st, 10);
    if (b != SQLITE_OK) return sqlfail(s, err, "binding item");
    if (sqlite3_step(st) != SQLITE_DONE) {
        return bd_fail(err, sqlite3_errcode(s->db) == SQLITE_CORRUPT ? BD_EINPUT : BD_EIO,
                       "%s: inserting item '%s': %s", s->path, it->key, sqlite3_errmsg(s->db));
    }
    if (inserted) *inserted = sqlite3_changes(s->db) > 0;
    return 0;
}

static const char SQL_ITEM_INS[] =
    "INSERT OR IGNORE INTO items (run_id, item_key, prompt_sha256, status, skip_reason, output,"
    " answer, scores, labels, seconds, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10," NOW ")";

int bd_store_item_put(bd_store *s, long long run_id, const bd_item_in *it, int *inserted, bd_err *err)
{
    sqlite3_stmt *st;
    int rc = prep(s, &st, SQL_ITEM_INS, "preparing item insert", err);
    if (rc) return rc;
    rc = insert_item(s, st, run_id, it, inserted, err);
    sqlite3_finalize(st);
    return rc;
}

int bd_store_items_put(bd_store *s, long long run_id, const bd_item_in *items, size_t n, bd_err *err)
{
    int rc;
    if ((rc = exec(s, "BEGIN IMMEDIATE", "starting item batch", err))) return rc;
    sqlite3_stmt *st;
    if ((rc = prep(s, &st, SQL_ITEM_INS, "preparing item insert", err))) goto rollback;
    for (size_t i = 0; i < n; i++)
        if ((rc = insert_item(s, st, run_id, &items[i], NULL, err))) break;
    sqlite3_finalize(st);
    if (rc) goto rollback;
    return exec(s, "COMMIT", "committing item batch", err);
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bd_keyset_free(bd_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) free(ks->keys[i]);
    free(ks->keys);
    ks->keys = NULL;
    ks->n = 0;
}

int bd_keyset_has(const bd_keyset *ks, const char *key)
{
    return ks->n && bsearch(&key, ks->keys, ks->n, sizeof *ks->keys, cmp_str) != NULL;
}

int bd_store_done_keys(bd_store *s, long long run_id, bd_keyset *out, bd_err *err)
{
    out->keys = NULL;
    out->n = 0;
    sqlite3_stmt *st;
    int rc = prep(s, &st, "SELECT item_key FROM items WHERE run_id = ?1", "preparing resume query", err);
    if (rc) return rc;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) { rc = sqlfail(s, err, "binding run id"); goto fail; }
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            char **nk = realloc(out->keys, nc * sizeof *nk);
            if (!nk) { rc = bd_oom(err, "resume key list"); goto fail; }
            out->keys = nk;
            cap = nc;
        }
        if (col_dup(st, 0, &out->keys[out->n], 0)) { rc = bd_oom(err, "resume key"); goto fail; }
        out->n++;
    }
    if (step != SQLITE_DONE) { rc = sqlfail(s, err, "reading done items"); goto fail; }
    sqlite3_finalize(st);
    if (out->n) qsort(out->keys, out->n, sizeof *out->keys, cmp_str);
    return 0;
fail:
    sqlite3_finalize(st);
    bd_keyset_free(out);
    return rc;
}

void bd_store_items_free(bd_item *items, size_t n)
{
    if (!items) return;
    for (size_t i = 0; i < n; i++) {
        bd_item *it = &items[i];
        free(it->key); free(it->prompt_sha256); free(it->skip_reason); free(it->output);
        free(it->answer); free(it->scores); free(it->groups); free(it->created_at);
    }
    free(items);
}

int bd_store_items(bd_store *s, long long run_id, bd_item **items, size_t *n, bd_err *err)
{
    *items = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "SELECT id, item_key, prompt_sha256, status, skip_reason, output, answer, scores,"
                  " labels, seconds, created_at FROM items WHERE run_id = ?1 ORDER BY id",
                  "preparing item query", err);
    if (rc) return rc;
    bd_item *v = NULL;
    size_t cap = 0;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) { rc = sqlfail(s, err, "binding run id"); goto fail; }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            bd_item *nv = realloc(v, nc * sizeof *nv);
            if (!nv) { rc = bd_oom(err, "item list"); goto fail; }
            v = nv;
            cap = nc;
        }
        bd_item *it = &v[*n];
        memset(it, 0, sizeof *it);
        (*n)++;
        it->id = sqlite3_column_int64(st, 0);
        const unsigned char *status = sqlite3_column_text(st, 3);
        it->skipped = status && !strcmp((const char *)status, "skipped");
        it->seconds = sqlite3_column_type(st, 9) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 9);
        if (col_dup(st, 1, &it->key, 0) || col_dup(st, 2, &it->prompt_sha256, 0) ||
            col_dup(st, 4, &it->skip_reason, 0) || col_dup(st, 5, &it->output, 1) ||
            col_dup(st, 6, &it->answer, 1) || col_dup(st, 7, &it->scores, 0) ||
            col_dup(st, 8, &it->groups, 0) || col_dup(st, 10, &it->created_at, 0)) {
            rc = bd_oom(err, "item");
            goto fail;
        }
    }
    if (step != SQLITE_DONE) { rc = sqlfail(s, err, "reading items"); goto fail; }
    sqlite3_finalize(st);
    *items = v;
    return 0;
fail:
    sqlite3_finalize(st);
    bd_store_items_free(v, *n);
    *n = 0;
    return rc;
}

/* ---- metrics -------------------------------------------------------------- */

int bd_store_metric_set(bd_store *s, long long run_id, const char *name, const char *grp,
                        double value, long long n, const char *spec, bd_err *err)
{
    if (!name || !*name) return bd_fail(err, BD_EINPUT, "%s: metric without a name", s->path);
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "INSERT OR REPLACE INTO metrics (run_id, name, grp, value, n, spec, updated_at)"
                  " VALUES (?1,?2,?3,?4,?5,?6," NOW ")", "preparing metric insert", err);
    if (rc) return rc;
    int b = sqlite3_bind_int64(st, 1, run_id) | bind_text(st, 2, name, 0) | bind_text(st, 3, grp, 0);
    b |= isfinite(value) ? sqlite3_bind_double(st, 4, value) : sqlite3_bind_null(st, 4);
    b |= sqlite3_bind_int64(st, 5, n) | bind_text(st, 6, spec, 0);
    if (b != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        rc = bd_fail(err, BD_EIO, "%s: storing metric '%s': %s", s->path, name,
                     sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    return rc;
}

void bd_store_metrics_free(bd_metric_row *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) { free(rows[i].name); free(rows[i].grp); free(rows[i].spec); }
    free(rows);
}

int bd_store_metrics(bd_store *s, long long run_id, bd_metric_row **rows, size_t *n, bd_err *err)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "SELECT name, grp, value, n, spec FROM metrics WHERE run_id = ?1 ORDER BY name, grp",
                  "preparing metric query", err);
    if (rc) return rc;
    bd_metric_row *v = NULL;
    size_t cap = 0;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK) { rc = sqlfail(s, err, "binding run id"); goto fail; }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            bd_metric_row *nv = realloc(v, nc * sizeof *nv);
            if (!nv) { rc = bd_oom(err, "metric list"); goto fail; }
            v = nv;
            cap = nc;
        }
        bd_metric_row *m = &v[*n];
        memset(m, 0, sizeof *m);
        (*n)++;
        m->value = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
        m->n = sqlite3_column_int64(st, 3);
        if (col_dup(st, 0, &m->name, 0) || col_dup(st, 1, &m->grp, 0) || col_dup(st, 4, &m->spec, 0)) {
            rc = bd_oom(err, "metric");
            goto fail;
        }
    }
    if (step != SQLITE_DONE) { rc = sqlfail(s, err, "reading metrics"); goto fail; }
    sqlite3_finalize(st);
    *rows = v;
    return 0;
fail:
    sqlite3_finalize(st);
    bd_store_metrics_free(v, *n);
    *n = 0;
    return rc;
}
