//! The archive in a real PostgreSQL server (`--db postgres://…`): the same rows and the same
//! answers as SQLite, served over HTTP, and filled by several batches at once — each report
//! made exactly once, a killed batch's report taken over when its lease runs out.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::PgServer;
use common::*;
use vidscribe::archive::{Db, Store};

/// Synthetic reports (scripts/archive-fixture.py, the bench's generator) and the committed
/// transcript of the sample report, linked to its article.
fn fixtures(dir: &Path, reports: usize) -> PathBuf {
    let f = dir.join("fixture");
    run_tool(
        Command::new("python3").arg(root().join("scripts/archive-fixture.py")).arg(reports.to_string()).arg(&f),
        "scripts/archive-fixture.py failed",
    );
    let real = f.join("the-sample");
    std::fs::create_dir_all(&real).unwrap();
    // As an editor left it: one revision (`vidscribe apply`), one word corrected.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/golden/report.linked.json")).unwrap())
            .unwrap();
    doc["revisions"] = serde_json::json!([
        { "number": 1, "editor": "A. Editor", "at": "2026-12-03T10:00:00Z", "source": "report.srt", "changes": 1 }
    ]);
    let edit = serde_json::json!({
        "before": "on", "after": "of", "start_ms": 25820, "end_ms": 26760, "reason": "edited",
        "edit": { "change": "words", "revision": 1, "timing": "recognised" }
    });
    match doc["corrections"].as_array_mut() {
        Some(c) => c.push(edit),
        None => doc["corrections"] = serde_json::json!([edit]),
    }
    std::fs::write(real.join("report.json"), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    f
}

fn index(fixture: &Path, folder: &Path, db: Option<&str>) {
    let mut c = bin();
    c.arg("index").arg(fixture).arg("-o").arg(folder);
    if let Some(db) = db {
        c.args(["--db", db]);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "index: {}", String::from_utf8_lossy(&out.stderr));
}

/// `search --json` hits as (report, start_ms), and the hits themselves.
fn search(archive: &str, db: Option<&str>, query: &str) -> (BTreeSet<(String, u64)>, Vec<serde_json::Value>) {
    let mut c = bin();
    c.arg("search").arg(archive).arg(query).args(["--json", "--flat", "--limit", "1000"]);
    if let Some(db) = db {
        c.args(["--db", db]);
    }
    let out = c.output().unwrap();
    let hits: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let set =
        hits.iter().map(|h| (h["report"].as_str().unwrap().to_string(), h["start_ms"].as_u64().unwrap())).collect();
    (set, hits)
}

/// The bench's queries, and a few more of every kind of the grammar.
const QUERIES: [&str; 28] = [
    "prisoners",
    "return prisoners",
    "children back",
    "landmine maps",
    "negotiation",
    "\"prisoners of war\"",
    "\"we need our children back\"",
    "\"European Court\"",
    "\"December 9\"",
    "\"human rights\"",
    "Gerasimov",
    "Sahakian",
    "Poghosyan",
    "Siranuysh",
    "Kerasimoff",
    "negotia*",
    "captiv*",
    "Gyumri OR Yerevan",
    "prisoners -Azerbaijan",
    "soldiers captivity",
    "Sahakyan's",
    "-prisoners war",
    "war -\"prisoners of war\"",
    "pash* OR gera*",
    "Éuropean COURT",
    "zzzz nothing",
    // Hostile text reaches neither database's syntax: it is tokens or nothing.
    "'); DROP TABLE reports; -- prisoners",
    "war:* & !Azerbaijan | \\' \"children",
];

#[test]
fn postgres_gives_the_same_rows_and_answers_as_sqlite() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixtures(dir.path(), 400);
    let (lite, shared) = (dir.path().join("lite"), dir.path().join("shared"));

    // An empty server is not an archive yet: one line, exit 1.
    let out = bin().arg("search").arg(&pg.url).arg("prisoners").output().unwrap();
    let err = assert_clean_failure(&out, "search before any report");
    assert!(err.contains("no reports yet"), "{err}");

    index(&fixture, &lite, None);
    index(&fixture, &shared, Some(&pg.url));
    // Indexing again replaces, never duplicates.
    index(&fixture.join("the-sample"), &shared, Some(&pg.url));
    let dump_lite = Store::open(&lite, false).unwrap().dump().unwrap();
    let dump_pg = Store::connect(&Db::parse(&pg.url), None, false).unwrap().dump().unwrap();
    assert!(dump_lite.lines().count() > 10_000, "{} rows", dump_lite.lines().count());
    assert!(dump_lite == dump_pg, "the same rows in both databases");
    let mut client = pg.client();
    let reports: i64 = client.query_one("SELECT count(*) FROM reports", &[]).unwrap().get(0);
    assert_eq!(reports, 401);
    // Impacts have no foreign key: the report indexed again took its old ones along.
    let orphans: i64 = client
        .query_one(
            "SELECT count(*) FROM impacts i WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.id = i.report_id)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    // Each passage holds its own words (sliced out of the report's, above all the dump's rows
    // equal archive.db's): as many as the reports counted, four arrays alike.
    let (held, counted, unequal): (i64, i64, i64) = client
        .query_one(
            "SELECT (SELECT sum(cardinality(word_texts)) FROM passages)::bigint, (SELECT sum(words) FROM reports)::bigint,
                    (SELECT count(*) FROM passages WHERE cardinality(word_texts) <> cardinality(word_starts)
                        OR cardinality(word_texts) <> cardinality(word_ends)
                        OR cardinality(word_texts) <> cardinality(word_probabilities)
                        OR cardinality(word_texts) = 0)",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert!(
        held > 10_000 && held == counted && unequal == 0,
        "{held} words held, {counted} counted, {unequal} unequal"
    );
    let (editor, changes): (String, i32) = client
        .query_one("SELECT editor, jsonb_array_length(changes) FROM revisions", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((editor.as_str(), changes), ("A. Editor", 1), "the revision and its change are stored");
    let gin: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'reports' AND indexdef LIKE '%USING gin (tsv)%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(gin, 1, "the report-level tsvector has its GIN index");

    let mut found_some = 0;
    for q in QUERIES {
        let (a, hits_a) = search(&lite.to_string_lossy(), None, q);
        let (b, hits_b) = search(&pg.url, None, q);
        if a.len() < 1000 {
            assert_eq!(a, b, "{q:?}: the same (report, start_ms) from both backends");
        } else {
            // Past the limit, which 1000 come first is the ranking's choice: each backend's
            // hits must still be real ones of the other's, judged by their text.
            assert_eq!(b.len(), 1000, "{q:?}");
        }
        // The same hit reads the same in both (snippet, paragraph, link).
        let by_key = |hits: &[serde_json::Value]| -> BTreeMap<(String, u64), serde_json::Value> {
            hits.iter()
                .map(|h| {
                    let mut h = h.clone();
                    let key = (h["report"].as_str().unwrap().to_string(), h["start_ms"].as_u64().unwrap());
                    h.as_object_mut().unwrap().remove("rank");
                    h.as_object_mut().unwrap().remove("url");
                    (key, h)
                })
                .collect()
        };
        let (ka, kb) = (by_key(&hits_a), by_key(&hits_b));
        for (k, h) in &kb {
            if let Some(other) = ka.get(k) {
                assert_eq!(h, other, "{q:?} {k:?}");
            }
        }
        found_some += usize::from(!a.is_empty());
        if q == "zzzz nothing" {
            assert!(a.is_empty() && b.is_empty());
        }
    }
    assert!(found_some >= 22, "most queries find something: {found_some} of {}", QUERIES.len());
    // Filters, and names matched by sound, alike.
    for extra in [["--source", "CivilNet"], ["--since", "2022-01-01"], ["--until", "2021-06-30"]] {
        let run = |archive: &str| {
            let out = bin()
                .arg("search")
                .arg(archive)
                .arg("Gerasimov")
                .args(extra)
                .args(["--json", "--flat", "--limit", "1000"])
                .output()
                .unwrap();
            let mut lines: Vec<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let h: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{} {}", h["report"], h["start_ms"])
                })
                .collect();
            lines.sort();
            lines
        };
        let a = run(&lite.to_string_lossy());
        assert!(!a.is_empty() && a.len() < 1000, "{extra:?}: {}", a.len());
        assert_eq!(a, run(&pg.url), "{extra:?}");
    }

    // serve --db: the API gives what search gives.
    let server = serve(&["--db".as_ref(), pg.url.as_ref()]);
    for q in ["Gerasimov", "\"prisoners of war\"", "negotia*"] {
        let api = api_search(&server.addr, q);
        assert!(!api.is_empty(), "{q}");
        assert_eq!(api, search(&pg.url, None, q).0, "{q}");
    }
    drop(server);

    // A database of schema 1 (no speakers, no revisions, no impacts) is upgraded when opened:
    // searched as before, its old passages with no speaker, its reports given their impacts as
    // indexing gives them.
    let impacts = |client: &mut postgres::Client| -> Vec<(String, i64, f32)> {
        client
            .query("SELECT term, report_id, impact FROM impacts ORDER BY term, report_id", &[])
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let indexed = impacts(&mut client);
    assert!(indexed.len() > 100, "{}", indexed.len());
    client
        .batch_execute(
            "ALTER TABLE passages DROP COLUMN speaker; DROP TABLE revisions; DROP TABLE impacts;
             UPDATE settings SET value = '1' WHERE key = 'schema'",
        )
        .unwrap();
    let (old, _) = search(&pg.url, None, "prisoners");
    assert!(!old.is_empty());
    let schema: String = client.query_one("SELECT value FROM settings WHERE key = 'schema'", &[]).unwrap().get(0);
    assert_eq!(schema, "7");
    assert_eq!(impacts(&mut client), indexed, "backfilled impacts");
    // Schema 4 had a primary key on impacts and foreign keys on words and impacts (checked on
    // every row inserted), schema 5 a GIN index on the passages' vectors, schema 6 a table of
    // words, a row each: dropped or moved into the passages when opened, the rows kept.
    let before = Store::connect(&Db::parse(&pg.url), None, false).unwrap().dump().unwrap();
    client
        .batch_execute(
            "CREATE TABLE old_words AS SELECT * FROM words;
             DROP VIEW words;
             ALTER TABLE old_words RENAME TO words;
             ALTER TABLE words ADD PRIMARY KEY (passage_id, position);
             ALTER TABLE passages DROP COLUMN word_texts, DROP COLUMN word_starts, DROP COLUMN word_ends,
                 DROP COLUMN word_probabilities;
             CREATE INDEX passages_tsv ON passages USING GIN (tsv);
             ALTER TABLE impacts ADD PRIMARY KEY (term, report_id);
             ALTER TABLE impacts ADD FOREIGN KEY (report_id) REFERENCES reports (id) ON DELETE CASCADE;
             ALTER TABLE words ADD FOREIGN KEY (passage_id) REFERENCES passages (id) ON DELETE CASCADE;
             UPDATE settings SET value = '4' WHERE key = 'schema'",
        )
        .unwrap();
    assert!(!search(&pg.url, None, "prisoners").0.is_empty());
    let constraints: Vec<String> = client
        .query(
            "SELECT conname::text FROM pg_constraint WHERE conrelid IN ('impacts'::regclass, 'words'::regclass)
             AND contype IN ('p', 'f') ORDER BY 1",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert!(constraints.is_empty(), "{constraints:?}");
    let words_kind: i8 =
        client.query_one("SELECT relkind FROM pg_class WHERE oid = 'words'::regclass", &[]).unwrap().get(0);
    assert_eq!(words_kind, b'v' as i8, "words is a view of the passages' words");
    assert!(before == Store::connect(&Db::parse(&pg.url), None, false).unwrap().dump().unwrap(), "the same rows");
    let gin: i64 =
        client.query_one("SELECT count(*) FROM pg_indexes WHERE indexname = 'passages_tsv'", &[]).unwrap().get(0);
    assert_eq!(gin, 0);
    assert_eq!(impacts(&mut client), indexed);
    let revisions: i64 = client.query_one("SELECT count(*) FROM revisions", &[]).unwrap().get(0);
    assert_eq!(revisions, 0, "the table is back, empty until the report is indexed again");
    let speakers: i64 = client.query_one("SELECT count(speaker) FROM passages", &[]).unwrap().get(0);
    assert_eq!(speakers, 0);

    // A database written by a newer vidscribe is refused, in one line, and left alone.
    client.execute("UPDATE settings SET value = '99' WHERE key = 'schema'", &[]).unwrap();
    let out = bin().arg("search").arg(&pg.url).arg("prisoners").output().unwrap();
    let err = assert_clean_failure(&out, "a newer schema");
    assert!(err.contains("schema 99, newer than this vidscribe reads (7)"), "{err}");
    let out = bin().arg("index").arg(&fixture).arg("-o").arg(&shared).args(["--db", &pg.url]).output().unwrap();
    assert_clean_failure(&out, "index into a newer schema");
    // A wrong address: one line, the password not shown.
    let out = bin().arg("search").arg("postgres://someone:secret@127.0.0.1:1/x").arg("war").output().unwrap();
    let err = assert_clean_failure(&out, "no server");
    assert!(err.contains("postgres://127.0.0.1:1/x") && !err.contains("secret") && !err.contains("someone"), "{err}");
}

/// `/api/search` of a running server as (report, start_ms).
fn api_search(addr: &str, q: &str) -> BTreeSet<(String, u64)> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let path = format!("/api/search?q={}&limit=1000", q.replace(' ', "+").replace('"', "%22").replace('*', "%2A"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        all.starts_with(b"HTTP/1.1 200") || all.starts_with(b"HTTP/1.0 200"),
        "{q}: {}",
        String::from_utf8_lossy(&all[..at])
    );
    let api: Vec<serde_json::Value> = serde_json::from_slice(&all[at + 4..]).unwrap();
    api.iter().map(|h| (h["report"].as_str().unwrap().to_string(), h["start_ms"].as_u64().unwrap())).collect()
}

/// Waits (at most 30 s) until `found` holds; how long it took.
fn within_30s(mut found: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !found() {
        assert!(t.elapsed() < Duration::from_secs(30), "not seen within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    t.elapsed()
}

/// A team's setup: a streaming replica (pg_basebackup + hot standby, started here) answers
/// every query as the archive does — `search --read-db` and `serve --read-db` read from it —
/// and a report committed to the archive by another machine's index is found through it within
/// seconds; two serve processes on one database answer alike, and both find a new report at
/// once (they keep nothing of their own).
#[test]
fn a_replica_and_two_servers_answer_as_the_archive_does() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgServer::start();
    let fixture = fixtures(tmp.path(), 20);
    let folder = tmp.path().join("archive");
    index(&fixture, &folder, Some(&pg.url));
    let replica = PgServer::replica(&pg);
    let archive = folder.to_string_lossy().into_owned();
    let read = |q: &str| {
        let out = bin()
            .arg("search")
            .arg(&archive)
            .arg(q)
            .args(["--json", "--flat", "--limit", "1000", "--db", &pg.url, "--read-db", &replica.url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{q}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|h| (h["report"].as_str().unwrap().to_string(), h["start_ms"].as_u64().unwrap()))
            .collect::<BTreeSet<_>>()
    };
    for q in QUERIES {
        assert_eq!(read(q), search(&archive, Some(&pg.url), q).0, "{q}");
    }
    let standby: bool = postgres::Client::connect(&replica.url, postgres::NoTls)
        .unwrap()
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(standby, "the replica is a standby");

    let through_replica =
        serve(&[folder.as_os_str(), "--db".as_ref(), pg.url.as_ref(), "--read-db".as_ref(), replica.url.as_ref()]);
    let one = serve(&[folder.as_os_str(), "--db".as_ref(), pg.url.as_ref()]);
    let two = serve(&[folder.as_os_str(), "--db".as_ref(), pg.url.as_ref()]);
    for q in ["Gerasimov", "\"prisoners of war\"", "negotia*", "children back"] {
        let want = search(&archive, Some(&pg.url), q).0;
        assert!(!want.is_empty(), "{q}");
        // One client, the two servers in turn.
        for addr in [&one.addr, &two.addr, &one.addr, &two.addr, &through_replica.addr] {
            assert_eq!(api_search(addr, q), want, "{q} from {addr}");
        }
    }

    // Another machine commits a report with a word no other report has.
    let word = "Quetzalcoatlus";
    let news = tmp.path().join("news");
    std::fs::create_dir_all(news.join("breaking")).unwrap();
    let text = std::fs::read_to_string(fixture.join("the-sample/report.json")).unwrap();
    assert!(text.contains("Gerasimov"));
    std::fs::write(news.join("breaking/report.json"), text.replace("Gerasimov", word)).unwrap();
    assert!(api_search(&one.addr, word).is_empty());
    index(&news, &folder, Some(&pg.url));
    // Both servers on the archive find it at once; the replica within seconds.
    assert!(!api_search(&one.addr, word).is_empty() && !api_search(&two.addr, word).is_empty());
    let lag = within_30s(|| !api_search(&through_replica.addr, word).is_empty());
    eprintln!("the replica's server found the new report after {} ms", lag.as_millis());
    assert_eq!(api_search(&through_replica.addr, word), api_search(&one.addr, word));
    assert_eq!(read(word), search(&archive, Some(&pg.url), word).0);

    // The replica's server reads the replica: with the archive's own server gone it still answers.
    drop(one);
    drop(two);
    drop(pg);
    assert!(!api_search(&through_replica.addr, "Gerasimov").is_empty());
}

/// PostgreSQL ranks first the reports where the query's words weigh most (read from the impacts
/// index in that order, a few hundred per word whatever the archive's size), then the rest:
/// paged through seven at a time, every report that matches comes exactly once — the same set
/// that ranking every match at once gives — and the first page is mostly the same reports.
#[test]
fn ranking_the_weightiest_reports_first_loses_and_repeats_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgServer::start();
    let fixture = fixtures(tmp.path(), 400);
    let folder = tmp.path().join("archive");
    index(&fixture, &folder, Some(&pg.url));
    let mut store = Store::connect(&Db::Postgres(pg.url.clone()), Some(&folder), false).unwrap();
    let mut client = pg.client();
    assert_paging_loses_and_repeats_nothing(&mut store, "ranking all at once", |_, q| {
        client
            .query(
                "SELECT id FROM reports, CAST($1::text AS tsquery) q WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, report",
                &[&q.positive_tsquery().unwrap()],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
}

/// Five 8-second clips, one with its article.
fn clips(dir: &Path) -> PathBuf {
    let c = dir.join("collection");
    std::fs::create_dir_all(&c).unwrap();
    for (from, to) in [
        ("formats/clip.wav", "a.wav"),
        ("formats/clip.ogg", "b.ogg"),
        ("formats/clip.mp3", "c.mp3"),
        ("formats/clip.flac", "d.flac"),
        ("formats/clip.opus", "e.opus"),
    ] {
        std::fs::copy(sample(from), c.join(to)).unwrap();
    }
    std::fs::copy(sample("article.txt"), c.join("a.txt")).unwrap();
    c
}

fn batch(collection: &Path, archive: &Path, db: &str, lease: &str) -> Command {
    let mut c = std_bin();
    c.arg("batch")
        .arg(collection)
        .arg("-o")
        .arg(archive)
        .args(["--db", db, "--lease", lease, "--threads", "1", "-m"])
        .arg(model())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The batch log's lines that say a report was made, by report.
fn made(archive: &Path) -> BTreeMap<String, usize> {
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    let mut n = BTreeMap::new();
    for l in log.lines() {
        if let Some(rest) = l.split_once(" done ").map(|(_, r)| r) {
            *n.entry(rest.split_whitespace().next().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    n
}

fn wait_out(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn two_batches_fill_one_archive_each_report_once() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = clips(dir.path());
    // Both backends: PostgreSQL for machines sharing a folder, SQLite for one machine.
    let lite = dir.path().join("lite");
    for (archive, db) in [
        (dir.path().join("shared"), pg.url.clone()),
        (lite.clone(), lite.join("archive.db").to_string_lossy().into_owned()),
    ] {
        let first = batch(&c, &archive, &db, "60").spawn().unwrap();
        let second = batch(&c, &archive, &db, "60").spawn().unwrap();
        let (ok1, err1) = wait_out(first);
        let (ok2, err2) = wait_out(second);
        assert!(ok1 && ok2, "{db}: both batches finish:\n{err1}\n{err2}");
        let made = made(&archive);
        assert_eq!(made.len(), 5, "{db}: every report made: {made:?}");
        assert!(made.values().all(|&n| n == 1), "{db}: each exactly once: {made:?}");
        let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
        for err in [&err1, &err2] {
            assert!(err.contains("failed") && err.contains(" 0 failed"), "{err}");
        }
        // Every report is in the database once, with its files, and no claim is left.
        let mut store = Store::connect(&Db::parse(&db), Some(&archive), false).unwrap();
        let dump = store.dump().unwrap();
        let reports = dump.split("--\n").next().unwrap().lines().count();
        assert_eq!(reports, 5, "{db}\n{log}");
        for r in made.keys() {
            assert!(archive.join(r).join("report.html").is_file(), "{r}");
        }
        let hits =
            search(&archive.to_string_lossy(), (db.starts_with("postgres")).then_some(db.as_str()), "Good evening").0;
        assert!(hits.len() >= 4, "{db}: the clips are searchable: {hits:?}");
    }
    let mut client = pg.client();
    let claims: i64 = client.query_one("SELECT count(*) FROM claims", &[]).unwrap().get(0);
    assert_eq!(claims, 0, "claims are released");
}

#[test]
fn a_killed_batchs_report_is_taken_over_after_its_lease() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("collection");
    std::fs::create_dir_all(&c).unwrap();
    // Long enough to be killed in the middle of it, one thread.
    std::fs::copy(sample("report.webm"), c.join("report.webm")).unwrap();
    std::fs::copy(sample("formats/clip.wav"), c.join("clip.wav")).unwrap();
    let archive = dir.path().join("shared");
    let mut first = batch(&c, &archive, &pg.url, "3").spawn().unwrap();
    let mut client = pg.client();
    let started = Instant::now();
    let holder: String = loop {
        let row = client.query_opt("SELECT worker FROM claims WHERE report LIKE 'report-%'", &[]).ok().flatten();
        if let Some(r) = row {
            break r.get(0);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first batch never claimed the report");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    first.kill().unwrap();
    let _ = first.wait();
    assert!(made(&archive).is_empty() || !made(&archive).keys().any(|r| r.starts_with("report-")));
    let left: i64 = client.query_one("SELECT count(*) FROM claims", &[]).unwrap().get(0);
    assert_eq!(left, 1, "the killed batch's claim is still there");

    let t = Instant::now();
    let (ok, err) = wait_out(batch(&c, &archive, &pg.url, "3").spawn().unwrap());
    assert!(ok, "{err}");
    let log = std::fs::read_to_string(archive.join("batch.log")).unwrap();
    assert!(log.contains("waiting for report-"), "it waited for the held report:\n{log}");
    assert!(log.contains(&format!("from {holder}, whose lease ran out")), "and took it over:\n{log}");
    let made = made(&archive);
    assert_eq!(made.len(), 2, "{log}");
    assert!(made.values().all(|&n| n == 1));
    let reports: i64 = client.query_one("SELECT count(*) FROM reports", &[]).unwrap().get(0);
    assert_eq!(reports, 2);
    let claims: i64 = client.query_one("SELECT count(*) FROM claims", &[]).unwrap().get(0);
    assert_eq!(claims, 0);
    eprintln!("second batch: {:.1} s, including the wait for the lease", t.elapsed().as_secs_f64());
}

/// A service on the address that accepts the connection and never answers (not PostgreSQL, or a
/// server that hangs): one line after the connect timeout and a little more, never a hang.
#[test]
fn a_server_that_never_answers_is_given_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for c in listener.incoming().take(2) {
            open.push(c.unwrap());
        }
        std::thread::sleep(Duration::from_secs(30));
        drop(open);
    });
    let url = format!("postgres://someone@127.0.0.1:{port}/archive?connect_timeout=2");
    let t = Instant::now();
    let out = bin().arg("search").arg(&url).arg("war").timeout(Duration::from_secs(25)).output().unwrap();
    let err = assert_clean_failure(&out, "a silent server");
    assert!(err.contains("did not answer within 7 s"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    drop(held);
}
