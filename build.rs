//! Rebuilds the root package's tests when a migrations folder gains or loses a file:
//! `migrate!()` embeds files with `include_str!`, which only tracks the files it saw.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=tests/migrate");
}
