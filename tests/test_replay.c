/*
 * test_replay.c - recorded streams (schemas/recfile.h), `fundguard record` and
 * `fundguard replay`:
 *  1. writer/reader round trip in both formats (keys, timestamps, raw messages,
 *     an event with many items and trace codes), Avro C reading our .avro,
 *     truncated and corrupt files giving a precise error;
 *  2. record: known messages (one undecodable) on a topic -> file -> compared;
 *     the raw one replayed byte for byte;
 *  3. replay -> `fundguard run` -> alerts of the every-pattern scenario, at full
 *     speed and paced (run consuming live): the same alert ids with the same
 *     final content;
 *  4. lag pacing: with an idle group and --max-lag 100 the replay stops at 100
 *     per partition, and finishes once the group consumes.
 */
#include <avro.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "schemas/codec.h"
#include "schemas/recfile.h"
#include "support/e2e.h"
#include "support/harness.h"
#include "support/kafka.h"
#include "support/mixed.h"
#include "support/proc.h"

#define T0 1767225600000LL /* 2026-01-01 */

/* ---- helpers ---- */

static char *tmp_path(const char *ext) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "/tmp/%s.%s", fg_test_unique("rec"), ext);
    return p;
}

/* a claim with n_items items of 3 trace codes each; strings in arena */
static fg_event_t big_claim(fg_arena_t *a, const char *id, uint32_t n_items, int64_t t) {
    fg_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.stream = FG_STREAM_CLAIMS;
    ev.event_id = id;
    ev.event_time_ms = t;
    ev.region = "140100";
    ev.institution_id = "H-1";
    ev.institution_type = FG_INST_HOSPITAL;
    ev.patient_id = "P-1";
    ev.card_id = "C-P-1";
    ev.src_partition = -1;
    ev.src_offset = -1;
    fg_claim_t *c = &ev.u.claim;
    c->gender = FG_GENDER_FEMALE;
    c->birth_date_days = 7000;
    c->visit_type = FG_VISIT_OUTPATIENT;
    c->doctor_id = "D-1";
    c->prescription_id = NULL;
    c->diagnoses = fg_arena_alloc(a, 2 * sizeof(char *));
    c->diagnoses[0] = "I10";
    c->diagnoses[1] = "E11.9";
    c->n_diagnoses = 2;
    c->items = fg_arena_alloc(a, n_items * sizeof(fg_item_t));
    c->n_items = n_items;
    int64_t total = 0;
    for (uint32_t i = 0; i < n_items; i++) {
        fg_item_t *it = &c->items[i];
        char b[64];
        snprintf(b, sizeof(b), "XC%06u", i);
        it->code = fg_arena_strndup(a, b, strlen(b));
        it->name = i % 2 ? "名称" : NULL;
        it->kind = FG_ITEM_DRUG;
        it->quantity = 2.5;
        it->unit_price_fen = 100 + i;
        it->amount_fen = (int64_t)(2.5 * (double)(100 + i));
        it->days_supply = i % 3 ? (int32_t)i : FG_DAYS_ABSENT;
        it->trace_codes = fg_arena_alloc(a, 3 * sizeof(char *));
        for (int k = 0; k < 3; k++) {
            snprintf(b, sizeof(b), "8%019u%d", i, k);
            it->trace_codes[k] = fg_arena_strndup(a, b, strlen(b));
        }
        it->n_trace_codes = 3;
        total += it->amount_fen;
    }
    c->total_fen = total;
    c->fund_paid_fen = total * 7 / 10;
    c->self_paid_fen = total - c->fund_paid_fen;
    return ev;
}

/* two events are the same if their JSON encodings are */
static void assert_same_event(const fg_event_t *a, const fg_event_t *b) {
    char *ja = fg_codec_encode_json(a), *jb = fg_codec_encode_json(b);
    cr_assert(ja && jb);
    cr_assert_str_eq(ja, jb);
    free(ja);
    free(jb);
}

static const unsigned char RAW[] = {0x00, 0x00, 0x00, 0x00, 0x63, 0xff, '\n', 0x00, '{', 0x80};

/* writes: event(key "P-1"), raw(key with a NUL and non-UTF-8 byte), event(no key), raw(empty, empty key) */
static void write_sample(const char *path, fg_arena_t *a, fg_event_t *ev1, fg_event_t *ev2) {
    char err[512];
    *ev1 = big_claim(a, "CL-1", 300, T0 + 1000);
    *ev2 = big_claim(a, "CL-2", 1, T0 + 2000);
    fg_rec_writer_t *w = fg_rec_writer_open(path, FG_STREAM_CLAIMS, err, sizeof(err));
    cr_assert(w, "open: %s", err);
    cr_assert_eq(fg_rec_writer_put(w, "P-1", 3, T0 + 1000, ev1, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert_eq(fg_rec_writer_put_raw(w, "K\0\xfe", 3, T0 + 1500, RAW, sizeof(RAW), err, sizeof(err)), FG_OK, "%s",
                 err);
    cr_assert_eq(fg_rec_writer_put(w, NULL, 0, T0 + 2000, ev2, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert_eq(fg_rec_writer_put_raw(w, "", 0, -1, "", 0, err, sizeof(err)), FG_OK, "%s", err);
    /* an event of another stream is refused, not written */
    fg_event_t inp = *ev2;
    inp.stream = FG_STREAM_INPATIENT;
    cr_assert_eq(fg_rec_writer_put(w, "x", 1, 0, &inp, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "inpatient event cannot go in a claims recording"), "%s", err);
    cr_assert_eq(fg_rec_writer_count(w), 4);
    cr_assert_eq(fg_rec_writer_close(w, err, sizeof(err)), FG_OK, "%s", err);
}

static void check_sample(const char *path, const fg_event_t *ev1, const fg_event_t *ev2) {
    char err[512];
    fg_rec_reader_t *r = fg_rec_reader_open(path, err, sizeof(err));
    cr_assert(r, "open: %s", err);
    cr_assert_eq(fg_rec_reader_stream(r), FG_STREAM_CLAIMS);
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_rec_t rec;
    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert(!rec.is_raw && rec.index == 0 && rec.key_len == 3 && !memcmp(rec.key, "P-1", 3));
    cr_assert_eq(rec.ts_ms, T0 + 1000);
    cr_assert_eq(rec.ev.u.claim.n_items, 300);
    cr_assert_eq(rec.ev.u.claim.items[299].n_trace_codes, 3);
    assert_same_event(&rec.ev, ev1);

    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert(rec.is_raw && rec.raw_len == sizeof(RAW) && !memcmp(rec.raw, RAW, sizeof(RAW)), "raw bytes differ");
    cr_assert(rec.key_len == 3 && !memcmp(rec.key, "K\0\xfe", 3), "binary key differs");
    cr_assert_eq(rec.ts_ms, T0 + 1500);

    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert(!rec.is_raw && rec.key == NULL, "a message without a key must come back without one");
    assert_same_event(&rec.ev, ev2);

    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_OK, "%s", err);
    cr_assert(rec.is_raw && rec.raw_len == 0 && rec.key && rec.key_len == 0 && rec.ts_ms == -1 && rec.index == 3);

    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_REC_END);
    uint64_t size, pos = fg_rec_reader_position(r, &size);
    cr_assert(size > 0 && pos == size, "position %llu of %llu at the end", (unsigned long long)pos,
              (unsigned long long)size);
    fg_rec_reader_close(r);
    fg_arena_destroy(a);
}

/* reads the whole reader; @returns FG_REC_END or FG_ERR (err set) and the records read in *n */
static int read_all(const char *path, size_t *n, char *err, size_t err_size) {
    fg_rec_reader_t *r = fg_rec_reader_open(path, err, err_size);
    if (!r) return FG_ERR;
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_rec_t rec;
    int rc;
    *n = 0;
    while ((rc = fg_rec_reader_next(r, a, &rec, err, err_size)) == FG_OK) {
        (*n)++;
        fg_arena_reset(a);
    }
    fg_rec_reader_close(r);
    fg_arena_destroy(a);
    return rc;
}

static void truncate_copy(const char *from, const char *to, long keep, long flip_at) {
    char *data = NULL;
    FILE *f = fopen(from, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (keep < 0) keep = n + keep;
    if (flip_at >= 0) data[flip_at < 0 ? 0 : flip_at] ^= 0x5a;
    f = fopen(to, "wb");
    cr_assert(f);
    fwrite(data, 1, (size_t)keep, f);
    fclose(f);
    free(data);
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    cr_assert(f, "%s missing", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/*
 * Reads path with Avro C's datafile API; @returns the records read, or -1 if
 * the first one's event.claim_id is not first_id. In a child process that
 * leaves with _exit: libavro 1.11.1's avro_file_reader_close leaks the writer
 * schema, which is the library's and would fail the sanitizer run.
 */
static int avro_c_reads(const char *path, const char *first_id) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        avro_file_reader_t fr;
        if (avro_file_reader(path, &fr) != 0) _exit(200);
        avro_schema_t ws = avro_file_reader_get_writer_schema(fr);
        avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
        avro_value_t v, f, b, id;
        avro_generic_value_new(iface, &v);
        int n = 0;
        while (avro_file_reader_read_value(fr, &v) == 0) {
            const char *s = NULL;
            size_t sl;
            if (n == 0 && (avro_value_get_by_name(&v, "event", &f, NULL) || avro_value_get_current_branch(&f, &b) ||
                           avro_value_get_by_name(&b, "claim_id", &id, NULL) || avro_value_get_string(&id, &s, &sl) ||
                           strcmp(s, first_id)))
                _exit(201);
            n++;
        }
        _exit(n);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st) >= 200 ? -1 : WEXITSTATUS(st);
}

/* ---- 1. round trip ---- */

Test(recfile, avro_round_trip_keeps_keys_timestamps_raw_bytes_and_big_events) {
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_event_t ev1, ev2;
    const char *p = tmp_path("avro");
    write_sample(p, a, &ev1, &ev2);
    check_sample(p, &ev1, &ev2);

    /* a typed, self-describing Avro file: Avro C's own reader reads it */
    cr_assert_eq(avro_c_reads(p, "CL-1"), 4, "Avro C's reader did not read the 4 records");
    remove(p);
    fg_arena_destroy(a);
}

Test(recfile, jsonl_round_trip_keeps_keys_timestamps_raw_bytes_and_big_events) {
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_event_t ev1, ev2;
    const char *p = tmp_path("jsonl");
    write_sample(p, a, &ev1, &ev2);
    check_sample(p, &ev1, &ev2);
    /* one JSON object per line, the binary key and the raw message in base64 */
    char *text = fg_tp_read(p);
    cr_assert(text);
    int lines = 0;
    for (char *q = text; *q; q++)
        lines += *q == '\n';
    cr_assert_eq(lines, 4);
    cr_assert(strstr(text, "\"key_b64\":\"SwD+\""), "binary key not base64: %.300s", text);
    cr_assert(strstr(text, "\"key\":null"));
    free(text);
    remove(p);
    fg_arena_destroy(a);
}

Test(recfile, empty_recording_reads_as_empty_and_many_blocks_read_back) {
    char err[512];
    const char *p = tmp_path("avro");
    fg_rec_writer_t *w = fg_rec_writer_open(p, FG_STREAM_INPATIENT, err, sizeof(err));
    cr_assert(w, "%s", err);
    cr_assert_eq(fg_rec_writer_close(w, err, sizeof(err)), FG_OK);
    size_t n;
    cr_assert_eq(read_all(p, &n, err, sizeof(err)), FG_REC_END, "%s", err);
    cr_assert_eq(n, 0);

    /* ~20k records span many 256 KB blocks */
    fg_arena_t *a = fg_arena_create(1 << 16);
    w = fg_rec_writer_open(p, FG_STREAM_CLAIMS, err, sizeof(err));
    cr_assert(w, "%s", err);
    for (int i = 0; i < 20000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "CL-%d", i);
        fg_arena_reset(a);
        fg_event_t ev = big_claim(a, id, 2, T0 + i);
        cr_assert_eq(fg_rec_writer_put(w, id, strlen(id), T0 + i, &ev, err, sizeof(err)), FG_OK, "%s", err);
    }
    cr_assert_eq(fg_rec_writer_close(w, err, sizeof(err)), FG_OK);
    cr_assert_eq(read_all(p, &n, err, sizeof(err)), FG_REC_END, "%s", err);
    cr_assert_eq(n, 20000);
    remove(p);
    fg_arena_destroy(a);
}

Test(recfile, truncated_or_corrupt_files_give_a_precise_error) {
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_event_t ev1, ev2;
    char err[512];
    size_t n;
    const char *p = tmp_path("avro"), *bad = tmp_path("avro");
    write_sample(p, a, &ev1, &ev2);
    long size = file_size(p);

    /* cut inside the only block: not a shorter file, an error naming the record */
    truncate_copy(p, bad, size - 20, -1);
    cr_assert_eq(read_all(bad, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, bad) && strstr(err, "record 0") && strstr(err, "truncated"), "%s", err);
    /* cut the sync marker */
    truncate_copy(p, bad, size - 3, -1);
    cr_assert_eq(read_all(bad, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "sync marker"), "%s", err);
    /* a flipped byte in the compressed data (raw deflate has no checksum: this one lands in structure) */
    truncate_copy(p, bad, size, size - 40);
    cr_assert_eq(read_all(bad, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, ": record ") && (strstr(err, "corrupt") || strstr(err, "decode")), "%s", err);
    /* a second block claiming 1 record of ~2 GB */
    truncate_copy(p, bad, size, -1);
    {
        FILE *f = fopen(bad, "ab");
        fwrite("\x02\xfe\xff\xff\xff\x0f", 1, 6, f);
        fclose(f);
    }
    cr_assert_eq(read_all(bad, &n, err, sizeof(err)), FG_ERR);
    cr_assert_eq(n, 4, "the four good records come first");
    cr_assert(strstr(err, "record 4") && strstr(err, "corrupt block header"), "%s", err);
    /* the header */
    truncate_copy(p, bad, 30, -1);
    cr_assert_null(fg_rec_reader_open(bad, err, sizeof(err)));
    cr_assert(strstr(err, "header"), "%s", err);
    truncate_copy(p, bad, size, 1);
    cr_assert_null(fg_rec_reader_open(bad, err, sizeof(err)));
    cr_assert(strstr(err, "not an Avro object container"), "%s", err);
    /* a file that is not a recording, an unknown extension */
    fg_tp_write(bad, "hello");
    cr_assert_null(fg_rec_reader_open(bad, err, sizeof(err)));
    cr_assert_null(fg_rec_reader_open("/tmp/x.csv", err, sizeof(err)));
    cr_assert(strstr(err, ".avro or .jsonl"), "%s", err);

    /* JSON Lines: a cut last line, a bad event, a wrong stream: each names the record and line */
    const char *j = tmp_path("jsonl"), *jb = tmp_path("jsonl");
    write_sample(j, a, &ev1, &ev2);
    truncate_copy(j, jb, file_size(j) - 10, -1);
    cr_assert_eq(read_all(jb, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "record 3") && strstr(err, "line 4"), "%s", err);
    cr_assert_eq(n, 3);
    fg_tp_write(jb, "{\"stream\":\"claims\",\"key\":\"k\",\"timestamp_ms\":1,\"event\":{\"claim_id\":\"x\"}}\n");
    cr_assert_eq(read_all(jb, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "record 0") && strstr(err, "does not decode"), "%s", err);
    fg_tp_write(jb, "{\"stream\":\"claims\",\"timestamp_ms\":1,\"raw_b64\":\"\"}\n"
                    "{\"stream\":\"invoicing\",\"timestamp_ms\":1,\"raw_b64\":\"\"}\n");
    cr_assert_eq(read_all(jb, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "record 1") && strstr(err, "\"stream\""), "%s", err);
    fg_tp_write(jb, "{\"stream\":\"claims\",\"timestamp_ms\":1,\"raw_b64\":\"@@\"}\n");
    cr_assert_eq(read_all(jb, &n, err, sizeof(err)), FG_ERR);
    cr_assert(strstr(err, "base64"), "%s", err);
    remove(p);
    remove(bad);
    remove(j);
    remove(jb);
    fg_arena_destroy(a);
}

/* ---- processes in the background ---- */

static pid_t spawn(const char *log_path, const char *const *args) {
    const char *argv[64];
    int n = 0;
    argv[n++] = fg_test_bin();
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2), dup2(fd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* @returns the exit status, or -1 if still running after timeout_ms (then it keeps running) */
static int wait_for(pid_t pid, int timeout_ms) {
    for (int t = 0; t <= timeout_ms; t += 50) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void kill_wait(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ---- 2. record ---- */

Test(record, topic_to_file_keeps_every_message_and_raw_ones_replay_byte_for_byte, .timeout = 60) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_e2e_config(&e, fg_test_unique("g"), "");
    fg_arena_t *a = fg_arena_create(1 << 16);
    fg_event_t evs[3];
    char ids[3][16];
    char *json[3];
    for (int i = 0; i < 3; i++) {
        snprintf(ids[i], sizeof(ids[i]), "CL-R%d", i);
        evs[i] = big_claim(a, ids[i], (uint32_t)(1 + i * 20), T0 + i * 1000);
        json[i] = fg_codec_encode_json(&evs[i]);
        fg_tk_produce(e.claims, "P-SAME", json[i], strlen(json[i]));
    }
    fg_tk_produce(e.claims, "P-SAME", RAW, sizeof(RAW));
    int64_t t_after = fg_now_ms();

    const char *out = tmp_path("avro");
    const char *args[] = {"record", "--config",        e.cfg, "--stream", "claims", "--out",
                          out,      "--until-idle-ms", "0",   NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 0, "record failed, see %s", e.log);

    char err[512];
    fg_rec_reader_t *r = fg_rec_reader_open(out, err, sizeof(err));
    cr_assert(r, "%s", err);
    fg_rec_t rec;
    /* one key: one partition, so file order is produce order */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_OK, "record %d: %s", i, err);
        cr_assert(rec.key_len == 6 && !memcmp(rec.key, "P-SAME", 6));
        cr_assert(rec.ts_ms > T0 && rec.ts_ms <= t_after, "timestamp %lld is not the produce time",
                  (long long)rec.ts_ms);
        if (i < 3) {
            cr_assert(!rec.is_raw, "record %d should have decoded", i);
            assert_same_event(&rec.ev, &evs[i]);
        } else {
            cr_assert(rec.is_raw && rec.raw_len == sizeof(RAW) && !memcmp(rec.raw, RAW, sizeof(RAW)));
        }
    }
    cr_assert_eq(fg_rec_reader_next(r, a, &rec, err, sizeof(err)), FG_REC_END);
    fg_rec_reader_close(r);

    /* back onto a fresh topic: the raw message byte for byte, the events as JSON */
    char set[300];
    snprintf(set, sizeof(set), "topics.claims=%s-copy", e.claims);
    const char *rargs[] = {"replay", "--config", e.cfg, "--set", set, out, "--progress", "off", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, rargs), 0, "replay failed, see %s", e.log);
    fg_tmsgs_t m = fg_tk_read_all(set + strlen("topics.claims="));
    cr_assert_eq(m.n, 4);
    for (size_t i = 0; i < m.n; i++) {
        cr_assert_str_eq(m.v[i].key, "P-SAME");
        if (i < 3)
            cr_assert_str_eq(m.v[i].value, json[i]);
        else
            cr_assert(m.v[i].len == sizeof(RAW) && !memcmp(m.v[i].value, RAW, sizeof(RAW)), "raw message changed");
    }
    fg_tk_free(&m);
    for (int i = 0; i < 3; i++)
        free(json[i]);
    remove(out);
    remove(e.cfg);
    fg_arena_destroy(a);
}

static size_t count_records(const char *path) {
    size_t n = 0;
    char err[512];
    cr_assert_eq(read_all(path, &n, err, sizeof(err)), FG_REC_END, "%s", err);
    return n;
}

Test(record, from_committed_records_only_what_is_new_and_all_streams_go_to_a_directory, .timeout = 60) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    fg_e2e_config(&e, fg_test_unique("g"), "");
    fg_tk_touch(e.inpatient);
    fg_tk_touch(e.invoicing);
    fg_tk_produce(e.claims, "P-1", "{\"not\": \"a claim\"}", 18);
    fg_tk_produce(e.claims, "P-2", "x", 1);
    char dir[200], grp[100], path[300];
    snprintf(dir, sizeof(dir), "/tmp/%s", fg_test_unique("recdir"));
    snprintf(grp, sizeof(grp), "%s", fg_test_unique("recgroup"));
    cr_assert_eq(mkdir(dir, 0755), 0);
    const char *args[] = {"record", "--config", e.cfg,       "--stream", "all", "--out",           dir, "--format",
                          "jsonl",  "--from",   "committed", "--group",  grp,   "--until-idle-ms", "0", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, args), 0, "record failed, see %s", e.log);
    snprintf(path, sizeof(path), "%s/claims.jsonl", dir);
    cr_assert_eq(count_records(path), 2);
    long long end = 0;
    cr_assert_eq(fg_tk_committed_sum(grp, e.claims, &end), 2, "record must commit what it wrote");

    fg_tk_produce(e.claims, "P-3", "y", 1);
    cr_assert_eq(fg_tp_run(e.log, 30, args), 0, "record failed, see %s", e.log);
    cr_assert_eq(count_records(path), 1, "the second recording must hold only the new message");
    /* the empty streams are empty recordings, which replay accepts (and produces nothing from) */
    snprintf(path, sizeof(path), "%s/inpatient.jsonl", dir);
    cr_assert_eq(count_records(path), 0);
    char set[300];
    snprintf(set, sizeof(set), "topics.claims=%s-copy", e.claims);
    char p0[300], p1[300];
    snprintf(p0, sizeof(p0), "%s/claims.jsonl", dir);
    snprintf(p1, sizeof(p1), "%s/invoicing.jsonl", dir);
    const char *rp[] = {"replay", "--config", e.cfg, "--set", set, p0, path, p1, "--progress", "off", NULL};
    cr_assert_eq(fg_tp_run(e.log, 30, rp), 0, "replay failed, see %s", e.log);
    fg_tmsgs_t m = fg_tk_read_all(set + strlen("topics.claims="));
    cr_assert(m.n == 1 && m.v[0].len == 1 && m.v[0].value[0] == 'y' && !strcmp(m.v[0].key, "P-3"));
    fg_tk_free(&m);

    /* bad arguments are refused before touching Kafka */
    const char *bad[] = {"record", "--config", e.cfg, "--stream", "all", "--out", "/tmp/x.avro", NULL};
    cr_assert_eq(fg_tp_run(e.log, 10, bad), 1);
    char *log = fg_tp_read(e.log);
    cr_assert(log && strstr(log, "one file per stream"), "%s", log ? log : "");
    free(log);
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof(path), "%s/%s.jsonl", dir, fg_stream_name((fg_stream_t)s));
        remove(path);
    }
    rmdir(dir);
    remove(e.cfg);
}

/* ---- 3. replay -> run -> alerts, at two speeds ---- */

typedef struct {
    char id[64];
    char *json; /* last published version, detection_time removed */
} alert_t;

typedef struct {
    alert_t *v;
    size_t n;
} alerts_t;

static void read_alerts(const char *topic, alerts_t *out) {
    fg_tmsgs_t m = fg_tk_read_all(topic);
    out->v = calloc(m.n + 1, sizeof(alert_t));
    out->n = 0;
    for (size_t i = 0; i < m.n; i++) {
        json_error_t je;
        json_t *j = json_loads(m.v[i].value, 0, &je);
        cr_assert(j, "alert is not JSON: %s", je.text);
        const char *id = json_string_value(json_object_get(j, "alert_id"));
        cr_assert(id);
        json_object_del(j, "detection_time");
        alert_t *slot = NULL;
        for (size_t k = 0; k < out->n && !slot; k++)
            if (!strcmp(out->v[k].id, id)) slot = &out->v[k];
        if (!slot) {
            slot = &out->v[out->n++];
            snprintf(slot->id, sizeof(slot->id), "%s", id);
        }
        free(slot->json);
        slot->json = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
    }
    fg_tk_free(&m);
}

static void free_alerts(alerts_t *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].json);
    free(s->v);
}

/* the scenario as three recordings: claims and inpatient Avro, invoicing JSON Lines */
static void write_mixed(const fg_mixed_t *m, char paths[3][256], int64_t *span_ms) {
    static const char *ext[3] = {"avro", "avro", "jsonl"};
    fg_rec_writer_t *w[3];
    char err[512];
    for (int s = 0; s < 3; s++) {
        snprintf(paths[s], 256, "%s", tmp_path(ext[s]));
        w[s] = fg_rec_writer_open(paths[s], (fg_stream_t)s, err, sizeof(err));
        cr_assert(w[s], "%s", err);
    }
    for (size_t i = 0; i < m->n; i++) {
        const fg_event_t *ev = &m->v[i];
        const char *key = ev->stream == FG_STREAM_INVOICING ? ev->institution_id : ev->patient_id;
        cr_assert_eq(fg_rec_writer_put(w[ev->stream], key, strlen(key), ev->event_time_ms, ev, err, sizeof(err)), FG_OK,
                     "%s", err);
    }
    for (int s = 0; s < 3; s++)
        cr_assert_eq(fg_rec_writer_close(w[s], err, sizeof(err)), FG_OK, "%s", err);
    *span_ms = m->v[m->n - 1].event_time_ms - m->v[0].event_time_ms;
}

/* replays the files into fresh topics with `run` consuming (live or after), @returns the alerts */
static void replay_and_detect(char paths[3][256], const char *speed, int live, alerts_t *out, double *secs) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200], extra[1400], cat[600], bl[600];
    snprintf(group, sizeof(group), "%s-g", e.base);
    snprintf(cat, sizeof(cat), "%s/reference/catalogue.json", fg_test_source_dir());
    snprintf(bl, sizeof(bl), "%s/reference/blacklists.json", fg_test_source_dir());
    snprintf(extra, sizeof(extra), "\"reference\": {\"catalogue\": \"%s\", \"blacklists\": \"%s\"}", cat, bl);
    fg_e2e_config(&e, group, extra);
    fg_tk_touch(e.claims);
    fg_tk_touch(e.inpatient);
    fg_tk_touch(e.invoicing);
    fg_tk_touch(e.alerts);
    char run_log[300];
    snprintf(run_log, sizeof(run_log), "%s.run", e.log);
    const char *run[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", NULL};
    const char *rp[] = {"replay", "--config",   e.cfg, paths[0],      paths[1], paths[2], "--speed",
                        speed,    "--progress", "off", "--lag-group", group,    NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (live) {
        pid_t pid = spawn(run_log, run);
        int rc = fg_tp_run(e.log, 60, rp);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc != 0) kill_wait(pid);
        cr_assert_eq(rc, 0, "replay failed, see %s", e.log);
        int st = wait_for(pid, 60000);
        if (st < 0) kill_wait(pid);
        cr_assert_eq(st, 0, "fundguard run failed or hung, see %s", run_log);
    } else {
        cr_assert_eq(fg_tp_run(e.log, 60, rp), 0, "replay failed, see %s", e.log);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cr_assert_eq(fg_tp_run(run_log, 120, run), 0, "fundguard run failed, see %s", run_log);
    }
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    read_alerts(e.alerts, out);
    remove(e.cfg);
}

Test(replay, same_alerts_at_full_speed_and_paced, .timeout = 240) {
    fg_mixed_t m;
    fg_mixed_build(&m);
    char paths[3][256];
    int64_t span_ms;
    write_mixed(&m, paths, &span_ms);

    alerts_t fast = {0}, paced = {0};
    double t_fast, t_paced;
    replay_and_detect(paths, "max", 0, &fast, &t_fast);
    /* ~3 s of wall time for the scenario's ~40 days */
    char speed[32];
    snprintf(speed, sizeof(speed), "%.0f", (double)span_ms / 3000.0);
    replay_and_detect(paths, speed, 1, &paced, &t_paced);
    fprintf(stderr,
            "replay: %zu events over %.1f days; max speed: replay %.2f s, %zu alert ids; --speed %s: %.2f s, "
            "%zu alert ids\n",
            m.n, (double)span_ms / 86400000.0, t_fast, fast.n, speed, t_paced, paced.n);

    cr_assert_gt(fast.n, 20, "the every-pattern scenario raised only %zu alerts", fast.n);
    cr_assert(t_paced > 2.0 && t_paced < 20.0, "paced replay took %.2f s, expected about 3", t_paced);
    for (size_t i = 0; i < fast.n; i++) {
        const alert_t *o = NULL;
        for (size_t k = 0; k < paced.n && !o; k++)
            if (!strcmp(paced.v[k].id, fast.v[i].id)) o = &paced.v[k];
        cr_assert(o, "alert %s of the full-speed replay is missing from the paced one: %s", fast.v[i].id,
                  fast.v[i].json);
        cr_assert_str_eq(o->json, fast.v[i].json, "alert %s differs between speeds", fast.v[i].id);
    }
    cr_assert_eq(paced.n, fast.n, "the paced replay raised %zu alert ids, full speed %zu", paced.n, fast.n);
    free_alerts(&fast);
    free_alerts(&paced);
    for (int s = 0; s < 3; s++)
        remove(paths[s]);
    fg_mixed_free(&m);
}

/* ---- 4. lag pacing ---- */

static long long hw_max(const char *topic, long long *sum) {
    long long end = 0;
    fg_tk_committed_sum(fg_test_unique("probe"), topic, &end);
    if (sum) *sum = end;
    /* per partition: read them all (small) */
    fg_tmsgs_t m = fg_tk_read_all(topic);
    long long per[64] = {0}, mx = 0;
    for (size_t i = 0; i < m.n; i++)
        if (m.v[i].partition < 64 && ++per[m.v[i].partition] > mx) mx = per[m.v[i].partition];
    fg_tk_free(&m);
    return mx;
}

Test(replay, lag_pacing_holds_at_max_lag_until_the_group_consumes, .timeout = 120) {
    fg_e2e_t e;
    fg_e2e_setup(&e);
    char group[200];
    snprintf(group, sizeof(group), "%s-g", e.base);
    fg_e2e_config(&e, group, "");
    fg_tk_touch(e.claims);
    fg_tk_touch(e.alerts);

    /* 2000 claims over 50 patients */
    char err[512];
    const char *p = tmp_path("avro");
    fg_rec_writer_t *w = fg_rec_writer_open(p, FG_STREAM_CLAIMS, err, sizeof(err));
    cr_assert(w, "%s", err);
    fg_arena_t *a = fg_arena_create(1 << 16);
    for (int i = 0; i < 2000; i++) {
        char id[32], key[32];
        snprintf(id, sizeof(id), "CL-L%d", i);
        snprintf(key, sizeof(key), "P-%d", i % 50);
        fg_arena_reset(a);
        fg_event_t ev = big_claim(a, id, 1, T0 + i * 1000LL);
        ev.patient_id = key;
        cr_assert_eq(fg_rec_writer_put(w, key, strlen(key), ev.event_time_ms, &ev, err, sizeof(err)), FG_OK);
    }
    cr_assert_eq(fg_rec_writer_close(w, err, sizeof(err)), FG_OK);

    const char *rp[] = {"replay",      "--config", e.cfg,        p,     "--max-lag", "100",
                        "--lag-group", group,      "--progress", "off", NULL};
    char rp_log[300];
    snprintf(rp_log, sizeof(rp_log), "%s.replay", e.log);
    pid_t pid = spawn(rp_log, rp);
    /* the group is idle: the replay must stop at 100 per partition */
    cr_assert_eq(wait_for(pid, 3000), -1, "replay finished although the group consumed nothing (see %s)", rp_log);
    long long total = 0, mx = hw_max(e.claims, &total);
    cr_assert(mx <= 100, "a partition ran %lld messages ahead of an idle group (max-lag 100)", mx);
    cr_assert(total >= 100 && total < 2000, "produced %lld while blocked", total);
    /* still held after another second */
    cr_assert_eq(wait_for(pid, 1000), -1);
    long long total2 = 0;
    cr_assert(hw_max(e.claims, &total2) <= 100);
    cr_assert_eq(total2, total, "the replay went on producing while the group was idle");

    /* the group consumes: the replay completes */
    const char *run[] = {"run", "--config", e.cfg, "--idle-exit-ms", "3000", NULL};
    pid_t rpid = spawn(e.log, run);
    int st = wait_for(pid, 60000);
    if (st < 0) kill_wait(pid);
    cr_assert_eq(st, 0, "replay did not complete once the group consumed (see %s)", rp_log);
    st = wait_for(rpid, 60000);
    if (st < 0) kill_wait(rpid);
    cr_assert_eq(st, 0, "fundguard run failed, see %s", e.log);
    long long end = 0, committed = fg_tk_committed_sum(group, e.claims, &end);
    cr_assert_eq(end, 2000);
    cr_assert_eq(committed, 2000);
    char *log = fg_tp_read(rp_log);
    cr_assert(log && strstr(log, "max lag") && strstr(log, "2000 delivered"), "summary missing: %s", log ? log : "");
    free(log);
    remove(p);
    remove(e.cfg);
    fg_arena_destroy(a);
}
