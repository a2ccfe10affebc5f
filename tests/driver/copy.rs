//! COPY in and out as streams.

use std::io::{Read, Write};

use lifeguard::Executor;

use crate::{client, TempTable};

#[test]
fn copy_100k_rows_round_trips() {
    let c = client();
    let t = TempTable::create(&c, "copy", "id int4, name text, note text");
    let mut expected = String::new();
    {
        let mut w = c
            .copy_in(&format!("COPY {} (id, name, note) FROM STDIN", t.name))
            .unwrap();
        for i in 0..100_000 {
            let line = if i % 10 == 0 {
                format!("{i}\tnamé {i}\t\\N\n")
            } else {
                format!("{i}\tnamé {i}\tnote\\twith tab\n")
            };
            expected.push_str(&line);
            w.write_all(line.as_bytes()).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 100_000);
    }
    let mut out = String::new();
    c.copy_out(&format!(
        "COPY (SELECT id, name, note FROM {} ORDER BY id) TO STDOUT",
        t.name
    ))
    .unwrap()
    .read_to_string(&mut out)
    .unwrap();
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "COPY OUT differs from what went in");
    let nulls: i64 = c
        .query_one(
            format!("SELECT count(*) FROM {} WHERE note IS NULL", t.name).as_str(),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nulls, 10_000);
}

#[test]
fn copy_out_does_not_stall_other_users() {
    let c = client();
    let mut chunks = c
        .copy_out("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g) TO STDOUT")
        .unwrap();
    let first = chunks.next().unwrap().unwrap();
    assert!(first.starts_with(b"1\t"));
    // While the copy is half read, other callers' queries still complete.
    let c2 = c.clone();
    let v: i32 = may::go!(move || c2.query_one("SELECT 9::int4", &[]).unwrap().get(0))
        .join()
        .unwrap();
    assert_eq!(v, 9);
    let rest: usize = chunks.map(|c| c.unwrap().len()).sum();
    assert!(rest > 200000 * 100);
}

#[test]
fn bad_copy_data_is_an_error_and_an_aborted_copy_loses_nothing() {
    let c = client();
    let t = TempTable::create(&c, "copybad", "id int4");
    let mut w = c.copy_in(&format!("COPY {} FROM STDIN", t.name)).unwrap();
    w.write_all(b"1\nnot-a-number\n").unwrap();
    let err = w.finish().unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("22P02"), "{err}");
    // Dropped unfinished: CopyFail, nothing inserted, connection fine.
    {
        let mut w = c.copy_in(&format!("COPY {} FROM STDIN", t.name)).unwrap();
        w.write_all(b"5\n6\n").unwrap();
        w.flush().unwrap();
    }
    let n: i64 = c
        .query_one(format!("SELECT count(*) FROM {}", t.name).as_str(), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // copy_in on a statement that is not COPY FROM STDIN is refused clearly.
    assert!(c.copy_in("SELECT 1").is_err());
    assert_eq!(
        c.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );
}
