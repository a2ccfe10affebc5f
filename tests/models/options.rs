//! The model options on Lifeguard's fixture table `lifeguard_models.post`
//! (scripts/fixtures/models.sql; `created_at` / `updated_at` are NOT NULL with no default,
//! so only the model's `now()` fills them): server-managed timestamps, soft delete, and
//! hooks, each inside a transaction that is rolled back.

use std::cell::RefCell;

use chrono::{DateTime, TimeZone, Utc};
use lifeguard::model::{Changes, Hooks};
use lifeguard::{Error, ErrorKind, Executor, Model, Transaction};

use crate::{pool, statements};

/// Timestamps from the struct option, soft delete on `deleted_at`.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "lifeguard_models.post", timestamps)]
pub struct Post {
    #[lifeguard(primary_key, default)]
    pub post_id: i64,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[lifeguard(soft_delete)]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The same table with hooks, timestamps marked per field, no soft delete.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "lifeguard_models.post", hooks)]
pub struct Note {
    #[lifeguard(primary_key, default)]
    pub post_id: i64,
    pub title: String,
    #[lifeguard(created_at)]
    pub created_at: DateTime<Utc>,
    #[lifeguard(updated_at)]
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

thread_local! {
    /// What the hooks saw, on this test's thread.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(entry: String) {
    LOG.with(|l| l.borrow_mut().push(entry));
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

impl Hooks for Note {
    fn before_insert(&self, _exec: &(impl Executor + ?Sized)) -> lifeguard::Result<()> {
        if self.title == "REFUSE" {
            return Err(Error::hook("no post may be called REFUSE"));
        }
        log(format!("before_insert {}", self.title));
        Ok(())
    }
    fn after_insert(&self, exec: &(impl Executor + ?Sized)) -> lifeguard::Result<()> {
        // The hook runs on the write's executor: it sees the row just stored.
        let seen: i64 = exec
            .query_one(
                "SELECT count(*) FROM lifeguard_models.post WHERE post_id = $1",
                &[&self.post_id],
            )?
            .get(0);
        if self.title == "FAIL_AFTER" {
            return Err(Error::hook("after_insert failed"));
        }
        log(format!("after_insert {} seen {seen}", self.title));
        Ok(())
    }
    fn before_update(
        &self,
        changes: &mut Changes<Self>,
        _exec: &(impl Executor + ?Sized),
    ) -> lifeguard::Result<()> {
        if self.title == "LOCKED" {
            return Err(Error::hook("locked"));
        }
        log(format!("before_update {} {changes:?}", self.title));
        // A hook may add to the change set.
        *changes = std::mem::take(changes).set_null(Note::DeletedAt);
        Ok(())
    }
    fn after_update(&self, _exec: &(impl Executor + ?Sized)) -> lifeguard::Result<()> {
        log(format!("after_update {}", self.title));
        Ok(())
    }
    fn before_delete(&self, _exec: &(impl Executor + ?Sized)) -> lifeguard::Result<()> {
        if self.title == "KEEP" {
            return Err(Error::hook("keep it"));
        }
        log(format!("before_delete {}", self.title));
        Ok(())
    }
    fn after_delete(&self, _exec: &(impl Executor + ?Sized)) -> lifeguard::Result<()> {
        log(format!("after_delete {}", self.title));
        Ok(())
    }
}

fn post(title: &str) -> Post {
    let epoch = Utc.timestamp_opt(0, 0).unwrap();
    Post {
        post_id: 0,
        title: title.into(),
        // Not bound: the statements write now().
        created_at: epoch,
        updated_at: epoch,
        deleted_at: None,
    }
}

fn note(title: &str) -> Note {
    let p = post(title);
    Note {
        post_id: 0,
        title: p.title,
        created_at: p.created_at,
        updated_at: p.updated_at,
        deleted_at: None,
    }
}

/// The transaction's `now()`.
fn now(tx: &Transaction<'_>) -> DateTime<Utc> {
    tx.query_one("SELECT now()", &[]).unwrap().get(0)
}

fn y2k() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
}

/// Back-dates both timestamps of a row, so a later `now()` shows.
fn backdate(tx: &Transaction<'_>, id: i64) {
    tx.execute(
        "UPDATE lifeguard_models.post SET created_at = $2, updated_at = $2 WHERE post_id = $1",
        &[&id, &y2k()],
    )
    .unwrap();
}

fn stamps(tx: &Transaction<'_>, id: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let r = tx
        .query_one(
            "SELECT created_at, updated_at FROM lifeguard_models.post WHERE post_id = $1",
            &[&id],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn rows_titled(e: &impl Executor, prefix: &str) -> i64 {
    e.query_one(
        "SELECT count(*) FROM lifeguard_models.post WHERE title LIKE $1 || '%'",
        &[&prefix],
    )
    .unwrap()
    .get(0)
}

#[test]
fn timestamps_are_set_by_the_server_in_the_same_statement() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let t0 = now(&tx);
    let (mut stored, sent) = statements(|| post("TS one").insert(&tx).unwrap());
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("now(), now()"), "{}", sent[0]);
    assert_eq!((stored.created_at, stored.updated_at), (t0, t0));

    // update: updated_at = now() in the same statement; created_at untouched.
    backdate(&tx, stored.post_id);
    let ((), sent) = statements(|| {
        stored
            .update(&tx, Changes::new().set(Post::Title, "TS one'"))
            .unwrap()
    });
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("\"updated_at\" = now()"), "{}", sent[0]);
    assert_eq!((stored.created_at, stored.updated_at), (y2k(), t0));
    assert_eq!(stamps(&tx, stored.post_id), (y2k(), t0));
    // No change: still no statement, updated_at not touched.
    backdate(&tx, stored.post_id);
    let ((), sent) = statements(|| stored.update(&tx, Changes::new()).unwrap());
    assert!(sent.is_empty());
    assert_eq!(stamps(&tx, stored.post_id), (y2k(), y2k()));

    // update_many touches updated_at of every row it changes.
    let n = Post::update_many(
        &tx,
        Post::PostId.eq(stored.post_id),
        Changes::new().set(Post::Title, "TS one''"),
    )
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(stamps(&tx, stored.post_id), (y2k(), t0));

    // upsert: a conflict keeps created_at and sets updated_at; a new row gets both.
    backdate(&tx, stored.post_id);
    let up = Post {
        title: "TS upserted".into(),
        ..stored.clone()
    }
    .upsert(&tx)
    .unwrap();
    assert_eq!(
        (up.post_id, up.title.as_str(), up.created_at, up.updated_at),
        (stored.post_id, "TS upserted", y2k(), t0)
    );
    let fresh_id: i64 = tx
        .query_one("SELECT nextval('lifeguard_models.post_post_id_seq')", &[])
        .unwrap()
        .get(0);
    let fresh = Post {
        post_id: fresh_id,
        ..post("TS fresh")
    }
    .upsert(&tx)
    .unwrap();
    assert_eq!((fresh.created_at, fresh.updated_at), (t0, t0));

    // insert_many: now() in every row, still one statement.
    let rows: Vec<Post> = (0..3).map(|i| post(&format!("TS many {i}"))).collect();
    let (n, sent) = statements(|| Post::insert_many(&tx, &rows).unwrap());
    assert_eq!((n, sent.len()), (3, 1));
    let stale: i64 = tx
        .query_one(
            "SELECT count(*) FROM lifeguard_models.post WHERE title LIKE 'TS many%' AND (created_at <> $1 OR updated_at <> $1)",
            &[&t0],
        )
        .unwrap()
        .get(0);
    assert_eq!(stale, 0);
    tx.rollback().unwrap();
    assert_eq!(rows_titled(&pool, "TS "), 0);
}

#[test]
fn soft_delete_hides_rows_until_forced() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let t0 = now(&tx);
    let a = post("SD a").insert(&tx).unwrap();
    let b = post("SD b").insert(&tx).unwrap();
    backdate(&tx, a.post_id);
    let mine = || Post::find().filter(Post::Title.like("SD %"));

    let ((), sent) = statements(|| a.delete(&tx).unwrap());
    assert_eq!(sent.len(), 1);
    assert!(sent[0].starts_with("UPDATE"), "{}", sent[0]);
    // The row is still there, marked (and touched).
    let (deleted_at, updated_at): (Option<DateTime<Utc>>, DateTime<Utc>) = tx
        .query_one(
            "SELECT deleted_at, updated_at FROM lifeguard_models.post WHERE post_id = $1",
            &[&a.post_id],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((deleted_at, updated_at), (Some(t0), t0));
    // ...but reads skip it unless asked.
    assert_eq!(Post::find_by_id(&tx, a.post_id).unwrap(), None);
    assert_eq!(mine().count(&tx).unwrap(), 1);
    assert_eq!(mine().all(&tx).unwrap(), vec![b.clone()]);
    assert!(!Post::find()
        .filter(Post::PostId.eq(a.post_id))
        .exists(&tx)
        .unwrap());
    assert_eq!(mine().with_deleted().count(&tx).unwrap(), 2);
    let found = Post::find()
        .with_deleted()
        .filter(Post::PostId.eq(a.post_id))
        .one(&tx)
        .unwrap();
    assert_eq!(found.deleted_at, Some(t0));
    // Deleting it again finds no live row; updates by filter skip it.
    assert_eq!(a.delete(&tx).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        Post::update_many(
            &tx,
            Post::Title.like("SD %"),
            Changes::new().set(Post::Title, "SD x")
        )
        .unwrap(),
        1
    );

    // force_delete removes the row itself, deleted or not.
    let ((), sent) = statements(|| a.force_delete(&tx).unwrap());
    assert!(sent[0].starts_with("DELETE"), "{}", sent[0]);
    assert_eq!(mine().with_deleted().count(&tx).unwrap(), 1);
    assert_eq!(a.force_delete(&tx).unwrap_err().kind(), ErrorKind::NotFound);

    // delete_many marks, force_delete_many removes.
    let c = post("SD c").insert(&tx).unwrap();
    assert_eq!(Post::delete_many(&tx, Post::Title.like("SD %")).unwrap(), 2);
    assert_eq!(Post::delete_many(&tx, Post::Title.like("SD %")).unwrap(), 0);
    assert_eq!(mine().count(&tx).unwrap(), 0);
    assert_eq!(mine().with_deleted().count(&tx).unwrap(), 2);
    assert_eq!(Post::find_by_id(&tx, c.post_id).unwrap(), None);
    assert_eq!(
        Post::force_delete_many(&tx, Post::Title.like("SD %")).unwrap(),
        2
    );
    assert_eq!(rows_titled(&tx, "SD "), 0);
    tx.rollback().unwrap();
}

#[test]
fn hooks_run_around_writes_and_their_errors_write_nothing() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    take_log();
    let mut stored = note("HK a").insert(&tx).unwrap();
    assert_eq!(
        take_log(),
        ["before_insert HK a", "after_insert HK a seen 1"]
    );

    // A before-hook refusal: a typed error, and no statement was sent.
    let (err, sent) = statements(|| note("REFUSE").insert(&tx).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Hook, "{err}");
    assert!(sent.is_empty(), "{sent:?}");

    // insert_many: every before hook first, so one refusal writes none of the rows.
    let rows = vec![note("HK b"), note("REFUSE"), note("HK c")];
    let (err, sent) = statements(|| Note::insert_many(&tx, &rows).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Hook);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(rows_titled(&tx, "HK "), 1);
    take_log();
    // ...and when all pass, one statement and an after hook per stored row.
    let rows: Vec<Note> = (0..3).map(|i| note(&format!("HK many {i}"))).collect();
    let (n, sent) = statements(|| Note::insert_many(&tx, &rows).unwrap());
    assert_eq!(n, 3);
    // The statement, then each after hook's own count query.
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[0].ends_with(&format!("RETURNING {}", Note::META.column_list)));
    let log = take_log();
    assert_eq!(log.len(), 6, "{log:?}");
    assert!(log[..3].iter().all(|l| l.starts_with("before_insert")));
    assert!(log[3..].iter().all(|l| l.ends_with("seen 1")), "{log:?}");

    // update: before (which adds a change) and after.
    tx.execute(
        "UPDATE lifeguard_models.post SET deleted_at = now() WHERE post_id = $1",
        &[&stored.post_id],
    )
    .unwrap();
    stored
        .update(&tx, Changes::new().set(Note::Title, "HK a2"))
        .unwrap();
    assert_eq!(stored.title, "HK a2");
    assert_eq!(stored.deleted_at, None, "the hook's change was written");
    let log = take_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].starts_with("before_update HK a "), "{log:?}");
    assert_eq!(log[1], "after_update HK a2");

    // delete: refused, then allowed.
    let keep = note("KEEP").insert(&tx).unwrap();
    take_log();
    assert_eq!(keep.delete(&tx).unwrap_err().kind(), ErrorKind::Hook);
    assert!(Note::find_by_id(&tx, keep.post_id).unwrap().is_some());
    stored.delete(&tx).unwrap();
    assert_eq!(take_log(), ["before_delete HK a2", "after_delete HK a2"]);

    // Bulk update/delete cannot run per-row hooks: refused before any statement.
    let (err, sent) = statements(|| {
        Note::update_many(
            &tx,
            Note::Title.like("HK%"),
            Changes::new().set(Note::Title, "X"),
        )
        .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Hook, "{err}");
    assert!(sent.is_empty());
    let err = Note::delete_many(&tx, Note::Title.like("HK%")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Hook);
    assert_eq!(rows_titled(&tx, "HK many"), 3);
    tx.rollback().unwrap();
    assert_eq!(rows_titled(&pool, "HK "), 0);
}

#[test]
fn an_after_hook_error_inside_a_transaction_leaves_nothing() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let err = note("FAIL_AFTER").insert(&tx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Hook);
    // The row was written before the hook failed...
    assert_eq!(rows_titled(&tx, "FAIL_AFTER"), 1);
    // ...so the caller rolls back, and nothing is left.
    tx.rollback().unwrap();
    assert_eq!(rows_titled(&pool, "FAIL_AFTER"), 0);

    // The same for a bulk insert: the rows and the failing after hook's row go together.
    let tx = pool.transaction().unwrap();
    let rows = vec![note("HKT ok"), note("FAIL_AFTER")];
    assert_eq!(
        Note::insert_many(&tx, &rows).unwrap_err().kind(),
        ErrorKind::Hook
    );
    tx.rollback().unwrap();
    assert_eq!(rows_titled(&pool, "HKT"), 0);
    assert_eq!(rows_titled(&pool, "FAIL_AFTER"), 0);
}

/// Two writers of one row: the one whose snapshot is older gets a serialization failure
/// (SQLSTATE 40001) as a typed error, and its change is not written. The row is committed
/// (a conflict needs two sessions) and force-deleted at the end.
#[test]
fn a_serialization_failure_is_typed_and_writes_nothing() {
    let pool = pool();
    let now = Utc::now();
    let row = Post {
        post_id: 0,
        title: "serial".into(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
    .insert(&pool)
    .unwrap();
    let tx = pool
        .build_transaction()
        .unwrap()
        .isolation_level(lifeguard::IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    let mut mine = Post::find_by_id(&tx, row.post_id).unwrap().unwrap();
    let mut theirs = row.clone();
    theirs
        .update(&pool, Changes::new().set(Post::Title, "theirs".to_string()))
        .unwrap();
    let err = mine
        .update(&tx, Changes::new().set(Post::Title, "mine".to_string()))
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&lifeguard::SqlState::T_R_SERIALIZATION_FAILURE),
        "{err}"
    );
    assert_eq!(mine.title, "serial", "the model keeps its old values");
    drop(tx);
    let stored = Post::find_by_id(&pool, row.post_id).unwrap().unwrap();
    assert_eq!(stored.title, "theirs");
    stored.force_delete(&pool).unwrap();
    assert_eq!(Post::find_by_id(&pool, row.post_id).unwrap(), None);
}
